#include "evolve/engines/bars.h"

#include "bar_rows.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <system_error>
#include <utility>

namespace evolve::engines {
namespace {

// The memory parsed bars take: six to eight columns of 8 bytes per bar.
size_t BarsBytes(const Bars& bars) {
  return (bars.size() * 6 + bars.vwap.size() + bars.trade_count.size()) * sizeof(double) + sizeof(Bars);
}

namespace fs = std::filesystem;

constexpr int64_t kSecondsPerDay = 86400;
// Integer times from this magnitude on (the year 5138 in seconds) are read
// as milliseconds, from 1000 times it as microseconds, from 10^6 times it as
// nanoseconds (ParseBarTime).
constexpr int64_t kMaxUnixSeconds = 100'000'000'000;

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// Trimmed, with one pair of surrounding double quotes removed.
std::string_view Unquote(std::string_view s) {
  s = Trim(s);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = Trim(s.substr(1, s.size() - 2));
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// Parses exactly `width` decimal digits at s[pos]; false if any is not a digit.
bool Digits(std::string_view s, size_t pos, size_t width, int* out) {
  if (pos + width > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + width; ++i) {
    char c = s[i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

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

// The whole field as a finite double, or false.
bool ParseDouble(std::string_view field, double* out) {
  std::string_view s = Unquote(field);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  auto res = std::from_chars(s.data(), s.data() + s.size(), *out);
  return res.ec == std::errc() && res.ptr == s.data() + s.size() && std::isfinite(*out);
}

}  // namespace

namespace {

// A parsed time: UTC, and the wall-clock time it was written in.
struct ParsedTime {
  int64_t utc = 0;
  int64_t local = 0;    // the written date and time read as if UTC
  bool offset = false;  // written with a +HH:MM / -HH:MM offset
};

// What the rules cannot tell from a time alone (BarFormat).
struct TimeRules {
  char date_order = 0;     // 'm' (month first), 'd' (day first) or 0 (refuse year-last dates)
  int64_t per_second = 0;  // the unit of integer times; 0 = by magnitude
};

// Reads the date at the start of `s`: year first ("2015-01-02",
// "2015.01.02", "2015/01/02") or, under rules.date_order, year last
// ("1/2/2015", "02.01.2015"). Sets *end to the first position after it.
Status ParseDatePart(std::string_view s, const TimeRules& rules, int* year, int* month, int* day,
                     size_t* end) {
  auto bad = [&](const std::string& why) {
    return InvalidArgumentError("bad time '" + std::string(s) + "': " + why);
  };
  auto is_sep = [](char c) { return c == '-' || c == '/' || c == '.'; };
  if (s.size() >= 10 && Digits(s, 0, 4, year) && is_sep(s[4]) && Digits(s, 5, 2, month) && s[7] == s[4] &&
      Digits(s, 8, 2, day)) {
    *end = 10;
  } else {
    // Year last: one or two digits, a separator, one or two digits, the same separator, four digits.
    size_t p = 0;
    int parts[2] = {0, 0};
    for (int k = 0; k < 2; ++k) {
      size_t start = p;
      while (p < s.size() && p - start < 2 && s[p] >= '0' && s[p] <= '9')
        parts[k] = parts[k] * 10 + (s[p++] - '0');
      if (p == start || p >= s.size() || !is_sep(s[p]) || (k == 1 && s[p] != s[start - 1])) {
        return bad(
            "expected YYYY-MM-DD[ HH:MM[:SS]], YYYY-MM-DDTHH:MM:SS[Z], a date like 01/02/2015 (with "
            "--date-order) "
            "or a Unix time");
      }
      ++p;
    }
    if (!Digits(s, p, 4, year)) return bad("expected a four-digit year after the day and month");
    *end = p + 4;
    if (rules.date_order == 0) {
      return bad(
          "a date with the year last is month first (US) or day first: say which with --date-order mdy "
          "or --date-order dmy");
    }
    *month = rules.date_order == 'm' ? parts[0] : parts[1];
    *day = rules.date_order == 'm' ? parts[1] : parts[0];
  }
  if (*month < 1 || *month > 12) return bad("month out of range");
  if (*day < 1 || *day > DaysInMonth(*year, *month)) return bad("day out of range");
  return Status::Ok();
}

Result<ParsedTime> ParseTimeParts(std::string_view text, const TimeRules& rules) {
  std::string_view s = Unquote(text);
  if (s.empty()) return InvalidArgumentError("empty time");
  auto bad = [&](const char* why) {
    return InvalidArgumentError("bad time '" + std::string(s) + "': " + why);
  };
  // An integer Unix time: all digits (optionally signed). Its unit is the
  // format's, or read from its magnitude (docs/data.md): seconds below 1e11
  // (the year 5138), milliseconds below 1e14, microseconds below 1e17,
  // nanoseconds above; it must be whole seconds.
  bool all_digits = std::all_of(s.begin() + (s.front() == '-' ? 1 : 0), s.end(),
                                [](char c) { return c >= '0' && c <= '9'; });
  if (all_digits && s.size() > (s.front() == '-' ? 1u : 0u)) {
    int64_t v = 0;
    auto res = std::from_chars(s.data(), s.data() + s.size(), v);
    if (res.ec != std::errc() || res.ptr != s.data() + s.size()) return bad("not a 64-bit integer");
    const int64_t magnitude = v < 0 ? -(v + 1) : v;
    struct Unit {
      int64_t below;
      int64_t per_second;
      const char* name;
    };
    for (Unit u : {Unit{kMaxUnixSeconds, 1, "seconds"}, Unit{kMaxUnixSeconds * 1000, 1000, "milliseconds"},
                   Unit{kMaxUnixSeconds * 1000000, 1000000, "microseconds"},
                   Unit{INT64_MAX, 1000000000, "nanoseconds"}}) {
      if (rules.per_second != 0 ? u.per_second != rules.per_second
                                : magnitude >= u.below && u.below != INT64_MAX) {
        continue;
      }
      if (v % u.per_second != 0) {
        return InvalidArgumentError("bad time '" + std::string(s) + "': Unix " + u.name +
                                    " that are not whole seconds (bar times are whole seconds)");
      }
      return ParsedTime{v / u.per_second, v / u.per_second, false};
    }
  }
  int year = 0, month = 0, day = 0;
  size_t pos = 0;
  EVOLVE_RETURN_IF_ERROR(ParseDatePart(s, rules, &year, &month, &day, &pos));
  int64_t t = DaysFromCivil(year, month, day) * kSecondsPerDay;
  if (pos == s.size()) return ParsedTime{t, t, false};
  if (s[pos] != ' ' && s[pos] != 'T' && s[pos] != 't') return bad("unexpected text after the date");
  ++pos;
  int hour = 0, minute = 0, second = 0;
  if (!Digits(s, pos, 2, &hour) || pos + 5 > s.size() || s[pos + 2] != ':' ||
      !Digits(s, pos + 3, 2, &minute)) {
    return bad("expected HH:MM after the date");
  }
  pos += 5;
  if (pos < s.size() && s[pos] == ':') {
    if (!Digits(s, pos + 1, 2, &second)) return bad("expected two digits of seconds");
    pos += 3;
    // Fractional seconds (Databento, pandas): 1 to 9 digits, all zero.
    if (pos < s.size() && s[pos] == '.') {
      size_t digits = 0;
      bool zero = true;
      while (pos + 1 + digits < s.size() && std::isdigit(static_cast<unsigned char>(s[pos + 1 + digits]))) {
        zero = zero && s[pos + 1 + digits] == '0';
        ++digits;
      }
      if (digits == 0 || digits > 9) return bad("expected 1 to 9 digits of fractional seconds after '.'");
      if (!zero) return bad("fractional seconds that are not zero (bar times are whole seconds)");
      pos += 1 + digits;
    }
  }
  if (hour > 23 || minute > 59 || second > 59) return bad("time of day out of range");
  t += hour * 3600 + minute * 60 + second;
  std::string_view zone = s.substr(pos);
  if (zone.empty() || zone == "Z" || zone == "z") return ParsedTime{t, t, false};
  if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':') {
    int zh = 0, zm = 0;
    if (Digits(zone, 1, 2, &zh) && Digits(zone, 4, 2, &zm) && zh <= 23 && zm <= 59) {
      int64_t offset = zh * 3600 + zm * 60;
      return ParsedTime{zone[0] == '+' ? t - offset : t + offset, t, true};  // local = UTC + offset
    }
  }
  return bad("expected Z or +HH:MM after the time");
}

}  // namespace

Result<int64_t> ParseBarTime(std::string_view text) {
  EVOLVE_ASSIGN_OR_RETURN(ParsedTime t, ParseTimeParts(text, TimeRules{}));
  return t.utc;
}

std::string FormatBarTime(int64_t unix_seconds, bool intraday) {
  CivilTime c = ToCivilTime(unix_seconds);
  char buf[40];
  if (intraday) {
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d", c.year, c.month, c.day, c.hour, c.minute,
                  c.second);
  } else {
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", c.year, c.month, c.day);
  }
  return buf;
}

namespace {

constexpr size_t kNone = static_cast<size_t>(-1);

// A header name as the rules match it: unquoted, without MetaTrader's
// angle brackets, without a quantmod "AAPL." prefix, lower case, without
// spaces and underscores ("Adj Close" -> "adjclose", "<TICKVOL>" ->
// "tickvol", "AAPL.Open" -> "open").
std::string MatchName(std::string_view field) {
  std::string_view s = Unquote(field);
  if (s.size() >= 2 && s.front() == '<' && s.back() == '>') s = Trim(s.substr(1, s.size() - 2));
  if (size_t dot = s.rfind('.'); dot != std::string_view::npos) s = s.substr(dot + 1);
  std::string out;
  for (char c : s) {
    if (c != ' ' && c != '_') out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

// The names each role is known by, in order of preference (MatchName form).
struct RoleNames {
  const char* role;
  std::vector<const char*> names;
};
const std::vector<RoleNames>& KnownNames() {
  static const std::vector<RoleNames> kNames = {
      {"time", {"date", "datetime", "timestamp", "time", "ts", "windowstart", "index", "t"}},
      {"open", {"open", "o"}},
      {"high", {"high", "h"}},
      {"low", {"low", "l"}},
      {"close", {"close", "c"}},
      {"volume", {"volume", "vol", "v"}},
      {"tick_volume", {"tickvol", "tickvolume"}},
      {"vwap", {"vwap", "vw"}},
      {"trade_count", {"tradecount", "trades", "transactions", "numtrades", "n"}},
      {"adj_close", {"adjclose", "adjustedclose", "adjusted"}},
      {"symbol", {"symbol", "ticker"}},
  };
  return kNames;
}

// Where each role's column is in a file.
struct CsvLayout {
  char delimiter = ',';
  size_t columns = 0;
  size_t time = kNone, time_of_day = kNone, open = kNone, high = kNone, low = kNone, close = kNone,
         volume = kNone, tick_volume = kNone, vwap = kNone, trade_count = kNone, adj_close = kNone,
         symbol = kNone;
  size_t* Role(const std::string& role) {
    if (role == "time") return &time;
    if (role == "time_of_day") return &time_of_day;
    if (role == "open") return &open;
    if (role == "high") return &high;
    if (role == "low") return &low;
    if (role == "close") return &close;
    if (role == "volume") return &volume;
    if (role == "tick_volume") return &tick_volume;
    if (role == "vwap") return &vwap;
    if (role == "trade_count") return &trade_count;
    if (role == "adj_close") return &adj_close;
    if (role == "symbol") return &symbol;
    return nullptr;
  }
};

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

std::string ListNames(const std::vector<std::string_view>& fields) {
  std::string out;
  for (std::string_view f : fields) out += (out.empty() ? "" : ", ") + std::string(Unquote(f));
  return out;
}

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
  for (std::string_view f : fields) names.push_back(MatchName(f));
  const std::string how = std::string("read as ") + DelimiterName(layout->delimiter) + "-separated";

  // yfinance >= 0.2.51: "Price,Close,High,...", then "Ticker,AAPL,AAPL,...",
  // then "Date,,,,,": the names of the first row, the time in column 0.
  if (!names.empty() && names[0] == "price") {
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
        std::string list;
        for (const std::string& t : tickers) list += (list.empty() ? "" : ", ") + t;
        return error("the header holds " + std::to_string(tickers.size()) + " tickers side by side (" + list +
                     "), as yfinance writes several tickers' download: save one ticker per file");
      }
      if (lines.Peek(&next, &number)) {
        SplitFields(next, layout->delimiter, &row);
        const bool rest_empty =
            std::all_of(row.begin() + 1, row.end(), [](std::string_view f) { return Unquote(f).empty(); });
        if (!row.empty() && rest_empty && (MatchName(row[0]) == "date" || MatchName(row[0]) == "datetime")) {
          lines.Next(&next);
          names[0] = MatchName(row[0]);
        }
      }
    }
  }

  // The user's names first: each must be in the header.
  std::set<std::string> given;
  for (const auto& [role, name] : format.columns) {
    size_t* col = layout->Role(role == "date" ? "time" : role);
    if (col == nullptr) return InvalidArgumentError("--bars-columns: unknown role '" + role + "'");
    auto it = std::find_if(fields.begin(), fields.end(), [&](std::string_view f) {
      return Lower(Unquote(f)) == Lower(name) || MatchName(f) == MatchName(name);
    });
    if (it == fields.end()) {
      return error("--bars-columns " + role + "=" + name +
                   ": no such column in the header (its columns: " + ListNames(fields) + ")");
    }
    *col = static_cast<size_t>(it - fields.begin());
    given.insert(role == "date" ? "time" : role);
  }
  // Then the known names, each column taken once.
  std::vector<bool> taken(names.size(), false);
  for (size_t* col : {&layout->time, &layout->time_of_day, &layout->open, &layout->high, &layout->low,
                      &layout->close, &layout->volume, &layout->tick_volume, &layout->vwap,
                      &layout->trade_count, &layout->adj_close, &layout->symbol}) {
    if (*col != kNone) taken[*col] = true;
  }
  for (const RoleNames& r : KnownNames()) {
    size_t* col = layout->Role(r.role);
    if (*col != kNone || given.count(r.role) != 0) continue;
    for (const char* want : r.names) {
      size_t found = kNone;
      for (size_t j = 0; j < names.size(); ++j) {
        if (names[j] != want || taken[j]) continue;
        if (found != kNone)
          return error("column '" + std::string(Unquote(fields[j])) + "' appears twice in the header");
        found = j;
      }
      if (found != kNone) {
        *col = found;
        taken[found] = true;
        break;
      }
    }
  }
  // pandas writes an unnamed index column first: ",open,high,...".
  if (layout->time == kNone && !names.empty() && names[0].empty()) layout->time = 0;
  // Else the time column by content: the first column of the first row that reads as a time.
  if (layout->time == kNone) {
    std::string_view first;
    size_t number = 0;
    std::vector<std::string_view> row;
    if (lines.Peek(&first, &number)) SplitFields(first, layout->delimiter, &row);
    for (size_t j = 0; j < row.size() && j < names.size(); ++j) {
      if (!taken[j] && ParseTimeParts(row[j], rules).ok()) {
        layout->time = j;
        taken[j] = true;
        break;
      }
    }
  }
  if (layout->time == kNone) {
    return error(
        "no time column: expected one named Date, Datetime, Timestamp, Time or ts, or a column of "
        "times in the first row (--bars-columns time=NAME names it); the header, " +
        how + ", has " + std::to_string(names.size()) + (names.size() == 1 ? " column: " : " columns: ") +
        ListNames(fields));
  }
  // Some vendors split the time of day into its own column: Date,Time,...
  if (layout->time_of_day == kNone && names[layout->time] == "date") {
    for (size_t j = 0; j < names.size(); ++j) {
      if (names[j] == "time" && j != layout->time) layout->time_of_day = j;
    }
  }
  if (layout->time_of_day != kNone && layout->time_of_day == layout->time) layout->time_of_day = kNone;
  struct Want {
    const char* name;
    size_t col;
  };
  for (Want w : {Want{"open", layout->open}, Want{"high", layout->high}, Want{"low", layout->low},
                 Want{"close", layout->close}}) {
    if (w.col == kNone) {
      return error(std::string("missing column '") + w.name + "' in the header (" + how + ": " +
                   ListNames(fields) + ")");
    }
  }
  if (layout->volume == kNone && layout->tick_volume != kNone) {
    layout->volume = layout->tick_volume;
    layout->tick_volume = kNone;
  }
  if (layout->volume == kNone) {
    return error("missing column 'volume' in the header (" + how + ": " + ListNames(fields) + ")");
  }
  if (format.adjusted && layout->adj_close == kNone) {
    return error(
        "--adjusted needs an adjusted close column (Adj Close; --bars-columns adj_close=NAME), and the "
        "header has none: " +
        ListNames(fields));
  }
  return Status::Ok();
}

TimeRules RulesOf(const BarFormat& format) {
  TimeRules rules;
  if (format.date_order == "mdy") rules.date_order = 'm';
  if (format.date_order == "dmy") rules.date_order = 'd';
  if (format.epoch_unit == "s") rules.per_second = 1;
  if (format.epoch_unit == "ms") rules.per_second = 1000;
  if (format.epoch_unit == "us") rules.per_second = 1000000;
  if (format.epoch_unit == "ns") rules.per_second = 1000000000;
  return rules;
}

}  // namespace

const std::vector<std::string>& BarColumnRoles() {
  static const std::vector<std::string> kRoles = {"time", "date",        "time_of_day", "open",
                                                  "high", "low",         "close",       "volume",
                                                  "vwap", "trade_count", "adj_close",   "symbol"};
  return kRoles;
}

Status CheckBarFormat(const BarFormat& format) {
  if (!format.date_order.empty() && format.date_order != "mdy" && format.date_order != "dmy") {
    return InvalidArgumentError("--date-order: '" + format.date_order + "' is not mdy or dmy");
  }
  if (!format.epoch_unit.empty() && format.epoch_unit != "s" && format.epoch_unit != "ms" &&
      format.epoch_unit != "us" && format.epoch_unit != "ns") {
    return InvalidArgumentError("--epoch-unit: '" + format.epoch_unit + "' is not s, ms, us or ns");
  }
  for (const auto& [role, name] : format.columns) {
    const auto& roles = BarColumnRoles();
    if (std::find(roles.begin(), roles.end(), role) == roles.end()) {
      std::string list;
      for (const std::string& r : roles) list += (list.empty() ? "" : ", ") + r;
      return InvalidArgumentError("--bars-columns: unknown role '" + role + "' (roles: " + list + ")");
    }
    if (name.empty()) return InvalidArgumentError("--bars-columns: no column name for role '" + role + "'");
  }
  return Status::Ok();
}

Result<std::vector<Bars>> ParseBarsCsvFile(std::string_view text, const std::string& symbol,
                                           const std::string& source_name, const BarFormat& format,
                                           BarReport* report) {
  EVOLVE_RETURN_IF_ERROR(CheckBarFormat(format));
  const std::string& src = source_name;
  BarReport local_report;
  if (report == nullptr) report = &local_report;
  report->source = src;
  if (text.size() >= 3 && std::memcmp(text.data(), "\xEF\xBB\xBF", 3) == 0) text.remove_prefix(3);
  const TimeRules rules = RulesOf(format);

  Lines lines(text);
  std::string_view line;
  if (!lines.Next(&line)) return InvalidArgumentError(src + ": empty file (a header row is required)");
  CsvLayout layout;
  EVOLVE_RETURN_IF_ERROR(ReadHeader(lines, line, src, format, rules, &layout));
  const bool with_vwap = layout.vwap != kNone, with_trades = layout.trade_count != kNone;

  // One BarRows per symbol: the file's, or each of a long file's.
  const size_t approx_rows = static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
  std::map<std::string, std::unique_ptr<BarRows>> by_symbol;
  BarRows* rows = nullptr;
  std::string rows_symbol;
  if (layout.symbol == kNone) {
    rows =
        by_symbol
            .emplace(symbol, std::make_unique<BarRows>(symbol, report, approx_rows, with_vwap, with_trades))
            .first->second.get();
  }

  std::vector<std::string_view> fields;
  fields.reserve(16);
  std::string joined_time;
  BarRow row;
  while (lines.Next(&line)) {
    ++report->rows;
    SplitFields(line, layout.delimiter, &fields);
    const RowPlace place{&src, lines.number(), true};
    if (layout.symbol != kNone) {
      if (fields.size() <= layout.symbol) {
        report->Add(
            "wrong field count", place.Text(),
            "expected " + std::to_string(layout.columns) + " fields, got " + std::to_string(fields.size()));
        continue;
      }
      std::string_view name = Unquote(fields[layout.symbol]);
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
    std::string_view time_text = fields[layout.time];
    if (layout.time_of_day != kNone) {
      joined_time.assign(Unquote(time_text));
      joined_time += ' ';
      joined_time += Unquote(fields[layout.time_of_day]);
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
    struct Field {
      size_t col;
      double* out;
      const char* name;
      bool optional;  // an empty cell is "not given"
    };
    double adj = 0, tick_volume = 0;
    bool ok = true;
    for (Field f :
         {Field{layout.open, &row.open, "open", false}, Field{layout.high, &row.high, "high", false},
          Field{layout.low, &row.low, "low", false}, Field{layout.close, &row.close, "close", false},
          Field{layout.volume, &row.volume, "volume", false},
          Field{layout.tick_volume, &tick_volume, "tick volume", false},
          Field{layout.vwap, &row.vwap, "vwap", true},
          Field{layout.trade_count, &row.trade_count, "trade_count", true},
          Field{format.adjusted ? layout.adj_close : kNone, &adj, "adjusted close", false}}) {
      if (f.col == kNone) continue;
      if (f.optional && Unquote(fields[f.col]).empty()) {
        *f.out = NAN;
        continue;
      }
      if (!ParseDouble(fields[f.col], f.out)) {
        rows->Refuse(
            "bad number", place,
            std::string(f.name) + ": not a finite number: '" + std::string(Unquote(fields[f.col])) + "'");
        ok = false;
        break;
      }
    }
    if (!ok) continue;
    if (!with_vwap) row.vwap = NAN;
    if (!with_trades) row.trade_count = NAN;
    // MetaTrader: <VOL> is the exchange's volume, 0 where the broker has
    // none (currencies); then <TICKVOL>, the number of price changes.
    if (layout.tick_volume != kNone && row.volume == 0) row.volume = tick_volume;
    if (format.adjusted) {
      if (!(adj > 0) || !(row.close > 0)) {
        rows->Refuse(
            "price not positive", place,
            "adjusted close " + ShowNumber(adj) + " or close " + ShowNumber(row.close) + " is not positive");
        continue;
      }
      const double factor = adj / row.close;
      row.open *= factor;
      row.high *= factor;
      row.low *= factor;
      row.close = adj;
    }
    rows->Add(row, place);
  }
  if (report->rows == 0) return InvalidArgumentError(src + ": no rows after the header");
  if (report->refused > 0 && !format.drop_bad_rows) return RefusedRowsError(*report);
  std::vector<Bars> out;
  for (auto& [name, r] : by_symbol) {
    if (r->kept() == 0) continue;
    out.push_back(r->Finish());
  }
  if (out.empty()) {
    return InvalidArgumentError(src + ": every row was refused (" +
                                report->problems.front().examples.front() + ")");
  }
  return out;
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
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return NotFoundError("cannot open " + path + ": " + std::strerror(errno));
  std::string text;
  // Sized once: grown by doubling, a file of gigabytes would briefly take
  // three times its size.
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (!ec) text.reserve(static_cast<size_t>(size) + 1);
  char buf[1 << 16];
  size_t got;
  while ((got = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, got);
  bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) return UnavailableError("cannot read " + path);
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

BarDirectory::BarDirectory(std::string dir, size_t cache_bytes)
    : dir_(std::move(dir)), cache_bytes_(cache_bytes) {}

size_t BarDirectory::cached_symbols() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<size_t>(
      std::count_if(entries_.begin(), entries_.end(), [](const auto& e) { return e.second->bytes > 0; }));
}

size_t BarDirectory::cached_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}

void BarDirectory::Account(const std::shared_ptr<Entry>& entry, size_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  bytes_ = bytes_ - entry->bytes + bytes;
  entry->bytes = bytes;
  entry->last_use = ++ticks_;
  // An entry whose lock is taken is being loaded or read by another thread:
  // passed over (never waited for, since that thread may be waiting for
  // mu_) and the next oldest dropped instead; if only such entries are
  // left, the cache stays over budget until a later Load.
  std::set<const Entry*> busy;
  while (bytes_ > cache_bytes_) {
    Entry* oldest = nullptr;
    for (auto& [key, e] : entries_) {
      if (e == entry || e->bytes == 0 || busy.count(e.get()) != 0) continue;
      if (oldest == nullptr || e->last_use < oldest->last_use) oldest = e.get();
    }
    if (oldest == nullptr) return;  // only the one just loaded (or busy ones) left
    std::unique_lock<std::mutex> loading(oldest->mu, std::try_to_lock);
    if (!loading.owns_lock()) {
      busy.insert(oldest);
      continue;
    }
    bytes_ -= oldest->bytes;
    oldest->bytes = 0;
    oldest->bars.reset();
  }
}

Result<std::vector<std::string>> BarDirectory::Symbols() {
  std::error_code ec;
  if (!fs::is_directory(dir_, ec)) return NotFoundError("bar directory " + dir_ + " does not exist");
  std::map<std::string, std::string> by_symbol;  // symbol -> file name
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& p = it->path();
    if (Lower(p.extension().string()) != ".csv" || !it->is_regular_file(ec)) continue;
    std::string symbol = Upper(p.stem().string());
    auto [pos, inserted] = by_symbol.emplace(symbol, p.filename().string());
    if (!inserted) {
      return InvalidArgumentError("bar directory " + dir_ + ": " + pos->second + " and " +
                                  p.filename().string() + " both name symbol " + symbol);
    }
  }
  if (ec) return UnavailableError("cannot list bar directory " + dir_ + ": " + ec.message());
  std::vector<std::string> symbols;
  for (const auto& [symbol, file] : by_symbol) symbols.push_back(symbol);
  return symbols;
}

namespace {

// The extensions of bar files this build does not read, which a user may
// well have put in the directory: named when a symbol has no .csv file, so
// they are not passed over without a word.
constexpr const char* kUnreadExtensions[] = {".csv.gz", ".csv.zst", ".csv.bz2", ".csv.xz", ".parquet", ".pq"};

}  // namespace

std::string BarDirectory::UnreadFile(const std::string& symbol) {
  const std::string key = Upper(symbol);
  std::error_code ec;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    for (const char* ext : kUnreadExtensions) {
      if (Upper(name) == key + Upper(ext)) return name;
    }
  }
  return "";
}

Result<std::string> BarDirectory::FindFile(const std::string& symbol) {
  std::error_code ec;
  std::string found;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& p = it->path();
    if (Lower(p.extension().string()) != ".csv" || Upper(p.stem().string()) != symbol) continue;
    if (!found.empty()) {
      return InvalidArgumentError("bar directory " + dir_ + ": more than one file for symbol " + symbol);
    }
    found = p.string();
  }
  if (ec && found.empty()) {
    if (!fs::exists(dir_)) return NotFoundError("bar directory " + dir_ + " does not exist");
    return UnavailableError("cannot list bar directory " + dir_ + ": " + ec.message());
  }
  if (found.empty()) {
    const std::string unread = UnreadFile(symbol);
    if (!unread.empty()) {
      return NotFoundError("no bars for symbol " + symbol + " in " + dir_ + ": " + unread +
                           " is there, but only plain .csv files are read (compressed and Parquet files are "
                           "not yet): decompress or export it as " +
                           symbol + ".csv");
    }
    return NotFoundError("no bars for symbol " + symbol + " in " + dir_);
  }
  return found;
}

Result<std::shared_ptr<const Bars>> BarDirectory::Load(const std::string& symbol) {
  // Symbols come from requests; a conservative alphabet keeps them names, not paths.
  bool valid =
      !symbol.empty() && symbol.size() <= 64 && std::all_of(symbol.begin(), symbol.end(), [](char ch) {
        return std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '-' || ch == '_' ||
               ch == '^' || ch == '=';
      });
  if (!valid) return InvalidArgumentError("bad symbol '" + symbol + "'");
  const std::string key = Upper(symbol);

  std::shared_ptr<Entry> entry;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto& slot = entries_[key];
    if (!slot) slot = std::make_shared<Entry>();
    entry = slot;
  }
  std::lock_guard<std::mutex> lock(entry->mu);
  auto stamp = [](const std::string& path, int64_t* size, int64_t* mtime) {
    std::error_code ec;
    auto sz = fs::file_size(path, ec);
    if (ec) return false;
    auto mt = fs::last_write_time(path, ec);
    if (ec) return false;
    *size = static_cast<int64_t>(sz);
    *mtime = static_cast<int64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(mt.time_since_epoch()).count());
    return true;
  };
  if (entry->bars) {
    int64_t size = 0, mtime = 0;
    if (stamp(entry->path, &size, &mtime) && size == entry->size && mtime == entry->mtime_ns) {
      Account(entry, BarsBytes(*entry->bars));
      return entry->bars;
    }
    entry->bars.reset();
  }
  EVOLVE_ASSIGN_OR_RETURN(std::string path, FindFile(key));
  int64_t size = -1, mtime = -1;
  // Stamped before reading: a write racing with the read makes the next Load re-read.
  if (!stamp(path, &size, &mtime)) return NotFoundError("no bars for symbol " + key + " in " + dir_);
  EVOLVE_ASSIGN_OR_RETURN(Bars bars, LoadBarsCsv(path, key));
  entry->bars = std::make_shared<const Bars>(std::move(bars));
  entry->path = path;
  entry->size = size;
  entry->mtime_ns = mtime;
  Account(entry, BarsBytes(*entry->bars));
  return entry->bars;
}

int64_t CompleteAt(const Bars& bars, size_t i) {
  if (bars.bar_seconds > 0) return bars.time[i] + bars.bar_seconds;
  return bars.intraday ? bars.time[i] : bars.time[i] + kSecondsPerDay;
}

int64_t InferBarSeconds(const std::vector<int64_t>& time) {
  if (time.size() < 2) return 0;
  // Few distinct gaps in real data: a small table, searched linearly.
  std::vector<std::pair<int64_t, size_t>> counts;
  for (size_t i = 1; i < time.size(); ++i) {
    const int64_t gap = time[i] - time[i - 1];
    auto it = std::find_if(counts.begin(), counts.end(), [gap](const auto& c) { return c.first == gap; });
    if (it != counts.end()) {
      ++it->second;
    } else if (counts.size() < 256) {
      counts.emplace_back(gap, 1);
    }
  }
  // The most common; on a tie the shortest.
  auto best = counts.front();
  for (const auto& c : counts) {
    if (c.second > best.second || (c.second == best.second && c.first < best.first)) best = c;
  }
  return best.first;
}

std::string TimeframeLabel(int64_t s) {
  if (s <= 0) return "";
  if (s % 604800 == 0) return std::to_string(s / 604800) + "w";
  if (s % kSecondsPerDay == 0) return std::to_string(s / kSecondsPerDay) + "d";
  if (s % 3600 == 0) return std::to_string(s / 3600) + "h";
  if (s % 60 == 0) return std::to_string(s / 60) + "m";
  return std::to_string(s) + "s";
}

int64_t TimeframeSeconds(const std::string& label) {
  if (label.size() < 2) return 0;
  int64_t n = 0;
  auto res = std::from_chars(label.data(), label.data() + label.size() - 1, n);
  if (res.ec != std::errc() || res.ptr != label.data() + label.size() - 1 || n <= 0 || label[0] == '0')
    return 0;
  switch (label.back()) {
    case 's':
      return n;
    case 'm':
      return n * 60;
    case 'h':
      return n * 3600;
    case 'd':
      return n * kSecondsPerDay;
    case 'w':
      return n * 604800;
    default:
      return 0;
  }
}

}  // namespace evolve::engines
