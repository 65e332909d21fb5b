// OHLCV bars: the in-memory series, the rules every source's rows must
// meet, the CSV format they are read from and written to, and their
// timeframe. docs/data.md has every format and rule in full.
//
// CSV, in short:
//   * A header row is required (yfinance's three rows too). Columns are
//     found by name in any case and order, with or without quotes or
//     MetaTrader's <angle brackets>: the time (Date, Datetime, Timestamp,
//     Time, ts, ...; else the first column that holds times; a Date column
//     beside a Time column is date + time of day), Open, High, Low, Close,
//     Volume; vwap, trade_count, Adj Close and a symbol column when present.
//     BarFormat::columns names any other. The delimiter is read from the
//     header (comma, semicolon or tab).
//   * Times: "YYYY-MM-DD" (a daily bar, at 00:00:00 UTC), with " HH:MM[:SS]"
//     or "THH:MM:SS", optional zero fractional seconds, an optional "Z" or
//     "+HH:MM"/"-HH:MM" offset (converted to UTC; rows all at local
//     midnight with an offset are daily bars of those dates), dates with
//     the year last under BarFormat::date_order, or integer Unix times
//     (seconds, ms, us or ns by magnitude or BarFormat::epoch_unit).
//   * Rows (BarRows applies these to every source): strictly increasing in
//     time (so no duplicates), every price positive, high >= low, open and
//     close within [low, high] up to a relative tolerance of
//     kOhlcTolerance, volume >= 0, every number finite and parsed in full,
//     every row as many fields as the header. A row that breaks one is
//     refused: the whole source is, naming the first and counting the rest,
//     unless BarFormat::drop_bad_rows.
//   * CRLF line ends, a UTF-8 byte order mark and blank lines are tolerated.
//   Every error is kInvalidArgument and its message names the file, the
//   1-based line and the problem, e.g. "ttrc.csv:1234: high 3.1 < low 3.2".
//
// Thread-safety: Bars is a value. The free functions are reentrant.
// Where bars are read from (directories, tables) is bar_source.h.
#ifndef EVOLVE_ENGINES_BARS_H_
#define EVOLVE_ENGINES_BARS_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "evolve/engines/calendar.h"  // CivilTime, ToCivilTime, DaysFromCivil
#include "evolve/status.h"

namespace evolve::engines {

// Open or close may lie this far (relative) outside [low, high]: vendors'
// adjusted prices are rounded separately and can miss the range by a tick's
// rounding, which is no reason to reject a file. Anything further is an error.
inline constexpr double kOhlcTolerance = 1e-6;

// A symbol's bars, column-wise, oldest first.
struct Bars {
  std::string symbol;
  // Unix seconds UTC. A daily bar's time is its date at 00:00:00; an
  // intraday bar's time is its start, as the file gives it.
  std::vector<int64_t> time;
  std::vector<double> open, high, low, close, volume;
  // When the source has them (Alpaca, Polygon, the original system's
  // table): each bar's volume-weighted average price and number of trades,
  // NaN where a row leaves them out; empty when the source has no such
  // column. Read and checked; the built-in features do not use them yet.
  std::vector<double> vwap, trade_count;
  // True when any bar's time is not at midnight UTC (minute or hour bars).
  bool intraday = false;
  // The bars' spacing in seconds (InferBarSeconds): 60 for one-minute
  // bars, 86400 for daily ones, 0 when unknown (fewer than two bars). A bar
  // is complete this long after its time stamp (CompleteAt).
  int64_t bar_seconds = 0;
  // Rows of the source refused and dropped (BarFormat::drop_bad_rows).
  size_t dropped_rows = 0;

  size_t size() const { return time.size(); }
};

// The instant bar `i` of `bars` is complete, comparable across timeframes:
// its time stamp (its start) plus its spacing, so a daily bar (stamped at
// 00:00 of its date) completes at the end of its date, a weekly one at the
// end of its week, an hourly one an hour after it opened. Features and
// regime labels take a reference's last bar complete by the bar's own
// completion, so a minute bar never sees that hour's or day's close. Bars
// of unknown spacing (bar_seconds 0) take a day when daily, else none.
int64_t CompleteAt(const Bars& bars, size_t i);

// The spacing that dominates `time` (sorted Unix seconds): the most common
// gap between consecutive bars, with gaps of whole days counted as one day
// for bars at midnight (a weekend is not a 3-day timeframe) and gaps
// across a session break ignored by taking the mode. 0 for fewer than two
// bars. docs/data.md has the rule.
int64_t InferBarSeconds(const std::vector<int64_t>& time);

// What a symbol's bars are, for `evolve validate`.
struct BarsSummary {
  size_t bars = 0;
  int64_t first = 0, last = 0;  // times of the first and last bar
  int64_t bar_seconds = 0;      // the spacing (InferBarSeconds)
  // Gaps: intraday, two bars of one UTC date further apart than the
  // spacing (a session's missing bars; the nights between sessions are no
  // gap); daily, more than 4 days between bars (beyond a long weekend);
  // longer spacings, more than twice the spacing.
  size_t gaps = 0;
  int64_t longest_gap = 0;  // seconds
  size_t zero_volume = 0;   // bars with volume 0 (a halted session, or no trades)
};
BarsSummary SummarizeBars(const Bars& bars);

// The label of a spacing: "1m", "5m", "1h", "4h", "1d", "1w", or the
// spacing in the largest unit that divides it ("2m", "90s", "3d"); "" for 0.
std::string TimeframeLabel(int64_t bar_seconds);

// The spacing a label names (TimeframeLabel's inverse): "1m" -> 60,
// "4h" -> 14400, "1w" -> 604800; 0 when the label is not one.
int64_t TimeframeSeconds(const std::string& label);

// How to read bars where the rules cannot tell from the data alone. The
// defaults read every format docs/data.md lists.
struct BarFormat {
  // Dates written with slashes or dots and the year last ("01/02/2015",
  // "02.01.2015") are ambiguous: "mdy" reads them month first (US), "dmy"
  // day first. "" (the default) refuses them, saying to choose.
  std::string date_order;
  // The unit of integer Unix times: "s", "ms", "us" or "ns"; "" (the
  // default) reads it from the magnitude.
  std::string epoch_unit;
  // Take prices from the adjusted close (Yahoo's "Adj Close"): close
  // becomes the adjusted close, open, high and low are scaled by the same
  // factor, volume is kept. A source without such a column is refused.
  bool adjusted = false;
  // Column names by role, for files whose names the rules do not know:
  // roles time, date, time_of_day, open, high, low, close, volume, vwap,
  // trade_count, adj_close, symbol. A name given must be in the header.
  std::map<std::string, std::string> columns;
  // Drop the rows the rules refuse, counting them (BarReport), instead of
  // refusing the whole source. Header problems are refused either way.
  bool drop_bad_rows = false;
};

// The roles BarFormat::columns takes, for messages and option checks.
const std::vector<std::string>& BarColumnRoles();

// Checks `format`'s values (date_order, epoch_unit, column roles).
// Errors: kInvalidArgument naming the field and what it takes.
Status CheckBarFormat(const BarFormat& format);

// What reading one source found: its rows and, by kind, the rows the rules
// refuse, with the first few of each kind, so that one run of `evolve
// validate` lists every problem of a file.
struct BarReport {
  struct Problem {
    std::string kind;                   // "high below low", "bad time", ...
    size_t count = 0;                   // rows with this problem
    std::vector<std::string> examples;  // the first kMaxExamples: "file:line: message"
  };
  static constexpr size_t kMaxExamples = 3;

  std::string source;             // file or table
  size_t rows = 0;                // data rows read
  size_t refused = 0;             // rows refused (a row with two problems counts once)
  std::vector<Problem> problems;  // by kind, in the order first seen

  // Records one refused row's problem (`where`: "file:line").
  void Add(const std::string& kind, const std::string& where, const std::string& message);
  // Adds `other`'s rows and problems to this report.
  void Merge(const BarReport& other);
};

// Parses CSV `text` (rules above). `source_name` names the input in error
// messages (a file name). `symbol` is stored as given.
// Errors: kInvalidArgument naming source, line and problem.
Result<Bars> ParseBarsCsv(std::string_view text, const std::string& symbol, const std::string& source_name);

// The bars of one CSV file under `format`: one Bars for a file of one
// symbol (named `symbol`), or, for a long file with a symbol column, one
// per symbol in the file (sorted by symbol). `report` (if not null)
// receives the rows and problems. Row problems refuse the file (the first
// named, with how many more) unless format.drop_bad_rows.
// Errors: kInvalidArgument naming source, line and problem.
Result<std::vector<Bars>> ParseBarsCsvFile(std::string_view text, const std::string& symbol,
                                           const std::string& source_name, const BarFormat& format,
                                           BarReport* report);

// Reads and parses the file at `path`; messages name its file name.
// Errors: kNotFound when the file cannot be opened; as ParseBarsCsv.
Result<Bars> LoadBarsCsv(const std::string& path, const std::string& symbol);

// Writes `bars` as CSV that ParseBarsCsv reads back exactly (shortest
// round-trip number formatting): "Date,..." with YYYY-MM-DD for daily bars,
// "Datetime,..." with "YYYY-MM-DD HH:MM:SS" (UTC) for intraday bars. The file
// is written beside `path` and renamed over it, so readers never see half.
// Errors: kInvalidArgument for ragged columns; kUnavailable for I/O failures.
Status WriteBarsCsv(const Bars& bars, const std::string& path);

// A time as the CSV rules accept it -> Unix seconds UTC.
// Errors: kInvalidArgument saying what is wrong.
Result<int64_t> ParseBarTime(std::string_view text);

// "YYYY-MM-DD" (intraday = false) or "YYYY-MM-DD HH:MM:SS" (UTC).
std::string FormatBarTime(int64_t unix_seconds, bool intraday);

}  // namespace evolve::engines

#endif  // EVOLVE_ENGINES_BARS_H_
