// Bars from a table of typed columns (bar_table.h): a Parquet file's, a
// database table's. Columns are matched by role as a CSV header's are, and
// each row passes the same rules (BarRows).
#include "evolve/engines/bar_table.h"

#include <cmath>
#include <map>
#include <memory>
#include <utility>

#include "bar_columns.h"
#include "bar_rows.h"
#include "bar_text.h"

namespace evolve::engines {
namespace {

using Kind = TableColumn::Kind;

constexpr int64_t kSecondsPerDay = 86400;

// Floor division: a timestamp before 1970 is still whole seconds or not.
int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0); }

// Row `i` of `c` as a time. Errors: the message of a refused row.
Result<ParsedTime> TimeAt(const TableColumn& c, size_t i, const TimeRules& rules) {
  switch (c.kind) {
    case Kind::kTimestamp: {
      const int64_t v = c.ints[i];
      if (c.per_second <= 0) return InvalidArgumentError("bad time: a timestamp without a unit");
      if (v % c.per_second != 0) {
        return InvalidArgumentError("bad time " + std::to_string(v) + " (1/" + std::to_string(c.per_second) +
                                    " s): not whole seconds (bar times are whole seconds)");
      }
      const int64_t t = FloorDiv(v, c.per_second);
      return ParsedTime{t, t, false};
    }
    case Kind::kDate: {
      const int64_t t = c.ints[i] * kSecondsPerDay;
      return ParsedTime{t, t, false};
    }
    case Kind::kInt64: {
      EVOLVE_ASSIGN_OR_RETURN(int64_t t, IntegerTime(c.ints[i], rules));
      return ParsedTime{t, t, false};
    }
    case Kind::kDouble: {
      const double v = c.doubles[i];
      if (!(std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 9e18)) {
        return InvalidArgumentError("bad time " + ShowNumber(v) + ": not a whole number of Unix time units");
      }
      EVOLVE_ASSIGN_OR_RETURN(int64_t t, IntegerTime(static_cast<int64_t>(v), rules));
      return ParsedTime{t, t, false};
    }
    case Kind::kString:
      return ParseTimeParts(c.strings[i], rules);
  }
  return InvalidArgumentError("bad time");
}

// Row `i` of `c` as a number, or false (text that is not one, a time).
bool NumberAt(const TableColumn& c, size_t i, double* out) {
  switch (c.kind) {
    case Kind::kDouble:
      *out = c.doubles[i];
      return std::isfinite(*out);
    case Kind::kInt64:
      *out = static_cast<double>(c.ints[i]);
      return true;
    case Kind::kString:
      return ParseDouble(c.strings[i], out);
    default:
      return false;
  }
}

std::string ValueText(const TableColumn& c, size_t i) {
  switch (c.kind) {
    case Kind::kDouble:
      return ShowNumber(c.doubles[i]);
    case Kind::kString:
      return c.strings[i];
    default:
      return std::to_string(c.ints[i]);
  }
}

}  // namespace

Result<std::vector<Bars>> BarsFromTable(const BarTable& table, const std::string& symbol,
                                        const std::string& source_name, const BarFormat& format,
                                        BarReport* report) {
  EVOLVE_RETURN_IF_ERROR(CheckBarFormat(format));
  const std::string& src = source_name;
  BarReport local_report;
  if (report == nullptr) report = &local_report;
  *report = BarReport{};
  report->source = src;
  const TimeRules rules = RulesOf(format);
  std::vector<std::string> names;
  for (const TableColumn& c : table.columns) {
    names.push_back(c.name);
    const size_t size = c.kind == Kind::kDouble   ? c.doubles.size()
                        : c.kind == Kind::kString ? c.strings.size()
                                                  : c.ints.size();
    if (size != table.rows || (!c.present.empty() && c.present.size() != table.rows)) {
      return InvalidArgumentError(src + ": column '" + c.name + "' has " + std::to_string(size) +
                                  " values for " + std::to_string(table.rows) + " rows");
    }
  }
  BarColumns roles;
  if (Status s = AssignColumns(names, format, &roles); !s.ok())
    return InvalidArgumentError(src + ": " + s.message());
  if (roles.time == kNoColumn) {
    for (size_t j = 0; j < table.columns.size(); ++j) {
      const Kind k = table.columns[j].kind;
      if (!roles.Taken(j) && (k == Kind::kTimestamp || k == Kind::kDate)) {
        roles.time = j;
        break;
      }
    }
  }
  const std::string what = "columns: " + ListNames(names);
  if (roles.time == kNoColumn) {
    return InvalidArgumentError(
        src +
        ": no time column: expected one named Date, Datetime, Timestamp, Time or ts, or a "
        "timestamp or date column (--bars-columns time=NAME names it); " +
        what);
  }
  if (Status s = CompleteColumns(names, format, what, &roles); !s.ok()) {
    return InvalidArgumentError(src + ": " + s.message());
  }
  if (roles.time_of_day != kNoColumn) {
    return InvalidArgumentError(src + ": a separate time-of-day column is read in CSV files only (" + what +
                                ")");
  }
  if (roles.symbol != kNoColumn && table.columns[roles.symbol].kind != Kind::kString) {
    return InvalidArgumentError(src + ": the symbol column '" + names[roles.symbol] + "' is not text");
  }
  auto column = [&](size_t j) -> const TableColumn* { return j == kNoColumn ? nullptr : &table.columns[j]; };
  const TableColumn* time = column(roles.time);
  const TableColumn* symbol_col = column(roles.symbol);
  const bool with_vwap = roles.vwap != kNoColumn, with_trades = roles.trade_count != kNoColumn;

  std::map<std::string, std::unique_ptr<BarRows>> by_symbol;
  BarRows* rows = nullptr;
  if (symbol_col == nullptr) {
    rows = by_symbol
               .emplace(symbol, std::make_unique<BarRows>(symbol, report, table.rows, with_vwap, with_trades))
               .first->second.get();
  }
  // A long table's rows per symbol, so each symbol's columns are sized
  // once (growing them row by row costs a fresh process its page faults
  // many times over).
  std::map<std::string, size_t> rows_of;
  if (symbol_col != nullptr) {
    const std::string* last = nullptr;
    size_t* count = nullptr;
    for (size_t i = 0; i < table.rows; ++i) {
      const std::string& s = symbol_col->strings[i];
      if (last == nullptr || s != *last) {
        count = &rows_of[Upper(s)];
        last = &s;
      }
      ++*count;
    }
  }
  std::string rows_symbol;
  const std::vector<NumberField> number_fields = NumberFields(roles, format);
  BarRow row;
  for (size_t i = 0; i < table.rows; ++i) {
    ++report->rows;
    const RowPlace place{&src, i + 1, false};
    if (symbol_col != nullptr) {
      if (symbol_col->IsNull(i) || symbol_col->strings[i].empty()) {
        report->Add("no symbol", place.Text(), "no symbol");
        continue;
      }
      if (rows == nullptr || symbol_col->strings[i] != rows_symbol) {
        rows_symbol = symbol_col->strings[i];
        auto& slot = by_symbol[Upper(rows_symbol)];
        if (!slot) {
          slot = std::make_unique<BarRows>(Upper(rows_symbol), report, rows_of[Upper(rows_symbol)], with_vwap,
                                           with_trades);
        }
        rows = slot.get();
      }
    }
    if (time->IsNull(i)) {
      rows->Refuse("missing value", place, "no time");
      continue;
    }
    auto parsed = TimeAt(*time, i, rules);
    if (!parsed.ok()) {
      rows->Refuse("bad time", place, parsed.status().message());
      continue;
    }
    row.utc = parsed->utc;
    row.local = parsed->local;
    row.offset = parsed->offset;
    row.vwap = row.trade_count = row.tick_volume = row.adj_close = NAN;
    bool ok = true;
    for (const NumberField& f : number_fields) {
      const TableColumn& c = table.columns[f.column];
      if (c.IsNull(i)) {
        if (f.optional) continue;
        rows->Refuse("missing value", place, std::string(f.name) + " is null");
        ok = false;
        break;
      }
      if (!NumberAt(c, i, &(row.*f.out))) {
        rows->Refuse("bad number", place,
                     std::string(f.name) + ": not a finite number: '" + ValueText(c, i) + "'");
        ok = false;
        break;
      }
    }
    if (!ok) continue;
    rows->Add(row, place);
  }
  if (report->rows == 0) return InvalidArgumentError(src + ": no rows");
  return FinishSymbols(by_symbol, *report, format, src);
}

}  // namespace evolve::engines
