// Bars as a table of typed columns, before the bar rules are applied: what
// a columnar source (a Parquet file, a PostgreSQL table) yields, so that
// every source's bars pass the same checks (BarsFromTable) as a CSV file's.
//
// Thread-safety: values; the functions are reentrant.
#ifndef EVOLVE_ENGINES_BAR_TABLE_H_
#define EVOLVE_ENGINES_BAR_TABLE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "evolve/engines/bars.h"
#include "evolve/status.h"

namespace evolve::engines {

// One column of a table. Exactly one of the value vectors is used, by kind,
// and it has the table's row count.
struct TableColumn {
  enum class Kind {
    kInt64,      // ints: integers (INT32/INT64 columns, bigint)
    kDouble,     // doubles: FLOAT/DOUBLE columns, float8, numeric
    kString,     // strings: BYTE_ARRAY/UTF8 columns, text
    kTimestamp,  // ints: an instant as `per_second` units since the Unix epoch, UTC
    kDate,       // ints: days since 1970-01-01 (a Parquet DATE, a SQL date)
  };
  std::string name;  // as the source spells it
  Kind kind = Kind::kDouble;
  // kTimestamp only: 1 (seconds), 1000 (ms), 1000000 (us), 1000000000 (ns).
  int64_t per_second = 1;
  // kTimestamp only: false when the source says the instant is local time
  // without a zone (Parquet isAdjustedToUTC=false, SQL timestamp without
  // time zone); it is read as UTC either way, since a bar file's wall-clock
  // times are what the CSV rules take too.
  bool utc = true;
  std::vector<int64_t> ints;
  std::vector<double> doubles;
  std::vector<std::string> strings;
  // 1 where the value is present, 0 where it is null; empty when the column
  // has no nulls.
  std::vector<uint8_t> present;

  bool IsNull(size_t row) const { return !present.empty() && present[row] == 0; }
};

struct BarTable {
  std::vector<TableColumn> columns;
  size_t rows = 0;
};

// The bars of `table` under the bar rules (bars.h), as a CSV file's: the
// columns matched by role by their names as a CSV header's are (and
// format.columns); the time column is the first so named, else the first
// timestamp or date column. One Bars per symbol when the table has a
// symbol column (sorted by symbol), else one named `symbol`. Rows are
// taken in the table's order. Times: a timestamp must be whole seconds
// (read as UTC), a date is that date's daily bar, an integer is a Unix
// time (unit by magnitude or format.epoch_unit), text as the CSV rules
// read it. A null in a required column refuses the row; in vwap or
// trade_count it is "not given". `report` as ParseBarsCsvFile: row
// problems refuse the table unless format.drop_bad_rows.
// Errors: kInvalidArgument naming `source_name` and the problem.
Result<std::vector<Bars>> BarsFromTable(const BarTable& table, const std::string& symbol,
                                        const std::string& source_name, const BarFormat& format,
                                        BarReport* report);

}  // namespace evolve::engines

#endif  // EVOLVE_ENGINES_BAR_TABLE_H_
