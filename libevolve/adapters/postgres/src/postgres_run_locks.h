// The run locks of a PostgreSQL store (RunLocks): session advisory locks of
// the database, every run this store locks on ONE connection of its own
// (the lock session), so a process holding 50 runs uses one connection,
// not 50. Private to evolve::postgres.
//
// Key: a run's lock is pg_try_advisory_lock(bigint) on the first 64 bits of
// SHA-256("evolve/run/" + run_id), read big-endian as a signed integer; in
// SQL, ('x' || left(encode(sha256(convert_to('evolve/run/' || id, 'UTF8')),
// 'hex'), 16))::bit(64)::bigint, which pg_locks shows as classid (high 32
// bits), objid (low 32 bits), objsubid 1. Single-bigint keys are a key
// space apart from libevolve's two-int transaction locks (postgres_schema.h).
// Two runs share a key with probability 2^-64 per pair: among n runs locked
// at once, about n^2 / 2^65 (1e-13 for 2,000 runs). A shared key never lets
// two holders step one run; it only makes the second of the two runs look
// busy while the first is held.
//
// A session's advisory locks stack (locking a key twice on one session
// succeeds twice), so the session itself keeps what it holds:
// InProcessRunLocks refuses a second holder of a run in this process, and a
// key held already (another run with the same key) is refused without
// asking the server. Holders in other processes, or other stores of this
// process (each has its own session), are refused by the server.
//
// Released when the lock object is destroyed (pg_advisory_unlock), and by
// the server when the session ends: the holding process died (kill -9
// included), or the connection broke.
//
// When the lock session breaks (server restart, network, the backend was
// terminated), the server has released every lock it held: each live lock
// object of this store is stale, and another process may take its run.
// The store notices at once when it is idle (a keeper thread waits for
// input on the session's socket: a closed connection is input) and
// otherwise at its next use, logs an ERROR naming the runs, reconnects
// (retrying every second while the server is away; the next TryLockRun also
// reconnects) and takes the held runs' locks back. A run that another
// process took meanwhile cannot be taken back: that is logged as an ERROR
// naming the run, and its lock object stays void (destroying it releases
// nothing). The engine's writes are idempotent or compare-and-set, so two
// steppers of one run in that window waste work but corrupt nothing.
//
// Thread-safety: safe for concurrent use. Lock objects may outlive the
// store (they share the session).
#ifndef EVOLVE_POSTGRES_POSTGRES_RUN_LOCKS_H_
#define EVOLVE_POSTGRES_POSTGRES_RUN_LOCKS_H_

#include <pqxx/pqxx>

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "evolve/status.h"
#include "evolve/store.h"
#include "evolve/store_support.h"
#include "postgres_connection.h"

namespace evolve::postgres {

// The advisory lock key of `run_id` (see above).
int64_t RunLockKey(const std::string& run_id);

class RunLockSession : public std::enable_shared_from_this<RunLockSession> {
 public:
  // Connects on the first TryLock.
  static std::shared_ptr<RunLockSession> Create(Endpoint endpoint);
  RunLockSession(const RunLockSession&) = delete;
  RunLockSession& operator=(const RunLockSession&) = delete;
  ~RunLockSession();

  // RunLocks::TryLockRun. Errors: kFailedPrecondition when another holder
  // has the run (RunBusyError); kUnavailable when the server cannot be
  // reached (after one reconnection attempt).
  Result<std::unique_ptr<RunLock>> TryLock(const std::string& run_id);

 private:
  class HeldLock;  // the lock objects

  explicit RunLockSession(Endpoint endpoint) : endpoint_(std::move(endpoint)) {}

  // Unlocks `key` (a lock object is destroyed).
  void Release(int64_t key);

  // A live session: connects when there is none, and then takes back the
  // locks of held_. REQUIRES: mu_ held.
  Status ConnectLocked();
  // The session is gone: the server released its locks. REQUIRES: mu_ held.
  void LoseLocked(const std::string& why);
  // pg_try_advisory_lock / pg_advisory_unlock of `key` on the session.
  // Throws pqxx::broken_connection when the session is gone or was replaced.
  // REQUIRES: mu_ held, conn_ set.
  bool ExecLocked(const char* function, int64_t key);
  // Starts the keeper unless it runs. REQUIRES: mu_ held.
  void StartKeeperLocked();
  // The keeper thread: watches the session while locks are held.
  void Keep();

  const Endpoint endpoint_;
  InProcessRunLocks here_;

  std::mutex mu_;
  std::unique_ptr<pqxx::connection> conn_;  // guarded by mu_; null until connected and after a loss
  int session_pid_ = 0;                     // the backend of conn_; guarded by mu_
  // key -> run id, for every live lock object whose lock is held on conn_
  // (or was, before a loss not yet repaired). Guarded by mu_.
  std::map<int64_t, std::string> held_;
  bool stopping_ = false;  // guarded by mu_
  std::thread keeper_;     // started with the first lock; guarded by mu_
  WakePipe wake_;
};

}  // namespace evolve::postgres

#endif  // EVOLVE_POSTGRES_POSTGRES_RUN_LOCKS_H_
