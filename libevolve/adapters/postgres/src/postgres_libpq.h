// Connections of libpq itself, beside libpqxx's, for what libpqxx 6.4
// cannot do: read results in binary format (a bytea column as its bytes,
// not as hex text of twice the size), send binary parameters from the
// caller's memory without a copy, and receive a large result one row at a
// time (single-row mode) instead of whole. The store's artifacts travel
// here. Private to evolve::postgres.
//
// The same rules as ConnectionPool::Transact: one call is one transaction
// (or one statement), deadlocks and serialization failures are retried, a
// lost connection is kUnavailable naming the URL, any other database error
// kInternal. Statements take parameters only ($1, $2, ...).
//
// Thread-safety: LibpqPool is safe for concurrent use; a LibpqSession
// belongs to the one call it is lent to.
#ifndef EVOLVE_POSTGRES_POSTGRES_LIBPQ_H_
#define EVOLVE_POSTGRES_POSTGRES_LIBPQ_H_

#include <libpq-fe.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "evolve/status.h"
#include "postgres_connection.h"

namespace evolve::postgres {

// A connection that carried a message larger than this is closed after its
// call rather than kept idle: libpq keeps its buffers at their largest.
inline constexpr uint64_t kLibpqKeepIdleBytes = uint64_t{1} << 20;

// A statement's parameter: text, or bytes sent in binary format straight
// from the caller's memory (which must outlive the statement).
struct LibpqParam {
  static LibpqParam Text(std::string text) { return LibpqParam{std::move(text), {}, false}; }
  static LibpqParam Binary(std::string_view bytes) { return LibpqParam{{}, bytes, true}; }

  std::string text;
  std::string_view bytes;
  bool binary = false;
};

// One libpq connection, closed with it.
class LibpqConnection {
 public:
  explicit LibpqConnection(PGconn* conn) : conn_(conn) {}
  LibpqConnection(const LibpqConnection&) = delete;
  LibpqConnection& operator=(const LibpqConnection&) = delete;
  ~LibpqConnection() { PQfinish(conn_); }

  PGconn* get() const { return conn_; }

 private:
  PGconn* conn_;
};

// A connection lent to one call (LibpqPool::Run).
class LibpqSession {
 public:
  LibpqSession(PGconn* conn, const Endpoint& endpoint) : conn_(conn), endpoint_(endpoint) {}
  LibpqSession(const LibpqSession&) = delete;
  LibpqSession& operator=(const LibpqSession&) = delete;

  // Runs `sql` and returns the number of rows it returned (text format).
  Result<int> Exec(const char* sql, const std::vector<LibpqParam>& params = {});

  // Runs `sql` and passes each row it returns to `row` as it arrives, every
  // column in binary format (PQgetvalue is the value's bytes; integers are
  // big-endian), so the result is never held whole. A non-OK from `row`
  // ends the call with it (the connection is then closed, not reused).
  Status ForEachRow(const char* sql, const std::vector<LibpqParam>& params,
                    const std::function<Status(const PGresult& row)>& row);

 private:
  friend class LibpqPool;
  enum class Failure { kNone, kLost, kRetry, kError };

  // The Status of a failed statement (`result` may be null), classified.
  Status Fail(const PGresult* result);
  // Notes a message of `bytes`, which may make the connection not worth keeping.
  void Carried(uint64_t bytes) {
    if (bytes > kLibpqKeepIdleBytes) reusable_ = false;
  }

  PGconn* conn_;
  const Endpoint& endpoint_;
  Failure failure_ = Failure::kNone;
  bool reusable_ = true;
};

class LibpqPool {
 public:
  // Keeps up to `idle_size` idle connections, as ConnectionPool does.
  LibpqPool(Endpoint endpoint, int idle_size) : endpoint_(std::move(endpoint)), idle_(idle_size) {}
  LibpqPool(const LibpqPool&) = delete;
  LibpqPool& operator=(const LibpqPool&) = delete;

  // Runs `body(session)` on a pooled connection, in one transaction
  // committed when it returns OK (rolled back otherwise) when
  // `transaction`, else with each statement on its own.
  Status Run(bool transaction, const std::function<Status(LibpqSession&)>& body);

 private:
  Result<std::unique_ptr<LibpqConnection>> Borrow();

  const Endpoint endpoint_;
  IdleConnections<LibpqConnection> idle_;
};

}  // namespace evolve::postgres

#endif  // EVOLVE_POSTGRES_POSTGRES_LIBPQ_H_
