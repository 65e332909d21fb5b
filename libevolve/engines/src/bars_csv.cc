// The CSV format of bars (bars.h has the rules, docs/data.md the formats
// it reads): the header, its variants (yfinance's three rows, MetaTrader's
// brackets, pandas' unnamed index), the rows, and writing bars back.
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "bar_columns.h"
#include "bar_rows.h"
#include "bar_text.h"
#include "bars_csv.h"
#include "evolve/engines/bars.h"

namespace evolve::engines {
namespace {

namespace fs = std::filesystem;

// Splits `line` at `delimiter` into `fields` (reused to avoid allocation).
// Quoted fields may not contain the delimiter: no bar file needs it.
void SplitFields(std::string_view line, char delimiter, std::vector<std::string_view>* fields) {
  fields->clear();
  size_t start = 0;
  while (true) {
    size_t at = line.find(delimiter, start);
    if (at == std::string_view::npos) {
      fields->push_back(line.substr(start));
      return;
    }
    fields->push_back(line.substr(start, at - start));
    start = at + 1;
  }
}

// The delimiter of a file, from its header: whichever of ',', ';' and tab
// it has most of (',' when it has none, or a tie with it).
char DetectDelimiter(std::string_view header) {
  char best = ',';
  auto count = [header](char c) { return std::count(header.begin(), header.end(), c); };
  for (char c : {';', '\t'}) {
    if (count(c) > count(best)) best = c;
  }
  return best;
}

const char* DelimiterName(char delimiter) {
  return delimiter == ';' ? "semicolon" : delimiter == '\t' ? "tab" : "comma";
}

// The lines of a text, one at a time, with their 1-based numbers; CR
// before LF dropped.
class Lines {
 public:
  explicit Lines(std::string_view text) : text_(text) {}
  // The next non-blank line, or false at the end.
  bool Next(std::string_view* line) {
    while (pos_ < text_.size()) {
      size_t nl = text_.find('\n', pos_);
      size_t end = nl == std::string_view::npos ? text_.size() : nl;
      *line = text_.substr(pos_, end - pos_);
      pos_ = nl == std::string_view::npos ? text_.size() : nl + 1;
      ++number_;
      if (!line->empty() && line->back() == '\r') line->remove_suffix(1);
      if (!Trim(*line).empty()) return true;
    }
    return false;
  }
  // The next non-blank line without consuming it.
  bool Peek(std::string_view* line, size_t* number) {
    Lines copy = *this;
    bool got = copy.Next(line);
    *number = copy.number_;
    return got;
  }
  size_t number() const { return number_; }

 private:
  std::string_view text_;
  size_t pos_ = 0;
  size_t number_ = 0;
};

// Where each role's column is in a file, and how its rows split.
struct CsvLayout {
  char delimiter = ',';
  size_t columns = 0;
  BarColumns roles;
};

// Reads the header (one line, or yfinance's three) into `layout`.
// Errors: kInvalidArgument "src:line: ..." saying what was expected and found.
Status ReadHeader(Lines& lines, std::string_view header, const std::string& src, const BarFormat& format,
                  const TimeRules& rules, CsvLayout* layout) {
  auto error = [&](const std::string& what) {
    return InvalidArgumentError(src + ":" + std::to_string(lines.number()) + ": " + what);
  };
  layout->delimiter = DetectDelimiter(header);
  std::vector<std::string_view> fields;
  SplitFields(header, layout->delimiter, &fields);
  layout->columns = fields.size();
  std::vector<std::string> names;
  for (std::string_view f : fields) names.emplace_back(Unquote(f));
  const std::string how = std::string("read as ") + DelimiterName(layout->delimiter) + "-separated";

  // yfinance >= 0.2.51: "Price,Close,High,...", then "Ticker,AAPL,AAPL,...",
  // then "Date,,,,,": the names of the first row, the time in column 0.
  if (!names.empty() && MatchName(names[0]) == "price") {
    std::string_view next;
    size_t number = 0;
    std::vector<std::string_view> row;
    if (lines.Peek(&next, &number)) SplitFields(next, layout->delimiter, &row);
    if (!row.empty() && MatchName(row[0]) == "ticker") {
      lines.Next(&next);
      std::set<std::string> tickers;
      for (size_t j = 1; j < row.size(); ++j) {
        if (!Unquote(row[j]).empty()) tickers.insert(std::string(Unquote(row[j])));
      }
      if (tickers.size() > 1) {
        return error("the header holds " + std::to_string(tickers.size()) + " tickers side by side (" +
                     ListNames({tickers.begin(), tickers.end()}) +
                     "), as yfinance writes several tickers' download: save one ticker per file");
      }
      if (lines.Peek(&next, &number)) {
        SplitFields(next, layout->delimiter, &row);
        const bool rest_empty =
            std::all_of(row.begin() + 1, row.end(), [](std::string_view f) { return Unquote(f).empty(); });
        if (!row.empty() && rest_empty && (MatchName(row[0]) == "date" || MatchName(row[0]) == "datetime")) {
          lines.Next(&next);
          names[0] = std::string(Unquote(row[0]));
        }
      }
    }
  }

  BarColumns& c = layout->roles;
  if (Status s = AssignColumns(names, format, &c); !s.ok()) return error(s.message() + " in the header");
  // pandas writes an unnamed index column first: ",open,high,...".
  if (c.time == kNoColumn && !names.empty() && names[0].empty()) c.time = 0;
  // Else the time column by content: the first column of the first row that reads as a time.
  if (c.time == kNoColumn) {
    std::string_view first;
    size_t number = 0;
    std::vector<std::string_view> row;
    if (lines.Peek(&first, &number)) SplitFields(first, layout->delimiter, &row);
    for (size_t j = 0; j < row.size() && j < names.size(); ++j) {
      // A small integer is a count or a price, not a Unix time (before 2001 in seconds).
      const std::string_view f = Unquote(row[j]);
      const bool small_integer = f.size() < 10 && !f.empty() && std::all_of(f.begin(), f.end(), [](char ch) {
                                   return ch >= '0' && ch <= '9';
                                 });
      if (!c.Taken(j) && !small_integer && ParseTimeParts(row[j], rules).ok()) {
        c.time = j;
        break;
      }
    }
  }
  if (c.time == kNoColumn) {
    return error(
        "no time column: expected one named Date, Datetime, Timestamp, Time or ts, or a column of "
        "times in the first row (--bars-columns time=NAME names it); the header, " +
        how + ", has " + std::to_string(names.size()) + (names.size() == 1 ? " column: " : " columns: ") +
        ListNames(names));
  }
  if (Status s = CompleteColumns(names, format, how + ": " + ListNames(names), &c); !s.ok()) {
    return error(s.message());
  }
  return Status::Ok();
}

}  // namespace

Result<bool> CsvHeaderHasSymbol(std::string_view head, const std::string& source_name,
                                const BarFormat& format) {
  EVOLVE_RETURN_IF_ERROR(CheckBarFormat(format));
  if (head.size() >= 3 && std::memcmp(head.data(), "\xEF\xBB\xBF", 3) == 0) head.remove_prefix(3);
  Lines lines(head);
  std::string_view line;
  if (!lines.Next(&line))
    return InvalidArgumentError(source_name + ": empty file (a header row is required)");
  CsvLayout layout;
  EVOLVE_RETURN_IF_ERROR(ReadHeader(lines, line, source_name, format, RulesOf(format), &layout));
  return layout.roles.symbol != kNoColumn;
}

Result<std::vector<Bars>> ParseBarsCsvFile(std::string_view text, const std::string& symbol,
                                           const std::string& source_name, const BarFormat& format,
                                           BarReport* report) {
  EVOLVE_RETURN_IF_ERROR(CheckBarFormat(format));
  const std::string& src = source_name;
  BarReport local_report;
  if (report == nullptr) report = &local_report;
  *report = BarReport{};
  report->source = src;
  if (text.size() >= 3 && std::memcmp(text.data(), "\xEF\xBB\xBF", 3) == 0) text.remove_prefix(3);
  const TimeRules rules = RulesOf(format);

  Lines lines(text);
  std::string_view line;
  if (!lines.Next(&line)) return InvalidArgumentError(src + ": empty file (a header row is required)");
  CsvLayout layout;
  EVOLVE_RETURN_IF_ERROR(ReadHeader(lines, line, src, format, rules, &layout));
  const bool with_vwap = layout.roles.vwap != kNoColumn, with_trades = layout.roles.trade_count != kNoColumn;

  // One BarRows per symbol: the file's, or each of a long file's.
  const size_t approx_rows = static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
  std::map<std::string, std::unique_ptr<BarRows>> by_symbol;
  BarRows* rows = nullptr;
  std::string rows_symbol;
  if (layout.roles.symbol == kNoColumn) {
    rows =
        by_symbol
            .emplace(symbol, std::make_unique<BarRows>(symbol, report, approx_rows, with_vwap, with_trades))
            .first->second.get();
  }

  std::vector<std::string_view> fields;
  fields.reserve(16);
  std::string joined_time;
  const std::vector<NumberField> number_fields = NumberFields(layout.roles, format);
  BarRow row;
  while (lines.Next(&line)) {
    ++report->rows;
    SplitFields(line, layout.delimiter, &fields);
    const RowPlace place{&src, lines.number(), true};
    if (layout.roles.symbol != kNoColumn) {
      if (fields.size() <= layout.roles.symbol) {
        report->Add(
            "wrong field count", place.Text(),
            "expected " + std::to_string(layout.columns) + " fields, got " + std::to_string(fields.size()));
        continue;
      }
      std::string_view name = Unquote(fields[layout.roles.symbol]);
      if (name.empty()) {
        report->Add("no symbol", place.Text(), "empty symbol");
        continue;
      }
      if (rows == nullptr || name != rows_symbol) {
        rows_symbol.assign(name);
        auto& slot = by_symbol[Upper(name)];
        if (!slot) slot = std::make_unique<BarRows>(Upper(name), report, 0, with_vwap, with_trades);
        rows = slot.get();
      }
    }
    if (fields.size() != layout.columns) {
      rows->Refuse(
          "wrong field count", place,
          "expected " + std::to_string(layout.columns) + " fields, got " + std::to_string(fields.size()));
      continue;
    }
    std::string_view time_text = fields[layout.roles.time];
    if (layout.roles.time_of_day != kNoColumn) {
      joined_time.assign(Unquote(time_text));
      joined_time += ' ';
      joined_time += Unquote(fields[layout.roles.time_of_day]);
      time_text = joined_time;
    }
    auto parsed = ParseTimeParts(time_text, rules);
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
      if (f.optional && Unquote(fields[f.column]).empty()) continue;
      if (!ParseDouble(fields[f.column], &(row.*f.out))) {
        rows->Refuse(
            "bad number", place,
            std::string(f.name) + ": not a finite number: '" + std::string(Unquote(fields[f.column])) + "'");
        ok = false;
        break;
      }
    }
    if (!ok) continue;
    rows->Add(row, place);
  }
  if (report->rows == 0) return InvalidArgumentError(src + ": no rows after the header");
  return FinishSymbols(by_symbol, *report, format, src);
}

Result<Bars> ParseBarsCsv(std::string_view text, const std::string& symbol, const std::string& source_name) {
  EVOLVE_ASSIGN_OR_RETURN(std::vector<Bars> bars,
                          ParseBarsCsvFile(text, symbol, source_name, BarFormat{}, nullptr));
  if (bars.size() != 1) {
    return InvalidArgumentError(source_name + ": holds " + std::to_string(bars.size()) +
                                " symbols (a symbol column): read it as a long file");
  }
  return std::move(bars.front());
}

Result<Bars> LoadBarsCsv(const std::string& path, const std::string& symbol) {
  EVOLVE_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(path));
  return ParseBarsCsv(text, symbol, fs::path(path).filename().string());
}

Status WriteBarsCsv(const Bars& bars, const std::string& path) {
  const size_t n = bars.size();
  if (bars.open.size() != n || bars.high.size() != n || bars.low.size() != n || bars.close.size() != n ||
      bars.volume.size() != n) {
    return InvalidArgumentError("bars of " + bars.symbol + ": columns have different lengths");
  }
  std::string out =
      bars.intraday ? "Datetime,Open,High,Low,Close,Volume\n" : "Date,Open,High,Low,Close,Volume\n";
  out.reserve(out.size() + n * 96);
  char buf[40];
  for (size_t i = 0; i < n; ++i) {
    out += FormatBarTime(bars.time[i], bars.intraday);
    for (double v : {bars.open[i], bars.high[i], bars.low[i], bars.close[i], bars.volume[i]}) {
      auto res = std::to_chars(buf, buf + sizeof buf, v);
      out += ',';
      out.append(buf, res.ptr);
    }
    out += '\n';
  }
  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) return UnavailableError("cannot create " + tmp + ": " + std::strerror(errno));
  bool ok = std::fwrite(out.data(), 1, out.size(), f) == out.size();
  ok = (std::fclose(f) == 0) && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return UnavailableError("cannot write " + path);
  }
  return Status::Ok();
}

}  // namespace evolve::engines
