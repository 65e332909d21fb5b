// libpq's own connections: statements with binary parameters and results,
// and the pool that runs a call on one.
#include "postgres_libpq.h"

#include <string>
#include <utility>
#include <vector>

namespace evolve::postgres {
namespace {

struct ClearResult {
  void operator()(PGresult* result) const { PQclear(result); }
};
using ResultPtr = std::unique_ptr<PGresult, ClearResult>;

// libpq's messages end with a newline.
std::string Message(const char* text) {
  std::string message = text != nullptr ? text : "";
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  return message;
}

// The arrays PQexecParams and PQsendQueryParams take.
struct ParamArrays {
  explicit ParamArrays(const std::vector<LibpqParam>& params) {
    for (const LibpqParam& param : params) {
      values.push_back(param.binary ? param.bytes.data() : param.text.c_str());
      lengths.push_back(param.binary ? static_cast<int>(param.bytes.size()) : 0);
      formats.push_back(param.binary ? 1 : 0);
      bytes += param.binary ? param.bytes.size() : param.text.size();
    }
  }
  int size() const { return static_cast<int>(values.size()); }

  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats;
  uint64_t bytes = 0;
};

}  // namespace

Status LibpqSession::Fail(const PGresult* result) {
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const std::string sqlstate = state != nullptr ? state : "";
  const std::string message =
      Message(result != nullptr ? PQresultErrorMessage(result) : PQerrorMessage(conn_));
  if (PQstatus(conn_) != CONNECTION_OK || IsConnectionLoss(sqlstate)) {
    failure_ = Failure::kLost;
    return endpoint_.Lost(message);
  }
  if (IsRetryable(sqlstate)) {
    failure_ = Failure::kRetry;
    return UnavailableError(message);  // retried, or named by LibpqPool::Run's message
  }
  failure_ = Failure::kError;
  return endpoint_.Internal(message);
}

Result<int> LibpqSession::Exec(const char* sql, const std::vector<LibpqParam>& params) {
  const ParamArrays p(params);
  Carried(p.bytes);
  const ResultPtr result(PQexecParams(conn_, sql, p.size(), nullptr, p.values.data(), p.lengths.data(),
                                      p.formats.data(), /*resultFormat=text*/ 0));
  const ExecStatusType status = result != nullptr ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) return Fail(result.get());
  return PQntuples(result.get());
}

Status LibpqSession::ForEachRow(const char* sql, const std::vector<LibpqParam>& params,
                                const std::function<Status(const PGresult& row)>& row) {
  const ParamArrays p(params);
  Carried(p.bytes);
  if (PQsendQueryParams(conn_, sql, p.size(), nullptr, p.values.data(), p.lengths.data(), p.formats.data(),
                        /*resultFormat=binary*/ 1) == 0) {
    return Fail(nullptr);
  }
  if (PQsetSingleRowMode(conn_) == 0) {
    reusable_ = false;  // its statement is still running
    return endpoint_.Internal("libpq refused single-row mode");
  }
  // Every result up to the null one is read, so that the connection is
  // ready for the next statement; unless `row` refused one: the rest are
  // left unread, and the connection is closed.
  Status status = Status::Ok();
  while (PGresult* next = PQgetResult(conn_)) {
    const ResultPtr result(next);
    if (!status.ok()) continue;
    switch (PQresultStatus(next)) {
      case PGRES_SINGLE_TUPLE:
        for (int column = 0; column < PQnfields(next); ++column) Carried(PQgetlength(next, 0, column));
        status = row(*next);
        if (!status.ok()) {
          reusable_ = false;
          return status;
        }
        break;
      case PGRES_TUPLES_OK:  // the end: no rows
        break;
      default:
        status = Fail(next);
    }
  }
  return status;
}

Result<std::unique_ptr<LibpqConnection>> LibpqPool::Borrow() {
  if (std::unique_ptr<LibpqConnection> conn = idle_.Take()) return conn;
  auto conn = std::make_unique<LibpqConnection>(PQconnectdb(endpoint_.conninfo.c_str()));
  if (PQstatus(conn->get()) != CONNECTION_OK) {  // a null connection's status is CONNECTION_BAD
    return UnavailableError("postgres " + endpoint_.url + ": cannot connect: " +
                            Message(conn->get() != nullptr ? PQerrorMessage(conn->get()) : "out of memory"));
  }
  return conn;
}

Status LibpqPool::Run(bool transaction, const std::function<Status(LibpqSession&)>& body) {
  for (int attempt = 0;; ++attempt) {
    EVOLVE_ASSIGN_OR_RETURN(std::unique_ptr<LibpqConnection> conn, Borrow());
    LibpqSession session(conn->get(), endpoint_);
    Status status = transaction ? session.Exec("BEGIN").status() : Status::Ok();
    if (status.ok()) status = body(session);
    if (transaction && status.ok()) {
      status = session.Exec("COMMIT").status();
      if (session.failure_ == LibpqSession::Failure::kLost) {
        idle_.Drop();
        return UnavailableError("postgres " + endpoint_.url +
                                ": connection lost during commit (outcome unknown): " + status.message());
      }
    } else if (transaction && session.failure_ != LibpqSession::Failure::kLost && session.reusable_) {
      (void)session.Exec("ROLLBACK");  // a connection not reused is rolled back by closing it
    }
    switch (session.failure_) {
      case LibpqSession::Failure::kLost:
        // As in ConnectionPool: the idle ones were most likely cut too.
        idle_.Drop();
        return status;
      case LibpqSession::Failure::kRetry:
        if (session.reusable_) idle_.Keep(std::move(conn));
        if (attempt < kTransactionRetries) continue;
        return UnavailableError("postgres " + endpoint_.url + ": gave up after " +
                                std::to_string(attempt + 1) + " attempts: " + status.message());
      case LibpqSession::Failure::kNone:
      case LibpqSession::Failure::kError:
        if (session.reusable_) idle_.Keep(std::move(conn));
        return status;
    }
  }
}

}  // namespace evolve::postgres
