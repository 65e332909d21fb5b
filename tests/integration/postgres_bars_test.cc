// BarsTable on a real server (CTest's evolve_postgres fixture), each case on
// a fresh database: the original bars shape, views and other column names,
// every ts type, NULLs, ordering, symbols, versions, the errors of Open and
// Read, hostile names and symbols, a lost connection, and a timing print of
// a large read (EVOLVE_BARS_TIMING_ROWS rows, 200,000 by default).
#include "evolve/postgres/postgres_bars.h"

#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "evolve/engines/bar_table.h"
#include "evolve/status.h"
#include "postgres_test_support.h"

namespace evolve::postgres {
namespace {

using engines::BarTable;
using engines::TableColumn;
using testing::ExecSql;
using testing::QueryValue;
using testing::TestDatabase;

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::unique_ptr<BarsTable> MustOpen(const std::string& url, const BarsTableOptions& options = {}) {
  Result<std::unique_ptr<BarsTable>> table = BarsTable::Open(url, options);
  REQUIRE_MESSAGE(table.ok(), table.status().ToString());
  return std::move(table).value();
}

BarTable MustRead(BarsTable& table, const std::string& symbol) {
  Result<BarTable> bars = table.Read(symbol);
  REQUIRE_MESSAGE(bars.ok(), bars.status().ToString());
  return std::move(bars).value();
}

const TableColumn& Column(const BarTable& table, const std::string& name) {
  for (const TableColumn& column : table.columns) {
    if (column.name == name) return column;
  }
  FAIL("no column " << name);
  return table.columns.front();  // not reached
}

std::vector<std::string> Names(const BarTable& table) {
  std::vector<std::string> names;
  for (const TableColumn& column : table.columns) names.push_back(column.name);
  return names;
}

// The original system's table, with an index on (symbol, ts).
constexpr char kOriginalShape[] =
    "CREATE TABLE bars (symbol text NOT NULL, ts timestamptz NOT NULL, open numeric(12,4), "
    "high numeric(12,4), low numeric(12,4), close numeric(12,4), volume numeric, vwap numeric, "
    "trade_count integer);"
    "CREATE INDEX bars_symbol_ts ON bars (symbol, ts);";

constexpr int64_t kUs = 1000000;
constexpr int64_t k20240102 = 1704153600;  // 2024-01-02T00:00:00Z, in seconds

TEST_CASE("postgres bars table: the original shape with timestamptz and numeric prices and NULLs") {
  TestDatabase db;
  ExecSql(db.url(), kOriginalShape);
  ExecSql(db.url(),
          "INSERT INTO bars VALUES "
          "('AAPL', '2024-01-02 00:01:00+00', 10.5, 11.25, 10.125, 11.1, 1000, 10.9, 42),"
          "('AAPL', '2024-01-02 00:00:00+00', 10.0, 10.75, 9.5, 10.5, 2000.5, NULL, NULL),"
          "('MSFT', '2024-01-02 00:00:00+00', 1, 1, 1, 1, 1, 1, 1)");
  std::unique_ptr<BarsTable> table = MustOpen(db.url());
  CHECK(table->Describe() == db.url() + ", table bars");
  CHECK(table->Roles() ==
        std::vector<std::string>{"ts", "open", "high", "low", "close", "volume", "vwap", "trade_count"});

  const BarTable bars = MustRead(*table, "AAPL");
  REQUIRE(bars.rows == 2);
  CHECK(Names(bars) == table->Roles());
  const TableColumn& ts = Column(bars, "ts");
  CHECK(ts.kind == TableColumn::Kind::kTimestamp);
  CHECK(ts.per_second == kUs);
  CHECK(ts.utc);
  CHECK(ts.ints == std::vector<int64_t>{k20240102 * kUs, (k20240102 + 60) * kUs});
  CHECK(ts.present.empty());
  for (const char* name : {"open", "high", "low", "close", "volume", "vwap"}) {
    CHECK_MESSAGE(Column(bars, name).kind == TableColumn::Kind::kDouble, name);
  }
  CHECK(Column(bars, "open").doubles == std::vector<double>{10.0, 10.5});
  CHECK(Column(bars, "high").doubles == std::vector<double>{10.75, 11.25});
  CHECK(Column(bars, "low").doubles == std::vector<double>{9.5, 10.125});
  CHECK(Column(bars, "close").doubles == std::vector<double>{10.5, 11.1});  // 11.1: the nearest double
  CHECK(Column(bars, "volume").doubles == std::vector<double>{2000.5, 1000});
  const TableColumn& vwap = Column(bars, "vwap");
  CHECK(vwap.present == std::vector<uint8_t>{0, 1});
  CHECK(vwap.IsNull(0));
  CHECK(vwap.doubles[1] == 10.9);
  const TableColumn& trades = Column(bars, "trade_count");
  CHECK(trades.kind == TableColumn::Kind::kInt64);
  CHECK(trades.present == std::vector<uint8_t>{0, 1});
  CHECK(trades.ints[1] == 42);
}

TEST_CASE("postgres bars table: a view with other column names through options") {
  TestDatabase db;
  ExecSql(db.url(),
          "CREATE SCHEMA market;"
          "CREATE TABLE market.raw (sym varchar(12), \"Time\" timestamp, o double precision, h real, "
          "l bigint, c integer, v smallint, extra text);"
          "CREATE VIEW market.prices AS SELECT sym AS ticker, \"Time\", o AS px_open, h AS px_high, "
          "l AS px_low, c AS px_close, v AS qty FROM market.raw;"
          "INSERT INTO market.raw VALUES ('ES', '2024-01-02 00:00:00', 1.5, 2.5, 1, 2, 7, 'x')");
  BarsTableOptions options;
  options.table = "Market.Prices";  // unquoted: folded to market.prices
  options.symbol = "ticker";
  options.ts = "time";  // the column is "Time": matched ignoring case
  options.open = "px_open";
  options.high = "px_high";
  options.low = "px_low";
  options.close = "px_close";
  options.volume = "qty";
  std::unique_ptr<BarsTable> table = MustOpen(db.url(), options);
  CHECK(Contains(table->Describe(), ", table Market.Prices"));
  CHECK(table->Roles() == std::vector<std::string>{"ts", "open", "high", "low", "close", "volume"});
  const BarTable bars = MustRead(*table, "ES");
  REQUIRE(bars.rows == 1);
  CHECK(Names(bars) == table->Roles());
  CHECK(Column(bars, "ts").kind == TableColumn::Kind::kTimestamp);
  CHECK_FALSE(Column(bars, "ts").utc);
  CHECK(Column(bars, "ts").ints == std::vector<int64_t>{k20240102 * kUs});
  CHECK(Column(bars, "open").doubles == std::vector<double>{1.5});
  CHECK(Column(bars, "high").doubles == std::vector<double>{2.5});  // real, widened
  CHECK(Column(bars, "low").kind == TableColumn::Kind::kInt64);
  CHECK(Column(bars, "low").ints == std::vector<int64_t>{1});
  CHECK(Column(bars, "close").ints == std::vector<int64_t>{2});
  CHECK(Column(bars, "volume").ints == std::vector<int64_t>{7});
  Result<std::vector<std::string>> symbols = table->Symbols();
  REQUIRE_MESSAGE(symbols.ok(), symbols.status().ToString());
  CHECK(*symbols == std::vector<std::string>{"ES"});

  // Quoted parts are taken as written: "Market" is not market.
  options.table = "\"Market\".prices";
  Result<std::unique_ptr<BarsTable>> quoted = BarsTable::Open(db.url(), options);
  CHECK(quoted.status().code() == StatusCode::kNotFound);
  options.table = "\"market\".\"prices\"";
  CHECK(BarsTable::Open(db.url(), options).ok());
}

TEST_CASE("postgres bars table: numeric values are the nearest doubles as the server casts them") {
  TestDatabase db;
  // open: numeric as stored; high: the server's own open::float8.
  ExecSql(
      db.url(),
      "CREATE TABLE bars (symbol text, ts bigint, open numeric, high float8, low real, close smallint, "
      "volume integer);"
      "INSERT INTO bars (symbol, ts, open) SELECT 'N', row_number() OVER (), v::numeric FROM unnest(ARRAY["
      "'0', '0.1', '-0.1', '1.1', '11.1', '100.2500', '0.30000000000000004', '123456.789', '-98765.4321', "
      "'9007199254740993', '9007199254740992.5', '18446744073709551617', "
      "'123456789012345678901234567890.123456789', '0.000000000000000000000000012345', "
      "'1.7976931348623157e308', '2.2250738585072014e-308', '4.9406564584124654e-324', "
      "'1e22', '1e23', '3.14159265358979323846264338327950288', '1000000000000000000000000', "
      "'0.0000000000000000000001', '0.00000000000000000000001', '5e-324', '1e300', '-1e-300']) v;"
      "UPDATE bars SET high = open::float8, low = 1.1, close = -7, volume = -70000;"
      "INSERT INTO bars VALUES ('N', 100, 'NaN', 'NaN', 'NaN', NULL, NULL), "
      "('N', 101, 'Infinity', 'Infinity', 'Infinity', 0, 0), ('N', 102, '-Infinity', '-Infinity', 0, 0, 0)");
  std::unique_ptr<BarsTable> table = MustOpen(db.url());
  const BarTable bars = MustRead(*table, "N");
  const TableColumn& decoded = Column(bars, "open");
  const TableColumn& cast = Column(bars, "high");
  REQUIRE(bars.rows == 29);
  for (size_t i = 0; i < bars.rows; ++i) {
    if (std::isnan(cast.doubles[i])) {
      CHECK_MESSAGE(std::isnan(decoded.doubles[i]), "row " << i);
    } else {
      CHECK_MESSAGE(decoded.doubles[i] == cast.doubles[i],
                    "row " << i << ": " << decoded.doubles[i] << " vs " << cast.doubles[i]);
      CHECK(std::signbit(decoded.doubles[i]) == std::signbit(cast.doubles[i]));
    }
  }
  CHECK(Column(bars, "low").doubles[0] == static_cast<double>(1.1f));  // real: widened exactly
  CHECK(Column(bars, "close").ints[0] == -7);
  CHECK(Column(bars, "volume").ints[0] == -70000);
  CHECK(Column(bars, "close").present.size() == 29);
}

TEST_CASE("postgres bars table: a bigint epoch ts in milliseconds is kInt64") {
  TestDatabase db;
  ExecSql(db.url(),
          "CREATE TABLE bars (symbol text, ts bigint, open float8, high float8, low float8, close float8, "
          "volume float8);"
          "INSERT INTO bars VALUES ('X', 1704153660000, 1, 2, 0.5, 1.5, 10), "
          "('X', 1704153600000, 1, 2, 0.5, 1.5, 10)");
  std::unique_ptr<BarsTable> table = MustOpen(db.url());
  const BarTable bars = MustRead(*table, "X");
  const TableColumn& ts = Column(bars, "ts");
  CHECK(ts.kind == TableColumn::Kind::kInt64);
  CHECK(ts.ints == std::vector<int64_t>{k20240102 * 1000, (k20240102 + 60) * 1000});
  CHECK(table->Roles() == std::vector<std::string>{"ts", "open", "high", "low", "close", "volume"});
}

TEST_CASE("postgres bars table: a date ts is kDate in days since 1970") {
  TestDatabase db;
  ExecSql(db.url(),
          "CREATE DOMAIN price AS numeric CHECK (VALUE >= 0);"
          "CREATE TABLE daily (symbol char(8), ts date, open price, high price, low price, close price, "
          "volume bigint, trade_count bigint);"
          "INSERT INTO daily VALUES ('SPY', '2024-01-03', 1, 2, 0.5, 1.5, 10, NULL), "
          "('SPY', '1969-12-31', 1, 2, 0.5, 1.5, 10, 3)");
  BarsTableOptions options;
  options.table = "daily";
  std::unique_ptr<BarsTable> table = MustOpen(db.url(), options);
  const BarTable bars = MustRead(*table, "SPY");  // char(8): "SPY" matches "SPY     "
  const TableColumn& ts = Column(bars, "ts");
  CHECK(ts.kind == TableColumn::Kind::kDate);
  CHECK(ts.ints == std::vector<int64_t>{-1, k20240102 / 86400 + 1});
  CHECK(Column(bars, "open").kind == TableColumn::Kind::kDouble);  // a domain over numeric
  CHECK(Column(bars, "trade_count").present == std::vector<uint8_t>{1, 0});
  CHECK(Column(bars, "trade_count").ints[0] == 3);
  Result<std::vector<std::string>> symbols = table->Symbols();
  REQUIRE_MESSAGE(symbols.ok(), symbols.status().ToString());
  CHECK(*symbols == std::vector<std::string>{"SPY"});  // without char(8)'s blanks
}

TEST_CASE("postgres bars table: symbols are sorted and distinct with and without an index") {
  TestDatabase db;
  ExecSql(db.url(),
          "CREATE TABLE bars (symbol text, ts timestamptz, open float8, high float8, low float8, "
          "close float8, volume float8);"
          "INSERT INTO bars SELECT s, '2024-01-01'::timestamptz + i * interval '1 minute', 1, 1, 1, 1, 1 "
          "FROM unnest(ARRAY['b', 'MSFT', 'AAPL', 'a', 'Zed']) s, generate_series(1, 2000) i;"
          "INSERT INTO bars VALUES (NULL, now(), 1, 1, 1, 1, 1);"
          "ANALYZE bars");
  const std::vector<std::string> expected{"AAPL", "MSFT", "Zed", "a", "b"};  // by bytes
  std::unique_ptr<BarsTable> table = MustOpen(db.url());
  Result<std::vector<std::string>> scanned = table->Symbols();
  REQUIRE_MESSAGE(scanned.ok(), scanned.status().ToString());
  CHECK(*scanned == expected);
  ExecSql(db.url(), "CREATE INDEX ON bars (symbol, ts); ANALYZE bars");
  Result<std::vector<std::string>> loose = table->Symbols();
  REQUIRE_MESSAGE(loose.ok(), loose.status().ToString());
  CHECK(*loose == expected);

  ExecSql(db.url(), "TRUNCATE bars");
  Result<std::vector<std::string>> none = table->Symbols();
  REQUIRE_MESSAGE(none.ok(), none.status().ToString());
  CHECK(none->empty());
}

TEST_CASE("postgres bars table: rows are read in ts order when inserted out of order") {
  TestDatabase db;
  ExecSql(db.url(), kOriginalShape);
  ExecSql(db.url(),
          "INSERT INTO bars (symbol, ts, open, high, low, close, volume) "
          "SELECT 'S', '2024-01-02'::timestamptz + ((i * 7919) % 1000) * interval '1 minute', "
          "(i * 7919) % 1000, 0, 0, 0, 0 FROM generate_series(0, 999) i;"
          "INSERT INTO bars (symbol, ts, open, high, low, close, volume) "
          "SELECT 'T', '2024-01-02'::timestamptz + i * interval '1 minute', -1, 0, 0, 0, 0 "
          "FROM generate_series(0, 999) i");
  std::unique_ptr<BarsTable> table = MustOpen(db.url());
  const BarTable bars = MustRead(*table, "S");
  REQUIRE(bars.rows == 1000);
  const TableColumn& ts = Column(bars, "ts");
  const TableColumn& open = Column(bars, "open");
  for (size_t i = 0; i < bars.rows; ++i) {
    REQUIRE(ts.ints[i] == (k20240102 + 60 * static_cast<int64_t>(i)) * kUs);
    REQUIRE(open.doubles[i] == static_cast<double>(i));  // only S's rows
  }
  CHECK(Column(bars, "vwap").present == std::vector<uint8_t>(1000, 0));
}

TEST_CASE("postgres bars table: the version changes after an insert and a delete") {
  TestDatabase db;
  ExecSql(db.url(), kOriginalShape);
  ExecSql(db.url(),
          "INSERT INTO bars (symbol, ts, open, high, low, close, volume) VALUES "
          "('A', '2024-01-02 00:00:00+00', 1, 1, 1, 1, 1), ('B', '2024-01-02 00:00:00+00', 1, 1, 1, 1, 1)");
  std::unique_ptr<BarsTable> table = MustOpen(db.url());
  Result<std::string> first = table->Version("A");
  REQUIRE_MESSAGE(first.ok(), first.status().ToString());
  CHECK(*table->Version("A") == *first);  // stable
  ExecSql(db.url(),
          "INSERT INTO bars (symbol, ts, open, high, low, close, volume) VALUES "
          "('B', '2024-01-03 00:00:00+00', 1, 1, 1, 1, 1)");
  CHECK(*table->Version("A") == *first);  // another symbol's insert
  ExecSql(db.url(),
          "INSERT INTO bars (symbol, ts, open, high, low, close, volume) VALUES "
          "('A', '2024-01-01 00:00:00+00', 1, 1, 1, 1, 1)");
  Result<std::string> second = table->Version("A");
  REQUIRE(second.ok());
  CHECK(*second != *first);
  ExecSql(db.url(), "DELETE FROM bars WHERE symbol = 'A' AND ts = '2024-01-01 00:00:00+00'");
  CHECK(*table->Version("A") == *first);  // the same rows again
  ExecSql(db.url(), "DELETE FROM bars WHERE symbol = 'A'");
  Result<std::string> gone = table->Version("A");
  CHECK(gone.status().code() == StatusCode::kNotFound);
  CHECK_MESSAGE(Contains(gone.status().message(), "'A'"), gone.status().ToString());
}

TEST_CASE("postgres bars table: a missing table is NotFound naming the tables there are") {
  TestDatabase db;
  ExecSql(db.url(), kOriginalShape);
  ExecSql(db.url(), "CREATE SCHEMA market; CREATE TABLE market.ohlcv (x int)");
  BarsTableOptions options;
  options.table = "market.bars";
  Result<std::unique_ptr<BarsTable>> missing = BarsTable::Open(db.url(), options);
  REQUIRE(missing.status().code() == StatusCode::kNotFound);
  const std::string& message = missing.status().message();
  CHECK_MESSAGE(Contains(message, db.url()), message);
  CHECK_MESSAGE(Contains(message, "no table or view market.bars"), message);
  CHECK_MESSAGE(Contains(message, "schema market has: market.ohlcv"), message);
  CHECK_MESSAGE(Contains(message, "--bars-table NAME"), message);

  options.table = "nowhere.bars";
  missing = BarsTable::Open(db.url(), options);
  REQUIRE(missing.status().code() == StatusCode::kNotFound);
  CHECK_MESSAGE(Contains(missing.status().message(), "there is no schema nowhere"),
                missing.status().ToString());

  options.table = "candles";
  missing = BarsTable::Open(db.url(), options);
  REQUIRE(missing.status().code() == StatusCode::kNotFound);
  CHECK_MESSAGE(Contains(missing.status().message(), "no table or view candles (schema public has: bars)"),
                missing.status().ToString());

  options.table = "bars_symbol_ts";  // an index
  Result<std::unique_ptr<BarsTable>> index = BarsTable::Open(db.url(), options);
  CHECK(index.status().code() == StatusCode::kInvalidArgument);
  CHECK_MESSAGE(Contains(index.status().message(), "is an index, not a table or view"),
                index.status().ToString());

  for (const char* bad : {"a.b.c", "a.", "\"a", ""}) {
    options.table = bad;
    CHECK_MESSAGE(BarsTable::Open(db.url(), options).status().code() == StatusCode::kInvalidArgument, bad);
  }
}

TEST_CASE("postgres bars table: a missing column is named with the columns there are") {
  TestDatabase db;
  ExecSql(db.url(),
          "CREATE SCHEMA market;"
          "CREATE TABLE market.bars (symbol text, time timestamptz, open float8, high float8, low float8, "
          "close float8, volume float8)");
  BarsTableOptions options;
  options.table = "market.bars";
  Result<std::unique_ptr<BarsTable>> missing = BarsTable::Open(db.url(), options);
  REQUIRE(missing.status().code() == StatusCode::kInvalidArgument);
  CHECK_MESSAGE(
      Contains(missing.status().message(),
               "table market.bars has no column 'ts' (its columns: symbol, time, open, high, low, close, "
               "volume); name it with --bars-columns ts=COLUMN"),
      missing.status().ToString());

  options.ts = "time";
  options.close = "last";
  options.volume = "qty";
  missing = BarsTable::Open(db.url(), options);
  REQUIRE(missing.status().code() == StatusCode::kInvalidArgument);
  CHECK_MESSAGE(Contains(missing.status().message(),
                         "has no columns 'last' for close, 'qty' for volume (its columns: symbol, time, "),
                missing.status().ToString());
  CHECK_MESSAGE(
      Contains(missing.status().message(), "name them with --bars-columns close=COLUMN,volume=COLUMN"),
      missing.status().ToString());

  options.close = "close";
  options.volume = "volume";
  CHECK(BarsTable::Open(db.url(), options).ok());

  // The hint names the ts role as the caller's options do.
  options.ts = "ts";
  options.ts_role_name = "time";
  missing = BarsTable::Open(db.url(), options);
  CHECK_MESSAGE(Contains(missing.status().message(), "has no column 'ts' for time (its columns: "),
                missing.status().ToString());
  CHECK_MESSAGE(Contains(missing.status().message(), "name it with --bars-columns time=COLUMN"),
                missing.status().ToString());
}

TEST_CASE("postgres bars table: a column of the wrong type is named with its type") {
  TestDatabase db;
  ExecSql(db.url(),
          "CREATE TABLE bars (symbol text, ts text, open float8, high float8, low float8, close float8, "
          "volume float8, vwap boolean)");
  Result<std::unique_ptr<BarsTable>> wrong = BarsTable::Open(db.url());
  REQUIRE(wrong.status().code() == StatusCode::kInvalidArgument);
  const std::string& message = wrong.status().message();
  CHECK_MESSAGE(Contains(message, "column 'ts' (ts) has type text; ts must be timestamp with time zone"),
                message);
  CHECK_MESSAGE(Contains(message, "column 'vwap' (vwap) has type boolean"), message);  // optional, but there

  ExecSql(db.url(),
          "CREATE TABLE bars2 (symbol integer, ts date, open float8, high float8, low float8, close float8, "
          "volume varchar(10))");
  BarsTableOptions options;
  options.table = "bars2";
  wrong = BarsTable::Open(db.url(), options);
  REQUIRE(wrong.status().code() == StatusCode::kInvalidArgument);
  CHECK_MESSAGE(Contains(wrong.status().message(), "column 'symbol' (symbol) has type integer"),
                wrong.status().ToString());
  CHECK_MESSAGE(Contains(wrong.status().message(), "column 'volume' (volume) has type character varying(10)"),
                wrong.status().ToString());
}

TEST_CASE("postgres bars table: an unknown symbol is NotFound naming the symbol and the table") {
  TestDatabase db;
  ExecSql(db.url(), kOriginalShape);
  ExecSql(db.url(),
          "INSERT INTO bars (symbol, ts, open, high, low, close, volume) VALUES "
          "('A', now(), 1, 1, 1, 1, 1)");
  std::unique_ptr<BarsTable> table = MustOpen(db.url());
  Result<BarTable> unknown = table->Read("NOPE");
  REQUIRE(unknown.status().code() == StatusCode::kNotFound);
  CHECK_MESSAGE(Contains(unknown.status().message(), "table bars has no rows for symbol 'NOPE'"),
                unknown.status().ToString());
  CHECK(table->Version("NOPE").status().code() == StatusCode::kNotFound);
  CHECK(MustRead(*table, "A").rows == 1);  // the connection is fine after it
}

TEST_CASE("postgres bars table: a hostile table name is quoted not executed") {
  TestDatabase db;
  const std::string hostile = "bars\"; drop table x; --";
  ExecSql(
      db.url(),
      "CREATE TABLE x (id int);"
      "CREATE TABLE \"bars\"\"; drop table x; --\" (symbol text, ts timestamptz, open float8, high float8, "
      "low float8, close float8, volume float8, \"vwap\"\"; drop table x; --\" float8);"
      "INSERT INTO \"bars\"\"; drop table x; --\" VALUES ('A', now(), 1, 1, 1, 1, 1, 2)");
  BarsTableOptions options;
  options.table = hostile;
  options.vwap = "vwap\"; drop table x; --";
  std::unique_ptr<BarsTable> table = MustOpen(db.url(), options);
  CHECK(Contains(table->Describe(), hostile));
  const BarTable bars = MustRead(*table, "A");
  CHECK(bars.rows == 1);
  CHECK(Column(bars, "vwap").doubles == std::vector<double>{2});
  CHECK(table->Symbols().ok());
  CHECK(table->Version("A").ok());

  options.table = "nothere\"; drop table x; --";
  CHECK(BarsTable::Open(db.url(), options).status().code() == StatusCode::kNotFound);
  options.table = "\"public\".\"nothere\"\"; drop table x; --\"";
  CHECK(BarsTable::Open(db.url(), options).status().code() == StatusCode::kNotFound);
  CHECK(QueryValue(db.url(), "SELECT count(*) FROM x") == "0");  // x is still there
}

TEST_CASE("postgres bars table: a symbol with a quote in it is a parameter") {
  TestDatabase db;
  const std::string hostile = "O'Brien'); drop table x; --";
  ExecSql(db.url(), kOriginalShape);
  ExecSql(db.url(),
          "CREATE TABLE x (id int);"
          "INSERT INTO bars (symbol, ts, open, high, low, close, volume) VALUES "
          "('O''Brien''); drop table x; --', now(), 1, 1, 1, 1, 1), ('O', now(), 2, 2, 2, 2, 2)");
  std::unique_ptr<BarsTable> table = MustOpen(db.url());
  const BarTable bars = MustRead(*table, hostile);
  REQUIRE(bars.rows == 1);
  CHECK(Column(bars, "open").doubles == std::vector<double>{1});
  CHECK(table->Version(hostile).ok());
  Result<std::vector<std::string>> symbols = table->Symbols();
  REQUIRE(symbols.ok());
  CHECK(*symbols == std::vector<std::string>{"O", hostile});
  CHECK(table->Read("O' OR '1'='1").status().code() == StatusCode::kNotFound);
  CHECK(table->Read(std::string("O\0x", 3)).status().code() == StatusCode::kInvalidArgument);
  CHECK(QueryValue(db.url(), "SELECT count(*) FROM x") == "0");
}

TEST_CASE("postgres bars table: an unreachable server is Unavailable naming the URL without its password") {
  BarsTableOptions options;
  options.connect_timeout = std::chrono::seconds(2);
  Result<std::unique_ptr<BarsTable>> down =
      BarsTable::Open("postgresql://evolve:s3cret@127.0.0.1:1/market", options);
  REQUIRE(down.status().code() == StatusCode::kUnavailable);
  CHECK_MESSAGE(Contains(down.status().message(), "postgresql://evolve@127.0.0.1:1/market"),
                down.status().ToString());
  CHECK_MESSAGE(!Contains(down.status().message(), "s3cret"), down.status().ToString());
}

TEST_CASE("postgres bars table: reading without the privilege is FailedPrecondition at Open") {
  TestDatabase db;
  ExecSql(db.url(), kOriginalShape);
  const std::string role = "reader_" + db.name();
  ExecSql(db.url(), "CREATE ROLE " + role + " LOGIN");
  const std::string url = "postgresql://" + role + db.url().substr(db.url().find('@'));
  {
    Result<std::unique_ptr<BarsTable>> refused = BarsTable::Open(url);
    CHECK(refused.status().code() == StatusCode::kFailedPrecondition);
    CHECK_MESSAGE(Contains(refused.status().message(), "permission denied"), refused.status().ToString());
    ExecSql(db.url(), "GRANT SELECT ON bars TO " + role);
    ExecSql(db.url(),
            "INSERT INTO bars (symbol, ts, open, high, low, close, volume) VALUES "
            "('A', now(), 1, 1, 1, 1, 1)");
    std::unique_ptr<BarsTable> table = MustOpen(url);
    CHECK(MustRead(*table, "A").rows == 1);  // set_config needs no privilege
    CHECK(table->Version("A").ok());
    CHECK(table->Symbols().ok());
  }
  ExecSql(db.url(), "DROP OWNED BY " + role + "; DROP ROLE " + role);
}

TEST_CASE("postgres bars table: a timestamp of infinity is InvalidArgument naming the row") {
  TestDatabase db;
  ExecSql(db.url(), kOriginalShape);
  ExecSql(db.url(),
          "INSERT INTO bars (symbol, ts, open, high, low, close, volume) VALUES "
          "('A', '2024-01-02', 1, 1, 1, 1, 1), ('A', 'infinity', 1, 1, 1, 1, 1)");
  std::unique_ptr<BarsTable> table = MustOpen(db.url());
  Result<BarTable> bad = table->Read("A");
  REQUIRE(bad.status().code() == StatusCode::kInvalidArgument);
  CHECK_MESSAGE(Contains(bad.status().message(), "ts is infinity at row 2"), bad.status().ToString());
  ExecSql(db.url(), "DELETE FROM bars WHERE ts = 'infinity'");
  CHECK(MustRead(*table, "A").rows == 1);  // on a new connection: the COPY was left unread
}

TEST_CASE("postgres bars table: a lost connection is Unavailable and the next call reconnects") {
  TestDatabase db;
  ExecSql(db.url(), kOriginalShape);
  ExecSql(db.url(),
          "INSERT INTO bars (symbol, ts, open, high, low, close, volume) VALUES "
          "('A', now(), 1, 1, 1, 1, 1)");
  std::unique_ptr<BarsTable> table = MustOpen(db.url());
  CHECK(MustRead(*table, "A").rows == 1);
  ExecSql(db.url(),
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
          "WHERE datname = current_database() AND pid <> pg_backend_pid()");
  Result<BarTable> lost = table->Read("A");
  REQUIRE(lost.status().code() == StatusCode::kUnavailable);
  CHECK_MESSAGE(Contains(lost.status().message(), db.url()), lost.status().ToString());
  CHECK(MustRead(*table, "A").rows == 1);
}

TEST_CASE("postgres bars table: threads share one table") {
  TestDatabase db;
  ExecSql(db.url(), kOriginalShape);
  ExecSql(db.url(),
          "INSERT INTO bars (symbol, ts, open, high, low, close, volume) "
          "SELECT s, '2024-01-02'::timestamptz + i * interval '1 minute', i, i, i, i, i "
          "FROM unnest(ARRAY['A', 'B', 'C', 'D']) s, generate_series(1, 5000) i");
  std::unique_ptr<BarsTable> table = MustOpen(db.url());
  std::vector<std::thread> threads;
  std::vector<size_t> rows(4);
  for (size_t t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 5; ++round) {
        Result<BarTable> bars = table->Read(std::string(1, static_cast<char>('A' + t)));
        rows[t] += bars.ok() ? bars->rows : 0;
        (void)table->Version("A");
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  CHECK(rows == std::vector<size_t>(4, 25000));
}

TEST_CASE("postgres bars table: reading a large symbol (timing print)") {
  const char* env = std::getenv("EVOLVE_BARS_TIMING_ROWS");
  const int64_t rows = env != nullptr ? std::atoll(env) : 200000;
  TestDatabase db;
  ExecSql(db.url(), kOriginalShape);
  ExecSql(db.url(),
          "INSERT INTO bars SELECT 'BIG', '2020-01-01'::timestamptz + i * interval '1 minute', "
          "100 + i % 97 * 0.01, 101 + i % 89 * 0.01, 99 + i % 83 * 0.01, 100.5, 1000 + i % 7, "
          "100.25, i % 50 FROM generate_series(1, " +
              std::to_string(rows) +
              ") i;"
              "INSERT INTO bars SELECT 'OTHER', '2020-01-01'::timestamptz + i * interval '1 minute', "
              "1, 1, 1, 1, 1, 1, 1 FROM generate_series(1, 1000) i");
  ExecSql(db.url(), "VACUUM ANALYZE bars");
  std::unique_ptr<BarsTable> table = MustOpen(db.url());
  CHECK(MustRead(*table, "BIG").rows == static_cast<size_t>(rows));  // warms the server's cache
  const auto start = std::chrono::steady_clock::now();
  const BarTable bars = MustRead(*table, "BIG");
  const double read_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(bars.rows == static_cast<size_t>(rows));
  const auto version_start = std::chrono::steady_clock::now();
  CHECK(table->Version("BIG").ok());
  const double version_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - version_start).count();
  const auto symbols_start = std::chrono::steady_clock::now();
  CHECK(table->Symbols()->size() == 2);
  const double symbols_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - symbols_start).count();
  MESSAGE("read " << rows << " rows x " << bars.columns.size() << " columns in " << read_s * 1000 << " ms ("
                  << static_cast<double>(rows) / read_s << " rows/s); Version " << version_s * 1000
                  << " ms; Symbols " << symbols_s * 1000 << " ms");
}

}  // namespace
}  // namespace evolve::postgres
