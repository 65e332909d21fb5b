// StoreWrapper: a Store that forwards every call to another Store, after
// asking Intercept() (as leveldb's EnvWrapper does for its Env). Subclass it
// to change a few behaviours of any backend without touching the backend:
// fail calls on cue (fault injection: the crash-at-every-write test runs on
// SQLite and PostgreSQL this way), count or log them, slow them down.
//
// Intercept() is called first with the method's name and whether the method
// writes; when it returns an error, the call returns that error and the
// target is not called, so an intercepted call changes nothing. Subscribe,
// Unsubscribe and clock() are forwarded without asking.
//
// Thread-safety: as the target's, provided Intercept() is thread-safe.
#ifndef EVOLVE_STORE_WRAPPER_H_
#define EVOLVE_STORE_WRAPPER_H_

#include "evolve/store.h"
#include "evolve/store_backend.h"

namespace evolve {

class StoreWrapper : public Store {
 public:
  // `target` must outlive the wrapper.
  explicit StoreWrapper(Store& target) : target_(target) {}

  Store& target() { return target_; }

  EVOLVE_STORE_OVERRIDES

 protected:
  // `method` is the Store method's name ("CreateRun"); `mutating` is true
  // for the methods that write. The default lets every call through.
  virtual Status Intercept(const char* method, bool mutating);

 private:
  Store& target_;
};

}  // namespace evolve

#endif  // EVOLVE_STORE_WRAPPER_H_
