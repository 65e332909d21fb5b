// The Parquet reader on files written by DuckDB and by arrow-rs
// (tests/engines/fixtures/parquet/, README.md there), each compared value by
// value with the CSV the same bars came from; files built here for what
// those writers do not emit (INT96, BOOLEAN PLAIN, repeated columns,
// hostile footers); and hostile input: truncation, bad magic, footer
// lengths, flipped bytes (errors, never a crash).
#include "parquet_reader.h"

#include <doctest/doctest.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "evolve/engines/bars.h"

namespace evolve::engines {
namespace {

const std::string kDir = std::string(EVOLVE_TEST_FIXTURES_DIR) + "/parquet/";

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot open " << path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

BarTable Read(const std::string& name) {
  auto r = ReadParquet(ReadBytes(kDir + name), name);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  return std::move(r).value();
}

Bars Expected(const std::string& csv, const std::string& symbol) {
  auto r = LoadBarsCsv(kDir + csv, symbol);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  return std::move(r).value();
}

const TableColumn& Col(const BarTable& t, const std::string& name) {
  for (const TableColumn& c : t.columns) {
    if (c.name == name) return c;
  }
  FAIL("no column " << name);
  return t.columns.front();
}

// A time column's value at `row` as Unix seconds (whole seconds only).
int64_t Seconds(const TableColumn& c, size_t row) {
  if (c.kind == TableColumn::Kind::kDate) return c.ints.at(row) * 86400;
  REQUIRE(c.kind == TableColumn::Kind::kTimestamp);
  CHECK(c.ints.at(row) % c.per_second == 0);
  return c.ints.at(row) / c.per_second;
}

// A numeric column's value at `row` as a double.
double Number(const TableColumn& c, size_t row) {
  if (c.kind == TableColumn::Kind::kDouble) return c.doubles.at(row);
  REQUIRE(c.kind == TableColumn::Kind::kInt64);
  return static_cast<double>(c.ints.at(row));
}

struct Names {
  std::string time = "ts", open = "open", high = "high", low = "low", close = "close", volume = "volume";
};

// The table's rows [first, first + bars.size()) are exactly `bars`: times
// in seconds, prices equal as doubles (or as (float) of the CSV's double
// when the file's prices are 32-bit), volumes equal.
void CheckBars(const BarTable& t, const Bars& bars, const Names& n, size_t first = 0, bool float32 = false) {
  REQUIRE(t.rows >= first + bars.size());
  const TableColumn& time = Col(t, n.time);
  const TableColumn* prices[] = {&Col(t, n.open), &Col(t, n.high), &Col(t, n.low), &Col(t, n.close)};
  const std::vector<double>* want[] = {&bars.open, &bars.high, &bars.low, &bars.close};
  const TableColumn& volume = Col(t, n.volume);
  for (size_t i = 0; i < bars.size(); ++i) {
    const size_t row = first + i;
    CAPTURE(row);
    CHECK(Seconds(time, row) == bars.time[i]);
    for (int k = 0; k < 4; ++k) {
      CAPTURE(prices[k]->name);
      REQUIRE(prices[k]->kind == TableColumn::Kind::kDouble);
      const double expected =
          float32 ? static_cast<double>(static_cast<float>((*want[k])[i])) : (*want[k])[i];
      CHECK(prices[k]->doubles[row] == expected);
      CHECK_FALSE(prices[k]->IsNull(row));
    }
    CHECK(Number(volume, row) == bars.volume[i]);
  }
}

// extras.csv: Symbol,Datetime,VWAP (empty: null),TradeCount,Halted.
struct Extra {
  std::string symbol;
  int64_t time = 0;
  bool has_vwap = false;
  double vwap = 0;
  int64_t trade_count = 0;
  int64_t halted = 0;
};

std::vector<Extra> Extras() {
  std::istringstream in(ReadBytes(kDir + "extras.csv"));
  std::string line;
  std::getline(in, line);
  REQUIRE(line == "Symbol,Datetime,VWAP,TradeCount,Halted");
  std::vector<Extra> out;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::vector<std::string> f;
    std::stringstream ss(line);
    std::string field;
    while (std::getline(ss, field, ',')) f.push_back(field);
    if (line.back() == ',') f.emplace_back();
    REQUIRE(f.size() == 5);
    Extra e;
    e.symbol = f[0];
    e.time = *ParseBarTime(f[1]);
    e.has_vwap = !f[2].empty();
    if (e.has_vwap)
      REQUIRE(std::from_chars(f[2].data(), f[2].data() + f[2].size(), e.vwap).ec == std::errc());
    e.trade_count = std::stoll(f[3]);
    e.halted = std::stoll(f[4]);
    out.push_back(e);
  }
  return out;
}

// The "long" layout of both symbols (AAPL's 40 bars, then MSFT's): symbol,
// ts, prices, volume, vwap (with nulls), trade_count, and halted if
// `with_halted`.
void CheckLong(const BarTable& t, bool with_halted) {
  const Bars aapl = Expected("bars.csv", "AAPL"), msft = Expected("bars_msft.csv", "MSFT");
  REQUIRE(t.rows == aapl.size() + msft.size());
  CheckBars(t, aapl, Names{}, 0);
  CheckBars(t, msft, Names{}, aapl.size());
  const std::vector<Extra> extras = Extras();
  REQUIRE(extras.size() == t.rows);
  const TableColumn& symbol = Col(t, "symbol");
  const TableColumn& vwap = Col(t, "vwap");
  const TableColumn& trades = Col(t, "trade_count");
  REQUIRE(symbol.kind == TableColumn::Kind::kString);
  REQUIRE(vwap.kind == TableColumn::Kind::kDouble);
  REQUIRE(trades.kind == TableColumn::Kind::kInt64);
  CHECK_FALSE(vwap.present.empty());  // the file has nulls in vwap
  CHECK(symbol.present.empty());
  size_t nulls = 0;
  for (size_t row = 0; row < t.rows; ++row) {
    CAPTURE(row);
    const Extra& e = extras[row];
    CHECK(symbol.strings[row] == e.symbol);
    CHECK(Seconds(Col(t, "ts"), row) == e.time);
    CHECK(vwap.IsNull(row) == !e.has_vwap);
    if (e.has_vwap) {
      CHECK(vwap.doubles[row] == e.vwap);
    } else {
      CHECK(std::isnan(vwap.doubles[row]));
      ++nulls;
    }
    CHECK(trades.ints[row] == e.trade_count);
    if (with_halted) CHECK(Col(t, "halted").ints[row] == e.halted);
  }
  CHECK(nulls == 6);
}

std::vector<std::string> ColumnNames(const BarTable& t) {
  std::vector<std::string> names;
  for (const auto& c : t.columns) names.push_back(c.name);
  return names;
}

std::string Describe(const std::string& name) {
  auto r = DescribeParquet(ReadBytes(kDir + name), name);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  return *r;
}

bool Has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// ---------------------------------------------------------------------------
// DuckDB's files.

TEST_CASE("parquet: DuckDB files of every codec read exactly as bars.csv") {
  const Bars bars = Expected("bars.csv", "AAPL");
  REQUIRE(bars.size() == 40);
  for (const char* codec : {"uncompressed", "snappy", "gzip", "zstd"}) {
    const std::string name = std::string("duckdb_") + codec + ".parquet";
    CAPTURE(name);
    BarTable t = Read(name);
    CHECK(t.rows == 40);
    CHECK(ColumnNames(t) == std::vector<std::string>{"timestamp", "open", "high", "low", "close", "volume"});
    const TableColumn& ts = Col(t, "timestamp");
    CHECK(ts.kind == TableColumn::Kind::kTimestamp);
    CHECK(ts.per_second == 1000000);
    CHECK_FALSE(ts.utc);  // DuckDB's TIMESTAMP: isAdjustedToUTC=false
    CHECK(Col(t, "volume").kind == TableColumn::Kind::kInt64);
    for (const auto& c : t.columns) CHECK(c.present.empty());  // OPTIONAL, but no nulls
    Names n;
    n.time = "timestamp";
    CheckBars(t, bars, n);
    auto names = ReadParquetColumnNames(ReadBytes(kDir + name), name);
    REQUIRE(names.ok());
    CHECK(*names == ColumnNames(t));
  }
}

TEST_CASE("parquet: DuckDB TIMESTAMPTZ and DOUBLE volume with capitalised names") {
  BarTable t = Read("duckdb_timestamptz.parquet");
  CHECK(ColumnNames(t) == std::vector<std::string>{"Datetime", "Open", "High", "Low", "Close", "Volume"});
  CHECK(Col(t, "Datetime").utc);
  CHECK(Col(t, "Datetime").per_second == 1000000);
  CHECK(Col(t, "Volume").kind == TableColumn::Kind::kDouble);
  CheckBars(t, Expected("bars.csv", "AAPL"), Names{"Datetime", "Open", "High", "Low", "Close", "Volume"});
}

TEST_CASE("parquet: DuckDB millisecond and nanosecond timestamps") {
  BarTable ms = Read("duckdb_ts_ms.parquet");
  CHECK(Col(ms, "ts").per_second == 1000);
  CheckBars(ms, Expected("bars.csv", "AAPL"), Names{});
  BarTable ns = Read("duckdb_ts_ns.parquet");
  CHECK(Col(ns, "ts").per_second == 1000000000);
  CHECK_FALSE(Col(ns, "ts").utc);
  CheckBars(ns, Expected("bars.csv", "AAPL"), Names{});
}

TEST_CASE("parquet: DuckDB daily bars with a DATE column") {
  BarTable t = Read("duckdb_daily.parquet");
  CHECK(Col(t, "date").kind == TableColumn::Kind::kDate);
  Names n;
  n.time = "date";
  const Bars daily = Expected("bars_daily.csv", "AAPL");
  REQUIRE(daily.size() == 10);
  CHECK(t.rows == 10);
  CheckBars(t, daily, n);
}

TEST_CASE("parquet: DuckDB FLOAT prices equal the float of the CSV's double") {
  BarTable t = Read("duckdb_float32.parquet");
  CHECK(Col(t, "volume").kind == TableColumn::Kind::kInt64);  // INTEGER (INT32)
  CheckBars(t, Expected("bars.csv", "AAPL"), Names{}, 0, /*float32=*/true);
}

TEST_CASE("parquet: DuckDB DECIMAL prices in INT32 INT64 and FIXED_LEN_BYTE_ARRAY and UINTEGER volume") {
  BarTable t = Read("duckdb_decimal.parquet");
  for (const char* c : {"open", "high", "low", "close"}) CHECK(Col(t, c).kind == TableColumn::Kind::kDouble);
  CHECK(Col(t, "volume").kind == TableColumn::Kind::kInt64);
  CheckBars(t, Expected("bars.csv", "AAPL"), Names{});
  const std::string d = Describe("duckdb_decimal.parquet");
  CHECK(Has(d, "open: INT32 DECIMAL(9,2)"));
  CHECK(Has(d, "high: INT64 DECIMAL(18,2)"));
  CHECK(Has(d, "low: FIXED_LEN_BYTE_ARRAY DECIMAL(38,2)"));
  CHECK(Has(d, "close: INT64 DECIMAL(18,4)"));
  CHECK(Has(d, "volume: INT32 UINT(32)"));
}

TEST_CASE("parquet: DuckDB long files with two symbols and nulls in V1 and V2") {
  BarTable v1 = Read("duckdb_long.parquet");
  CHECK(ColumnNames(v1) == std::vector<std::string>{"symbol", "ts", "open", "high", "low", "close", "volume",
                                                    "vwap", "trade_count"});
  CHECK(Col(v1, "ts").utc);
  CheckLong(v1, false);
  BarTable v2 = Read("duckdb_long_v2.parquet");
  CheckLong(v2, false);
  // What DuckDB actually wrote: PLAIN and PLAIN_DICTIONARY; with
  // PARQUET_VERSION V2 the DELTA and BYTE_STREAM_SPLIT encodings and
  // RLE_DICTIONARY, still in (V1) DATA_PAGEs.
  const std::string d1 = Describe("duckdb_long.parquet");
  CHECK(Has(
      d1, "symbol: BYTE_ARRAY UTF8 OPTIONAL ZSTD DATA_PAGE/PLAIN_DICTIONARY x1 DICTIONARY_PAGE/PLAIN x1\n"));
  CHECK(Has(d1, "open: DOUBLE OPTIONAL ZSTD DATA_PAGE/PLAIN x1\n"));
  const std::string d2 = Describe("duckdb_long_v2.parquet");
  CHECK(Has(
      d2, "symbol: BYTE_ARRAY UTF8 OPTIONAL SNAPPY DATA_PAGE/RLE_DICTIONARY x1 DICTIONARY_PAGE/PLAIN x1\n"));
  CHECK(Has(d2, "ts: INT64 TIMESTAMP(MICROS,UTC) OPTIONAL SNAPPY DATA_PAGE/DELTA_BINARY_PACKED x1\n"));
  CHECK(Has(d2, "open: DOUBLE OPTIONAL SNAPPY DATA_PAGE/BYTE_STREAM_SPLIT x1\n"));
  CHECK(Has(d2, "trade_count: INT32 INT(32) OPTIONAL SNAPPY DATA_PAGE/DELTA_BINARY_PACKED x1\n"));
}

TEST_CASE("parquet: DuckDB hive partitions hold their symbol's bars without a symbol column") {
  for (const char* symbol : {"AAPL", "MSFT"}) {
    const std::string name = std::string("hive/symbol=") + symbol + "/data_0.parquet";
    CAPTURE(name);
    BarTable t = Read(name);
    CHECK(ColumnNames(t) ==
          std::vector<std::string>{"ts", "open", "high", "low", "close", "volume", "vwap", "trade_count"});
    CheckBars(t, Expected(std::string(symbol) == "AAPL" ? "bars.csv" : "bars_msft.csv", symbol), Names{});
  }
}

// ---------------------------------------------------------------------------
// arrow-rs's files.

TEST_CASE("parquet: arrow-rs REQUIRED columns with dictionaries in three row groups") {
  BarTable t = Read("arrow_snappy_dict.parquet");
  CHECK(t.rows == 40);
  const TableColumn& ts = Col(t, "timestamp");
  CHECK(ts.per_second == 1000);
  CHECK(ts.utc);
  Names n;
  n.time = "timestamp";
  CheckBars(t, Expected("bars.csv", "AAPL"), n);
  const std::vector<Extra> extras = Extras();
  for (size_t row = 0; row < t.rows; ++row) CHECK(Col(t, "halted").ints[row] == extras[row].halted);
  const std::string d = Describe("arrow_snappy_dict.parquet");
  CHECK(Has(d, "open: DOUBLE REQUIRED SNAPPY DATA_PAGE/RLE_DICTIONARY x3 DICTIONARY_PAGE/PLAIN x3"));
  CHECK(Has(d, "halted: BOOLEAN REQUIRED SNAPPY DATA_PAGE/PLAIN x3"));
}

TEST_CASE("parquet: arrow-rs data page V2 in many small pages with zstd and nulls") {
  BarTable t = Read("arrow_zstd_v2.parquet");
  CHECK_FALSE(Col(t, "ts").utc);
  CHECK(Col(t, "ts").per_second == 1000000);
  CheckLong(t, true);
  const std::string d = Describe("arrow_zstd_v2.parquet");
  CHECK(Has(d, "symbol: BYTE_ARRAY STRING OPTIONAL ZSTD DATA_PAGE_V2/DELTA_BYTE_ARRAY"));
  CHECK(Has(d, "trade_count: INT32 UINT(32) OPTIONAL ZSTD DATA_PAGE_V2/DELTA_BINARY_PACKED"));
  CHECK(Has(d, "halted: BOOLEAN OPTIONAL ZSTD DATA_PAGE_V2/RLE"));
  CHECK(Has(d, "open: DOUBLE OPTIONAL ZSTD DATA_PAGE_V2/PLAIN x5\n"));  // many pages per column
  CHECK(Has(d, "vwap: DOUBLE OPTIONAL ZSTD DATA_PAGE_V2/PLAIN x4\n"));
}

TEST_CASE("parquet: arrow-rs DELTA and BYTE_STREAM_SPLIT encodings with gzip") {
  BarTable t = Read("arrow_delta.parquet");
  CHECK(Col(t, "ts").per_second == 1000000000);
  CHECK(Col(t, "ts").utc);
  CheckLong(t, true);
  const std::string d = Describe("arrow_delta.parquet");
  CHECK(Has(d, "open: DOUBLE OPTIONAL GZIP DATA_PAGE_V2/BYTE_STREAM_SPLIT x3"));
  CHECK(Has(d, "volume: INT64 OPTIONAL GZIP DATA_PAGE_V2/DELTA_BINARY_PACKED x3"));
  CHECK(Has(d, "symbol: BYTE_ARRAY STRING OPTIONAL GZIP DATA_PAGE_V2/DELTA_BYTE_ARRAY x3"));
}

TEST_CASE("parquet: arrow-rs daily bars with date32 and float32 prices") {
  BarTable t = Read("arrow_daily.parquet");
  CHECK(Col(t, "date").kind == TableColumn::Kind::kDate);
  for (size_t row = 0; row < t.rows; ++row) CHECK(Col(t, "symbol").strings[row] == "AAPL");
  Names n;
  n.time = "date";
  CheckBars(t, Expected("bars_daily.csv", "AAPL"), n, 0, /*float32=*/true);
  CHECK(Has(Describe("arrow_daily.parquet"),
            "symbol: BYTE_ARRAY STRING REQUIRED UNCOMPRESSED DATA_PAGE/DELTA_LENGTH_BYTE_ARRAY x1"));
}

TEST_CASE("parquet: unsupported codecs and nested columns are named") {
  auto lz4 = ReadParquet(ReadBytes(kDir + "arrow_lz4_raw.parquet"), "arrow_lz4_raw.parquet");
  CHECK(lz4.status().code() == StatusCode::kInvalidArgument);
  CHECK(lz4.status().message() ==
        "arrow_lz4_raw.parquet: column 'timestamp' is compressed with LZ4_RAW, which this reader does not "
        "support "
        "(UNCOMPRESSED, SNAPPY, GZIP and ZSTD are)");
  auto brotli = ReadParquet(ReadBytes(kDir + "arrow_brotli.parquet"), "arrow_brotli.parquet");
  CHECK(brotli.status().code() == StatusCode::kInvalidArgument);
  CHECK(Has(brotli.status().message(), "BROTLI"));
  auto nested = ReadParquet(ReadBytes(kDir + "arrow_nested.parquet"), "arrow_nested.parquet");
  CHECK(nested.status().code() == StatusCode::kInvalidArgument);
  CHECK(nested.status().message() ==
        "arrow_nested.parquet: column 'prices' is nested (a group of 1 fields: a struct, list or map); only "
        "flat "
        "columns are read");
  auto names = ReadParquetColumnNames(ReadBytes(kDir + "arrow_nested.parquet"), "arrow_nested.parquet");
  CHECK(names.status().code() == StatusCode::kInvalidArgument);
  // The names alone do not need the codec.
  auto lz4_names = ReadParquetColumnNames(ReadBytes(kDir + "arrow_lz4_raw.parquet"), "x");
  REQUIRE(lz4_names.ok());
  CHECK(*lz4_names == std::vector<std::string>{"timestamp", "close"});
}

// ---------------------------------------------------------------------------
// Files built here: a minimal Thrift compact-protocol writer and a
// one-row-group, one-page-per-column file of PLAIN values.

class ThriftWriter {
 public:
  void Byte(uint8_t b) { out_.push_back(static_cast<char>(b)); }
  void Varint(uint64_t v) {
    while (v >= 0x80) {
      Byte(static_cast<uint8_t>(v | 0x80));
      v >>= 7;
    }
    Byte(static_cast<uint8_t>(v));
  }
  void Zigzag(int64_t v) { Varint((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63)); }
  void Field(int16_t id, int type) {
    const int delta = id - last_.back();
    if (delta > 0 && delta <= 15) {
      Byte(static_cast<uint8_t>(delta << 4 | type));
    } else {
      Byte(static_cast<uint8_t>(type));
      Zigzag(id);
    }
    last_.back() = id;
  }
  void I32(int16_t id, int64_t v) {
    Field(id, 5);
    Zigzag(v);
  }
  void I64(int16_t id, int64_t v) {
    Field(id, 6);
    Zigzag(v);
  }
  void Binary(int16_t id, const std::string& s) {
    Field(id, 8);
    Varint(s.size());
    out_ += s;
  }
  void Struct(int16_t id) {
    Field(id, 12);
    last_.push_back(0);
  }
  // A list header; struct elements follow with Element() ... End().
  void List(int16_t id, int elem_type, uint64_t n) {
    Field(id, 9);
    if (n < 15) {
      Byte(static_cast<uint8_t>(n << 4 | elem_type));
    } else {
      Byte(static_cast<uint8_t>(0xf0 | elem_type));
      Varint(n);
    }
  }
  void Element() { last_.push_back(0); }
  void End() {
    Byte(0);
    last_.pop_back();
  }
  std::string& bytes() { return out_; }

 private:
  std::string out_;
  std::vector<int16_t> last_{0};
};

struct TestColumn {
  std::string name;
  int type = 2;        // INT64
  int repetition = 0;  // REQUIRED
  int converted = -1;
  std::string values;  // PLAIN
  int64_t num_values = 0;
};

// A Parquet file of one row group of `rows` rows: one uncompressed V1 data
// page of PLAIN values per column. `footer_rows` overrides the row count the
// footer claims (hostile files).
std::string BuildParquet(const std::vector<TestColumn>& columns, int64_t rows, int64_t footer_rows = -1) {
  if (footer_rows < 0) footer_rows = rows;
  std::string file = "PAR1";
  std::vector<int64_t> offsets, sizes;
  for (const TestColumn& c : columns) {
    ThriftWriter h;
    h.I32(1, 0);  // DATA_PAGE
    h.I32(2, static_cast<int64_t>(c.values.size()));
    h.I32(3, static_cast<int64_t>(c.values.size()));
    h.Struct(5);
    h.I32(1, c.num_values);
    h.I32(2, 0);  // PLAIN
    h.I32(3, 3);  // RLE
    h.I32(4, 3);
    h.End();
    h.Byte(0);
    offsets.push_back(static_cast<int64_t>(file.size()));
    file += h.bytes() + c.values;
    sizes.push_back(static_cast<int64_t>(file.size()) - offsets.back());
  }
  ThriftWriter f;
  f.I32(1, 1);
  f.List(2, 12, columns.size() + 1);
  f.Element();
  f.Binary(4, "schema");
  f.I32(5, static_cast<int64_t>(columns.size()));
  f.End();
  for (const TestColumn& c : columns) {
    f.Element();
    f.I32(1, c.type);
    f.I32(3, c.repetition);
    f.Binary(4, c.name);
    if (c.converted >= 0) f.I32(6, c.converted);
    f.End();
  }
  f.I64(3, footer_rows);
  f.List(4, 12, 1);
  f.Element();
  f.List(1, 12, columns.size());
  for (size_t i = 0; i < columns.size(); ++i) {
    f.Element();
    f.I64(2, offsets[i]);
    f.Struct(3);
    f.I32(1, columns[i].type);
    f.List(2, 5, 1);
    f.Zigzag(0);
    f.List(3, 8, 1);
    f.Varint(columns[i].name.size());
    f.bytes() += columns[i].name;
    f.I32(4, 0);
    f.I64(5, columns[i].num_values);
    f.I64(6, sizes[i]);
    f.I64(7, sizes[i]);
    f.I64(9, offsets[i]);
    f.End();
    f.End();
  }
  f.I64(2, 0);
  f.I64(3, footer_rows);
  f.End();
  f.Byte(0);
  const auto len = static_cast<uint32_t>(f.bytes().size());
  file += f.bytes();
  file.append(reinterpret_cast<const char*>(&len), 4);
  file += "PAR1";
  return file;
}

template <typename T>
std::string Plain(const std::vector<T>& values) {
  std::string out(values.size() * sizeof(T), '\0');
  if (!values.empty()) std::memcpy(out.data(), values.data(), out.size());
  return out;
}

TEST_CASE("parquet: INT96 timestamps BOOLEAN and small INT columns built here") {
  // INT96: nanoseconds of the day, then the Julian day (2440588 = 1970-01-01).
  const int64_t t0 = *ParseBarTime("2024-03-04 14:30:00");
  std::string int96;
  for (int64_t t : {t0, t0 + 60, int64_t{-86400 + 1}}) {
    const int64_t day = (t >= 0 ? t / 86400 : (t - 86399) / 86400);
    const uint64_t nanos = static_cast<uint64_t>(t - day * 86400) * 1000000000ULL;
    const auto julian = static_cast<int32_t>(day + 2440588);
    int96.append(reinterpret_cast<const char*>(&nanos), 8);
    int96.append(reinterpret_cast<const char*>(&julian), 4);
  }
  TestColumn ts{"ts", 3, 0, -1, int96, 3};
  TestColumn flag{"flag", 0, 0, -1, std::string(1, static_cast<char>(0b101)), 3};
  TestColumn small{"small", 1, 0, 15, Plain<int32_t>({-5, 7, -128}), 3};                 // INT_8
  TestColumn word{"word", 1, 0, 13, Plain<int32_t>({-1, 0, 5}), 3};                      // UINT_32
  TestColumn text{"text", 6, 0, 0, std::string("\1\0\0\0a\0\0\0\0\3\0\0\0xyz", 16), 3};  // UTF8
  auto r = ReadParquet(BuildParquet({ts, flag, small, word, text}, 3), "built.parquet");
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  const TableColumn& c = Col(*r, "ts");
  CHECK(c.kind == TableColumn::Kind::kTimestamp);
  CHECK(c.per_second == 1000000000);
  CHECK(c.utc);
  CHECK(Seconds(c, 0) == t0);
  CHECK(Seconds(c, 1) == t0 + 60);
  CHECK(Seconds(c, 2) == -86400 + 1);
  CHECK(Col(*r, "flag").ints == std::vector<int64_t>{1, 0, 1});
  CHECK(Col(*r, "small").ints == std::vector<int64_t>{-5, 7, -128});
  CHECK(Col(*r, "word").ints == std::vector<int64_t>{4294967295, 0, 5});
  CHECK(Col(*r, "text").strings == std::vector<std::string>{"a", "", "xyz"});
}

TEST_CASE("parquet: repeated columns and out-of-range UINT64 values are errors naming the column") {
  TestColumn rep{"prices", 5, 2, -1, Plain<double>({1.5}), 1};
  auto r = ReadParquet(BuildParquet({rep}, 1), "rep.parquet");
  CHECK(r.status().code() == StatusCode::kInvalidArgument);
  CHECK(r.status().message() ==
        "rep.parquet: column 'prices' is repeated (a list); only flat columns are read");

  TestColumn big{"volume", 2, 0, 14, Plain<uint64_t>({uint64_t{1} << 63}), 1};  // UINT_64
  auto u = ReadParquet(BuildParquet({big}, 1), "u.parquet");
  CHECK(u.status().code() == StatusCode::kInvalidArgument);
  CHECK(Has(u.status().message(), "u.parquet: column 'volume', row group 0: "));
  CHECK(Has(u.status().message(), "9223372036854775808"));

  TestColumn time{"t", 1, 0, 7, Plain<int32_t>({1}), 1};  // TIME_MILLIS
  auto tm = ReadParquet(BuildParquet({time}, 1), "t.parquet");
  CHECK(tm.status().message() ==
        "t.parquet: column 't' has type TIME_MILLIS (INT32), which this reader does not support");
}

TEST_CASE("parquet: hostile footers and pages built here are errors") {
  TestColumn v{"v", 2, 0, -1, Plain<int64_t>({1, 2, 3}), 3};
  // A footer that claims 2^39 rows: refused before any allocation.
  auto huge = ReadParquet(BuildParquet({v}, 3, int64_t{1} << 39), "huge.parquet");
  CHECK(huge.status().code() == StatusCode::kInvalidArgument);
  CHECK(Has(huge.status().message(), "would decode to more than"));
  // A page that claims more values than its row group's rows.
  TestColumn more{"v", 2, 0, -1, Plain<int64_t>({1, 2, 3}), 5};
  CHECK(ReadParquet(BuildParquet({more}, 3), "m").status().code() == StatusCode::kInvalidArgument);
  // PLAIN data too short for its values.
  TestColumn shorter{"v", 2, 0, -1, Plain<int64_t>({1, 2}), 3};
  CHECK(ReadParquet(BuildParquet({shorter}, 3), "s").status().code() == StatusCode::kInvalidArgument);
  // A Thrift list that claims 2^31 elements in a few bytes.
  std::string file = BuildParquet({v}, 3);
  ThriftWriter f;
  f.List(2, 12, uint64_t{1} << 31);
  const std::string footer = f.bytes() + std::string(8, '\0');
  const auto len = static_cast<uint32_t>(footer.size());
  std::string bad = "PAR1" + footer;
  bad.append(reinterpret_cast<const char*>(&len), 4);
  bad += "PAR1";
  auto list = ReadParquet(bad, "list.parquet");
  CHECK(list.status().code() == StatusCode::kInvalidArgument);
  CHECK(Has(list.status().message(), "list.parquet: corrupt Parquet footer"));
  // Structures nested without end.
  std::string deep(4000, static_cast<char>(0x1c));  // field +1, struct, again and again
  std::string nested = "PAR1" + deep;
  const auto dlen = static_cast<uint32_t>(deep.size());
  nested.append(reinterpret_cast<const char*>(&dlen), 4);
  nested += "PAR1";
  CHECK(ReadParquet(nested, "deep").status().code() == StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------
// Hostile input on the real files.

const char* const kAllFixtures[] = {"duckdb_uncompressed.parquet", "duckdb_snappy.parquet",
                                    "duckdb_gzip.parquet",         "duckdb_zstd.parquet",
                                    "duckdb_timestamptz.parquet",  "duckdb_ts_ms.parquet",
                                    "duckdb_ts_ns.parquet",        "duckdb_daily.parquet",
                                    "duckdb_float32.parquet",      "duckdb_decimal.parquet",
                                    "duckdb_long.parquet",         "duckdb_long_v2.parquet",
                                    "arrow_snappy_dict.parquet",   "arrow_zstd_v2.parquet",
                                    "arrow_delta.parquet",         "arrow_daily.parquet",
                                    "arrow_lz4_raw.parquet",       "arrow_brotli.parquet",
                                    "arrow_nested.parquet",        "hive/symbol=AAPL/data_0.parquet"};

TEST_CASE("parquet: bad magic and footer lengths beyond the file") {
  const std::string good = ReadBytes(kDir + "duckdb_snappy.parquet");
  auto check = [](const std::string& bytes, const std::string& expected) {
    auto r = ReadParquet(bytes, "f.parquet");
    CHECK(r.status().code() == StatusCode::kInvalidArgument);
    CHECK(r.status().message() == expected);
  };
  check("Datetime,Open,High,Low,Close,Volume\n",
        "f.parquet: not a Parquet file (it does not start with PAR1)");
  check("", "f.parquet: not a Parquet file (it does not start with PAR1)");
  check("PAR1", "f.parquet: truncated Parquet file (no footer)");
  std::string tail = good;
  tail[tail.size() - 1] = 'X';
  check(tail, "f.parquet: truncated Parquet file (it does not end with PAR1)");
  for (uint32_t len : {uint32_t{0xfffffff0}, static_cast<uint32_t>(good.size() - 11)}) {
    std::string bad = good;
    std::memcpy(bad.data() + bad.size() - 8, &len, 4);
    check(bad, "f.parquet: corrupt Parquet file (its footer length " + std::to_string(len) +
                   " is beyond the file's " + std::to_string(good.size()) + " bytes)");
  }
  std::string encrypted = good;
  encrypted.replace(encrypted.size() - 4, 4, "PARE");
  check(encrypted, "f.parquet: an encrypted Parquet file, which this reader does not read");
  CHECK(LooksLikeParquet(good));
  CHECK_FALSE(LooksLikeParquet("PAR"));
}

TEST_CASE("parquet: every truncation of a file is an error") {
  for (const char* name : {"duckdb_snappy.parquet", "arrow_delta.parquet", "duckdb_long_v2.parquet"}) {
    CAPTURE(name);
    const std::string bytes = ReadBytes(kDir + name);
    for (size_t keep = 0; keep < bytes.size(); ++keep) {
      auto r = ReadParquet(std::string_view(bytes).substr(0, keep), name);
      REQUIRE(r.status().code() == StatusCode::kInvalidArgument);
      // The same with the file's last 8 bytes (footer length, magic) put
      // back: the footer length then points at whatever is there.
      if (keep + 8 < bytes.size()) {
        auto t = ReadParquet(bytes.substr(0, keep) + bytes.substr(bytes.size() - 8), name);
        if (!t.ok()) REQUIRE(t.status().code() == StatusCode::kInvalidArgument);
      }
    }
    // The footer kept but bytes cut out of the data: offsets point wrong.
    std::string cut = bytes.substr(0, 200) + bytes.substr(400);
    CHECK(ReadParquet(cut, name).status().code() == StatusCode::kInvalidArgument);
  }
}

TEST_CASE("parquet: a corrupted compressed page is an error") {
  // duckdb_gzip.parquet's first page body begins a few dozen bytes in;
  // flipping a byte of its deflate data fails inflate or gzip's CRC.
  const std::string bytes = ReadBytes(kDir + "duckdb_gzip.parquet");
  for (size_t at : {size_t{60}, size_t{100}, size_t{200}}) {
    std::string bad = bytes;
    bad[at] = static_cast<char>(bad[at] ^ 0xff);
    auto r = ReadParquet(bad, "duckdb_gzip.parquet");
    CAPTURE(at);
    CHECK(r.status().code() == StatusCode::kInvalidArgument);
    CHECK(Has(r.status().message(),
              "duckdb_gzip.parquet: column 'timestamp', row group 0: page 0 at byte 4: "));
  }
}

TEST_CASE("parquet: flipped bytes anywhere in every file give an error or values and never crash") {
  for (const char* name : kAllFixtures) {
    CAPTURE(name);
    const std::string bytes = ReadBytes(kDir + name);
    for (size_t at = 0; at < bytes.size(); ++at) {
      for (uint8_t mask : {uint8_t{0x01}, uint8_t{0xff}}) {
        std::string bad = bytes;
        bad[at] = static_cast<char>(bad[at] ^ mask);
        auto r = ReadParquet(bad, name);
        if (!r.ok()) {
          REQUIRE(r.status().code() == StatusCode::kInvalidArgument);
        } else {
          // Whatever was read is a consistent table.
          for (const TableColumn& c : r->columns) {
            const size_t n = c.kind == TableColumn::Kind::kDouble   ? c.doubles.size()
                             : c.kind == TableColumn::Kind::kString ? c.strings.size()
                                                                    : c.ints.size();
            REQUIRE(n == r->rows);
            REQUIRE((c.present.empty() || c.present.size() == r->rows));
          }
        }
        if (mask == 0xff) (void)DescribeParquet(bad, name);
      }
    }
  }
}

}  // namespace
}  // namespace evolve::engines
