// The engines' calendar (calendar.h). Day arithmetic after H. Hinnant,
// "chrono-Compatible Low-Level Date Algorithms",
// http://howardhinnant.github.io/date_algorithms.html.
#include "evolve/engines/calendar.h"

#include <array>
#include <cstdio>

namespace evolve::engines {
namespace {

constexpr int64_t kSecondsPerDay = 86400;

// a / b rounded down (C++ division rounds toward zero).
int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

bool IsLeapYear(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

}  // namespace

int DaysInMonth(int y, int m) {
  static constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeapYear(y) ? 29 : kDays[static_cast<size_t>(m - 1)];
}

int64_t DaysFromCivil(int year, int month, int day) {
  // Howard Hinnant's days_from_civil: exact for the proleptic Gregorian calendar.
  int64_t y = year - (month <= 2 ? 1 : 0);
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

CivilTime ToCivilTime(int64_t unix_seconds) {
  CivilTime t;
  int64_t days = FloorDiv(unix_seconds, kSecondsPerDay);
  int64_t secs = unix_seconds - days * kSecondsPerDay;
  t.hour = static_cast<int>(secs / 3600);
  t.minute = static_cast<int>(secs / 60 % 60);
  t.second = static_cast<int>(secs % 60);
  t.day_of_week = static_cast<int>((days % 7 + 7 + 3) % 7);  // day 0 was a Thursday
  // Howard Hinnant's civil_from_days.
  int64_t z = days + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  t.day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  t.month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  t.year = static_cast<int>(yoe + era * 400 + (t.month <= 2 ? 1 : 0));
  return t;
}

std::string UtcDate(int64_t unix_seconds) {
  const CivilTime c = ToCivilTime(unix_seconds);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", c.year, c.month, c.day);
  return buf;
}

int64_t IsoWeekMonday(int64_t unix_seconds) {
  const int64_t days = FloorDiv(unix_seconds, kSecondsPerDay);
  return days - (days + 3 - FloorDiv(days + 3, 7) * 7);
}

IsoWeek IsoWeekOf(int64_t unix_seconds) {
  // The week belongs to the year of its Thursday; its number counts the
  // weeks from the Thursday of week 1, the year's first Thursday.
  const int64_t thursday = IsoWeekMonday(unix_seconds) + 3;
  const int year = ToCivilTime(thursday * kSecondsPerDay).year;
  const int64_t jan1 = DaysFromCivil(year, 1, 1);
  return IsoWeek{year, static_cast<int>((thursday - jan1) / 7 + 1)};
}

}  // namespace evolve::engines
