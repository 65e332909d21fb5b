#include "evolve/clock.h"

#include <cstdio>
#include <ctime>
#include <thread>

namespace evolve {
namespace {

class SystemClock final : public Clock {
 public:
  TimePoint Now() override { return std::chrono::system_clock::now(); }

  void SleepFor(Duration d) override {
    if (d.count() > 0) std::this_thread::sleep_for(d);
  }

  void WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                 TimePoint deadline) override {
    // wait_for measures on the steady clock, so a wall-clock jump cannot
    // stretch the wait; the caller re-checks Now() against its deadline.
    Duration remaining = deadline - Now();
    if (remaining.count() > 0) cv.wait_for(lock, remaining);
  }
};

// Real-time slice a ManualClock waiter sleeps before re-checking the manual
// time. Advance() cannot notify a condition variable it does not own without
// racing its waiter, so waiters poll; tests only pay this when they wait.
constexpr auto kManualWaitSlice = std::chrono::milliseconds(1);

}  // namespace

Clock* RealClock() {
  static SystemClock* clock = new SystemClock();  // never destroyed: usable at exit
  return clock;
}

ManualClock::ManualClock()
    : now_(std::chrono::system_clock::from_time_t(1767225600)) {}  // 2026-01-01T00:00:00Z

ManualClock::ManualClock(TimePoint start) : now_(start) {}

TimePoint ManualClock::Now() {
  std::lock_guard<std::mutex> lock(mu_);
  return now_;
}

void ManualClock::SleepFor(Duration d) {
  if (d.count() > 0) Advance(d);
}

void ManualClock::WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                            TimePoint deadline) {
  if (Now() >= deadline) return;
  cv.wait_for(lock, kManualWaitSlice);
}

void ManualClock::Advance(Duration d) {
  std::lock_guard<std::mutex> lock(mu_);
  now_ += d;
}

void ManualClock::Set(TimePoint t) {
  std::lock_guard<std::mutex> lock(mu_);
  now_ = t;
}

void Event::Notify() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    notified_ = true;
  }
  cv_.notify_all();
}

void Event::Reset() {
  std::lock_guard<std::mutex> lock(mu_);
  notified_ = false;
}

bool Event::IsNotified() const {
  std::lock_guard<std::mutex> lock(mu_);
  return notified_;
}

bool Event::WaitFor(Clock& clock, Duration timeout) { return WaitUntil(clock, clock.Now() + timeout); }

bool Event::WaitUntil(Clock& clock, TimePoint deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  while (!notified_) {
    if (clock.Now() >= deadline) return false;
    clock.WaitUntil(lock, cv_, deadline);
  }
  return true;
}

int64_t ToUnixMicros(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}

TimePoint FromUnixMicros(int64_t micros) {
  return TimePoint(std::chrono::duration_cast<Duration>(std::chrono::microseconds(micros)));
}

std::string FormatTime(TimePoint t) {
  int64_t micros = ToUnixMicros(t);
  int64_t secs = micros / 1000000;
  int64_t frac = micros % 1000000;
  if (frac < 0) {  // before 1970: floor, not truncate
    frac += 1000000;
    secs -= 1;
  }
  std::time_t tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(frac));
  return buf;
}

bool ParseTime(const std::string& text, TimePoint* out) {
  int year, month, day, hour, minute, second;
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &year, &month, &day, &hour, &minute, &second,
                  &consumed) != 6 ||
      consumed != 19) {
    return false;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return false;
  }
  size_t pos = 19;
  int64_t micros = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (digits < 6) micros = micros * 10 + (text[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0 || digits > 9) return false;
    for (int d = digits; d < 6; ++d) micros *= 10;
  }
  if (pos + 1 != text.size() || text[pos] != 'Z') return false;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  std::time_t secs = timegm(&tm);
  *out = FromUnixMicros(static_cast<int64_t>(secs) * 1000000 + micros);
  return true;
}

}  // namespace evolve
