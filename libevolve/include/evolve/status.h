// Status and Result<T>: how every fallible libevolve call reports failure.
//
// No exception crosses the public API. A call returns Status (or Result<T>,
// which holds either a value or a non-OK Status). The code says what the caller
// may do about the failure:
//
//   kInvalidArgument     the input is wrong; fix it, do not retry.
//   kNotFound            the named thing does not exist.
//   kAlreadyExists       the thing to create exists already.
//   kFailedPrecondition  the system is not in a state that allows the call
//                        (e.g. resuming a finished run); do not retry as is.
//   kAborted             a concurrent change won (lease lost, run status changed
//                        under us); retry at a higher level after re-reading.
//   kUnavailable         a dependency is down or the connection broke; the same
//                        call may be retried, with backoff.
//   kDeadlineExceeded    the call did not finish in time; it may have happened.
//   kCancelled           the operation was cancelled by the caller or the user.
//   kInternal            a bug or a broken invariant.
//
// Thread-safety: Status and Result are values; distinct objects may be used
// from distinct threads, a shared one only for reading.
#ifndef EVOLVE_STATUS_H_
#define EVOLVE_STATUS_H_

#include <cassert>
#include <optional>
#include <ostream>
#include <string>
#include <utility>

namespace evolve {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,
  kNotFound,
  kAlreadyExists,
  kFailedPrecondition,
  kAborted,
  kUnavailable,
  kDeadlineExceeded,
  kCancelled,
  kInternal,
  kResourceExhausted,  // a limit is reached (e.g. a scheduler's max_runs); try elsewhere or later
};

// "OK", "INVALID_ARGUMENT", ... (stable; used in logs and JSON error codes).
const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  // An OK status.
  Status() = default;
  Status(StatusCode code, std::string message);

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "INVALID_ARGUMENT: thresholds: must not be empty", or "OK".
  std::string ToString() const;

  // Returns a copy whose message is "<context>: <message>"; OK stays OK.
  Status WithContext(const std::string& context) const;

  // True for the codes after which the same call may succeed if retried
  // (kUnavailable, kDeadlineExceeded).
  bool IsRetryable() const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }
  friend bool operator!=(const Status& a, const Status& b) { return !(a == b); }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

std::ostream& operator<<(std::ostream& os, const Status& status);

Status InvalidArgumentError(std::string message);
Status NotFoundError(std::string message);
Status AlreadyExistsError(std::string message);
Status FailedPreconditionError(std::string message);
Status AbortedError(std::string message);
Status UnavailableError(std::string message);
Status DeadlineExceededError(std::string message);
Status CancelledError(std::string message);
Status InternalError(std::string message);
Status ResourceExhaustedError(std::string message);

// Either a T or a non-OK Status.
//
// REQUIRES: a Result is never constructed from an OK Status (that would be a
// value-less success); doing so yields kInternal.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(const T& value) : value_(value) {}             // NOLINT: implicit by design
  Result(T&& value) : value_(std::move(value)) {}       // NOLINT
  Result(Status status) : status_(std::move(status)) {  // NOLINT
    if (status_.ok()) {
      status_ = Status(StatusCode::kInternal, "Result built from an OK Status without a value");
    }
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : status_;
  }

  // REQUIRES: ok().
  const T& value() const& {
    assert(ok());
    return *value_;
  }
  T& value() & {
    assert(ok());
    return *value_;
  }
  // On a temporary Result the value is moved out, so that
  // `for (const auto& x : *store.ListJobs(f))` does not dangle.
  T value() && {
    assert(ok());
    return std::move(*value_);
  }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  T operator*() && { return std::move(*this).value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

  // The value if ok(), else `fallback`.
  T value_or(T fallback) const& { return ok() ? *value_ : std::move(fallback); }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace evolve

#define EVOLVE_STATUS_CONCAT_INNER_(a, b) a##b
#define EVOLVE_STATUS_CONCAT_(a, b) EVOLVE_STATUS_CONCAT_INNER_(a, b)

// Returns the Status of `expr` from the enclosing function when it is not OK.
#define EVOLVE_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::evolve::Status evolve_status_ = (expr);        \
    if (!evolve_status_.ok()) return evolve_status_; \
  } while (0)

// `lhs = value of rexpr` when it is OK, else returns its Status.
// Usage: EVOLVE_ASSIGN_OR_RETURN(auto run, store.GetRun(id));
#define EVOLVE_ASSIGN_OR_RETURN(lhs, rexpr) \
  EVOLVE_ASSIGN_OR_RETURN_IMPL_(EVOLVE_STATUS_CONCAT_(evolve_result_, __LINE__), lhs, rexpr)
#define EVOLVE_ASSIGN_OR_RETURN_IMPL_(result, lhs, rexpr) \
  auto result = (rexpr);                                  \
  if (!result.ok()) return result.status();               \
  lhs = std::move(result).value()

#endif  // EVOLVE_STATUS_H_
