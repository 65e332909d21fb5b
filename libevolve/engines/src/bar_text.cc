#include "bar_text.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "evolve/engines/calendar.h"

namespace evolve::engines {
namespace {

constexpr int64_t kSecondsPerDay = 86400;

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

}  // namespace

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

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

bool ParseDouble(std::string_view field, double* out) {
  std::string_view s = Unquote(field);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  auto res = std::from_chars(s.data(), s.data() + s.size(), *out);
  return res.ec == std::errc() && res.ptr == s.data() + s.size() && std::isfinite(*out);
}

// Reads the date at the start of `s`: year first ("2015-01-02",
// "2015.01.02", "2015/01/02") or, under rules.date_order, year last
// ("1/2/2015", "02.01.2015"). Sets *end to the first position after it.
namespace {

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

}  // namespace

Result<int64_t> IntegerTime(int64_t v, const TimeRules& rules) {
  // Its unit is the format's, or read from its magnitude (docs/data.md):
  // seconds below 1e11 (the year 5138), milliseconds below 1e14,
  // microseconds below 1e17, nanoseconds above; it must be whole seconds.
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
      return InvalidArgumentError("bad time '" + std::to_string(v) + "': Unix " + u.name +
                                  " that are not whole seconds (bar times are whole seconds)");
    }
    return v / u.per_second;
  }
  return InvalidArgumentError("bad time '" + std::to_string(v) + "'");
}

Result<ParsedTime> ParseTimeParts(std::string_view text, const TimeRules& rules) {
  std::string_view s = Unquote(text);
  if (s.empty()) return InvalidArgumentError("empty time");
  auto bad = [&](const char* why) {
    return InvalidArgumentError("bad time '" + std::string(s) + "': " + why);
  };
  // An integer Unix time: all digits (optionally signed).
  bool all_digits = std::all_of(s.begin() + (s.front() == '-' ? 1 : 0), s.end(),
                                [](char c) { return c >= '0' && c <= '9'; });
  if (all_digits && s.size() > (s.front() == '-' ? 1u : 0u)) {
    int64_t v = 0;
    auto res = std::from_chars(s.data(), s.data() + s.size(), v);
    if (res.ec != std::errc() || res.ptr != s.data() + s.size()) return bad("not a 64-bit integer");
    EVOLVE_ASSIGN_OR_RETURN(int64_t t, IntegerTime(v, rules));
    return ParsedTime{t, t, false};
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

Result<std::string> ReadWholeFile(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return NotFoundError("cannot open " + path + ": " + std::strerror(errno));
  std::string text;
  // Sized once: grown by doubling, a file of gigabytes would briefly take
  // three times its size.
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (!ec) text.reserve(static_cast<size_t>(size) + 1);
  char buf[1 << 16];
  size_t got;
  while ((got = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, got);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) return UnavailableError("cannot read " + path);
  return text;
}

}  // namespace evolve::engines
