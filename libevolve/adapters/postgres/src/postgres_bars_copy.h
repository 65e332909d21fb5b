// The output of COPY ... TO STDOUT (FORMAT binary) decoded into the typed
// columns of an engines::BarTable, as BarsTable::Read receives it: bytes in
// pieces of any size, every field of a known type (the SELECT
// reads them in their own types: integers, floats, numeric, timestamp[tz],
// date). Private to evolve::postgres_bars.
//
// Errors: kInternal for a stream that is not what the SELECT asked for (bad
// header, a field of another size, a malformed numeric, a row of another
// width, a truncated stream); kInvalidArgument for a timestamp or date of +-infinity, or one
// outside what the Unix epoch's int64 microseconds can hold.
//
// Thread-safety: a CopyDecoder belongs to one call.
#ifndef EVOLVE_POSTGRES_POSTGRES_BARS_COPY_H_
#define EVOLVE_POSTGRES_POSTGRES_BARS_COPY_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "evolve/engines/bar_table.h"
#include "evolve/status.h"

namespace evolve::postgres {

// How one field arrives in binary COPY: a column's base type, as sent
// (integers and IEEE floats big-endian).
enum class CopyField {
  kInt2,         // smallint -> kInt64
  kInt4,         // integer -> kInt64
  kInt8,         // bigint -> kInt64
  kFloat4,       // real -> kDouble (widened: exact)
  kFloat8,       // double precision -> kDouble
  kNumeric,      // numeric: base-10000 digits -> kDouble, the nearest double to its decimal value
  kTimestamp,    // timestamp: int64 microseconds since 2000-01-01 -> kTimestamp (us since 1970)
  kTimestampTz,  // timestamptz: the same, with utc = true
  kDate,         // date: int32 days since 2000-01-01 -> kDate (days since 1970)
};

struct CopyColumn {
  std::string name;  // the result column's name (a role)
  CopyField field = CopyField::kFloat8;
};

// The column kind `field` decodes to.
engines::TableColumn::Kind KindOf(CopyField field);

// A numeric's binary form (numeric_send: int16 ndigits, weight, sign,
// dscale, then ndigits base-10000 digits) as the nearest double, as the
// server's numeric::float8 would give it; NaN and +-Infinity as such.
// kInternal when the bytes are not a numeric.
Status NumericToDouble(const char* data, int32_t length, double* value);

class CopyDecoder {
 public:
  explicit CopyDecoder(const std::vector<CopyColumn>& columns);

  // Makes room for `rows` rows at once: an estimate, neither a limit nor a
  // promise. (Untouched room costs address space only; growing by doubling
  // instead costs copies and page faults that were a third of the client's
  // time.)
  void Reserve(size_t rows);

  // Decodes the next `size` bytes of the stream (a piece may end anywhere).
  // After an error the decoder takes nothing more.
  Status Feed(const char* data, size_t size);

  // The table, once the stream ended (its trailer was seen): kInternal when
  // it was cut short.
  Result<engines::BarTable> Finish();

  // Rows decoded so far.
  size_t rows() const { return table_.rows; }

 private:
  // Decodes the whole rows at the start of [data, data + size) and sets
  // *used to the bytes they took; false (error_ set) on an error.
  bool Decode(const char* data, size_t size, size_t* used);
  // Appends one field to its column; false (error_ set) when it cannot.
  bool DecodeField(size_t column, const char* data, int32_t length);

  std::vector<CopyField> fields_;
  engines::BarTable table_;
  std::string pending_;          // the start of a row not yet whole
  std::vector<size_t> offsets_;  // of the current row's fields (scratch)
  bool header_seen_ = false;
  bool trailer_seen_ = false;
  Status error_;
};

}  // namespace evolve::postgres

#endif  // EVOLVE_POSTGRES_POSTGRES_BARS_COPY_H_
