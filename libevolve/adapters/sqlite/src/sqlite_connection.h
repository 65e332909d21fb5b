// A thin RAII layer over one sqlite3 connection: cached prepared
// statements, typed binding and reading, BEGIN IMMEDIATE transactions, and
// the mapping of SQLite's result codes to evolve::Status with messages that
// name the file. Private to evolve::sqlite.
//
// Thread-safety: none. SqliteStore serialises every use of a Connection (and
// of its Statements) on its own mutex; the connection is opened NOMUTEX.
#ifndef EVOLVE_SQLITE_SQLITE_CONNECTION_H_
#define EVOLVE_SQLITE_SQLITE_CONNECTION_H_

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "evolve/clock.h"
#include "evolve/status.h"

namespace evolve::sqlite {

class Connection;

// A cached prepared statement, borrowed for one use: bind, step, read;
// reset and unbound when it goes out of scope, ready for the next use.
// Binding errors (out of memory, too big) surface from the next Step.
class Statement {
 public:
  Statement(Connection* connection, sqlite3_stmt* stmt) : connection_(connection), stmt_(stmt) {}
  Statement(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement& operator=(Statement&&) = delete;
  ~Statement();

  // Parameters are numbered from 1, as in SQL's ?1. Text and blobs are
  // copied, so temporaries are fine.
  void Bind(int index, const std::string& text);
  void Bind(int index, const char* text);
  void Bind(int index, int64_t value);
  void Bind(int index, int value) { Bind(index, static_cast<int64_t>(value)); }
  void Bind(int index, double value);
  void Bind(int index, TimePoint time) { Bind(index, ToUnixMicros(time)); }
  // NULL when unset.
  void Bind(int index, const std::optional<double>& value);
  void Bind(int index, const std::optional<TimePoint>& time);
  // Binds `values` to ?1, ?2, ... in order.
  template <typename... T>
  void BindAll(const T&... values) {
    int index = 0;
    (Bind(++index, values), ...);
  }
  void BindNull(int index);
  void BindBlob(int index, const std::string& bytes);
  // A blob that is not copied: `bytes` must stay valid until the statement
  // is reset (this Statement goes out of scope).
  void BindBorrowedBlob(int index, std::string_view bytes);

  // Advances to the next row: true when a row is ready, false when done.
  Result<bool> Step();
  // Runs a statement to its end, ignoring rows (an INSERT, an UPDATE).
  Status Run();
  // The result code of the last failed Step (extended), for callers that
  // map a constraint violation to a contract code.
  int last_error() const { return last_error_; }

  // Reads the columns `first`, `first + 1`, ... into `fields` (as BindAll
  // binds): std::string, int, int64_t, double, bool (non-zero), TimePoint,
  // or an optional double or TimePoint, each as the reader below says.
  template <typename... T>
  void ReadAll(int first, T&... fields) const {
    int column = first;
    (Read(column++, &fields), ...);
  }

  // Columns are numbered from 0. NULL reads as "", 0, or nullopt.
  bool IsNull(int column) const;
  std::string Text(int column) const;
  int64_t Int64(int column) const;
  int Int(int column) const { return static_cast<int>(Int64(column)); }
  double Double(int column) const;
  std::optional<double> OptionalDouble(int column) const;
  TimePoint Time(int column) const { return FromUnixMicros(Int64(column)); }
  std::optional<TimePoint> OptionalTime(int column) const;
  std::string Blob(int column) const;

 private:
  void Read(int column, std::string* out) const { *out = Text(column); }
  void Read(int column, int* out) const { *out = Int(column); }
  void Read(int column, int64_t* out) const { *out = Int64(column); }
  void Read(int column, double* out) const { *out = Double(column); }
  void Read(int column, bool* out) const { *out = Int64(column) != 0; }
  void Read(int column, TimePoint* out) const { *out = Time(column); }
  void Read(int column, std::optional<double>* out) const { *out = OptionalDouble(column); }
  void Read(int column, std::optional<TimePoint>* out) const { *out = OptionalTime(column); }

 private:
  void Check(int rc);

  Connection* connection_;
  sqlite3_stmt* stmt_;
  int bind_error_ = SQLITE_OK;
  int last_error_ = SQLITE_OK;
};

// Reads blobs of one column straight into the caller's memory, row by row
// (incremental blob I/O: no copy of the blob is made on the way). Closed
// when it goes out of scope.
class BlobReader {
 public:
  BlobReader(Connection* connection, const char* table, const char* column)
      : connection_(connection), table_(table), column_(column) {}
  BlobReader(const BlobReader&) = delete;
  BlobReader& operator=(const BlobReader&) = delete;
  ~BlobReader();

  // Moves to the blob of row `rowid` and returns its size.
  Result<int64_t> Open(int64_t rowid);
  // Copies the whole blob Open moved to into `out` (of its size).
  Status ReadAll(char* out);

 private:
  Connection* connection_;
  const char* table_;
  const char* column_;
  sqlite3_blob* blob_ = nullptr;
};

class Connection {
 public:
  // Opens `path` read-write, creating it if missing. Fails rather than
  // silently opening read-only when the file cannot be written.
  static Result<std::unique_ptr<Connection>> Open(const std::string& path,
                                                  std::chrono::milliseconds busy_timeout);

  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  const std::string& path() const { return path_; }
  // The absolute name of the database file, as SQLite resolved `path`;
  // empty for a database without a file (in memory, temporary).
  std::string FileName() const;

  // The cached statement for `sql` (prepared once, persistent).
  Result<Statement> Prepare(const std::string& sql);

  // Runs one or more statements that return nothing (migrations).
  Status Exec(const std::string& sql);

  // The Status for SQLite result code `rc`; `what` says what was being done.
  // Every message starts with the path.
  Status Error(int rc, const std::string& what) const;

  // Rows changed by the last INSERT, UPDATE or DELETE.
  int Changes() const { return sqlite3_changes(db_); }

  // True while a transaction is open.
  bool InTransaction() const { return sqlite3_get_autocommit(db_) == 0; }

 private:
  Connection(sqlite3* db, std::string path, std::chrono::milliseconds busy_timeout)
      : db_(db), path_(std::move(path)), busy_timeout_(busy_timeout) {}

  friend class BlobReader;

  sqlite3* db_;
  std::string path_;
  std::chrono::milliseconds busy_timeout_;
  std::unordered_map<std::string, sqlite3_stmt*> statements_;
};

// BEGIN IMMEDIATE ... COMMIT: the write lock is taken up front (waiting up
// to the busy timeout for other processes), so a transaction never fails
// half-way on a lock upgrade. Rolled back unless committed.
class Transaction {
 public:
  explicit Transaction(Connection& connection) : connection_(connection) {}
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  Status Begin();
  Status Commit();

 private:
  Connection& connection_;
  bool open_ = false;
};

}  // namespace evolve::sqlite

#endif  // EVOLVE_SQLITE_SQLITE_CONNECTION_H_
