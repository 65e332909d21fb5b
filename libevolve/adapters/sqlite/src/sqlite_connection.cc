#include "sqlite_connection.h"

#include <string>
#include <utility>

namespace evolve::sqlite {

// ---------------------------------------------------------------- Statement

Statement::Statement(Statement&& other) noexcept
    : connection_(other.connection_),
      stmt_(std::exchange(other.stmt_, nullptr)),
      bind_error_(other.bind_error_),
      last_error_(other.last_error_) {}

Statement::~Statement() {
  if (stmt_ == nullptr) return;
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

void Statement::Check(int rc) {
  if (rc != SQLITE_OK && bind_error_ == SQLITE_OK) bind_error_ = rc;
}

void Statement::Bind(int index, const std::string& text) {
  Check(sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
}

void Statement::Bind(int index, const char* text) { Bind(index, std::string(text)); }

void Statement::Bind(int index, int64_t value) { Check(sqlite3_bind_int64(stmt_, index, value)); }

void Statement::Bind(int index, double value) { Check(sqlite3_bind_double(stmt_, index, value)); }

void Statement::Bind(int index, const std::optional<double>& value) {
  if (value.has_value()) {
    Bind(index, *value);
  } else {
    BindNull(index);
  }
}

void Statement::Bind(int index, const std::optional<TimePoint>& time) {
  if (time.has_value()) {
    Bind(index, *time);
  } else {
    BindNull(index);
  }
}

void Statement::BindNull(int index) { Check(sqlite3_bind_null(stmt_, index)); }

void Statement::BindBlob(int index, const std::string& bytes) {
  // data() is never null, so an empty string binds an empty blob, not NULL.
  Check(sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT));
}

void Statement::BindBorrowedBlob(int index, std::string_view bytes) {
  Check(sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_STATIC));
}

Result<bool> Statement::Step() {
  if (bind_error_ != SQLITE_OK) return connection_->Error(bind_error_, "binding a parameter");
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  last_error_ = rc;
  std::string sql = sqlite3_sql(stmt_);
  constexpr size_t kShown = 60;
  if (sql.size() > kShown) sql = sql.substr(0, kShown) + "...";
  return connection_->Error(rc, "running \"" + sql + "\"");
}

Status Statement::Run() {
  while (true) {
    Result<bool> row = Step();
    if (!row.ok()) return row.status();
    if (!*row) return Status::Ok();
  }
}

bool Statement::IsNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

std::string Statement::Text(int column) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  if (text == nullptr) return std::string();
  return std::string(text, static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

int64_t Statement::Int64(int column) const { return sqlite3_column_int64(stmt_, column); }

double Statement::Double(int column) const { return sqlite3_column_double(stmt_, column); }

std::optional<double> Statement::OptionalDouble(int column) const {
  if (IsNull(column)) return std::nullopt;
  return Double(column);
}

std::optional<TimePoint> Statement::OptionalTime(int column) const {
  if (IsNull(column)) return std::nullopt;
  return Time(column);
}

std::string Statement::Blob(int column) const {
  const void* bytes = sqlite3_column_blob(stmt_, column);
  if (bytes == nullptr) return std::string();  // NULL, or an empty blob
  return std::string(static_cast<const char*>(bytes),
                     static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

// --------------------------------------------------------------- BlobReader

BlobReader::~BlobReader() { sqlite3_blob_close(blob_); }  // a no-op on nullptr

Result<int64_t> BlobReader::Open(int64_t rowid) {
  const int rc = blob_ == nullptr ? sqlite3_blob_open(connection_->db_, "main", table_, column_, rowid,
                                                      /*flags=read-only*/ 0, &blob_)
                                  : sqlite3_blob_reopen(blob_, rowid);
  if (rc != SQLITE_OK) {
    return connection_->Error(rc,
                              std::string("opening the blob of ") + table_ + " row " + std::to_string(rowid));
  }
  return sqlite3_blob_bytes(blob_);
}

Status BlobReader::ReadAll(char* out) {
  const int rc = sqlite3_blob_read(blob_, out, sqlite3_blob_bytes(blob_), 0);
  if (rc != SQLITE_OK) return connection_->Error(rc, std::string("reading a blob of ") + table_);
  return Status::Ok();
}

// --------------------------------------------------------------- Connection

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& path,
                                                     std::chrono::milliseconds busy_timeout) {
  sqlite3* db = nullptr;
  // NOMUTEX: SqliteStore serialises calls itself; SQLite's own mutex would
  // only be taken a second time.
  const int rc = sqlite3_open_v2(path.c_str(), &db,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (db == nullptr) return UnavailableError(path + ": cannot open: " + sqlite3_errstr(rc));
  // Owns the handle from here, so every early return closes it.
  std::unique_ptr<Connection> connection(new Connection(db, path, busy_timeout));
  if (rc != SQLITE_OK) return connection->Error(rc, "cannot open");
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, static_cast<int>(busy_timeout.count()));
  // SQLite falls back to read-only when the file is write-protected; the
  // store would then fail on its first write, far from the cause.
  if (sqlite3_db_readonly(db, "main") == 1) {
    return UnavailableError(path + ": opened read-only (the file is not writable by this user)");
  }
  return connection;
}

Connection::~Connection() {
  for (auto& entry : statements_) sqlite3_finalize(entry.second);
  sqlite3_close(db_);
}

std::string Connection::FileName() const {
  const char* name = sqlite3_db_filename(db_, "main");
  return name != nullptr ? name : "";
}

Result<Statement> Connection::Prepare(const std::string& sql) {
  auto it = statements_.find(sql);
  if (it == statements_.end()) {
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size() + 1),
                                      SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(stmt);
      return Error(rc, "preparing \"" + sql + "\"");
    }
    it = statements_.emplace(sql, stmt).first;
  }
  return Statement(this, it->second);
}

Status Connection::Exec(const std::string& sql) {
  const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return Error(rc, "executing SQL");
  return Status::Ok();
}

Status Connection::Error(int rc, const std::string& what) const {
  const std::string detail = what + ": " + (db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc));
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return UnavailableError(path_ + ": database is locked by another process (waited " +
                              std::to_string(busy_timeout_.count()) + "ms)");
    case SQLITE_CANTOPEN:
      return UnavailableError(path_ + ": " + detail +
                              " (does the directory exist, and may this user write to it?)");
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return UnavailableError(path_ + ": " + detail + " (the file or its directory is not writable)");
    case SQLITE_FULL:
      return UnavailableError(path_ + ": " + detail + " (the disk is full)");
    case SQLITE_IOERR:
    case SQLITE_NOMEM:
      return UnavailableError(path_ + ": " + detail);
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      return InternalError(path_ + ": not a SQLite database or corrupt: " + detail);
    default:
      return InternalError(path_ + ": " + detail + " (SQLite error " + std::to_string(rc) + ")");
  }
}

// -------------------------------------------------------------- Transaction

Transaction::~Transaction() {
  // After some errors (disk full, I/O) SQLite has rolled back already.
  if (!open_ || !connection_.InTransaction()) return;
  Result<Statement> rollback = connection_.Prepare("ROLLBACK");
  if (rollback.ok()) (void)rollback->Run();
}

Status Transaction::Begin() {
  EVOLVE_ASSIGN_OR_RETURN(Statement begin, connection_.Prepare("BEGIN IMMEDIATE"));
  EVOLVE_RETURN_IF_ERROR(begin.Run());
  open_ = true;
  return Status::Ok();
}

Status Transaction::Commit() {
  EVOLVE_ASSIGN_OR_RETURN(Statement commit, connection_.Prepare("COMMIT"));
  EVOLVE_RETURN_IF_ERROR(commit.Run());
  open_ = false;
  return Status::Ok();
}

}  // namespace evolve::sqlite
