// The bar rules (bars.h) applied row by row, whatever the source: a CSV
// file, a Parquet file or a database table gives its rows to a BarRows,
// which keeps the rows the rules accept and records the others, by kind,
// in a BarReport. So every source refuses the same rows with the same
// words, and `evolve validate` lists them all in one run.
#ifndef EVOLVE_ENGINES_BAR_ROWS_H_
#define EVOLVE_ENGINES_BAR_ROWS_H_

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "evolve/engines/bars.h"
#include "evolve/status.h"

namespace evolve::engines {

// Where a row is, for messages: "file.csv:12" (a line) or "table bars, row
// 12" (a table's row, 1-based).
struct RowPlace {
  const std::string* source = nullptr;
  size_t index = 0;
  bool is_line = true;

  std::string Text() const;
};

// One row as read, before the rules.
struct BarRow {
  int64_t utc = 0;      // Unix seconds UTC
  int64_t local = 0;    // the written wall-clock time read as if UTC
  bool offset = false;  // written with a +HH:MM / -HH:MM offset
  double open = 0, high = 0, low = 0, close = 0, volume = 0;
  double vwap = NAN, trade_count = NAN;  // NaN: not given
  // MetaTrader's <TICKVOL>, taken as the volume where volume is 0 (<VOL>
  // is the exchange's volume, 0 where the broker has none, as for
  // currencies); NaN: none.
  double tick_volume = NAN;
  // The adjusted close under BarFormat::adjusted: close becomes it, open,
  // high and low are scaled by adj_close / close; NaN: not adjusted.
  double adj_close = NAN;
};

class BarRows {
 public:
  // `report` receives the refused rows; it must outlive this object. The
  // bars keep vwap and trade_count when `with_vwap` / `with_trade_count`
  // (the source has such a column).
  BarRows(std::string symbol, BarReport* report, size_t reserve, bool with_vwap, bool with_trade_count);

  // Applies the rules to `row`: keeps it, or records its first problem
  // under `place` and drops it.
  void Add(const BarRow& row, const RowPlace& place);

  // Records a row refused before it was a BarRow (a field that is not a
  // number, a bad time): `kind` and `message` as BarReport::Add takes them.
  void Refuse(const std::string& kind, const RowPlace& place, const std::string& message);

  size_t kept() const { return bars_.time.size(); }
  size_t refused() const { return refused_; }

  // The bars kept: daily bars of the written dates when every row is a
  // local midnight written with an offset (yfinance's daily export),
  // intraday set, bar_seconds inferred, dropped_rows the rows refused.
  // Call once.
  Bars Finish();

 private:
  Bars bars_;
  BarReport* report_;
  const bool with_vwap_, with_trade_count_;
  size_t refused_ = 0;
  // Whether every kept row so far is a local midnight written with an
  // offset; their written dates while it is so.
  bool local_midnights_ = true;
  std::vector<int64_t> local_dates_;
};

// The end of reading a source whose rows went to `by_symbol` (by symbol):
// refused when `report` has refused rows and `format` does not drop them,
// else each symbol's kept bars (Finish), sorted by symbol.
// Errors: kInvalidArgument naming `source` when every row was refused.
Result<std::vector<Bars>> FinishSymbols(std::map<std::string, std::unique_ptr<BarRows>>& by_symbol,
                                        const BarReport& report, const BarFormat& format,
                                        const std::string& source);

// Shortest text that reads back as `v`: messages quote the source's numbers.
std::string ShowNumber(double v);

// A parsed time for messages: the date alone for a midnight time, else the
// date and time with " UTC".
std::string ShowTime(int64_t unix_seconds);

// The error refusing a source whose rows `report` refused: the first
// problem's example, and how many more rows were refused.
Status RefusedRowsError(const BarReport& report);

}  // namespace evolve::engines

#endif  // EVOLVE_ENGINES_BAR_ROWS_H_
