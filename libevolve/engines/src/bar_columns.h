// The columns of a bar source by role (time, open, ..., symbol): the names
// each role is known by, and the user's own names (BarFormat::columns), so
// that a CSV header and a table's columns are matched by the same rules.
#ifndef EVOLVE_ENGINES_BAR_COLUMNS_H_
#define EVOLVE_ENGINES_BAR_COLUMNS_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "bar_rows.h"
#include "evolve/engines/bars.h"
#include "evolve/status.h"

namespace evolve::engines {

inline constexpr size_t kNoColumn = static_cast<size_t>(-1);

// A header name as the rules match it: unquoted, without MetaTrader's
// angle brackets, without a quantmod "AAPL." prefix, lower case, without
// spaces and underscores ("Adj Close" -> "adjclose", "<TICKVOL>" ->
// "tickvol", "AAPL.Open" -> "open").
std::string MatchName(std::string_view field);

// Where each role's column is (kNoColumn: none).
struct BarColumns {
  size_t time = kNoColumn, time_of_day = kNoColumn, open = kNoColumn, high = kNoColumn, low = kNoColumn,
         close = kNoColumn, volume = kNoColumn, tick_volume = kNoColumn, vwap = kNoColumn,
         trade_count = kNoColumn, adj_close = kNoColumn, symbol = kNoColumn;
  // The member of `role` ("date" is "time"), or null for an unknown role.
  size_t* Role(const std::string& role);
  // Whether column `j` has a role.
  bool Taken(size_t j) const;
};

// Assigns roles to the columns `names` (as the source writes them): the
// user's names first (each must be there), then the names each role is
// known by, each column taken once. The time column may stay unassigned
// (the caller looks for it by content or type).
// Errors: kInvalidArgument without a place ("--bars-columns open=x: no
// such column (its columns: a, b)", "column 'close' appears twice").
Status AssignColumns(const std::vector<std::string>& names, const BarFormat& format, BarColumns* out);

// After the time column is found: a Date column beside a Time column is
// date + time of day; open, high, low, close and volume must be there
// (<TICKVOL> standing in for a missing volume); --adjusted needs an
// adjusted close. `what` names the columns in messages ("read as
// comma-separated: Date, Open, ...").
// Errors: kInvalidArgument without a place.
Status CompleteColumns(const std::vector<std::string>& names, const BarFormat& format,
                       const std::string& what, BarColumns* columns);

// One number of a row: the column it is read from, where it goes, its
// name in messages, and whether an empty cell or null is "not given".
struct NumberField {
  size_t column;
  double BarRow::*out;
  const char* name;
  bool optional;
};

// The numbers a row is read into, by role: open, high, low, close,
// volume, tick volume, vwap, trade_count and, under --adjusted, the
// adjusted close. Roles without a column are left out.
std::vector<NumberField> NumberFields(const BarColumns& columns, const BarFormat& format);

// "a, b, c".
std::string ListNames(const std::vector<std::string>& names);

}  // namespace evolve::engines

#endif  // EVOLVE_ENGINES_BAR_COLUMNS_H_
