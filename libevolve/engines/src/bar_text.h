// Text as bar sources write it: the trimming, quoting, numbers and times
// that the CSV reader and the conversion of table columns (a time or a
// number stored as text) share, so both read them by the same rules
// (docs/data.md).
#ifndef EVOLVE_ENGINES_BAR_TEXT_H_
#define EVOLVE_ENGINES_BAR_TEXT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "evolve/engines/bars.h"
#include "evolve/status.h"

namespace evolve::engines {

// Integer times from this magnitude on (the year 5138 in seconds) are read
// as milliseconds, from 1000 times it as microseconds, from 10^6 times it as
// nanoseconds (ParseTimeParts).
inline constexpr int64_t kMaxUnixSeconds = 100'000'000'000;

bool IsSpace(char c);
std::string_view Trim(std::string_view s);
// Trimmed, with one pair of surrounding double quotes removed.
std::string_view Unquote(std::string_view s);
std::string Lower(std::string_view s);
std::string Upper(std::string_view s);
// The whole field (unquoted) as a finite double, or false.
bool ParseDouble(std::string_view field, double* out);

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

// The bytes of the file at `path`, read into a buffer of its size.
// Errors: kNotFound when it cannot be opened; kUnavailable when it cannot be read.
Result<std::string> ReadWholeFile(const std::string& path);

// The format's time rules.
TimeRules RulesOf(const BarFormat& format);

// An integer Unix time in the format's unit, or by its magnitude, as Unix
// seconds. Errors: kInvalidArgument when it is not whole seconds.
Result<int64_t> IntegerTime(int64_t v, const TimeRules& rules);

// A time as the rules accept it (bars.h): a date, a date and time with an
// optional Z or offset, or an integer Unix time.
// Errors: kInvalidArgument "bad time '...': what was expected".
Result<ParsedTime> ParseTimeParts(std::string_view text, const TimeRules& rules);

}  // namespace evolve::engines

#endif  // EVOLVE_ENGINES_BAR_TEXT_H_
