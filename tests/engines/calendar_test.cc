// The engines' calendar (calendar.h): civil dates against the C library's
// timegm/gmtime_r over eight centuries, ISO 8601 weeks at the year
// boundaries, and UTC dates before and after the epoch.
#include "evolve/engines/calendar.h"
#include "engines/test_data.h"

#include <doctest/doctest.h>

#include <ctime>
#include <string>

namespace evolve::engines {
namespace {

TEST_CASE("calendar: civil dates agree with the C library from 1600 to 2400") {
  const int64_t first = UnixDate(1600, 1, 1) / 86400;
  const int64_t last = UnixDate(2400, 12, 31) / 86400;
  int64_t mismatches = 0;
  for (int64_t day = first; day <= last; ++day) {
    const time_t t = static_cast<time_t>(day * 86400 + 45296);  // 12:34:56
    std::tm expected{};
    gmtime_r(&t, &expected);
    const CivilTime c = ToCivilTime(day * 86400 + 45296);
    const bool same = c.year == expected.tm_year + 1900 && c.month == expected.tm_mon + 1 &&
                      c.day == expected.tm_mday && c.hour == 12 && c.minute == 34 && c.second == 56 &&
                      c.day_of_week == (expected.tm_wday + 6) % 7 &&
                      DaysFromCivil(c.year, c.month, c.day) == day;
    mismatches += same ? 0 : 1;
  }
  CHECK(mismatches == 0);
}

TEST_CASE("calendar: days in a month, with the leap-year rule") {
  CHECK(DaysInMonth(2023, 2) == 28);
  CHECK(DaysInMonth(2024, 2) == 29);
  CHECK(DaysInMonth(1900, 2) == 28);  // a century not divisible by 400
  CHECK(DaysInMonth(2000, 2) == 29);
  CHECK(DaysInMonth(2024, 4) == 30);
  CHECK(DaysInMonth(2024, 12) == 31);
}

TEST_CASE("calendar: ISO weeks, including the year boundary") {
  CHECK(IsoWeekOf(UnixDate(2020, 12, 31)) == IsoWeek{2020, 53});
  CHECK(IsoWeekOf(UnixDate(2021, 1, 1)) == IsoWeek{2020, 53});
  CHECK(IsoWeekOf(UnixDate(2021, 1, 3) + 86399) == IsoWeek{2020, 53});  // Sunday 23:59:59
  CHECK(IsoWeekOf(UnixDate(2021, 1, 4)) == IsoWeek{2021, 1});
  CHECK(IsoWeekOf(UnixDate(2019, 12, 30)) == IsoWeek{2020, 1});  // Monday, belongs to 2020
  CHECK(IsoWeekOf(UnixDate(2024, 12, 30)) == IsoWeek{2025, 1});
  CHECK(IsoWeekOf(UnixDate(2016, 1, 3)) == IsoWeek{2015, 53});
  CHECK(IsoWeekOf(UnixDate(1969, 12, 31)) == IsoWeek{1970, 1});  // before the epoch
}

TEST_CASE("calendar: the Monday of a week buckets time stamps by ISO week") {
  const int64_t monday = UnixDate(2020, 12, 28) / 86400;
  CHECK(IsoWeekMonday(UnixDate(2020, 12, 28)) == monday);
  CHECK(IsoWeekMonday(UnixDate(2021, 1, 3) + 86399) == monday);  // the Sunday's last second
  CHECK(IsoWeekMonday(UnixDate(2021, 1, 4)) == monday + 7);
  CHECK(IsoWeekMonday(UnixDate(2020, 12, 27) + 86399) == monday - 7);
  // Before the epoch: 1969-12-31 (a Wednesday) is in the week of Monday 1969-12-29.
  CHECK(IsoWeekMonday(-1) == -3);
  CHECK(IsoWeekMonday(0) == -3);  // 1970-01-01, a Thursday
  for (int64_t t = UnixDate(2019, 12, 1); t < UnixDate(2020, 2, 1); t += 3 * 3600 + 17) {
    const int64_t m = IsoWeekMonday(t);
    REQUIRE(ToCivilTime(m * 86400).day_of_week == 0);
    REQUIRE(t >= m * 86400);
    REQUIRE(t < (m + 7) * 86400);
    REQUIRE(IsoWeekOf(t) == IsoWeekOf(m * 86400));
  }
}

TEST_CASE("calendar: UTC dates") {
  CHECK(UtcDate(UnixDate(2020, 2, 29) + 3600) == "2020-02-29");
  CHECK(UtcDate(-1) == "1969-12-31");
  CHECK(UtcDate(0) == "1970-01-01");
  CHECK(UtcDate(UnixDate(2024, 12, 31) + 86399) == "2024-12-31");
}

}  // namespace
}  // namespace evolve::engines
