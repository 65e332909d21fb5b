// FakeStore: an in-memory Store that implements the whole Store contract
// (ordering, leases, fencing, idempotence, atomicity), with every call
// recorded and failures injectable through faults().
//
// It is the reference the real backends are tested against
// (tests/store_contract.h runs the same cases on every Store), and a
// convenient store for users' unit tests. Not persistent.
//
// A call that fails through the injector changes nothing.
//
// Thread-safety: safe for concurrent use.
#ifndef EVOLVE_TESTING_FAKE_STORE_H_
#define EVOLVE_TESTING_FAKE_STORE_H_

#include <memory>

#include "evolve/clock.h"
#include "evolve/store.h"
#include "evolve/store_backend.h"
#include "evolve/testing/fault_injector.h"

namespace evolve::testing {

class FakeStore final : public Store {
 public:
  // `clock` stamps times and judges leases; must outlive the store.
  explicit FakeStore(Clock& clock);
  ~FakeStore() override;

  FaultInjector& faults();

  // Every Store method; RunLocks are exclusive within this process (a fake
  // has no other).
  EVOLVE_STORE_OVERRIDES

 private:
  struct State;
  void TakeBackFromDeadHolder(Job& job, const std::string& death, TimePoint now,
                              std::vector<QueueEvent>* events);
  std::unique_ptr<State> state_;
};

}  // namespace evolve::testing

#endif  // EVOLVE_TESTING_FAKE_STORE_H_
