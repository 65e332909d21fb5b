// FaultInjector: the one mechanism every fake uses to record calls and to
// fail them on cue.
//
// A fake calls Enter("MethodName", mutating) at the top of each method and
// returns the Status it gets when that is not OK. A test scripts failures by
// method name ("fail the 2nd UpdateRun with Unavailable") or by count of
// mutating calls ("every write after the 7th fails": a crash).
//
// Thread-safety: all methods may be called concurrently.
#ifndef EVOLVE_TESTING_FAULT_INJECTOR_H_
#define EVOLVE_TESTING_FAULT_INJECTOR_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "evolve/status.h"

namespace evolve::testing {

class FaultInjector {
 public:
  // Records the call and returns the failure scripted for it, if any.
  Status Enter(const std::string& method, bool mutating = false);

  // The next `times` calls of `method`, after `skip` calls that succeed,
  // fail with `status`.
  void FailNext(const std::string& method, Status status, int skip = 0, int times = 1);

  // After `n` more mutating calls succeed, every mutating call fails with
  // `status` until ClearFailures(): what a crash looks like from outside.
  void FailMutationsAfter(int64_t n, Status status);

  void ClearFailures();

  std::vector<std::string> calls() const;         // method names, in call order
  std::vector<std::string> failed_calls() const;  // the calls that were failed, in order
  int CallCount(const std::string& method) const;
  int64_t mutation_count() const;  // successful mutating calls so far

 private:
  struct Scripted {
    Status status;
    int skip;
    int times;
  };
  mutable std::mutex mu_;
  std::vector<std::string> calls_;
  std::vector<std::string> failed_calls_;
  std::map<std::string, std::vector<Scripted>> scripted_;
  int64_t mutations_ = 0;
  int64_t crash_after_ = -1;  // -1: no crash scripted
  Status crash_status_;
};

}  // namespace evolve::testing

#endif  // EVOLVE_TESTING_FAULT_INJECTOR_H_
