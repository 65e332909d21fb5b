// The connections of a PostgreSQL store: the endpoint, the pool of idle
// connections, and the classification of libpq's errors (Transact, which
// uses them, is a template in the header).
#include "postgres_connection.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <regex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace evolve::postgres {

bool IsConnectionLoss(const std::string& sqlstate) {
  return sqlstate.rfind("08", 0) == 0 || sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03";
}

bool IsRetryable(const std::string& sqlstate) { return sqlstate == "40001" || sqlstate == "40P01"; }

std::string ElidePassword(const std::string& url) {
  std::string shown = url;
  const size_t scheme = shown.find("://");
  if (scheme != std::string::npos) {
    const size_t authority = scheme + 3;
    const size_t end = shown.find_first_of("/?", authority);
    const size_t at = shown.rfind('@', end == std::string::npos ? std::string::npos : end);
    if (at != std::string::npos && at >= authority) {
      const size_t colon = shown.find(':', authority);
      if (colon != std::string::npos && colon < at) shown.erase(colon, at - colon);
    }
  }
  static const std::regex kPassword("(password\\s*=\\s*)('[^']*'|[^&\\s]*)");
  return std::regex_replace(shown, kPassword, "$1***");
}

Endpoint Endpoint::Of(const std::string& url, std::chrono::seconds connect_timeout) {
  const std::string setting = "connect_timeout=" + std::to_string(connect_timeout.count());
  Endpoint endpoint;
  if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0) {
    endpoint.conninfo = url + (url.find('?') == std::string::npos ? "?" : "&") + setting;
  } else {
    endpoint.conninfo = url.empty() ? setting : url + " " + setting;
  }
  endpoint.url = ElidePassword(url);
  return endpoint;
}

Result<std::unique_ptr<pqxx::connection>> Endpoint::Connect() const {
  try {
    return std::make_unique<pqxx::connection>(conninfo);
  } catch (const std::exception& e) {
    return UnavailableError("postgres " + url + ": cannot connect: " + e.what());
  }
}

Status Endpoint::Lost(const std::string& what) const {
  return UnavailableError("postgres " + url + ": connection lost: " + what);
}

Status Endpoint::Internal(const std::string& what) const {
  return InternalError("postgres " + url + ": " + what);
}

WakePipe::WakePipe() {
  if (::pipe2(fds_, O_CLOEXEC) != 0) fds_[0] = fds_[1] = -1;
}

WakePipe::~WakePipe() {
  for (int fd : fds_) {
    if (fd >= 0) ::close(fd);
  }
}

void WakePipe::Wake() {
  const char byte = 1;
  if (fds_[1] >= 0) (void)!::write(fds_[1], &byte, 1);
}

WaitResult WaitForInput(int sock, const WakePipe& wake, std::chrono::milliseconds timeout) {
  pollfd fds[2] = {{sock, POLLIN, 0}, {wake.read_fd(), POLLIN, 0}};
  const int ready = ::poll(fds, 2, static_cast<int>(timeout.count()));
  if (ready < 0 && errno != EINTR) throw std::runtime_error("poll on a connection's socket failed");
  if ((fds[1].revents & POLLIN) != 0) return WaitResult::kWoken;
  // POLLNVAL: the socket was closed meanwhile, which the caller finds out.
  return (fds[0].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) != 0 ? WaitResult::kInput
                                                                         : WaitResult::kTimeout;
}

void ConnectionPool::PrepareOnConnect(std::vector<PreparedStatement> statements) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    prepared_ = std::move(statements);
  }
  idle_.Drop();
}

Result<std::unique_ptr<pqxx::connection>> ConnectionPool::Borrow() {
  if (std::unique_ptr<pqxx::connection> conn = idle_.Take()) return conn;
  std::vector<PreparedStatement> prepared;
  {
    std::lock_guard<std::mutex> lock(mu_);
    prepared = prepared_;
  }
  EVOLVE_ASSIGN_OR_RETURN(std::unique_ptr<pqxx::connection> conn, endpoint_.Connect());
  try {
    for (const PreparedStatement& statement : prepared) conn->prepare(statement.name, statement.sql);
  } catch (const pqxx::broken_connection& e) {
    return endpoint_.Lost(e.what());
  } catch (const std::exception& e) {
    return endpoint_.Internal(std::string("preparing the queue's statements: ") + e.what());
  }
  return conn;
}

}  // namespace evolve::postgres
