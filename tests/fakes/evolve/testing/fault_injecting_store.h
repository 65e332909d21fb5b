// FaultInjectingStore: any Store (SQLite, PostgreSQL, the fake) with the
// fakes' FaultInjector in front of every call, through StoreWrapper. A test
// scripts failures by method name or "every write after the Nth fails" (a
// crash) exactly as on the FakeStore, but against a real backend: a call
// that is failed never reaches the backend, so it changes nothing.
//
// Thread-safety: as the wrapped store's.
#ifndef EVOLVE_TESTING_FAULT_INJECTING_STORE_H_
#define EVOLVE_TESTING_FAULT_INJECTING_STORE_H_

#include "evolve/store_wrapper.h"
#include "evolve/testing/fault_injector.h"

namespace evolve::testing {

class FaultInjectingStore final : public StoreWrapper {
 public:
  // `target` must outlive this store.
  explicit FaultInjectingStore(Store& target) : StoreWrapper(target) {}

  FaultInjector& faults() { return faults_; }

 protected:
  Status Intercept(const char* method, bool mutating) override { return faults_.Enter(method, mutating); }

 private:
  FaultInjector faults_;
};

}  // namespace evolve::testing

#endif  // EVOLVE_TESTING_FAULT_INJECTING_STORE_H_
