#include "evolve/status.h"

#include "evolve/enum_name.h"

namespace evolve {

const char* StatusCodeName(StatusCode code) {
  static constexpr const char* kNames[] = {
      "OK",      "INVALID_ARGUMENT", "NOT_FOUND",         "ALREADY_EXISTS", "FAILED_PRECONDITION",
      "ABORTED", "UNAVAILABLE",      "DEADLINE_EXCEEDED", "CANCELLED",      "INTERNAL",
      "RESOURCE_EXHAUSTED"};
  return EnumName<StatusCode::kResourceExhausted>(code, kNames, "UNKNOWN");
}

Status::Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {
  // An OK status carries no message: two OK statuses always compare equal.
  if (code_ == StatusCode::kOk) message_.clear();
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  return std::string(StatusCodeName(code_)) + ": " + message_;
}

Status Status::WithContext(const std::string& context) const {
  if (ok()) return *this;
  return Status(code_, context + ": " + message_);
}

bool Status::IsRetryable() const {
  return code_ == StatusCode::kUnavailable || code_ == StatusCode::kDeadlineExceeded;
}

std::ostream& operator<<(std::ostream& os, const Status& status) { return os << status.ToString(); }

Status ResourceExhaustedError(std::string m) { return Status(StatusCode::kResourceExhausted, std::move(m)); }
Status InvalidArgumentError(std::string m) { return Status(StatusCode::kInvalidArgument, std::move(m)); }
Status NotFoundError(std::string m) { return Status(StatusCode::kNotFound, std::move(m)); }
Status AlreadyExistsError(std::string m) { return Status(StatusCode::kAlreadyExists, std::move(m)); }
Status FailedPreconditionError(std::string m) {
  return Status(StatusCode::kFailedPrecondition, std::move(m));
}
Status AbortedError(std::string m) { return Status(StatusCode::kAborted, std::move(m)); }
Status UnavailableError(std::string m) { return Status(StatusCode::kUnavailable, std::move(m)); }
Status DeadlineExceededError(std::string m) { return Status(StatusCode::kDeadlineExceeded, std::move(m)); }
Status CancelledError(std::string m) { return Status(StatusCode::kCancelled, std::move(m)); }
Status InternalError(std::string m) { return Status(StatusCode::kInternal, std::move(m)); }

}  // namespace evolve
