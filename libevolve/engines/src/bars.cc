#include "evolve/engines/bars.h"

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
#include <set>
#include <system_error>
#include <utility>

namespace evolve::engines {
namespace {

// The memory parsed bars take: six columns of 8 bytes per bar.
size_t BarsBytes(const Bars& bars) { return bars.size() * 6 * sizeof(double) + sizeof(Bars); }

namespace fs = std::filesystem;

constexpr int64_t kSecondsPerDay = 86400;
// Integer times from this magnitude on (the year 5138 in seconds) are read
// as milliseconds, from 1000 times it as microseconds, from 10^6 times it as
// nanoseconds (ParseBarTime).
constexpr int64_t kMaxUnixSeconds = 100'000'000'000;

// Shortest text that reads back as `v`: messages quote the file's numbers.
std::string Num(double v) {
  char buf[32];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, res.ptr);
}

// A parsed time for messages: the date alone for a midnight time.
std::string ShowTime(int64_t t) {
  return t % kSecondsPerDay == 0 ? FormatBarTime(t, false) : FormatBarTime(t, true) + " UTC";
}

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

Result<ParsedTime> ParseTimeParts(std::string_view text) {
  std::string_view s = Unquote(text);
  if (s.empty()) return InvalidArgumentError("empty time");
  auto bad = [&](const char* why) {
    return InvalidArgumentError("bad time '" + std::string(s) + "': " + why);
  };
  // An integer Unix time: all digits (optionally signed). Its unit is read
  // from its magnitude (docs/features.md): seconds below 1e11 (the year
  // 5138), milliseconds below 1e14, microseconds below 1e17, nanoseconds
  // above; it must be whole seconds.
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
      if (magnitude >= u.below && u.below != INT64_MAX) continue;
      if (v % u.per_second != 0) {
        return InvalidArgumentError("bad time '" + std::string(s) + "': Unix " + u.name +
                                    " that are not whole seconds (bar times are whole seconds)");
      }
      return ParsedTime{v / u.per_second, v / u.per_second, false};
    }
  }
  int year = 0, month = 0, day = 0;
  if (s.size() < 10 || !Digits(s, 0, 4, &year) || s[4] != '-' || !Digits(s, 5, 2, &month) || s[7] != '-' ||
      !Digits(s, 8, 2, &day)) {
    return bad("expected YYYY-MM-DD[ HH:MM[:SS]], YYYY-MM-DDTHH:MM:SS[Z] or Unix seconds");
  }
  if (month < 1 || month > 12) return bad("month out of range");
  if (day < 1 || day > DaysInMonth(year, month)) return bad("day out of range");
  int64_t t = DaysFromCivil(year, month, day) * kSecondsPerDay;
  if (s.size() == 10) return ParsedTime{t, t, false};
  if (s[10] != ' ' && s[10] != 'T' && s[10] != 't') return bad("unexpected text after the date");
  int hour = 0, minute = 0, second = 0;
  if (!Digits(s, 11, 2, &hour) || s.size() < 16 || s[13] != ':' || !Digits(s, 14, 2, &minute)) {
    return bad("expected HH:MM after the date");
  }
  size_t pos = 16;
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
  EVOLVE_ASSIGN_OR_RETURN(ParsedTime t, ParseTimeParts(text));
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

Result<Bars> ParseBarsCsv(std::string_view text, const std::string& symbol, const std::string& source_name) {
  const std::string& src = source_name;
  if (text.size() >= 3 && std::memcmp(text.data(), "\xEF\xBB\xBF", 3) == 0) text.remove_prefix(3);

  Bars bars;
  bars.symbol = symbol;
  // Rough row count, so the columns are allocated once.
  size_t approx_rows = static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1;

  std::vector<std::string_view> fields;
  fields.reserve(16);
  constexpr size_t kNone = static_cast<size_t>(-1);
  size_t n_columns = 0;
  size_t col_time_of_day = kNone;  // a separate Time column next to Date
  std::string joined_time;
  size_t col_time = kNone, col_open = kNone, col_high = kNone, col_low = kNone, col_close = kNone,
         col_volume = kNone;
  bool have_header = false;
  char delimiter = ',';
  // Whether every time so far is a local midnight written with an offset
  // (yfinance's daily "2015-01-02 00:00:00-05:00"): such a file holds
  // daily bars of those dates, not bars at 05:00 UTC. Their dates are
  // kept while it is so.
  bool local_midnights = true;
  std::vector<int64_t> local_dates;
  size_t line_no = 0;
  size_t pos = 0;

  auto error = [&](const std::string& what) {
    return InvalidArgumentError(src + ":" + std::to_string(line_no) + ": " + what);
  };

  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string_view::npos ? text.size() : nl;
    std::string_view line = text.substr(pos, end - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (Trim(line).empty()) continue;
    if (!have_header) delimiter = DetectDelimiter(line);
    SplitFields(line, delimiter, &fields);

    if (!have_header) {
      have_header = true;
      n_columns = fields.size();
      // The time column: the first of these names, in this order of preference.
      static constexpr std::array<const char*, 4> kTimeNames = {"date", "datetime", "timestamp", "time"};
      std::vector<std::string> names;
      for (std::string_view f : fields) names.push_back(Lower(Unquote(f)));
      for (const char* want : kTimeNames) {
        auto it = std::find(names.begin(), names.end(), want);
        if (it != names.end()) {
          col_time = static_cast<size_t>(it - names.begin());
          break;
        }
      }
      if (col_time == kNone) {
        return error("no time column (Date, Datetime, Timestamp or Time) in the header, read as " +
                     std::string(DelimiterName(delimiter)) + "-separated: " + std::to_string(names.size()) +
                     (names.size() == 1 ? " column" : " columns"));
      }
      // Some vendors split the time of day into its own column: Date,Time,...
      if (names[col_time] == "date" && std::count(names.begin(), names.end(), "datetime") == 0 &&
          std::count(names.begin(), names.end(), "timestamp") == 0) {
        auto it = std::find(names.begin(), names.end(), "time");
        if (it != names.end()) col_time_of_day = static_cast<size_t>(it - names.begin());
      }
      struct Want {
        const char* name;
        size_t* col;
      };
      for (Want w : {Want{"open", &col_open}, Want{"high", &col_high}, Want{"low", &col_low},
                     Want{"close", &col_close}, Want{"volume", &col_volume}}) {
        for (size_t j = 0; j < names.size(); ++j) {
          if (names[j] != w.name) continue;
          if (*w.col != kNone)
            return error(std::string("column '") + w.name + "' appears twice in the header");
          *w.col = j;
        }
        if (*w.col == kNone) return error(std::string("missing column '") + w.name + "' in the header");
      }
      bars.time.reserve(approx_rows);
      for (auto* v : {&bars.open, &bars.high, &bars.low, &bars.close, &bars.volume}) v->reserve(approx_rows);
      continue;
    }

    if (fields.size() != n_columns) {
      return error("expected " + std::to_string(n_columns) + " fields, got " + std::to_string(fields.size()));
    }
    std::string_view time_text = fields[col_time];
    if (col_time_of_day != kNone) {
      joined_time.assign(Unquote(time_text));
      joined_time += ' ';
      joined_time += Unquote(fields[col_time_of_day]);
      time_text = joined_time;
    }
    auto parsed = ParseTimeParts(time_text);
    if (!parsed.ok()) return error(parsed.status().message());
    if (local_midnights && parsed->offset && parsed->local % kSecondsPerDay == 0) {
      local_dates.push_back(parsed->local);
    } else if (local_midnights) {
      local_midnights = false;
      std::vector<int64_t>().swap(local_dates);
    }
    const int64_t time = parsed->utc;
    if (local_midnights && local_dates.size() >= 2 &&
        local_dates.back() <= local_dates[local_dates.size() - 2]) {
      return error("date " + FormatBarTime(local_dates.back(), false) +
                   (local_dates.back() == local_dates[local_dates.size() - 2] ? " again" : " out of order") +
                   " (the rows are daily bars stamped at local midnight; the previous row's date is " +
                   FormatBarTime(local_dates[local_dates.size() - 2], false) + ")");
    }
    double o, h, l, c, v;
    struct Num_ {
      size_t col;
      double* out;
      const char* name;
    };
    for (Num_ f : {Num_{col_open, &o, "open"}, Num_{col_high, &h, "high"}, Num_{col_low, &l, "low"},
                   Num_{col_close, &c, "close"}, Num_{col_volume, &v, "volume"}}) {
      if (!ParseDouble(fields[f.col], f.out)) {
        return error(std::string(f.name) + ": not a finite number: '" + std::string(Unquote(fields[f.col])) +
                     "'");
      }
    }
    if (!bars.time.empty() && time <= bars.time.back()) {
      if (time == bars.time.back()) return error("duplicate time " + ShowTime(time));
      return error("time " + ShowTime(time) + " is before the previous row's " + ShowTime(bars.time.back()) +
                   " (rows must be in increasing time order)");
    }
    for (auto [value, name] :
         {std::pair<double, const char*>{o, "open"}, {h, "high"}, {l, "low"}, {c, "close"}}) {
      if (!(value > 0)) return error(std::string(name) + " " + Num(value) + " is not positive");
    }
    if (v < 0) return error("volume " + Num(v) + " is negative");
    if (h < l) return error("high " + Num(h) + " < low " + Num(l));
    const double lo = l * (1 - kOhlcTolerance), hi = h * (1 + kOhlcTolerance);
    if (o < lo || o > hi)
      return error("open " + Num(o) + " outside [low " + Num(l) + ", high " + Num(h) + "]");
    if (c < lo || c > hi)
      return error("close " + Num(c) + " outside [low " + Num(l) + ", high " + Num(h) + "]");
    bars.time.push_back(time);
    bars.open.push_back(o);
    bars.high.push_back(h);
    bars.low.push_back(l);
    bars.close.push_back(c);
    bars.volume.push_back(v);
    if (time % kSecondsPerDay != 0) bars.intraday = true;
  }
  if (!have_header) return InvalidArgumentError(src + ": empty file (a header row is required)");
  if (bars.time.empty()) return InvalidArgumentError(src + ": no rows after the header");
  if (local_midnights) {
    bars.time = std::move(local_dates);
    bars.intraday = false;
  }
  return bars;
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

int64_t CompleteAt(int64_t time, bool intraday) { return intraday ? time : time + 86400; }

}  // namespace evolve::engines
