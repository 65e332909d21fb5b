// The Parquet reader: a Thrift compact-protocol decoder for the footer and
// page headers, the page decoders (levels, dictionary, PLAIN, DELTA_*,
// BYTE_STREAM_SPLIT) and the conversion of physical values to the columns of
// a BarTable. parquet_reader.h says what is supported; the Parquet format
// specification (github.com/apache/parquet-format) is the reference for
// every structure and field id below.
//
// Speed: values are decoded page by page into reused scratch vectors and
// appended to the column in bulk (memcpy for PLAIN doubles); the only
// per-value allocations are strings'. Safety: all reads go through bounds
// checks (ThriftReader, ByteReader, the bit readers), and every count that
// sizes an allocation is checked against the bytes that could hold it or
// against the file's output budget first.
#include "parquet_reader.h"

#include <sys/mman.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <limits>
#include <map>
#include <type_traits>
#include <utility>

#include "decompress.h"

namespace evolve::engines {
namespace {

// ---------------------------------------------------------------------------
// Limits.

// What a file may make us allocate: output values and transient page
// buffers. Parquet's run-length encodings let a few bytes stand for any
// number of values (a constant column of a million rows takes a few bytes),
// so the cap cannot be the file size itself; 1024 times it, and at least
// 64 MiB, keeps every real bar file readable and a hostile 1 KB file from
// asking for gigabytes.
constexpr uint64_t kBudgetRatio = 1024;
constexpr uint64_t kBudgetFloor = uint64_t{64} << 20;
// Thrift structures nest a few levels deep; more is an attack on the stack.
constexpr int kMaxThriftDepth = 32;

// GCC's 128-bit integers (INT96 times, DECIMALs of up to 38 digits);
// __extension__ keeps -Wpedantic quiet about them.
__extension__ typedef __int128 Int128;
__extension__ typedef unsigned __int128 Uint128;

// ---------------------------------------------------------------------------
// Parquet's enums (parquet.thrift).

enum PhysicalType {
  kBoolean = 0,
  kInt32 = 1,
  kInt64 = 2,
  kInt96 = 3,
  kFloat = 4,
  kDouble = 5,
  kByteArray = 6,
  kFixed = 7
};
enum Repetition { kRequired = 0, kOptional = 1, kRepeated = 2 };
enum Encoding {
  kPlain = 0,
  kPlainDictionary = 2,
  kRle = 3,
  kBitPacked = 4,
  kDeltaBinaryPacked = 5,
  kDeltaLengthByteArray = 6,
  kDeltaByteArray = 7,
  kRleDictionary = 8,
  kByteStreamSplit = 9,
};
enum PageType { kDataPage = 0, kIndexPage = 1, kDictionaryPage = 2, kDataPageV2 = 3 };

const char* PhysicalName(int t) {
  static const char* const kNames[] = {"BOOLEAN", "INT32",  "INT64",      "INT96",
                                       "FLOAT",   "DOUBLE", "BYTE_ARRAY", "FIXED_LEN_BYTE_ARRAY"};
  return t >= 0 && t < 8 ? kNames[t] : "unknown physical type";
}

std::string EncodingName(int e) {
  static const char* const kNames[] = {
      "PLAIN",          "GROUP_VAR_INT",       "PLAIN_DICTIONARY",        "RLE",
      "BIT_PACKED",     "DELTA_BINARY_PACKED", "DELTA_LENGTH_BYTE_ARRAY", "DELTA_BYTE_ARRAY",
      "RLE_DICTIONARY", "BYTE_STREAM_SPLIT"};
  if (e >= 0 && e < 10) return kNames[e];
  return "encoding " + std::to_string(e);
}

std::string CodecNameOf(int c) {
  static const char* const kNames[] = {"UNCOMPRESSED", "SNAPPY", "GZIP", "LZO",
                                       "BROTLI",       "LZ4",    "ZSTD", "LZ4_RAW"};
  if (c >= 0 && c < 8) return kNames[c];
  return "codec " + std::to_string(c);
}

std::string PageTypeName(int t) {
  static const char* const kNames[] = {"DATA_PAGE", "INDEX_PAGE", "DICTIONARY_PAGE", "DATA_PAGE_V2"};
  if (t >= 0 && t < 4) return kNames[t];
  return "page type " + std::to_string(t);
}

// ---------------------------------------------------------------------------
// Thrift compact protocol.

enum ThriftType {
  kTStop = 0,
  kTTrue = 1,
  kTFalse = 2,
  kTByte = 3,
  kTI16 = 4,
  kTI32 = 5,
  kTI64 = 6,
  kTDouble = 7,
  kTBinary = 8,
  kTList = 9,
  kTSet = 10,
  kTMap = 11,
  kTStruct = 12,
};

// Reads compact-protocol values from [data, data + size). A failure is
// sticky: every later read returns zero values and NextField reports the
// end, so parsing code runs to its end and checks ok() once.
class ThriftReader {
 public:
  ThriftReader(const uint8_t* data, size_t size) : p_(data), begin_(data), end_(data + size) {}

  bool ok() const { return error_ == nullptr; }
  const char* error() const { return error_; }
  size_t consumed() const { return static_cast<size_t>(p_ - begin_); }
  void Fail(const char* why) {
    if (error_ == nullptr) error_ = why;
    p_ = end_;
  }

  uint8_t Byte() {
    if (p_ >= end_) {
      Fail("truncated");
      return 0;
    }
    return *p_++;
  }
  uint64_t Varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      uint8_t b = Byte();
      if (!ok()) return 0;
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return v;
    }
    Fail("varint too long");
    return 0;
  }
  int64_t Zigzag() {
    uint64_t v = Varint();
    return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
  }
  int32_t I32() {
    int64_t v = Zigzag();
    if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max()) {
      Fail("i32 out of range");
      return 0;
    }
    return static_cast<int32_t>(v);
  }
  int64_t I64() { return Zigzag(); }
  std::string_view Binary() {
    uint64_t n = Varint();
    if (n > static_cast<uint64_t>(end_ - p_)) {
      Fail("string longer than its structure");
      return {};
    }
    std::string_view s(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return s;
  }

  // The next field of the struct being read: false at its end (or on
  // failure). `last_id` is the previous field's id (0 at the start).
  bool NextField(int16_t* last_id, int* type, int16_t* id) {
    uint8_t b = Byte();
    if (!ok() || b == kTStop) return false;
    *type = b & 0x0f;
    int delta = b >> 4;
    if (delta == 0) {
      int64_t v = Zigzag();
      if (v < std::numeric_limits<int16_t>::min() || v > std::numeric_limits<int16_t>::max()) {
        Fail("field id out of range");
        return false;
      }
      *id = static_cast<int16_t>(v);
    } else {
      *id = static_cast<int16_t>(*last_id + delta);
    }
    *last_id = *id;
    return ok();
  }

  // A list or set header; the size is checked against the bytes left (each
  // element takes at least one byte), so it may size a reserve().
  uint32_t ListHeader(int* elem_type) {
    uint8_t b = Byte();
    *elem_type = b & 0x0f;
    uint64_t n = b >> 4;
    if (n == 15) n = Varint();
    if (n > static_cast<uint64_t>(end_ - p_)) {
      Fail("list longer than its structure");
      return 0;
    }
    return static_cast<uint32_t>(n);
  }

  // A bool field's value is in its type.
  static bool FieldBool(int type) { return type == kTTrue; }

  void Skip(int type, int depth = 0) {
    if (depth > kMaxThriftDepth) {
      Fail("structures nested too deeply");
      return;
    }
    switch (type) {
      case kTTrue:
      case kTFalse:
        return;  // a field's bool is in its header (elements of lists: SkipElement)
      case kTByte:
        Byte();
        return;
      case kTI16:
      case kTI32:
      case kTI64:
        Varint();
        return;
      case kTDouble:
        for (int i = 0; i < 8; ++i) Byte();
        return;
      case kTBinary:
        Binary();
        return;
      case kTList:
      case kTSet: {
        int elem = 0;
        uint32_t n = ListHeader(&elem);
        for (uint32_t i = 0; i < n && ok(); ++i) SkipElement(elem, depth + 1);
        return;
      }
      case kTMap: {
        uint64_t n = Varint();
        if (n == 0) return;
        uint8_t kv = Byte();
        if (n > static_cast<uint64_t>(end_ - p_)) {
          Fail("map longer than its structure");
          return;
        }
        for (uint64_t i = 0; i < n && ok(); ++i) {
          SkipElement(kv >> 4, depth + 1);
          SkipElement(kv & 0x0f, depth + 1);
        }
        return;
      }
      case kTStruct: {
        int16_t last = 0;
        int t = 0;
        int16_t id = 0;
        while (NextField(&last, &t, &id)) Skip(t, depth + 1);
        return;
      }
      default:
        Fail("unknown Thrift type");
    }
  }
  // An element of a list, set or map: a bool takes a byte there.
  void SkipElement(int type, int depth) {
    if (type == kTTrue || type == kTFalse) {
      Byte();
    } else {
      Skip(type, depth);
    }
  }

 private:
  const uint8_t* p_;
  const uint8_t* begin_;
  const uint8_t* end_;
  const char* error_ = nullptr;
};

// ---------------------------------------------------------------------------
// The footer's structures (only the fields used).

struct LogicalType {
  int kind = 0;  // 0: none; else the LogicalType union's field id (STRING=1, ... INTEGER=10)
  bool utc = false;
  int unit = 0;  // TIMESTAMP/TIME: 1 MILLIS, 2 MICROS, 3 NANOS
  int bit_width = 0;
  bool is_signed = true;
  int scale = 0;
  int precision = 0;
};

struct SchemaElement {
  int type = -1;  // physical type; -1 for a group
  int type_length = 0;
  int repetition = -1;
  std::string name;
  int num_children = 0;
  int converted = -1;
  int scale = 0;
  int precision = 0;
  LogicalType logical;
};

struct ColumnMeta {
  int type = -1;
  std::vector<std::string> path;
  int codec = 0;
  int64_t num_values = 0;
  int64_t total_compressed_size = 0;
  int64_t data_page_offset = -1;
  int64_t dictionary_page_offset = -1;
};

struct ColumnChunk {
  bool has_file_path = false;
  bool has_meta = false;
  bool encrypted = false;
  ColumnMeta meta;
};

struct RowGroup {
  std::vector<ColumnChunk> columns;
  int64_t num_rows = -1;
};

struct FileMeta {
  std::vector<SchemaElement> schema;
  int64_t num_rows = 0;
  std::vector<RowGroup> row_groups;
  bool encrypted_algorithm = false;
};

// An empty struct (a union member without fields).
void ReadEmpty(ThriftReader& r) { r.Skip(kTStruct); }

int ReadTimeUnit(ThriftReader& r) {
  int unit = 0;
  int16_t last = 0, id = 0;
  int t = 0;
  while (r.NextField(&last, &t, &id)) {
    if (t == kTStruct && id >= 1 && id <= 3) unit = id;
    r.Skip(t);
  }
  return unit;
}

LogicalType ReadLogicalType(ThriftReader& r) {
  LogicalType lt;
  int16_t last = 0, id = 0;
  int t = 0;
  while (r.NextField(&last, &t, &id)) {
    if (t != kTStruct) {
      r.Skip(t);
      continue;
    }
    lt.kind = id;
    int16_t last2 = 0, id2 = 0;
    int t2 = 0;
    switch (id) {
      case 5:  // DECIMAL
        while (r.NextField(&last2, &t2, &id2)) {
          if (id2 == 1 && t2 == kTI32) {
            lt.scale = r.I32();
          } else if (id2 == 2 && t2 == kTI32) {
            lt.precision = r.I32();
          } else {
            r.Skip(t2);
          }
        }
        break;
      case 7:  // TIME
      case 8:  // TIMESTAMP
        while (r.NextField(&last2, &t2, &id2)) {
          if (id2 == 1 && (t2 == kTTrue || t2 == kTFalse)) {
            lt.utc = ThriftReader::FieldBool(t2);
          } else if (id2 == 2 && t2 == kTStruct) {
            lt.unit = ReadTimeUnit(r);
          } else {
            r.Skip(t2);
          }
        }
        break;
      case 10:  // INTEGER
        while (r.NextField(&last2, &t2, &id2)) {
          if (id2 == 1 && t2 == kTByte) {
            lt.bit_width = static_cast<int8_t>(r.Byte());
          } else if (id2 == 2 && (t2 == kTTrue || t2 == kTFalse)) {
            lt.is_signed = ThriftReader::FieldBool(t2);
          } else {
            r.Skip(t2);
          }
        }
        break;
      default:
        ReadEmpty(r);
    }
  }
  return lt;
}

SchemaElement ReadSchemaElement(ThriftReader& r) {
  SchemaElement e;
  int16_t last = 0, id = 0;
  int t = 0;
  while (r.NextField(&last, &t, &id)) {
    switch (id) {
      case 1:
        if (t == kTI32) {
          e.type = r.I32();
          continue;
        }
        break;
      case 2:
        if (t == kTI32) {
          e.type_length = r.I32();
          continue;
        }
        break;
      case 3:
        if (t == kTI32) {
          e.repetition = r.I32();
          continue;
        }
        break;
      case 4:
        if (t == kTBinary) {
          e.name = std::string(r.Binary());
          continue;
        }
        break;
      case 5:
        if (t == kTI32) {
          e.num_children = r.I32();
          continue;
        }
        break;
      case 6:
        if (t == kTI32) {
          e.converted = r.I32();
          continue;
        }
        break;
      case 7:
        if (t == kTI32) {
          e.scale = r.I32();
          continue;
        }
        break;
      case 8:
        if (t == kTI32) {
          e.precision = r.I32();
          continue;
        }
        break;
      case 10:
        if (t == kTStruct) {
          e.logical = ReadLogicalType(r);
          continue;
        }
        break;
      default:
        break;
    }
    r.Skip(t);
  }
  return e;
}

ColumnMeta ReadColumnMeta(ThriftReader& r) {
  ColumnMeta m;
  int16_t last = 0, id = 0;
  int t = 0;
  while (r.NextField(&last, &t, &id)) {
    if (id == 1 && t == kTI32) {
      m.type = r.I32();
    } else if (id == 3 && t == kTList) {
      int elem = 0;
      uint32_t n = r.ListHeader(&elem);
      for (uint32_t i = 0; i < n && r.ok(); ++i) {
        if (elem == kTBinary) {
          m.path.emplace_back(r.Binary());
        } else {
          r.SkipElement(elem, 1);
        }
      }
    } else if (id == 4 && t == kTI32) {
      m.codec = r.I32();
    } else if (id == 5 && t == kTI64) {
      m.num_values = r.I64();
    } else if (id == 7 && t == kTI64) {
      m.total_compressed_size = r.I64();
    } else if (id == 9 && t == kTI64) {
      m.data_page_offset = r.I64();
    } else if (id == 11 && t == kTI64) {
      m.dictionary_page_offset = r.I64();
    } else {
      r.Skip(t);
    }
  }
  return m;
}

ColumnChunk ReadColumnChunk(ThriftReader& r) {
  ColumnChunk c;
  int16_t last = 0, id = 0;
  int t = 0;
  while (r.NextField(&last, &t, &id)) {
    if (id == 1 && t == kTBinary) {
      c.has_file_path = !r.Binary().empty();
    } else if (id == 3 && t == kTStruct) {
      c.meta = ReadColumnMeta(r);
      c.has_meta = true;
    } else if ((id == 8 || id == 9) && t != kTStop) {  // crypto_metadata, encrypted_column_metadata
      c.encrypted = true;
      r.Skip(t);
    } else {
      r.Skip(t);
    }
  }
  return c;
}

RowGroup ReadRowGroup(ThriftReader& r) {
  RowGroup g;
  int16_t last = 0, id = 0;
  int t = 0;
  while (r.NextField(&last, &t, &id)) {
    if (id == 1 && t == kTList) {
      int elem = 0;
      uint32_t n = r.ListHeader(&elem);
      g.columns.reserve(n);
      for (uint32_t i = 0; i < n && r.ok(); ++i) {
        if (elem != kTStruct) {
          r.Fail("row group columns are not structs");
          break;
        }
        g.columns.push_back(ReadColumnChunk(r));
      }
    } else if (id == 3 && t == kTI64) {
      g.num_rows = r.I64();
    } else {
      r.Skip(t);
    }
  }
  return g;
}

FileMeta ReadFileMeta(ThriftReader& r) {
  FileMeta f;
  int16_t last = 0, id = 0;
  int t = 0;
  while (r.NextField(&last, &t, &id)) {
    if (id == 2 && t == kTList) {
      int elem = 0;
      uint32_t n = r.ListHeader(&elem);
      f.schema.reserve(n);
      for (uint32_t i = 0; i < n && r.ok(); ++i) {
        if (elem != kTStruct) {
          r.Fail("schema elements are not structs");
          break;
        }
        f.schema.push_back(ReadSchemaElement(r));
      }
    } else if (id == 3 && t == kTI64) {
      f.num_rows = r.I64();
    } else if (id == 4 && t == kTList) {
      int elem = 0;
      uint32_t n = r.ListHeader(&elem);
      f.row_groups.reserve(n);
      for (uint32_t i = 0; i < n && r.ok(); ++i) {
        if (elem != kTStruct) {
          r.Fail("row groups are not structs");
          break;
        }
        f.row_groups.push_back(ReadRowGroup(r));
      }
    } else if (id == 8 && t == kTStruct) {  // encryption_algorithm (plaintext footer mode)
      f.encrypted_algorithm = true;
      r.Skip(t);
    } else {
      r.Skip(t);
    }
  }
  return f;
}

struct PageHeader {
  int type = -1;
  int32_t uncompressed_size = -1;
  int32_t compressed_size = -1;
  // DATA_PAGE, DICTIONARY_PAGE, DATA_PAGE_V2: the number of values
  // (including nulls for data pages) and their encoding.
  int32_t num_values = -1;
  int encoding = -1;
  int def_encoding = -1;  // DATA_PAGE
  // DATA_PAGE_V2
  int32_t num_nulls = 0;
  int32_t def_length = 0;
  int32_t rep_length = 0;
  bool is_compressed = true;
  bool has_body = false;  // the header of its type was present
};

PageHeader ReadPageHeader(ThriftReader& r) {
  PageHeader h;
  int16_t last = 0, id = 0;
  int t = 0;
  while (r.NextField(&last, &t, &id)) {
    if (id == 1 && t == kTI32) {
      h.type = r.I32();
    } else if (id == 2 && t == kTI32) {
      h.uncompressed_size = r.I32();
    } else if (id == 3 && t == kTI32) {
      h.compressed_size = r.I32();
    } else if ((id == 5 || id == 7 || id == 8) && t == kTStruct) {
      // data_page_header, dictionary_page_header, data_page_header_v2
      h.has_body = true;
      int16_t last2 = 0, id2 = 0;
      int t2 = 0;
      while (r.NextField(&last2, &t2, &id2)) {
        if (id2 == 1 && t2 == kTI32) {
          h.num_values = r.I32();
        } else if (id == 5 && id2 == 2 && t2 == kTI32) {
          h.encoding = r.I32();
        } else if (id == 5 && id2 == 3 && t2 == kTI32) {
          h.def_encoding = r.I32();
        } else if (id == 7 && id2 == 2 && t2 == kTI32) {
          h.encoding = r.I32();
        } else if (id == 8 && id2 == 2 && t2 == kTI32) {
          h.num_nulls = r.I32();
        } else if (id == 8 && id2 == 4 && t2 == kTI32) {
          h.encoding = r.I32();
        } else if (id == 8 && id2 == 5 && t2 == kTI32) {
          h.def_length = r.I32();
        } else if (id == 8 && id2 == 6 && t2 == kTI32) {
          h.rep_length = r.I32();
        } else if (id == 8 && id2 == 7 && (t2 == kTTrue || t2 == kTFalse)) {
          h.is_compressed = ThriftReader::FieldBool(t2);
        } else {
          r.Skip(t2, 1);
        }
      }
    } else {
      r.Skip(t);
    }
  }
  return h;
}

// ---------------------------------------------------------------------------
// Bit-level decoding.

uint64_t LoadLe64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;  // little-endian hosts only (static_assert below)
}
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the Parquet reader assumes a little-endian host");

// The `width`-bit value (width <= 64) at bit `bit` of data[0, size),
// LSB first. REQUIRES: the value's bits lie within `size` bytes.
inline uint64_t BitsAt(const uint8_t* data, size_t size, uint64_t bit, int width) {
  if (width == 0) return 0;
  const size_t byte = static_cast<size_t>(bit >> 3);
  const int shift = static_cast<int>(bit & 7);
  uint64_t v;
  if (byte + 8 <= size) {
    v = LoadLe64(data + byte) >> shift;
  } else {
    uint8_t buf[8] = {0};
    std::memcpy(buf, data + byte, std::min<size_t>(8, size - byte));
    v = LoadLe64(buf) >> shift;
  }
  if (shift + width > 64 && byte + 8 < size) v |= static_cast<uint64_t>(data[byte + 8]) << (64 - shift);
  return width == 64 ? v : v & ((uint64_t{1} << width) - 1);
}

// Whether `count` values of `width` bits from bit `bit` fit in `size` bytes.
inline bool BitsFit(size_t size, uint64_t bit, size_t count, int width) {
  const uint64_t bits = static_cast<uint64_t>(size) * 8;
  if (bit > bits) return false;
  return width == 0 || count <= (bits - bit) / static_cast<uint64_t>(width);
}

// A ULEB128 varint from [*p, end); false when truncated or too long.
bool ReadVarint(const uint8_t** p, const uint8_t* end, uint64_t* out) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*p >= end) return false;
    uint8_t b = *(*p)++;
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) {
      *out = v;
      return true;
    }
  }
  return false;
}

bool ReadZigzag(const uint8_t** p, const uint8_t* end, int64_t* out) {
  uint64_t v = 0;
  if (!ReadVarint(p, end, &v)) return false;
  *out = static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
  return true;
}

// The RLE / bit-packing hybrid (definition levels, dictionary indices,
// booleans), of `width` <= 32 bits.
class HybridDecoder {
 public:
  HybridDecoder(const uint8_t* data, size_t size, int width) : p_(data), end_(data + size), width_(width) {}

  // Decodes the next `count` values into out[0, count); false when the data
  // ends first or is malformed.
  template <typename T>
  bool Decode(T* out, size_t count) {
    while (count > 0) {
      if (left_ == 0 && !NextRun()) return false;
      const size_t take = static_cast<size_t>(std::min<uint64_t>(left_, count));
      if (literal_) {
        if (!BitsFit(lit_size_, lit_bit_, take, width_)) return false;
        for (size_t i = 0; i < take; ++i) {
          out[i] = static_cast<T>(BitsAt(lit_, lit_size_, lit_bit_, width_));
          lit_bit_ += static_cast<uint64_t>(width_);
        }
      } else {
        std::fill(out, out + take, static_cast<T>(value_));
      }
      out += take;
      count -= take;
      left_ -= take;
    }
    return true;
  }

 private:
  bool NextRun() {
    uint64_t header = 0;
    if (!ReadVarint(&p_, end_, &header)) return false;
    if (header & 1) {
      // Bit-packed: header >> 1 groups of 8 values, width bytes per group.
      // A final run may be cut short of its padding: only the values read
      // must be there (BitsFit).
      const uint64_t groups = header >> 1;
      if (groups > (uint64_t{1} << 40)) return false;
      literal_ = true;
      left_ = groups * 8;
      lit_ = p_;
      lit_bit_ = 0;
      const uint64_t bytes = groups * static_cast<uint64_t>(width_);
      lit_size_ = static_cast<size_t>(std::min<uint64_t>(bytes, static_cast<uint64_t>(end_ - p_)));
      p_ += lit_size_;
    } else {
      literal_ = false;
      left_ = header >> 1;
      const int bytes = (width_ + 7) / 8;
      if (end_ - p_ < bytes) return false;
      uint32_t v = 0;
      for (int i = 0; i < bytes; ++i) v |= static_cast<uint32_t>(p_[i]) << (8 * i);
      p_ += bytes;
      value_ = v;
    }
    return true;
  }

  const uint8_t* p_;
  const uint8_t* end_;
  const int width_;
  bool literal_ = false;
  uint64_t left_ = 0;
  uint32_t value_ = 0;
  const uint8_t* lit_ = nullptr;
  size_t lit_size_ = 0;
  uint64_t lit_bit_ = 0;
};

// DELTA_BINARY_PACKED: a header, then blocks of a min delta, miniblock bit
// widths and bit-packed miniblocks. Values wrap in 64 bits (INT32 columns
// truncate them, as the writer's 32-bit arithmetic did).
class DeltaDecoder {
 public:
  // Reads the header; false when it is malformed.
  bool Init(const uint8_t* data, size_t size) {
    p_ = data;
    end_ = data + size;
    uint64_t block = 0, minis = 0, total = 0;
    int64_t first = 0;
    if (!ReadVarint(&p_, end_, &block) || !ReadVarint(&p_, end_, &minis) || !ReadVarint(&p_, end_, &total) ||
        !ReadZigzag(&p_, end_, &first)) {
      return false;
    }
    if (block == 0 || block % 128 != 0 || block > (1u << 20) || minis == 0 || block % minis != 0 ||
        (block / minis) % 32 != 0) {
      return false;
    }
    per_mini_ = block / minis;
    minis_ = static_cast<uint32_t>(minis);
    mini_index_ = minis_;  // the first delta reads a block header
    total_ = total;
    last_ = static_cast<uint64_t>(first);
    return true;
  }
  uint64_t total() const { return total_; }
  // Where the data after the values decoded so far begins (once all are).
  const uint8_t* position() const { return p_; }

  bool Decode(int64_t* out, size_t count) {
    if (count > total_ - emitted_) return false;
    for (size_t i = 0; i < count; ++i) {
      if (emitted_ > 0) {
        if (mini_left_ == 0 && !NextMiniblock()) return false;
        const uint64_t delta = BitsAt(mini_, mini_size_, mini_bit_, width_);
        mini_bit_ += static_cast<uint64_t>(width_);
        --mini_left_;
        last_ += min_delta_ + delta;
      }
      out[i] = static_cast<int64_t>(last_);
      ++emitted_;
    }
    return true;
  }

 private:
  bool NextMiniblock() {
    if (mini_index_ == minis_) {
      int64_t min_delta = 0;
      if (!ReadZigzag(&p_, end_, &min_delta)) return false;
      if (static_cast<uint64_t>(end_ - p_) < minis_) return false;
      min_delta_ = static_cast<uint64_t>(min_delta);
      widths_ = p_;
      p_ += minis_;
      mini_index_ = 0;
    }
    width_ = widths_[mini_index_++];
    if (width_ > 64) return false;
    // The miniblock is padded to its full size; the last one of the data may
    // be cut short, so only the values read must be there.
    const uint64_t bytes = per_mini_ * static_cast<uint64_t>(width_) / 8;
    mini_ = p_;
    mini_size_ = static_cast<size_t>(std::min<uint64_t>(bytes, static_cast<uint64_t>(end_ - p_)));
    p_ += mini_size_;
    mini_bit_ = 0;
    mini_left_ = per_mini_;
    const uint64_t needed = std::min<uint64_t>(per_mini_, total_ - emitted_);
    return BitsFit(mini_size_, 0, static_cast<size_t>(needed), width_);
  }

  const uint8_t* p_ = nullptr;
  const uint8_t* end_ = nullptr;
  uint64_t per_mini_ = 0;
  uint32_t minis_ = 0;
  uint64_t total_ = 0;
  uint64_t emitted_ = 0;
  uint64_t last_ = 0;
  uint64_t min_delta_ = 0;
  const uint8_t* widths_ = nullptr;
  uint32_t mini_index_ = 0;
  int width_ = 0;
  const uint8_t* mini_ = nullptr;
  size_t mini_size_ = 0;
  uint64_t mini_bit_ = 0;
  uint64_t mini_left_ = 0;
};

// ---------------------------------------------------------------------------
// Columns: what each one becomes.

enum class Convert {
  kInt,           // INT32 (signed), INT64, BOOLEAN -> ints
  kUint32,        // INT32 read as unsigned -> ints
  kUint64,        // INT64 read as unsigned -> ints (error above INT64_MAX)
  kInt96,         // INT96 -> ns ints
  kDecimalInt,    // INT32/INT64 unscaled -> doubles
  kDecimalBytes,  // BYTE_ARRAY/FIXED_LEN_BYTE_ARRAY big-endian unscaled -> doubles
  kFloat,         // FLOAT/DOUBLE -> doubles
  kBytes,         // BYTE_ARRAY/FIXED_LEN_BYTE_ARRAY -> strings
};

struct ColumnPlan {
  std::string name;
  int physical = 0;
  int type_length = 0;
  bool optional = false;
  TableColumn::Kind kind = TableColumn::Kind::kInt64;
  Convert convert = Convert::kInt;
  int64_t per_second = 1;
  bool utc = true;
  double scale_divisor = 1.0;
  std::string logical_text;  // for DescribeParquet
};

// 10^n as a double: exact up to 10^22.
double Pow10(int n) {
  static const double kExact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                  1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  return n <= 22 ? kExact[n] : std::pow(10.0, n);
}

std::string ConvertedName(int c) {
  static const char* const kNames[] = {"UTF8",
                                       "MAP",
                                       "MAP_KEY_VALUE",
                                       "LIST",
                                       "ENUM",
                                       "DECIMAL",
                                       "DATE",
                                       "TIME_MILLIS",
                                       "TIME_MICROS",
                                       "TIMESTAMP_MILLIS",
                                       "TIMESTAMP_MICROS",
                                       "UINT_8",
                                       "UINT_16",
                                       "UINT_32",
                                       "UINT_64",
                                       "INT_8",
                                       "INT_16",
                                       "INT_32",
                                       "INT_64",
                                       "JSON",
                                       "BSON",
                                       "INTERVAL"};
  if (c >= 0 && c < 22) return kNames[c];
  return "converted type " + std::to_string(c);
}

std::string LogicalName(int kind) {
  static const char* const kNames[] = {
      "",        "STRING",  "MAP",  "LIST", "ENUM", "DECIMAL", "DATE",    "TIME",     "TIMESTAMP", "",
      "INTEGER", "UNKNOWN", "JSON", "BSON", "UUID", "FLOAT16", "VARIANT", "GEOMETRY", "GEOGRAPHY"};
  if (kind > 0 && kind < 19 && kNames[kind][0] != 0) return kNames[kind];
  return "logical type " + std::to_string(kind);
}

// The plan of a leaf column, or an error naming the unsupported type.
Result<ColumnPlan> PlanColumn(const SchemaElement& e) {
  ColumnPlan plan;
  plan.name = e.name;
  plan.physical = e.type;
  plan.type_length = e.type_length;
  plan.optional = e.repetition == kOptional;
  auto unsupported = [&](const std::string& what) {
    return InvalidArgumentError("column '" + e.name + "' has type " + what + " (" + PhysicalName(e.type) +
                                "), which this reader does not support");
  };
  auto mismatch = [&](const std::string& what) {
    return InvalidArgumentError("column '" + e.name + "' is " + what + " on physical type " +
                                PhysicalName(e.type) + ", which is not valid Parquet");
  };
  const bool int32 = e.type == kInt32, int64 = e.type == kInt64;
  const bool bytes = e.type == kByteArray || e.type == kFixed;
  auto set_decimal = [&](int scale, int precision) -> Status {
    if (scale < 0 || scale > 38 || (precision > 0 && scale > precision)) {
      return InvalidArgumentError("column '" + e.name + "' is a DECIMAL of scale " + std::to_string(scale) +
                                  ", which is not valid");
    }
    if (!int32 && !int64 && !bytes) return mismatch("a DECIMAL");
    plan.kind = TableColumn::Kind::kDouble;
    plan.convert = bytes ? Convert::kDecimalBytes : Convert::kDecimalInt;
    plan.scale_divisor = Pow10(scale);
    plan.logical_text = "DECIMAL(" + std::to_string(precision) + "," + std::to_string(scale) + ")";
    return Status::Ok();
  };
  auto set_timestamp = [&](int64_t per_second, bool utc) -> Status {
    if (!int64) return mismatch("a TIMESTAMP");
    plan.kind = TableColumn::Kind::kTimestamp;
    plan.per_second = per_second;
    plan.utc = utc;
    plan.logical_text = std::string("TIMESTAMP(") +
                        (per_second == 1000      ? "MILLIS"
                         : per_second == 1000000 ? "MICROS"
                                                 : "NANOS") +
                        (utc ? ",UTC)" : ",local)");
    return Status::Ok();
  };
  auto set_int = [&](int bits, bool is_signed) -> Status {
    if (!int32 && !int64) return mismatch("an INT");
    if (bits != 8 && bits != 16 && bits != 32 && bits != 64) {
      return InvalidArgumentError("column '" + e.name + "' is an INT of " + std::to_string(bits) +
                                  " bits, which is not valid");
    }
    plan.kind = TableColumn::Kind::kInt64;
    plan.convert = is_signed ? Convert::kInt : int32 ? Convert::kUint32 : Convert::kUint64;
    plan.logical_text = std::string(is_signed ? "INT(" : "UINT(") + std::to_string(bits) + ")";
    return Status::Ok();
  };
  auto set_string = [&](const char* name) -> Status {
    if (!bytes) return mismatch(std::string("a ") + name);
    plan.kind = TableColumn::Kind::kString;
    plan.convert = Convert::kBytes;
    plan.logical_text = name;
    return Status::Ok();
  };
  auto set_date = [&]() -> Status {
    if (!int32) return mismatch("a DATE");
    plan.kind = TableColumn::Kind::kDate;
    plan.convert = Convert::kInt;
    plan.logical_text = "DATE";
    return Status::Ok();
  };

  // The physical type's own column, which a logical type may refine.
  switch (e.type) {
    case kBoolean:
    case kInt32:
    case kInt64:
      plan.kind = TableColumn::Kind::kInt64;
      plan.convert = Convert::kInt;
      break;
    case kInt96:
      plan.kind = TableColumn::Kind::kTimestamp;
      plan.convert = Convert::kInt96;
      plan.per_second = 1000000000;
      plan.utc = true;
      plan.logical_text = "INT96 timestamp";
      break;
    case kFloat:
    case kDouble:
      plan.kind = TableColumn::Kind::kDouble;
      plan.convert = Convert::kFloat;
      break;
    case kByteArray:
    case kFixed:
      plan.kind = TableColumn::Kind::kString;
      plan.convert = Convert::kBytes;
      if (e.type == kFixed && (e.type_length <= 0 || e.type_length > (1 << 20))) {
        return InvalidArgumentError("column '" + e.name + "' is a FIXED_LEN_BYTE_ARRAY of length " +
                                    std::to_string(e.type_length) + ", which is not valid");
      }
      break;
    default:
      return InvalidArgumentError("column '" + e.name + "' has physical type " + std::to_string(e.type) +
                                  ", which is not valid Parquet");
  }

  const LogicalType& lt = e.logical;
  if (lt.kind != 0) {
    switch (lt.kind) {
      case 1:
        EVOLVE_RETURN_IF_ERROR(set_string("STRING"));
        break;
      case 4:
        EVOLVE_RETURN_IF_ERROR(set_string("ENUM"));
        break;
      case 12:
        EVOLVE_RETURN_IF_ERROR(set_string("JSON"));
        break;
      case 5:
        EVOLVE_RETURN_IF_ERROR(set_decimal(lt.scale, lt.precision));
        break;
      case 6:
        EVOLVE_RETURN_IF_ERROR(set_date());
        break;
      case 8:
        if (lt.unit < 1 || lt.unit > 3) {
          return InvalidArgumentError("column '" + e.name + "' is a TIMESTAMP without a valid unit");
        }
        EVOLVE_RETURN_IF_ERROR(set_timestamp(lt.unit == 1   ? 1000
                                             : lt.unit == 2 ? 1000000
                                                            : 1000000000,
                                             lt.utc));
        break;
      case 10:
        EVOLVE_RETURN_IF_ERROR(set_int(lt.bit_width, lt.is_signed));
        break;
      case 11:  // UNKNOWN: a column of nulls; read as its physical type
        break;
      default:
        return unsupported(LogicalName(lt.kind));
    }
    return plan;
  }
  switch (e.converted) {
    case -1:
      break;
    case 0:
      EVOLVE_RETURN_IF_ERROR(set_string("UTF8"));
      break;
    case 4:
      EVOLVE_RETURN_IF_ERROR(set_string("ENUM"));
      break;
    case 19:
      EVOLVE_RETURN_IF_ERROR(set_string("JSON"));
      break;
    case 5:
      EVOLVE_RETURN_IF_ERROR(set_decimal(e.scale, e.precision));
      break;
    case 6:
      EVOLVE_RETURN_IF_ERROR(set_date());
      break;
    // The legacy TIMESTAMP_* types are instants (UTC) by the specification.
    case 9:
      EVOLVE_RETURN_IF_ERROR(set_timestamp(1000, true));
      break;
    case 10:
      EVOLVE_RETURN_IF_ERROR(set_timestamp(1000000, true));
      break;
    case 11:
    case 12:
    case 13:
    case 14:
      EVOLVE_RETURN_IF_ERROR(set_int(8 << (e.converted - 11), false));
      break;
    case 15:
    case 16:
    case 17:
    case 18:
      EVOLVE_RETURN_IF_ERROR(set_int(8 << (e.converted - 15), true));
      break;
    default:
      return unsupported(ConvertedName(e.converted));
  }
  return plan;
}

struct Schema {
  std::vector<ColumnPlan> columns;
};

// The leaf columns of a flat schema, or an error naming a nested or
// repeated column, or an unsupported type.
Result<Schema> PlanSchema(const FileMeta& meta) {
  if (meta.schema.empty()) return InvalidArgumentError("the footer has no schema");
  const SchemaElement& root = meta.schema[0];
  if (root.num_children < 0 || static_cast<size_t>(root.num_children) > meta.schema.size() - 1) {
    return InvalidArgumentError("the schema's root claims " + std::to_string(root.num_children) +
                                " columns but the schema has " + std::to_string(meta.schema.size() - 1) +
                                " elements");
  }
  Schema schema;
  schema.columns.reserve(static_cast<size_t>(root.num_children));
  for (size_t i = 1; i < meta.schema.size(); ++i) {
    const SchemaElement& e = meta.schema[i];
    if (e.num_children > 0 || e.type < 0) {
      return InvalidArgumentError("column '" + e.name + "' is nested (a group of " +
                                  std::to_string(e.num_children) +
                                  " fields: a struct, list or map); only flat columns are read");
    }
    if (e.repetition == kRepeated) {
      return InvalidArgumentError("column '" + e.name + "' is repeated (a list); only flat columns are read");
    }
    if (e.repetition != kRequired && e.repetition != kOptional) {
      return InvalidArgumentError("column '" + e.name + "' has no valid repetition");
    }
    auto plan = PlanColumn(e);
    if (!plan.ok()) return plan.status();
    schema.columns.push_back(std::move(plan).value());
  }
  if (schema.columns.size() != static_cast<size_t>(root.num_children)) {
    return InvalidArgumentError("the schema's root claims " + std::to_string(root.num_children) +
                                " columns but lists " + std::to_string(schema.columns.size()));
  }
  return schema;
}

// ---------------------------------------------------------------------------
// The file.

struct ParsedFile {
  FileMeta meta;
  Schema schema;
  size_t footer_start = 0;  // where the footer begins: column data lies before it
  uint64_t budget = 0;      // bytes the file may make us allocate
};

Result<ParsedFile> ParseFooter(std::string_view bytes) {
  constexpr size_t kMagic = 4;
  if (bytes.size() < kMagic || bytes.substr(0, kMagic) != "PAR1") {
    if (bytes.size() >= kMagic && bytes.substr(0, kMagic) == "PARE") {
      return InvalidArgumentError("an encrypted Parquet file, which this reader does not read");
    }
    return InvalidArgumentError("not a Parquet file (it does not start with PAR1)");
  }
  if (bytes.size() < 2 * kMagic + 4) return InvalidArgumentError("truncated Parquet file (no footer)");
  std::string_view tail = bytes.substr(bytes.size() - kMagic);
  if (tail == "PARE")
    return InvalidArgumentError("an encrypted Parquet file, which this reader does not read");
  if (tail != "PAR1") {
    return InvalidArgumentError("truncated Parquet file (it does not end with PAR1)");
  }
  uint32_t footer_len = 0;
  std::memcpy(&footer_len, bytes.data() + bytes.size() - kMagic - 4, 4);
  if (footer_len > bytes.size() - 2 * kMagic - 4) {
    return InvalidArgumentError("corrupt Parquet file (its footer length " + std::to_string(footer_len) +
                                " is beyond the file's " + std::to_string(bytes.size()) + " bytes)");
  }
  ParsedFile f;
  f.footer_start = bytes.size() - kMagic - 4 - footer_len;
  f.budget = std::max<uint64_t>(kBudgetFloor, static_cast<uint64_t>(bytes.size()) * kBudgetRatio);
  ThriftReader r(reinterpret_cast<const uint8_t*>(bytes.data()) + f.footer_start, footer_len);
  f.meta = ReadFileMeta(r);
  if (!r.ok()) return InvalidArgumentError(std::string("corrupt Parquet footer (") + r.error() + ")");
  if (f.meta.encrypted_algorithm) {
    return InvalidArgumentError("an encrypted Parquet file, which this reader does not read");
  }
  auto schema = PlanSchema(f.meta);
  if (!schema.ok()) return schema.status();
  f.schema = std::move(schema).value();
  return f;
}

// Asks the kernel to back a large, fresh column with transparent huge pages
// (where it allows them on request: /sys/kernel/mm/transparent_hugepage/
// enabled = madvise, Debian's default). First touches of fresh memory are
// most of a cold read's time otherwise, one page fault per 4 KB: on a
// virtual machine a fault costs microseconds, and 1M rows of 7 columns are
// some 20,000 of them. A hint only: contents and correctness are unchanged.
template <typename T>
void PreferHugePages(const std::vector<T>& v) {
#ifdef MADV_HUGEPAGE
  constexpr uintptr_t kHuge = uintptr_t{2} << 20;
  const size_t bytes = v.capacity() * sizeof(T);
  if (bytes < 2 * kHuge) return;
  const auto start = reinterpret_cast<uintptr_t>(v.data());
  const uintptr_t begin = (start + kHuge - 1) & ~(kHuge - 1);
  const uintptr_t end = (start + bytes) & ~(kHuge - 1);
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
#else
  (void)v;
#endif
}

// The scratch of one column's decoding, reused from page to page.
struct Scratch {
  std::string page;        // decompressed page
  std::string dictionary;  // the dictionary page's bytes (strings point into it)
  std::vector<uint8_t> levels;
  std::vector<uint32_t> indices;
  std::vector<int64_t> ints;
  std::vector<double> doubles;
  std::vector<std::string_view> strings;
  std::vector<int64_t> lengths;
  std::string arena;  // DELTA_BYTE_ARRAY's rebuilt values
  // The dictionary, decoded to physical values (one of the three).
  std::vector<int64_t> dict_ints;
  std::vector<double> dict_doubles;
  std::vector<std::string_view> dict_strings;
  bool has_dictionary = false;
};

// Which lane a physical type decodes into.
enum class Lane { kInts, kDoubles, kStrings };
Lane LaneOf(int physical) {
  switch (physical) {
    case kFloat:
    case kDouble:
      return Lane::kDoubles;
    case kByteArray:
    case kFixed:
      return Lane::kStrings;
    default:
      return Lane::kInts;
  }
}

// Reads little-endian fixed-width values.
template <typename T>
T LoadLe(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// A random-access iterator over little-endian T values at any alignment
// (page data is not aligned for doubles), for vector::insert.
template <typename T>
class UnalignedIterator {
 public:
  using iterator_category = std::random_access_iterator_tag;
  using value_type = T;
  using difference_type = std::ptrdiff_t;
  using pointer = const T*;
  using reference = T;

  explicit UnalignedIterator(const uint8_t* p) : p_(p) {}
  T operator*() const { return LoadLe<T>(p_); }
  T operator[](difference_type i) const {
    return LoadLe<T>(p_ + i * static_cast<difference_type>(sizeof(T)));
  }
  UnalignedIterator& operator++() {
    p_ += sizeof(T);
    return *this;
  }
  UnalignedIterator operator++(int) {
    UnalignedIterator old = *this;
    p_ += sizeof(T);
    return old;
  }
  UnalignedIterator& operator--() {
    p_ -= sizeof(T);
    return *this;
  }
  UnalignedIterator operator--(int) {
    UnalignedIterator old = *this;
    p_ -= sizeof(T);
    return old;
  }
  UnalignedIterator& operator+=(difference_type d) {
    p_ += d * static_cast<difference_type>(sizeof(T));
    return *this;
  }
  UnalignedIterator& operator-=(difference_type d) {
    p_ -= d * static_cast<difference_type>(sizeof(T));
    return *this;
  }
  friend UnalignedIterator operator+(UnalignedIterator it, difference_type d) { return it += d; }
  friend UnalignedIterator operator-(UnalignedIterator it, difference_type d) { return it -= d; }
  friend difference_type operator-(const UnalignedIterator& a, const UnalignedIterator& b) {
    return (a.p_ - b.p_) / static_cast<difference_type>(sizeof(T));
  }
  friend bool operator==(const UnalignedIterator& a, const UnalignedIterator& b) { return a.p_ == b.p_; }
  friend bool operator!=(const UnalignedIterator& a, const UnalignedIterator& b) { return a.p_ != b.p_; }
  friend bool operator<(const UnalignedIterator& a, const UnalignedIterator& b) { return a.p_ < b.p_; }

 private:
  const uint8_t* p_;
};

// Decodes `n` PLAIN values of `plan` from `data` into the scratch lane;
// returns the bytes used, or an error.
Result<size_t> DecodePlain(const ColumnPlan& plan, std::string_view data, size_t n,
                           std::vector<int64_t>* ints, std::vector<double>* doubles,
                           std::vector<std::string_view>* strings) {
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  const size_t size = data.size();
  auto need = [&](uint64_t width) -> Status {
    if (width != 0 && n > size / width) {
      return InvalidArgumentError("PLAIN data of " + std::to_string(size) + " bytes is too short for " +
                                  std::to_string(n) + " values");
    }
    return Status::Ok();
  };
  switch (plan.physical) {
    case kBoolean: {
      if ((n + 7) / 8 > size) return InvalidArgumentError("PLAIN booleans are too short");
      ints->resize(n);
      for (size_t i = 0; i < n; ++i) (*ints)[i] = (p[i >> 3] >> (i & 7)) & 1;
      return (n + 7) / 8;
    }
    case kInt32: {
      EVOLVE_RETURN_IF_ERROR(need(4));
      ints->resize(n);
      for (size_t i = 0; i < n; ++i) (*ints)[i] = LoadLe<int32_t>(p + 4 * i);
      return 4 * n;
    }
    case kInt64: {
      EVOLVE_RETURN_IF_ERROR(need(8));
      ints->resize(n);
      if (n > 0) std::memcpy(ints->data(), p, 8 * n);
      return 8 * n;
    }
    case kInt96: {
      EVOLVE_RETURN_IF_ERROR(need(12));
      ints->resize(n);
      for (size_t i = 0; i < n; ++i) {
        // Nanoseconds of the day, then the Julian day number.
        const uint64_t nanos = LoadLe<uint64_t>(p + 12 * i);
        const int32_t julian = LoadLe<int32_t>(p + 12 * i + 8);
        const Int128 ns = static_cast<Int128>(julian - int64_t{2440588}) * 86400000000000LL + nanos;
        if (ns > std::numeric_limits<int64_t>::max() || ns < std::numeric_limits<int64_t>::min()) {
          return InvalidArgumentError("an INT96 timestamp out of the range of 64-bit nanoseconds");
        }
        (*ints)[i] = static_cast<int64_t>(ns);
      }
      return 12 * n;
    }
    case kFloat: {
      EVOLVE_RETURN_IF_ERROR(need(4));
      doubles->resize(n);
      for (size_t i = 0; i < n; ++i) (*doubles)[i] = LoadLe<float>(p + 4 * i);
      return 4 * n;
    }
    case kDouble: {
      EVOLVE_RETURN_IF_ERROR(need(8));
      doubles->resize(n);
      if (n > 0) std::memcpy(doubles->data(), p, 8 * n);
      return 8 * n;
    }
    case kByteArray: {
      EVOLVE_RETURN_IF_ERROR(need(4));
      strings->resize(n);
      size_t pos = 0;
      for (size_t i = 0; i < n; ++i) {
        if (size - pos < 4) return InvalidArgumentError("PLAIN byte arrays are cut short");
        const uint32_t len = LoadLe<uint32_t>(p + pos);
        pos += 4;
        if (len > size - pos) return InvalidArgumentError("a PLAIN byte array runs past its page");
        (*strings)[i] = std::string_view(data.data() + pos, len);
        pos += len;
      }
      return pos;
    }
    case kFixed: {
      const auto width = static_cast<size_t>(plan.type_length);
      EVOLVE_RETURN_IF_ERROR(need(width));
      strings->resize(n);
      for (size_t i = 0; i < n; ++i) (*strings)[i] = std::string_view(data.data() + width * i, width);
      return width * n;
    }
    default:
      return InvalidArgumentError("unknown physical type");
  }
}

// The output budget, charged for what a column is about to hold.
class Budget {
 public:
  explicit Budget(uint64_t limit) : left_(limit), limit_(limit) {}
  Status Charge(uint64_t bytes) {
    if (bytes > left_) {
      return InvalidArgumentError("it would decode to more than " + std::to_string(limit_) +
                                  " bytes (the limit for a file of its size; is it corrupt?)");
    }
    left_ -= bytes;
    return Status::Ok();
  }
  uint64_t limit() const { return limit_; }

 private:
  uint64_t left_;
  uint64_t limit_;
};

// Decodes the values of one data page (already decompressed, levels
// removed) into the scratch lane: `n` non-null values in `encoding`.
Status DecodeValues(const ColumnPlan& plan, int encoding, std::string_view data, size_t n, Scratch* s,
                    Budget* budget) {
  const Lane lane = LaneOf(plan.physical);
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  auto bad_encoding = [&]() {
    return InvalidArgumentError("encoding " + EncodingName(encoding) + " for " + PhysicalName(plan.physical) +
                                " values is not supported");
  };
  switch (encoding) {
    case kPlain: {
      auto used = DecodePlain(plan, data, n, &s->ints, &s->doubles, &s->strings);
      return used.status();
    }
    case kPlainDictionary:
    case kRleDictionary: {
      if (!s->has_dictionary)
        return InvalidArgumentError("dictionary-encoded data without a dictionary page");
      if (data.empty()) {
        if (n == 0) return Status::Ok();
        return InvalidArgumentError("dictionary-encoded data is empty");
      }
      const int width = p[0];
      if (width > 32) return InvalidArgumentError("dictionary indices of " + std::to_string(width) + " bits");
      s->indices.resize(n);
      HybridDecoder dec(p + 1, data.size() - 1, width);
      if (!dec.Decode(s->indices.data(), n)) return InvalidArgumentError("corrupt dictionary indices");
      size_t dict_size = lane == Lane::kInts      ? s->dict_ints.size()
                         : lane == Lane::kDoubles ? s->dict_doubles.size()
                                                  : s->dict_strings.size();
      for (uint32_t idx : s->indices) {
        if (idx >= dict_size) {
          return InvalidArgumentError("dictionary index " + std::to_string(idx) +
                                      " beyond the dictionary's " + std::to_string(dict_size) + " values");
        }
      }
      if (lane == Lane::kInts) {
        s->ints.resize(n);
        for (size_t i = 0; i < n; ++i) s->ints[i] = s->dict_ints[s->indices[i]];
      } else if (lane == Lane::kDoubles) {
        s->doubles.resize(n);
        for (size_t i = 0; i < n; ++i) s->doubles[i] = s->dict_doubles[s->indices[i]];
      } else {
        s->strings.resize(n);
        for (size_t i = 0; i < n; ++i) s->strings[i] = s->dict_strings[s->indices[i]];
      }
      return Status::Ok();
    }
    case kRle: {
      if (plan.physical != kBoolean) return bad_encoding();
      // Booleans: a 4-byte length, then the hybrid at 1 bit.
      if (data.size() < 4) return InvalidArgumentError("RLE booleans without their length");
      const uint32_t len = LoadLe<uint32_t>(p);
      if (len > data.size() - 4) return InvalidArgumentError("RLE booleans longer than their page");
      s->indices.resize(n);
      HybridDecoder dec(p + 4, len, 1);
      if (!dec.Decode(s->indices.data(), n)) return InvalidArgumentError("corrupt RLE booleans");
      s->ints.assign(s->indices.begin(), s->indices.end());
      return Status::Ok();
    }
    case kDeltaBinaryPacked: {
      if (plan.physical != kInt32 && plan.physical != kInt64) return bad_encoding();
      DeltaDecoder dec;
      if (!dec.Init(p, data.size())) return InvalidArgumentError("corrupt DELTA_BINARY_PACKED header");
      if (dec.total() < n) {
        return InvalidArgumentError("DELTA_BINARY_PACKED data holds " + std::to_string(dec.total()) +
                                    " values, fewer than the page's " + std::to_string(n));
      }
      s->ints.resize(n);
      if (!dec.Decode(s->ints.data(), n)) return InvalidArgumentError("corrupt DELTA_BINARY_PACKED data");
      if (plan.physical == kInt32) {
        for (int64_t& v : s->ints) v = static_cast<int32_t>(static_cast<uint32_t>(v));
      }
      return Status::Ok();
    }
    case kDeltaLengthByteArray:
    case kDeltaByteArray: {
      if (plan.physical != kByteArray) return bad_encoding();
      const uint8_t* pos = p;
      const uint8_t* end = p + data.size();
      // DELTA_BYTE_ARRAY: prefix lengths, then the suffixes as
      // DELTA_LENGTH_BYTE_ARRAY.
      std::vector<int64_t> prefixes;
      if (encoding == kDeltaByteArray) {
        DeltaDecoder dec;
        if (!dec.Init(pos, static_cast<size_t>(end - pos)) || dec.total() < n) {
          return InvalidArgumentError("corrupt DELTA_BYTE_ARRAY prefix lengths");
        }
        prefixes.resize(n);
        if (!dec.Decode(prefixes.data(), n)) {
          return InvalidArgumentError("corrupt DELTA_BYTE_ARRAY prefix lengths");
        }
        // The rest of the prefix lengths (if the header counted more) are not
        // needed, but their bytes must be passed.
        std::vector<int64_t> rest(static_cast<size_t>(std::min<uint64_t>(dec.total() - n, data.size() * 8)));
        if (dec.total() - n > rest.size() || !dec.Decode(rest.data(), rest.size())) {
          return InvalidArgumentError("corrupt DELTA_BYTE_ARRAY prefix lengths");
        }
        pos = dec.position();
      }
      DeltaDecoder lengths;
      if (!lengths.Init(pos, static_cast<size_t>(end - pos)) || lengths.total() < n) {
        return InvalidArgumentError("corrupt DELTA_LENGTH_BYTE_ARRAY lengths");
      }
      s->lengths.resize(n);
      if (!lengths.Decode(s->lengths.data(), n)) {
        return InvalidArgumentError("corrupt DELTA_LENGTH_BYTE_ARRAY lengths");
      }
      {
        std::vector<int64_t> rest(
            static_cast<size_t>(std::min<uint64_t>(lengths.total() - n, data.size() * 8)));
        if (lengths.total() - n > rest.size() || !lengths.Decode(rest.data(), rest.size())) {
          return InvalidArgumentError("corrupt DELTA_LENGTH_BYTE_ARRAY lengths");
        }
      }
      pos = lengths.position();
      s->strings.resize(n);
      if (encoding == kDeltaLengthByteArray) {
        for (size_t i = 0; i < n; ++i) {
          const int64_t len = s->lengths[i];
          if (len < 0 || len > end - pos) return InvalidArgumentError("a byte array runs past its page");
          s->strings[i] = std::string_view(reinterpret_cast<const char*>(pos), static_cast<size_t>(len));
          pos += len;
        }
        return Status::Ok();
      }
      // Rebuild prefix + suffix into the arena, sized first (and charged:
      // a long prefix repeated is how a small page claims a lot of bytes).
      uint64_t total = 0;
      uint64_t prev_len = 0;
      const uint8_t* scan = pos;
      for (size_t i = 0; i < n; ++i) {
        const int64_t prefix = prefixes[i], len = s->lengths[i];
        if (prefix < 0 || static_cast<uint64_t>(prefix) > prev_len || len < 0 || len > end - scan) {
          return InvalidArgumentError("corrupt DELTA_BYTE_ARRAY values");
        }
        scan += len;
        prev_len = static_cast<uint64_t>(prefix + len);
        total += prev_len;
      }
      EVOLVE_RETURN_IF_ERROR(budget->Charge(total));
      s->arena.resize(total);
      size_t at = 0;
      size_t prev_at = 0;
      prev_len = 0;
      for (size_t i = 0; i < n; ++i) {
        const auto prefix = static_cast<size_t>(prefixes[i]);
        const auto len = static_cast<size_t>(s->lengths[i]);
        std::memmove(&s->arena[at], &s->arena[prev_at], prefix);
        std::memcpy(&s->arena[at + prefix], pos, len);
        pos += len;
        prev_at = at;
        at += prefix + len;
      }
      at = 0;
      for (size_t i = 0; i < n; ++i) {
        const size_t len = static_cast<size_t>(prefixes[i] + s->lengths[i]);
        s->strings[i] = std::string_view(s->arena.data() + at, len);
        at += len;
      }
      return Status::Ok();
    }
    case kByteStreamSplit: {
      size_t width = 0;
      switch (plan.physical) {
        case kFloat:
        case kInt32:
          width = 4;
          break;
        case kDouble:
        case kInt64:
          width = 8;
          break;
        case kFixed:
          width = static_cast<size_t>(plan.type_length);
          break;
        default:
          return bad_encoding();
      }
      // The streams' length is the stored values' count.
      if (data.size() % width != 0 || data.size() / width < n) {
        return InvalidArgumentError("BYTE_STREAM_SPLIT data of " + std::to_string(data.size()) +
                                    " bytes does not hold " + std::to_string(n) + " values");
      }
      const size_t stride = data.size() / width;
      if (plan.physical == kFixed) {
        // Reassemble into the arena, then view it.
        EVOLVE_RETURN_IF_ERROR(budget->Charge(static_cast<uint64_t>(n) * width));
        s->arena.resize(n * width);
        for (size_t i = 0; i < n; ++i) {
          for (size_t k = 0; k < width; ++k) s->arena[i * width + k] = data[k * stride + i];
        }
        s->strings.resize(n);
        for (size_t i = 0; i < n; ++i) s->strings[i] = std::string_view(s->arena.data() + i * width, width);
        return Status::Ok();
      }
      uint8_t buf[8];
      if (plan.physical == kFloat || plan.physical == kDouble) {
        s->doubles.resize(n);
      } else {
        s->ints.resize(n);
      }
      for (size_t i = 0; i < n; ++i) {
        for (size_t k = 0; k < width; ++k) buf[k] = p[k * stride + i];
        switch (plan.physical) {
          case kFloat:
            s->doubles[i] = LoadLe<float>(buf);
            break;
          case kDouble:
            s->doubles[i] = LoadLe<double>(buf);
            break;
          case kInt32:
            s->ints[i] = LoadLe<int32_t>(buf);
            break;
          default:
            s->ints[i] = LoadLe<int64_t>(buf);
            break;
        }
      }
      return Status::Ok();
    }
    default:
      return bad_encoding();
  }
}

// A big-endian two's-complement integer of `bytes` as a double.
Result<double> BigEndianDecimal(std::string_view bytes) {
  if (bytes.empty()) return 0.0;
  // Up to 16 significant bytes (precision 38); longer ones must be sign
  // extension.
  size_t skip = bytes.size() > 16 ? bytes.size() - 16 : 0;
  const bool negative = static_cast<uint8_t>(bytes[0]) & 0x80;
  for (size_t i = 0; i < skip; ++i) {
    if (static_cast<uint8_t>(bytes[i]) != (negative ? 0xff : 0x00)) {
      return InvalidArgumentError("a DECIMAL wider than 128 bits");
    }
  }
  Uint128 v = negative ? ~static_cast<Uint128>(0) : 0;
  for (size_t i = skip; i < bytes.size(); ++i) v = (v << 8) | static_cast<uint8_t>(bytes[i]);
  return static_cast<double>(static_cast<Int128>(v));
}

// Converts the page's `n` physical values in the scratch lane to the
// column's kind, in place: ints for the integer kinds, doubles for
// kDouble, strings for kString.
Status ConvertValues(const ColumnPlan& plan, size_t n, Scratch* s) {
  switch (plan.convert) {
    case Convert::kInt:
    case Convert::kInt96:
    case Convert::kFloat:
    case Convert::kBytes:
      return Status::Ok();
    case Convert::kUint32:
      for (size_t j = 0; j < n; ++j) s->ints[j] = static_cast<int64_t>(static_cast<uint32_t>(s->ints[j]));
      return Status::Ok();
    case Convert::kUint64:
      for (size_t j = 0; j < n; ++j) {
        if (s->ints[j] < 0) {
          return InvalidArgumentError("a UINT64 value " + std::to_string(static_cast<uint64_t>(s->ints[j])) +
                                      " beyond the range of a signed 64-bit integer");
        }
      }
      return Status::Ok();
    case Convert::kDecimalInt:
      // A division, not a multiplication by 10^-scale: both operands are
      // exact, so the quotient is the double nearest the decimal, the same
      // one a parser of its text gets.
      s->doubles.resize(n);
      for (size_t j = 0; j < n; ++j) s->doubles[j] = static_cast<double>(s->ints[j]) / plan.scale_divisor;
      return Status::Ok();
    case Convert::kDecimalBytes:
      s->doubles.resize(n);
      for (size_t j = 0; j < n; ++j) {
        auto v = BigEndianDecimal(s->strings[j]);
        if (!v.ok()) return v.status();
        s->doubles[j] = *v / plan.scale_divisor;
      }
      return Status::Ok();
  }
  return InternalError("unknown conversion");
}

// Appends `n` values of `src` to `dst` as `count` slots: value j goes to
// the j-th slot whose level is 1, `null_value` to the others.
template <typename T>
void Scatter(const T* src, size_t n, const uint8_t* levels, size_t count, T null_value, std::vector<T>* dst) {
  if (levels == nullptr || n == count) {
    dst->insert(dst->end(), src, src + n);
    return;
  }
  const size_t before = dst->size();
  dst->resize(before + count, null_value);
  T* out = dst->data() + before;
  size_t j = 0;
  for (size_t i = 0; i < count; ++i) {
    if (levels[i] != 0) out[i] = src[j++];
  }
}

// Appends the page's values (scratch lane, `n` non-null, converted) to
// `out`, with nulls where `levels` (if any) is 0. `count` is the page's
// value count.
Status Emit(const ColumnPlan& plan, Scratch* s, const uint8_t* levels, size_t count, size_t n,
            TableColumn* out, Budget* budget) {
  EVOLVE_RETURN_IF_ERROR(ConvertValues(plan, n, s));
  const size_t before = out->kind == TableColumn::Kind::kDouble   ? out->doubles.size()
                        : out->kind == TableColumn::Kind::kString ? out->strings.size()
                                                                  : out->ints.size();
  // Nulls: `present` exists from the first null on (the rows before it
  // were all present).
  const bool track_nulls = n < count || !out->present.empty();
  if (track_nulls && out->present.empty()) out->present.assign(before, 1);
  if (track_nulls) {
    if (levels != nullptr) {
      out->present.insert(out->present.end(), levels, levels + count);
    } else {
      out->present.insert(out->present.end(), count, 1);
    }
  }
  switch (out->kind) {
    case TableColumn::Kind::kDouble:
      Scatter(s->doubles.data(), n, levels, count, std::numeric_limits<double>::quiet_NaN(), &out->doubles);
      return Status::Ok();
    case TableColumn::Kind::kString: {
      uint64_t bytes = 0;
      for (size_t j = 0; j < n; ++j) bytes += s->strings[j].size();
      EVOLVE_RETURN_IF_ERROR(budget->Charge(bytes + n * sizeof(std::string)));
      // Constructed in place (the vector is reserved): one pass, no
      // default-constructed string assigned after.
      size_t j = 0;
      for (size_t i = 0; i < count; ++i) {
        if (levels != nullptr && levels[i] == 0) {
          out->strings.emplace_back();
        } else {
          out->strings.emplace_back(s->strings[j].data(), s->strings[j].size());
          ++j;
        }
      }
      return Status::Ok();
    }
    default:
      Scatter(s->ints.data(), n, levels, count, int64_t{0}, &out->ints);
      return Status::Ok();
  }
}

// Decodes a dictionary page's PLAIN values (decompressed into
// s->dictionary, which its strings then point into) into the scratch
// dictionary.
Status ReadDictionary(const ColumnPlan& plan, const PageHeader& h, Scratch* s) {
  if (h.encoding != kPlain && h.encoding != kPlainDictionary) {
    return InvalidArgumentError("a dictionary page in encoding " + EncodingName(h.encoding) +
                                " (only PLAIN is valid)");
  }
  if (h.num_values < 0) return InvalidArgumentError("a dictionary page with a negative value count");
  s->dict_ints.clear();
  s->dict_doubles.clear();
  s->dict_strings.clear();
  auto used = DecodePlain(plan, s->dictionary, static_cast<size_t>(h.num_values), &s->dict_ints,
                          &s->dict_doubles, &s->dict_strings);
  if (!used.ok()) return used.status().WithContext("dictionary page");
  s->has_dictionary = true;
  return Status::Ok();
}

struct ChunkLocation {
  size_t begin = 0;
  size_t end = 0;
};

// Where a column chunk's pages lie: from its dictionary page (if any) or
// first data page, for total_compressed_size bytes, before the footer.
Result<ChunkLocation> LocateChunk(const ColumnMeta& m, size_t footer_start) {
  int64_t begin = m.data_page_offset;
  if (m.dictionary_page_offset > 0 && m.dictionary_page_offset < begin) begin = m.dictionary_page_offset;
  if (begin < 4 || static_cast<uint64_t>(begin) >= footer_start) {
    return InvalidArgumentError("its data offset " + std::to_string(begin) + " is outside the file's data");
  }
  if (m.total_compressed_size <= 0 ||
      static_cast<uint64_t>(m.total_compressed_size) > footer_start - static_cast<uint64_t>(begin)) {
    return InvalidArgumentError("its size " + std::to_string(m.total_compressed_size) +
                                " runs past the file's data");
  }
  return ChunkLocation{static_cast<size_t>(begin), static_cast<size_t>(begin + m.total_compressed_size)};
}

Result<Codec> CodecOf(int codec, const std::string& column) {
  switch (codec) {
    case 0:
      return Codec::kNone;
    case 1:
      return Codec::kSnappy;
    case 2:
      return Codec::kGzip;
    case 6:
      return Codec::kZstd;
    default:
      return InvalidArgumentError(
          "column '" + column + "' is compressed with " + CodecNameOf(codec) +
          ", which this reader does not support (UNCOMPRESSED, SNAPPY, GZIP and ZSTD are)");
  }
}

// Checks a column chunk's metadata against its column.
Status CheckChunk(const ColumnChunk& chunk, const ColumnPlan& plan) {
  if (chunk.encrypted) return InvalidArgumentError("column '" + plan.name + "' is encrypted");
  if (chunk.has_file_path) {
    return InvalidArgumentError("column '" + plan.name +
                                "' has its data in another file, which is not supported");
  }
  if (!chunk.has_meta) return InvalidArgumentError("column '" + plan.name + "' has no column metadata");
  const ColumnMeta& m = chunk.meta;
  if (m.path.size() != 1 || m.path[0] != plan.name) {
    std::string path;
    for (const auto& p : m.path) path += (path.empty() ? "" : ".") + p;
    return InvalidArgumentError("column chunk '" + path + "' does not match column '" + plan.name + "'");
  }
  if (m.type != plan.physical) {
    return InvalidArgumentError("column '" + plan.name + "' has chunks of type " + PhysicalName(m.type) +
                                " but is declared " + PhysicalName(plan.physical));
  }
  return Status::Ok();
}

// Walks the pages of one column chunk: for each, its header and its body's
// bytes. `visit(header, body)` decodes or describes it.
template <typename Visit>
Status ForEachPage(std::string_view bytes, const ColumnMeta& meta, size_t footer_start, uint64_t max_page,
                   Visit visit) {
  auto where = LocateChunk(meta, footer_start);
  if (!where.ok()) return where.status();
  size_t pos = where->begin;
  const size_t end = where->end;
  int64_t values = 0;
  int page = 0;
  while (values < meta.num_values && pos < end) {
    ThriftReader r(reinterpret_cast<const uint8_t*>(bytes.data()) + pos, end - pos);
    PageHeader h = ReadPageHeader(r);
    const std::string at = "page " + std::to_string(page) + " at byte " + std::to_string(pos);
    if (!r.ok()) return InvalidArgumentError(at + ": corrupt page header (" + r.error() + ")");
    pos += r.consumed();
    if (h.compressed_size < 0 || static_cast<size_t>(h.compressed_size) > end - pos) {
      return InvalidArgumentError(at + ": its size " + std::to_string(h.compressed_size) +
                                  " runs past the column chunk");
    }
    if (h.uncompressed_size < 0 || static_cast<uint64_t>(h.uncompressed_size) > max_page) {
      return InvalidArgumentError(at + ": its uncompressed size " + std::to_string(h.uncompressed_size) +
                                  " is not valid for a file of this size");
    }
    std::string_view body = bytes.substr(pos, static_cast<size_t>(h.compressed_size));
    pos += static_cast<size_t>(h.compressed_size);
    if (h.type == kDataPage || h.type == kDataPageV2 || h.type == kDictionaryPage) {
      if (!h.has_body || h.num_values < 0) {
        return InvalidArgumentError(at + ": a " + PageTypeName(h.type) + " header without its values");
      }
    }
    Status s = visit(h, body);
    if (!s.ok()) return s.WithContext(at);
    if (h.type == kDataPage || h.type == kDataPageV2) values += h.num_values;
    ++page;
  }
  if (values != meta.num_values) {
    return InvalidArgumentError("its pages hold " + std::to_string(values) + " values, its metadata says " +
                                std::to_string(meta.num_values));
  }
  return Status::Ok();
}

// Reads one column chunk into `out`: `rows` values.
Status ReadChunk(std::string_view bytes, const ParsedFile& file, const ColumnPlan& plan,
                 const ColumnMeta& meta, int64_t rows, TableColumn* out, Scratch* s, Budget* budget) {
  if (meta.num_values != rows) {
    return InvalidArgumentError("it has " + std::to_string(meta.num_values) + " values for " +
                                std::to_string(rows) + " rows (a flat column has one per row)");
  }
  auto codec = CodecOf(meta.codec, plan.name);
  if (!codec.ok()) return codec.status();
  s->has_dictionary = false;
  int64_t done = 0;
  return ForEachPage(
      bytes, meta, file.footer_start, file.budget, [&](const PageHeader& h, std::string_view body) -> Status {
        if (h.type != kDataPage && h.type != kDataPageV2 && h.type != kDictionaryPage) return Status::Ok();
        if (h.type == kDictionaryPage) {
          EVOLVE_RETURN_IF_ERROR(
              DecompressBlockInto(*codec, body, static_cast<size_t>(h.uncompressed_size), &s->dictionary));
          return ReadDictionary(plan, h, s);
        }
        const auto count = static_cast<size_t>(h.num_values);
        if (h.num_values > rows - done) {
          return InvalidArgumentError("it holds " + std::to_string(h.num_values) + " values, more than the " +
                                      std::to_string(rows - done) + " rows left in its row group");
        }
        std::string_view values;    // the encoded values
        std::string_view def_data;  // the definition levels (RLE hybrid), if any
        if (h.type == kDataPage) {
          EVOLVE_RETURN_IF_ERROR(
              DecompressBlockInto(*codec, body, static_cast<size_t>(h.uncompressed_size), &s->page));
          values = s->page;
          if (plan.optional) {
            if (h.def_encoding != kRle) {
              return InvalidArgumentError("definition levels in encoding " + EncodingName(h.def_encoding) +
                                          " are not supported");
            }
            if (values.size() < 4) return InvalidArgumentError("definition levels without their length");
            uint32_t len = 0;
            std::memcpy(&len, values.data(), 4);
            if (len > values.size() - 4)
              return InvalidArgumentError("definition levels longer than their page");
            def_data = values.substr(4, len);
            values.remove_prefix(4 + static_cast<size_t>(len));
          }
        } else {
          if (h.def_length < 0 || h.rep_length < 0 ||
              static_cast<int64_t>(h.def_length) + h.rep_length > static_cast<int64_t>(body.size()) ||
              static_cast<int64_t>(h.def_length) + h.rep_length > h.uncompressed_size) {
            return InvalidArgumentError("level lengths beyond the page");
          }
          if (h.rep_length != 0) return InvalidArgumentError("repetition levels in a flat column");
          if (!plan.optional && h.def_length != 0) {
            return InvalidArgumentError("definition levels in a REQUIRED column");
          }
          const auto levels_len = static_cast<size_t>(h.def_length + h.rep_length);
          def_data = body.substr(static_cast<size_t>(h.rep_length), static_cast<size_t>(h.def_length));
          std::string_view rest = body.substr(levels_len);
          const auto rest_size = static_cast<size_t>(h.uncompressed_size) - levels_len;
          if (h.is_compressed && *codec != Codec::kNone) {
            EVOLVE_RETURN_IF_ERROR(DecompressBlockInto(*codec, rest, rest_size, &s->page));
            values = s->page;
          } else {
            if (rest.size() != rest_size)
              return InvalidArgumentError("its size differs from the declared size");
            values = rest;
          }
        }
        // Definition levels: 1 present, 0 null (max level 1).
        size_t n = count;
        const uint8_t* levels = nullptr;
        if (plan.optional) {
          s->levels.resize(count);
          HybridDecoder dec(reinterpret_cast<const uint8_t*>(def_data.data()), def_data.size(), 1);
          if (!dec.Decode(s->levels.data(), count)) return InvalidArgumentError("corrupt definition levels");
          n = static_cast<size_t>(std::count(s->levels.begin(), s->levels.end(), uint8_t{1}));
          if (n + static_cast<size_t>(std::count(s->levels.begin(), s->levels.end(), uint8_t{0})) != count) {
            return InvalidArgumentError("a definition level above 1 in a flat column");
          }
          levels = s->levels.data();
          if (h.type == kDataPageV2 && h.num_nulls != static_cast<int32_t>(count - n)) {
            return InvalidArgumentError("its header counts " + std::to_string(h.num_nulls) +
                                        " nulls, its levels " + std::to_string(count - n));
          }
        }
        // The common case, PLAIN DOUBLE or INT64 values without nulls, goes
        // straight from the page into the column: no copy through the scratch.
        if (h.encoding == kPlain && n == count && (plan.physical == kDouble || plan.physical == kInt64) &&
            (plan.convert == Convert::kFloat || plan.convert == Convert::kInt)) {
          if (n > values.size() / 8) return InvalidArgumentError("PLAIN data too short for its values");
          // insert() from a range constructs each element once (resize()
          // would zero the memory first, then memcpy overwrite it).
          auto append = [&](auto* column) {
            using T = typename std::remove_reference_t<decltype(*column)>::value_type;
            const auto* p = reinterpret_cast<const uint8_t*>(values.data());
            column->insert(column->end(), UnalignedIterator<T>(p), UnalignedIterator<T>(p + 8 * n));
          };
          if (plan.physical == kDouble) {
            append(&out->doubles);
          } else {
            append(&out->ints);
          }
          if (!out->present.empty()) out->present.insert(out->present.end(), count, 1);
        } else {
          EVOLVE_RETURN_IF_ERROR(DecodeValues(plan, h.encoding, values, n, s, budget));
          EVOLVE_RETURN_IF_ERROR(Emit(plan, s, levels, count, n, out, budget));
        }
        done += h.num_values;
        return Status::Ok();
      });
}

std::string WithFile(const std::string& source_name, const Status& s) {
  return source_name + ": " + s.message();
}

}  // namespace

bool LooksLikeParquet(std::string_view head) { return head.size() >= 4 && head.substr(0, 4) == "PAR1"; }

Result<BarTable> ReadParquet(std::string_view bytes, const std::string& source_name) {
  auto parsed = ParseFooter(bytes);
  if (!parsed.ok()) return InvalidArgumentError(WithFile(source_name, parsed.status()));
  const ParsedFile& file = *parsed;
  const auto& plans = file.schema.columns;

  // The rows, from the row groups (the footer's num_rows must agree).
  uint64_t rows = 0;
  for (size_t g = 0; g < file.meta.row_groups.size(); ++g) {
    const RowGroup& rg = file.meta.row_groups[g];
    if (rg.num_rows < 0) {
      return InvalidArgumentError(source_name + ": row group " + std::to_string(g) +
                                  " has no valid row count");
    }
    if (rg.columns.size() != plans.size()) {
      return InvalidArgumentError(source_name + ": row group " + std::to_string(g) + " has " +
                                  std::to_string(rg.columns.size()) + " column chunks for " +
                                  std::to_string(plans.size()) + " columns");
    }
    rows += static_cast<uint64_t>(rg.num_rows);
    if (rows > (uint64_t{1} << 40)) return InvalidArgumentError(source_name + ": corrupt row counts");
  }
  if (file.meta.num_rows != static_cast<int64_t>(rows)) {
    return InvalidArgumentError(source_name + ": the footer says " + std::to_string(file.meta.num_rows) +
                                " rows, its row groups " + std::to_string(rows));
  }
  // Every value takes at least 8 bytes (a string's object more) and a
  // possible null flag: charge that up front, so the columns can be
  // reserved in full.
  Budget budget(file.budget);
  for (size_t c = 0; c < plans.size(); ++c) {
    Status s = budget.Charge(rows * (plans[c].optional ? 9 : 8));
    if (!s.ok()) return InvalidArgumentError(WithFile(source_name, s));
  }

  BarTable table;
  table.rows = static_cast<size_t>(rows);
  table.columns.resize(plans.size());
  Scratch scratch;
  for (size_t c = 0; c < plans.size(); ++c) {
    const ColumnPlan& plan = plans[c];
    TableColumn& col = table.columns[c];
    col.name = plan.name;
    col.kind = plan.kind;
    col.per_second = plan.per_second;
    col.utc = plan.kind == TableColumn::Kind::kTimestamp ? plan.utc : true;
    if (plan.kind == TableColumn::Kind::kDouble) {
      col.doubles.reserve(table.rows);
      PreferHugePages(col.doubles);
    } else if (plan.kind == TableColumn::Kind::kString) {
      col.strings.reserve(table.rows);
      PreferHugePages(col.strings);
    } else {
      col.ints.reserve(table.rows);
      PreferHugePages(col.ints);
    }
    for (size_t g = 0; g < file.meta.row_groups.size(); ++g) {
      const RowGroup& rg = file.meta.row_groups[g];
      const ColumnChunk& chunk = rg.columns[c];
      auto where = [&]() {
        return source_name + ": column '" + plan.name + "', row group " + std::to_string(g);
      };
      Status s = CheckChunk(chunk, plan);
      if (!s.ok()) return InvalidArgumentError(WithFile(source_name, s));
      s = ReadChunk(bytes, file, plan, chunk.meta, rg.num_rows, &col, &scratch, &budget);
      if (!s.ok()) {
        // The codec message names the column already.
        if (s.message().rfind("column '", 0) == 0) return InvalidArgumentError(WithFile(source_name, s));
        return InvalidArgumentError(where() + ": " + s.message());
      }
    }
  }
  return table;
}

Result<std::vector<std::string>> ReadParquetColumnNames(std::string_view bytes,
                                                        const std::string& source_name) {
  auto parsed = ParseFooter(bytes);
  if (!parsed.ok()) return InvalidArgumentError(WithFile(source_name, parsed.status()));
  std::vector<std::string> names;
  for (const ColumnPlan& plan : parsed->schema.columns) names.push_back(plan.name);
  return names;
}

Result<std::string> DescribeParquet(std::string_view bytes, const std::string& source_name) {
  auto parsed = ParseFooter(bytes);
  if (!parsed.ok()) return InvalidArgumentError(WithFile(source_name, parsed.status()));
  const ParsedFile& file = *parsed;
  std::string out;
  for (size_t c = 0; c < file.schema.columns.size(); ++c) {
    const ColumnPlan& plan = file.schema.columns[c];
    std::map<std::string, int> pages;  // "DATA_PAGE/PLAIN" -> count
    std::map<std::string, int> codecs;
    for (size_t g = 0; g < file.meta.row_groups.size(); ++g) {
      const RowGroup& rg = file.meta.row_groups[g];
      if (c >= rg.columns.size())
        return InvalidArgumentError(source_name + ": row group without column chunks");
      Status s = CheckChunk(rg.columns[c], plan);
      if (!s.ok()) return InvalidArgumentError(WithFile(source_name, s));
      const ColumnMeta& m = rg.columns[c].meta;
      ++codecs[CodecNameOf(m.codec)];
      s = ForEachPage(bytes, m, file.footer_start, file.budget, [&](const PageHeader& h, std::string_view) {
        ++pages[PageTypeName(h.type) + "/" + EncodingName(h.encoding)];
        return Status::Ok();
      });
      if (!s.ok()) {
        return InvalidArgumentError(source_name + ": column '" + plan.name + "', row group " +
                                    std::to_string(g) + ": " + s.message());
      }
    }
    out += plan.name + ": " + PhysicalName(plan.physical);
    if (!plan.logical_text.empty()) out += " " + plan.logical_text;
    out += plan.optional ? " OPTIONAL" : " REQUIRED";
    for (const auto& [codec, n] : codecs) out += " " + codec;
    for (const auto& [page, n] : pages) out += " " + page + " x" + std::to_string(n);
    out += "\n";
  }
  return out;
}

}  // namespace evolve::engines
