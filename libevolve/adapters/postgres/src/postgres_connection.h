// The connections of a PostgreSQL store: where they go (Endpoint), the pool
// the store's calls borrow them from, and Transact, which runs one call as
// one transaction, retries deadlocks and maps every libpqxx exception to a
// Status. Private to evolve::postgres.
//
// libpqxx: only API that 6.4 (Debian 12) and 7.x share.
//
// Thread-safety: Endpoint is immutable; ConnectionPool is safe for
// concurrent use.
#ifndef EVOLVE_POSTGRES_POSTGRES_CONNECTION_H_
#define EVOLVE_POSTGRES_POSTGRES_CONNECTION_H_

#include <pqxx/pqxx>

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "evolve/status.h"

namespace evolve::postgres {

// Deadlocks and serialization failures are retried this many times before
// the call gives up with kUnavailable.
inline constexpr int kTransactionRetries = 5;

// SQLSTATEs of a connection that is gone: class 08 (connection exception)
// and the server shutting down or restarting.
bool IsConnectionLoss(const std::string& sqlstate);

// Deadlock and serialization failure: the transaction may simply be retried.
bool IsRetryable(const std::string& sqlstate);

// The URL with the password elided: from the userinfo of a URL
// (user:secret@host) and from any password=... setting.
std::string ElidePassword(const std::string& url);

// Where a store connects, and how its messages name the server.
struct Endpoint {
  std::string conninfo;  // the caller's URL plus connect_timeout
  std::string url;       // as messages show it: no password

  // `url` (a libpq URL or key=value string) with libpq's connect_timeout.
  static Endpoint Of(const std::string& url, std::chrono::seconds connect_timeout);

  // A new connection, not pooled. Errors: kUnavailable naming the URL.
  Result<std::unique_ptr<pqxx::connection>> Connect() const;

  // kUnavailable "postgres <url>: connection lost: <what>".
  Status Lost(const std::string& what) const;
  // kInternal "postgres <url>: <what>".
  Status Internal(const std::string& what) const;
};

// Wakes a thread that waits for a connection's input (WaitForInput) when
// its owner closes. Without a pipe (pipe2 failed) waits end only at their
// timeouts.
class WakePipe {
 public:
  WakePipe();
  ~WakePipe();
  WakePipe(WakePipe&&) = delete;  // and so the copies: it owns its descriptors

  // Wakes every wait, now and from now on.
  void Wake();
  int read_fd() const { return fds_[0]; }

 private:
  int fds_[2] = {-1, -1};
};

enum class WaitResult { kInput, kWoken, kTimeout };

// Waits up to `timeout` for input on the socket `sock` of a connection (its
// end, or a socket closed meanwhile, counts as input; a negative `sock`
// waits for `wake` alone) or for `wake`. Throws std::runtime_error when
// poll() fails.
WaitResult WaitForInput(int sock, const WakePipe& wake, std::chrono::milliseconds timeout);

// The idle connections of a pool, up to a number: Take one (nullptr when
// none is idle) and Keep it after use. Connections are closed with the
// lock released.
template <typename Connection>
class IdleConnections {
 public:
  explicit IdleConnections(int size) : size_(size) {}
  IdleConnections(const IdleConnections&) = delete;
  IdleConnections& operator=(const IdleConnections&) = delete;

  std::unique_ptr<Connection> Take() {
    std::lock_guard<std::mutex> lock(mu_);
    if (idle_.empty()) return nullptr;
    std::unique_ptr<Connection> conn = std::move(idle_.back());
    idle_.pop_back();
    return conn;
  }

  // Closes `conn` when as many are idle already.
  void Keep(std::unique_ptr<Connection> conn) {
    std::lock_guard<std::mutex> lock(mu_);
    if (static_cast<int>(idle_.size()) < size_) idle_.push_back(std::move(conn));
  }

  // Closes them all.
  void Drop() {
    std::vector<std::unique_ptr<Connection>> dropped;
    std::lock_guard<std::mutex> lock(mu_);
    dropped.swap(idle_);
  }

 private:
  const int size_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mu_
};

// A statement every pooled connection prepares once, by name.
struct PreparedStatement {
  std::string name;
  std::string sql;
};

class ConnectionPool {
 public:
  // Keeps up to `idle_size` idle connections for reuse. A call borrows one
  // (opening a new one when none is idle), so this is not a cap on
  // concurrent calls.
  ConnectionPool(Endpoint endpoint, int idle_size) : endpoint_(std::move(endpoint)), idle_(idle_size) {}
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  const Endpoint& endpoint() const { return endpoint_; }

  // From now on every new connection prepares `statements`; the idle ones,
  // made before, are dropped. (The statements name tables that exist only
  // once the schema is migrated.)
  void PrepareOnConnect(std::vector<PreparedStatement> statements);

  // After one connection was lost the idle ones most likely were too (a
  // server restart cuts them all): drop them, so that the next call
  // connects afresh instead of failing on each in turn.
  void DropIdle() { idle_.Drop(); }

  // Runs `body(tx)` (returning a Status or a Result) in one transaction and
  // commits when it returns OK; otherwise everything it did is rolled back.
  // Deadlocks are retried; a lost connection is kUnavailable; any other
  // database error kInternal.
  template <typename F>
  auto Transact(F&& body) -> decltype(body(std::declval<pqxx::work&>()));

 private:
  Result<std::unique_ptr<pqxx::connection>> Borrow();
  void GiveBack(std::unique_ptr<pqxx::connection> conn) { idle_.Keep(std::move(conn)); }

  const Endpoint endpoint_;
  IdleConnections<pqxx::connection> idle_;
  std::mutex mu_;
  std::vector<PreparedStatement> prepared_;  // guarded by mu_
};

template <typename F>
auto ConnectionPool::Transact(F&& body) -> decltype(body(std::declval<pqxx::work&>())) {
  using R = decltype(body(std::declval<pqxx::work&>()));
  for (int attempt = 0;; ++attempt) {
    EVOLVE_ASSIGN_OR_RETURN(std::unique_ptr<pqxx::connection> conn, Borrow());
    try {
      std::optional<R> result;
      {
        pqxx::work tx(*conn);
        result.emplace(body(tx));
        if (result->ok()) tx.commit();
      }  // a transaction not committed is rolled back here
      GiveBack(std::move(conn));
      return std::move(*result);
    } catch (const pqxx::sql_error& e) {
      if (IsConnectionLoss(e.sqlstate())) {
        DropIdle();
        return endpoint_.Lost(e.what());
      }
      if (IsRetryable(e.sqlstate())) {
        GiveBack(std::move(conn));
        if (attempt < kTransactionRetries) continue;
        return UnavailableError("postgres " + endpoint_.url + ": gave up after " +
                                std::to_string(attempt + 1) + " attempts: " + e.what());
      }
      GiveBack(std::move(conn));
      return endpoint_.Internal(e.what());
    } catch (const pqxx::in_doubt_error& e) {
      DropIdle();
      return UnavailableError("postgres " + endpoint_.url +
                              ": connection lost during commit (outcome unknown): " + e.what());
    } catch (const pqxx::broken_connection& e) {
      DropIdle();
      return endpoint_.Lost(e.what());
    } catch (const std::exception& e) {
      // The connection's state is unknown: it is not reused.
      return endpoint_.Internal(e.what());
    }
  }
}

}  // namespace evolve::postgres

#endif  // EVOLVE_POSTGRES_POSTGRES_CONNECTION_H_
