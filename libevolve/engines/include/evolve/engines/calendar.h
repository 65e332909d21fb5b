// The engines' calendar: Unix seconds UTC to and from civil dates in the
// proleptic Gregorian calendar, and ISO 8601 weeks, the buckets of the
// backtester's weekly metrics (docs/simulation.md). bars.h and backtest.h
// include it; it has no other dependency.
//
// The day arithmetic is H. Hinnant's, "chrono-Compatible Low-Level Date
// Algorithms" (days_from_civil, civil_from_days), exact for every date
// whose year fits an int. Days are counted from 1970-01-01, a Thursday;
// times before it are negative and round down to their day.
//
// Thread-safety: pure functions.
#ifndef EVOLVE_ENGINES_CALENDAR_H_
#define EVOLVE_ENGINES_CALENDAR_H_

#include <cstdint>
#include <string>

namespace evolve::engines {

// A Unix time broken down in UTC (proleptic Gregorian calendar).
struct CivilTime {
  int year = 1970;
  int month = 1;  // 1..12
  int day = 1;    // 1..31
  int hour = 0, minute = 0, second = 0;
  int day_of_week = 3;  // 0 = Monday .. 6 = Sunday (1970-01-01 was a Thursday)
};
CivilTime ToCivilTime(int64_t unix_seconds);

// Days since 1970-01-01 of a valid proleptic Gregorian date.
int64_t DaysFromCivil(int year, int month, int day);

// Days in `month` (1..12) of `year`: February has 29 in leap years
// (divisible by 4, except centuries not divisible by 400).
int DaysInMonth(int year, int month);

// "YYYY-MM-DD" of a UTC time stamp.
std::string UtcDate(int64_t unix_seconds);

// ISO 8601 week of a UTC time stamp: weeks start on Monday and belong to
// the year of their Thursday (2020-12-31 and 2021-01-01 are both 2020-W53).
struct IsoWeek {
  int year = 0;
  int week = 0;  // 1..53
  friend bool operator==(const IsoWeek& a, const IsoWeek& b) { return a.year == b.year && a.week == b.week; }
};
IsoWeek IsoWeekOf(int64_t unix_seconds);

// The day (since 1970-01-01) of the Monday that starts the ISO week of a
// UTC time stamp: two time stamps are in the same ISO week exactly when
// they have the same IsoWeekMonday, and (b - a) / 7 weeks lie between the
// weeks of Mondays a <= b.
int64_t IsoWeekMonday(int64_t unix_seconds);

}  // namespace evolve::engines

#endif  // EVOLVE_ENGINES_CALENDAR_H_
