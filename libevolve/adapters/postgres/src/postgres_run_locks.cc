// The run locks of a PostgreSQL store: one lock session per store, its
// keeper thread, and the lock objects.
#include "postgres_run_locks.h"

#include <chrono>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "evolve/fingerprint.h"
#include "evolve/log.h"

namespace evolve::postgres {
namespace {

// How long the keeper waits on the session's socket before it looks again,
// and between reconnection attempts while the server is away.
constexpr std::chrono::milliseconds kKeeperInterval(1000);

// "run-a, run-b" for the log.
std::string RunNames(const std::map<int64_t, std::string>& held) {
  std::string names;
  for (const auto& entry : held) names += (names.empty() ? "" : ", ") + entry.second;
  return names;
}

}  // namespace

int64_t RunLockKey(const std::string& run_id) {
  const std::string digest = Sha256Hex("evolve/run/" + run_id);
  const uint64_t bits = std::stoull(digest.substr(0, 16), nullptr, 16);
  int64_t key;
  std::memcpy(&key, &bits, sizeof key);  // two's complement, as bit(64)::bigint reads it
  return key;
}

// Holds one key on the session until destroyed; then the run is free again
// in this process too (`here_` goes after the session's unlock).
class RunLockSession::HeldLock final : public RunLock {
 public:
  HeldLock(std::unique_ptr<RunLock> here, std::shared_ptr<RunLockSession> session, int64_t key)
      : RunLock(here->run_id()), here_(std::move(here)), session_(std::move(session)), key_(key) {}
  ~HeldLock() override { session_->Release(key_); }

 private:
  std::unique_ptr<RunLock> here_;
  std::shared_ptr<RunLockSession> session_;
  int64_t key_;
};

std::shared_ptr<RunLockSession> RunLockSession::Create(Endpoint endpoint) {
  return std::shared_ptr<RunLockSession>(new RunLockSession(std::move(endpoint)));
}

RunLockSession::~RunLockSession() {
  std::thread keeper;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    keeper.swap(keeper_);
  }
  wake_.Wake();
  if (keeper.joinable()) keeper.join();
}

Result<std::unique_ptr<RunLock>> RunLockSession::TryLock(const std::string& run_id) {
  EVOLVE_ASSIGN_OR_RETURN(std::unique_ptr<RunLock> here, here_.TryLock(run_id));
  const int64_t key = RunLockKey(run_id);
  std::lock_guard<std::mutex> lock(mu_);
  // The session holds the key for another run already: asking the server
  // would stack it, not refuse it.
  if (held_.count(key) > 0) return RunBusyError(run_id);
  for (int attempt = 0;; ++attempt) {
    EVOLVE_RETURN_IF_ERROR(ConnectLocked());
    try {
      if (!ExecLocked("pg_try_advisory_lock", key)) return RunBusyError(run_id);
      break;
    } catch (const std::exception& e) {
      // Lost, found out only now: once more on a new session.
      LoseLocked(e.what());
      if (attempt > 0) return endpoint_.Lost(e.what());
    }
  }
  held_.emplace(key, run_id);
  StartKeeperLocked();
  return std::unique_ptr<RunLock>(new HeldLock(std::move(here), shared_from_this(), key));
}

void RunLockSession::Release(int64_t key) {
  std::lock_guard<std::mutex> lock(mu_);
  // Not held: lost with a session and taken by another process meanwhile.
  if (held_.erase(key) == 0 || conn_ == nullptr) return;
  try {
    if (!ExecLocked("pg_advisory_unlock", key)) {
      Log(LogLevel::kWarning, "postgres run lock: the session did not hold a lock it should have",
          {{"url", endpoint_.url}, {"key", std::to_string(key)}});
    }
  } catch (const std::exception& e) {
    LoseLocked(e.what());  // and with it this lock, which is what was wanted
  }
}

bool RunLockSession::ExecLocked(const char* function, int64_t key) {
  pqxx::nontransaction tx(*conn_);
  const bool done = tx.exec_params1(std::string("SELECT ") + function + "($1)", key)[0].as<bool>();
  // libpqxx 6 may reconnect by itself: the locks would be gone with the
  // first session, unnoticed.
  if (!conn_->is_open() || conn_->backendpid() != session_pid_) {
    throw pqxx::broken_connection("the run-lock session was replaced");
  }
  return done;
}

void RunLockSession::LoseLocked(const std::string& why) {
  conn_.reset();
  if (held_.empty()) return;
  Log(LogLevel::kError,
      "postgres run-lock session lost: the database released the run locks of this process; other processes "
      "may take these runs until they are locked again",
      {{"url", endpoint_.url}, {"runs", RunNames(held_)}, {"error", why}});
}

Status RunLockSession::ConnectLocked() {
  if (conn_ != nullptr) return Status::Ok();
  EVOLVE_ASSIGN_OR_RETURN(conn_, endpoint_.Connect());
  session_pid_ = conn_->backendpid();
  if (held_.empty()) return Status::Ok();
  // Take back what the lost session held.
  std::map<int64_t, std::string> lost;
  try {
    for (auto it = held_.begin(); it != held_.end();) {
      if (ExecLocked("pg_try_advisory_lock", it->first)) {
        ++it;
        continue;
      }
      lost.insert(*it);
      it = held_.erase(it);
    }
  } catch (const std::exception& e) {
    LoseLocked(e.what());
    return endpoint_.Lost(e.what());
  }
  if (!held_.empty()) {
    Log(LogLevel::kWarning, "postgres run-lock session back: run locks taken again",
        {{"url", endpoint_.url}, {"runs", RunNames(held_)}});
  }
  if (!lost.empty()) {
    Log(LogLevel::kError,
        "postgres run locks lost for good: other processes took these runs while the lock session was down; "
        "this process's locks of them are void",
        {{"url", endpoint_.url}, {"runs", RunNames(lost)}});
  }
  return Status::Ok();
}

void RunLockSession::StartKeeperLocked() {
  if (!keeper_.joinable()) keeper_ = std::thread([this] { Keep(); });
}

void RunLockSession::Keep() {
  while (true) {
    int sock = -1;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      // While runs are held, a lost session is repaired at once.
      if (!held_.empty() && ConnectLocked().ok()) sock = conn_->sock();
    }
    WaitResult waited = WaitResult::kTimeout;
    try {
      waited = WaitForInput(sock, wake_, kKeeperInterval);
    } catch (const std::exception&) {
      std::this_thread::sleep_for(kKeeperInterval);  // poll failed: look again later
    }
    if (waited == WaitResult::kWoken) return;
    if (waited != WaitResult::kInput) continue;
    // Input on an idle session: the server closed it (or sent a notice).
    std::lock_guard<std::mutex> lock(mu_);
    if (conn_ == nullptr || conn_->sock() != sock) continue;
    try {
      conn_->get_notifs();  // reads it; throws when the connection is gone
      if (!conn_->is_open()) throw pqxx::broken_connection("the run-lock session closed");
    } catch (const std::exception& e) {
      LoseLocked(e.what());
    }
  }
}

}  // namespace evolve::postgres
