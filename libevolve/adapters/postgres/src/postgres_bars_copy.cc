// Binary COPY decoding for BarsTable::Read. The format (PostgreSQL's "COPY",
// File Formats, Binary Format): an 11-byte signature, an int32 of flags, an
// int32 header-extension length and that many bytes; then per row an int16
// field count and per field an int32 length (-1: NULL) and the value's
// bytes; a field count of -1 ends the stream. All integers big-endian.
#include "postgres_bars_copy.h"

#include <charconv>
#include <cstring>
#include <limits>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace evolve::postgres {
namespace {

using engines::TableColumn;

constexpr char kSignature[] = "PGCOPY\n\377\r\n";  // and a NUL: 11 bytes
constexpr size_t kSignatureBytes = 11;
// 2000-01-01, PostgreSQL's epoch, from 1970-01-01.
constexpr int64_t kEpochDays = 10957;
constexpr int64_t kEpochMicros = kEpochDays * 86400 * int64_t{1000000};

uint16_t Load16(const char* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return __builtin_bswap16(v);
}
uint32_t Load32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return __builtin_bswap32(v);
}
uint64_t Load64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return __builtin_bswap64(v);
}

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the loads above assume a little-endian host");

// The size of a field of `field`'s type; 0: varying (numeric).
int32_t FieldBytes(CopyField field) {
  switch (field) {
    case CopyField::kInt2:
      return 2;
    case CopyField::kInt4:
    case CopyField::kFloat4:
    case CopyField::kDate:
      return 4;
    case CopyField::kNumeric:
      return 0;
    case CopyField::kInt8:
    case CopyField::kFloat8:
    case CopyField::kTimestamp:
    case CopyField::kTimestampTz:
      return 8;
  }
  return 0;
}

const char* FieldName(CopyField field) {
  switch (field) {
    case CopyField::kInt2:
      return "smallint";
    case CopyField::kInt4:
      return "integer";
    case CopyField::kInt8:
      return "bigint";
    case CopyField::kFloat4:
      return "real";
    case CopyField::kFloat8:
      return "double precision";
    case CopyField::kNumeric:
      return "numeric";
    case CopyField::kTimestamp:
      return "timestamp";
    case CopyField::kTimestampTz:
      return "timestamptz";
    case CopyField::kDate:
      return "date";
  }
  return "?";
}

// 10^0 .. 10^22: every one exact as a double.
constexpr double kExactPowers[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                   1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

}  // namespace

Status NumericToDouble(const char* data, int32_t length, double* value) {
  if (length < 8) return InternalError("a numeric of " + std::to_string(length) + " bytes");
  const int ndigits = static_cast<int16_t>(Load16(data));
  const int weight = static_cast<int16_t>(Load16(data + 2));
  const uint16_t sign = Load16(data + 4);
  if (ndigits < 0 || length != 8 + 2 * ndigits) {
    return InternalError("a numeric of " + std::to_string(ndigits) + " digits in " + std::to_string(length) +
                         " bytes");
  }
  switch (sign) {
    case 0x0000:  // positive
    case 0x4000:  // negative
      break;
    case 0xC000:
      *value = std::numeric_limits<double>::quiet_NaN();
      return Status::Ok();
    case 0xD000:
      *value = std::numeric_limits<double>::infinity();
      return Status::Ok();
    case 0xF000:
      *value = -std::numeric_limits<double>::infinity();
      return Status::Ok();
    default:
      return InternalError("a numeric of sign " + std::to_string(sign));
  }
  const char* digits = data + 8;
  // value = mantissa * 10^exponent. When the mantissa is at most 2^53 and
  // |exponent| <= 22 both are exact doubles, and one multiplication or
  // division rounds once: the nearest double, as strtod gives (Clinger's
  // fast path). Prices and volumes almost always take it.
  uint64_t mantissa = 0;
  bool fits = true;
  for (int i = 0; i < ndigits; ++i) {
    const uint16_t digit = Load16(digits + 2 * i);
    if (digit >= 10000) return InternalError("a numeric digit of " + std::to_string(digit));
    if (mantissa > (uint64_t{1} << 53) / 10000) fits = false;
    if (fits) mantissa = mantissa * 10000 + digit;
  }
  int exponent = 4 * (weight - ndigits + 1);
  if (fits) {
    while (mantissa != 0 && mantissa % 10 == 0 && exponent < 0) {
      mantissa /= 10;
      ++exponent;
    }
  }
  double result;
  if (fits && mantissa <= (uint64_t{1} << 53) && exponent >= -22 && exponent <= 22) {
    const double m = static_cast<double>(mantissa);
    result = exponent >= 0 ? m * kExactPowers[exponent] : m / kExactPowers[-exponent];
  } else {
    // The decimal digits and the exponent, parsed as strtod would (without
    // its locale): correctly rounded.
    std::string text;
    text.reserve(static_cast<size_t>(4 * ndigits + 8));
    for (int i = 0; i < ndigits; ++i) {
      const uint16_t digit = Load16(digits + 2 * i);
      const char four[4] = {static_cast<char>('0' + digit / 1000), static_cast<char>('0' + digit / 100 % 10),
                            static_cast<char>('0' + digit / 10 % 10), static_cast<char>('0' + digit % 10)};
      text.append(four, 4);
    }
    text += 'e';
    text += std::to_string(4 * (weight - ndigits + 1));
    const std::from_chars_result parsed = std::from_chars(text.data(), text.data() + text.size(), result);
    if (parsed.ec == std::errc::result_out_of_range) {
      // Beyond a double's range (the server's cast would refuse it):
      // +-infinity, or 0 below the smallest double.
      result = weight > 0 ? std::numeric_limits<double>::infinity() : 0.0;
    } else if (parsed.ec != std::errc() || parsed.ptr != text.data() + text.size()) {
      return InternalError("a numeric not parsed: " + text);
    }
  }
  *value = sign == 0x4000 ? -result : result;
  return Status::Ok();
}

TableColumn::Kind KindOf(CopyField field) {
  switch (field) {
    case CopyField::kInt2:
    case CopyField::kInt4:
    case CopyField::kInt8:
      return TableColumn::Kind::kInt64;
    case CopyField::kFloat4:
    case CopyField::kFloat8:
    case CopyField::kNumeric:
      return TableColumn::Kind::kDouble;
    case CopyField::kTimestamp:
    case CopyField::kTimestampTz:
      return TableColumn::Kind::kTimestamp;
    case CopyField::kDate:
      return TableColumn::Kind::kDate;
  }
  return TableColumn::Kind::kDouble;
}

CopyDecoder::CopyDecoder(const std::vector<CopyColumn>& columns) {
  for (const CopyColumn& column : columns) {
    fields_.push_back(column.field);
    TableColumn out;
    out.name = column.name;
    out.kind = KindOf(column.field);
    if (out.kind == TableColumn::Kind::kTimestamp) {
      out.per_second = 1000000;
      out.utc = column.field == CopyField::kTimestampTz;
    }
    table_.columns.push_back(std::move(out));
  }
  offsets_.resize(fields_.size());
}

void CopyDecoder::Reserve(size_t rows) {
  for (engines::TableColumn& column : table_.columns) {
    if (column.kind == TableColumn::Kind::kDouble) {
      column.doubles.reserve(rows);
    } else {
      column.ints.reserve(rows);
    }
  }
}

Status CopyDecoder::Feed(const char* data, size_t size) {
  if (!error_.ok()) return error_;
  size_t used = 0;
  if (pending_.empty()) {
    // The usual case: the server sends a row per message, whole.
    if (!Decode(data, size, &used)) return error_;
    if (used < size) pending_.assign(data + used, size - used);
  } else {
    pending_.append(data, size);
    if (!Decode(pending_.data(), pending_.size(), &used)) return error_;
    pending_.erase(0, used);
  }
  return Status::Ok();
}

Result<engines::BarTable> CopyDecoder::Finish() {
  if (!error_.ok()) return error_;
  if (!trailer_seen_) {
    return InternalError("binary COPY ended without its trailer after " + std::to_string(table_.rows) +
                         " rows");
  }
  // A mask begun late (at the first null) covers every row.
  for (TableColumn& column : table_.columns) {
    if (!column.present.empty()) column.present.resize(table_.rows, 1);
  }
  return std::move(table_);
}

bool CopyDecoder::Decode(const char* data, size_t size, size_t* used) {
  size_t at = 0;
  *used = 0;
  if (!header_seen_) {
    if (size < kSignatureBytes + 8) return true;
    if (std::memcmp(data, kSignature, kSignatureBytes) != 0) {
      error_ = InternalError("binary COPY: the stream does not start with PGCOPY's signature");
      return false;
    }
    const uint32_t extension = Load32(data + kSignatureBytes + 4);
    if (size - kSignatureBytes - 8 < extension) return true;
    at = kSignatureBytes + 8 + extension;
    header_seen_ = true;
    *used = at;
  }
  const size_t width = fields_.size();
  while (!trailer_seen_) {
    if (size - at < 2) return true;
    const int16_t count = static_cast<int16_t>(Load16(data + at));
    if (count == -1) {
      trailer_seen_ = true;
      *used = at + 2;
      return true;
    }
    if (count < 0 || static_cast<size_t>(count) != width) {
      error_ = InternalError("binary COPY: a row of " + std::to_string(count) + " fields, expected " +
                             std::to_string(width));
      return false;
    }
    // The row is decoded only once it is whole.
    size_t end = at + 2;
    for (size_t i = 0; i < width; ++i) {
      if (size - end < 4) return true;
      const int32_t length = static_cast<int32_t>(Load32(data + end));
      offsets_[i] = end;
      end += 4;
      if (length > 0) {
        if (size - end < static_cast<size_t>(length)) return true;
        end += static_cast<size_t>(length);
      }
    }
    for (size_t i = 0; i < width; ++i) {
      const int32_t length = static_cast<int32_t>(Load32(data + offsets_[i]));
      if (!DecodeField(i, data + offsets_[i] + 4, length)) return false;
    }
    ++table_.rows;
    at = end;
    *used = at;
  }
  return true;
}

bool CopyDecoder::DecodeField(size_t column, const char* data, int32_t length) {
  TableColumn& out = table_.columns[column];
  const CopyField field = fields_[column];
  const bool is_int = out.kind != TableColumn::Kind::kDouble;
  if (length < 0) {
    if (out.present.empty()) out.present.assign(table_.rows, 1);
    out.present.push_back(0);
    if (is_int) {
      out.ints.push_back(0);
    } else {
      out.doubles.push_back(std::numeric_limits<double>::quiet_NaN());
    }
    return true;
  }
  if (FieldBytes(field) != 0 && length != FieldBytes(field)) {
    error_ = InternalError("binary COPY: a " + std::string(FieldName(field)) + " field of " +
                           std::to_string(length) + " bytes in column " + out.name);
    return false;
  }
  if (!out.present.empty()) out.present.push_back(1);
  switch (field) {
    case CopyField::kInt2:
      out.ints.push_back(static_cast<int16_t>(Load16(data)));
      break;
    case CopyField::kInt4:
      out.ints.push_back(static_cast<int32_t>(Load32(data)));
      break;
    case CopyField::kInt8:
      out.ints.push_back(static_cast<int64_t>(Load64(data)));
      break;
    case CopyField::kFloat4: {
      const uint32_t bits = Load32(data);
      float value;
      std::memcpy(&value, &bits, sizeof value);
      out.doubles.push_back(static_cast<double>(value));
      break;
    }
    case CopyField::kFloat8: {
      const uint64_t bits = Load64(data);
      double value;
      std::memcpy(&value, &bits, sizeof value);
      out.doubles.push_back(value);
      break;
    }
    case CopyField::kNumeric: {
      double value;
      const Status status = NumericToDouble(data, length, &value);
      if (!status.ok()) {
        error_ = InternalError("binary COPY: column " + out.name + ": " + status.message());
        return false;
      }
      out.doubles.push_back(value);
      break;
    }
    case CopyField::kTimestamp:
    case CopyField::kTimestampTz: {
      const int64_t micros = static_cast<int64_t>(Load64(data));
      int64_t unix_micros;
      if (micros == std::numeric_limits<int64_t>::max() || micros == std::numeric_limits<int64_t>::min()) {
        error_ = InvalidArgumentError(out.name + " is " + (micros > 0 ? "infinity" : "-infinity") +
                                      " at row " + std::to_string(table_.rows + 1));
        return false;
      }
      if (__builtin_add_overflow(micros, kEpochMicros, &unix_micros)) {
        error_ =
            InvalidArgumentError(out.name + " is out of range at row " + std::to_string(table_.rows + 1));
        return false;
      }
      out.ints.push_back(unix_micros);
      break;
    }
    case CopyField::kDate: {
      const int32_t days = static_cast<int32_t>(Load32(data));
      if (days == std::numeric_limits<int32_t>::max() || days == std::numeric_limits<int32_t>::min()) {
        error_ = InvalidArgumentError(out.name + " is " + (days > 0 ? "infinity" : "-infinity") + " at row " +
                                      std::to_string(table_.rows + 1));
        return false;
      }
      out.ints.push_back(int64_t{days} + kEpochDays);
      break;
    }
  }
  return true;
}

}  // namespace evolve::postgres
