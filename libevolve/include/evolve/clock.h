// Clock: the only source of "now" and of waiting in libevolve.
//
// Leases, heartbeats, polling and timestamps all go through a Clock, so tests
// drive time with a ManualClock instead of sleeping. Event is a one-shot,
// resettable signal whose waits are measured on a Clock.
//
// Thread-safety: Clock implementations are safe for concurrent use.
#ifndef EVOLVE_CLOCK_H_
#define EVOLVE_CLOCK_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

namespace evolve {

using TimePoint = std::chrono::system_clock::time_point;
using Duration = std::chrono::system_clock::duration;

class Clock {
 public:
  Clock() = default;
  Clock(const Clock&) = delete;
  Clock& operator=(const Clock&) = delete;
  virtual ~Clock() = default;

  // Wall-clock time (UTC).
  virtual TimePoint Now() = 0;

  // Blocks the calling thread for `d` of this clock's time.
  virtual void SleepFor(Duration d) = 0;

  // Waits on `cv` (with `lock` held on entry and exit) until notified,
  // spuriously woken, or this clock reaches `deadline`. Callers loop on their
  // own predicate and on Now() < deadline.
  virtual void WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                         TimePoint deadline) = 0;
};

// The process-wide real clock (system_clock). Never null; never deleted.
Clock* RealClock();

// A clock that only moves when told to. SleepFor(d) advances it by d at once,
// so single-threaded loops finish without real waiting; Advance()/Set() move
// it from a test and wake every WaitUntil whose deadline has passed.
class ManualClock final : public Clock {
 public:
  // Starts at 2026-01-01T00:00:00Z unless given a start.
  ManualClock();
  explicit ManualClock(TimePoint start);

  TimePoint Now() override;
  void SleepFor(Duration d) override;
  void WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                 TimePoint deadline) override;

  void Advance(Duration d);
  void Set(TimePoint t);

 private:
  std::mutex mu_;
  TimePoint now_;  // guarded by mu_
};

// A resettable flag that threads can wait for, e.g. "stop requested" or
// "work may be available". Waits are measured on the given Clock.
//
// Thread-safety: all methods may be called concurrently.
class Event {
 public:
  Event() = default;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  void Notify();
  void Reset();
  bool IsNotified() const;

  // Returns true as soon as the event is notified, false after `timeout` of
  // `clock` time passed without notification.
  bool WaitFor(Clock& clock, Duration timeout);
  // As WaitFor, until an absolute `deadline` of `clock`.
  bool WaitUntil(Clock& clock, TimePoint deadline);

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool notified_ = false;  // guarded by mu_
};

// RFC 3339 UTC with microseconds: "2026-01-01T00:00:00.000000Z".
std::string FormatTime(TimePoint t);
// Parses what FormatTime writes, and also "...Z" without fraction or with
// 1-9 fraction digits. Returns false on anything else.
bool ParseTime(const std::string& text, TimePoint* out);

// Microseconds since the Unix epoch, for stores that keep integers.
int64_t ToUnixMicros(TimePoint t);
TimePoint FromUnixMicros(int64_t micros);

}  // namespace evolve

#endif  // EVOLVE_CLOCK_H_
