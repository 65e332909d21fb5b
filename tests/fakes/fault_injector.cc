#include "evolve/testing/fault_injector.h"

namespace evolve::testing {

Status FaultInjector::Enter(const std::string& method, bool mutating) {
  std::lock_guard<std::mutex> lock(mu_);
  calls_.push_back(method);
  auto it = scripted_.find(method);
  if (it != scripted_.end() && !it->second.empty()) {
    Scripted& next = it->second.front();
    if (next.skip > 0) {
      --next.skip;
    } else {
      Status status = next.status;
      if (--next.times <= 0) it->second.erase(it->second.begin());
      failed_calls_.push_back(method);
      return status;
    }
  }
  if (mutating) {
    if (crash_after_ >= 0 && mutations_ >= crash_after_) {
      failed_calls_.push_back(method);
      return crash_status_;
    }
    ++mutations_;
  }
  return Status::Ok();
}

void FaultInjector::FailNext(const std::string& method, Status status, int skip, int times) {
  std::lock_guard<std::mutex> lock(mu_);
  scripted_[method].push_back(Scripted{std::move(status), skip, times});
}

void FaultInjector::FailMutationsAfter(int64_t n, Status status) {
  std::lock_guard<std::mutex> lock(mu_);
  crash_after_ = mutations_ + n;
  crash_status_ = std::move(status);
}

void FaultInjector::ClearFailures() {
  std::lock_guard<std::mutex> lock(mu_);
  scripted_.clear();
  crash_after_ = -1;
}

std::vector<std::string> FaultInjector::calls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return calls_;
}

std::vector<std::string> FaultInjector::failed_calls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failed_calls_;
}

int FaultInjector::CallCount(const std::string& method) const {
  std::lock_guard<std::mutex> lock(mu_);
  int n = 0;
  for (const auto& c : calls_) n += (c == method);
  return n;
}

int64_t FaultInjector::mutation_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return mutations_;
}

}  // namespace evolve::testing
