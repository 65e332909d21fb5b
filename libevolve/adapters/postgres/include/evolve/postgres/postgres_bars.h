// Bars from a PostgreSQL table or view: BarsTable reads each symbol's bars
// as a table of typed columns (engines::BarTable), which the caller turns
// into bars with the same rules as a CSV file's (BarsFromTable). Nothing
// here checks the bar rules (high >= low, ...); only the columns' types.
//
// The table has one row per bar, in the original system's shape
// bars(symbol, ts, open, high, low, close, volume, vwap, trade_count) by
// default; BarsTableOptions names another table or view and other column
// names. Open checks that the table exists and has the required columns
// with usable types:
//
//   role                 SQL type                             column kind
//   ts                   timestamp with time zone             kTimestamp (per_second 1000000, utc)
//                        timestamp without time zone          kTimestamp (per_second 1000000, !utc)
//                        date                                 kDate (days since 1970-01-01)
//                        bigint, integer, smallint            kInt64: an epoch, in a unit the
//                                                             caller tells (e.g. by magnitude)
//   open, high, low,     double precision, real, numeric      kDouble (numeric converted by the
//   close, volume,                                            server: the nearest double)
//   vwap, trade_count    bigint, integer, smallint            kInt64
//   symbol               text, varchar, char, name            (not a column of the result)
//
// A domain counts as its base type. vwap and trade_count are optional: read
// when the table has them. NULLs are the columns' `present` masks (a null
// double is NaN, a null integer 0, under the mask).
//
// Reading one symbol is one COPY (SELECT ... ORDER BY ts) TO STDOUT in
// binary format, decoded straight into the columns. The symbol is sent as a
// parameter, never spliced into SQL; table and column names are quoted as
// identifiers.
//
// Errors: kUnavailable when the server cannot be reached or the connection
// broke (the next call reconnects); kNotFound for a missing table or view,
// and for a symbol without rows; kInvalidArgument for a missing column, a
// column of an unusable type, bad options, a timestamp of +-infinity;
// kFailedPrecondition when the server refuses access (permission denied).
// Every message names the URL (password elided) and the table.
//
// Thread-safety: a BarsTable is safe for concurrent use; its calls share one
// connection and run one at a time.
#ifndef EVOLVE_POSTGRES_POSTGRES_BARS_H_
#define EVOLVE_POSTGRES_POSTGRES_BARS_H_

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "evolve/engines/bar_table.h"
#include "evolve/status.h"

namespace evolve::postgres {

struct BarsTableOptions {
  // A table, view, materialized view, partitioned or foreign table,
  // optionally schema-qualified ("market.bars"); without a schema it is
  // looked up on the search path. A part in double quotes is taken as
  // written ("Market"."Bars", "a.b"); a part without quotes as written, or
  // else folded to lower case, as PostgreSQL folds unquoted names.
  std::string table = "bars";
  // The columns' names in the table, by role. Required: symbol, ts, open,
  // high, low, close, volume. Optional (read when the table has them):
  // vwap, trade_count. A name matches a column of that exact name, or else
  // the one column whose name is the same ignoring ASCII case.
  std::string symbol = "symbol";
  std::string ts = "ts";
  std::string open = "open";
  std::string high = "high";
  std::string low = "low";
  std::string close = "close";
  std::string volume = "volume";
  std::string vwap = "vwap";
  std::string trade_count = "trade_count";
  // What messages call the ts role, in their hints ("name it with
  // --bars-columns ts=COLUMN"): a command line whose --bars-columns calls
  // it otherwise (e.g. "time", as its CSV options do) says so here. Only
  // the messages change; the column is still the one `ts` names.
  std::string ts_role_name = "ts";
  // How long opening a connection may take (libpq's connect_timeout; whole
  // seconds, at least 1).
  std::chrono::seconds connect_timeout{10};
};

// A connection to a bars table.
class BarsTable {
 public:
  // Connects to `url` (a libpq URL or key=value string) and checks the
  // table: it exists, has the required columns with usable types, and may
  // be read. Errors: kUnavailable (cannot connect, naming the URL);
  // kNotFound ("no table or view market.bars", naming the schemas searched
  // and the tables they have; "name it with --bars-table NAME");
  // kInvalidArgument for a missing column ("table market.bars has no column
  // 'ts' (its columns: symbol, time, ...); name it with --bars-columns
  // ts=COLUMN") or a column of another type than the table above lists;
  // kFailedPrecondition when reading it is not permitted.
  static Result<std::unique_ptr<BarsTable>> Open(const std::string& url,
                                                 const BarsTableOptions& options = {});

  ~BarsTable();
  BarsTable(const BarsTable&) = delete;
  BarsTable& operator=(const BarsTable&) = delete;

  // "postgresql://evolve@127.0.0.1:5432/db, table market.bars": the URL
  // without its password, and the table as the options name it.
  std::string Describe() const;

  // The columns a Read returns, by role and in order: ts, open, high, low,
  // close, volume, then vwap and trade_count when the table has them.
  std::vector<std::string> Roles() const;

  // The distinct non-null symbols as stored (a char(n) column's without
  // their trailing blanks), sorted by their bytes. With a btree
  // index led by the symbol column (e.g. on (symbol, ts)) it is a loose
  // index scan, one index descent per symbol, however many rows; without
  // one (as the server's plan shows), one scan of the table.
  Result<std::vector<std::string>> Symbols();

  // A token that changes when the symbol's rows may have changed: their
  // count, first and last ts (with an index on (symbol, ts), an index-only
  // scan of the symbol's entries). A value rewritten in place that keeps
  // the count and the ts range is not seen. kNotFound when the symbol has
  // no rows.
  Result<std::string> Version(const std::string& symbol);

  // The symbol's rows in ts order (rows with a null ts last), as columns
  // named by role (Roles()): "ts", "open", ..., "vwap", "trade_count",
  // absent optional columns omitted. kNotFound naming the symbol and the
  // table when it has no rows. The columns are sized at once for the row
  // count last seen for the symbol (by Version or Read), else for the
  // planner's estimate: growing columns of a million rows step by step
  // cost as much as decoding them.
  Result<engines::BarTable> Read(const std::string& symbol);

 private:
  struct Impl;
  explicit BarsTable(std::unique_ptr<Impl> impl);

  std::unique_ptr<Impl> impl_;
};

}  // namespace evolve::postgres

#endif  // EVOLVE_POSTGRES_POSTGRES_BARS_H_
