// What the tests of the service layer share: an HttpServer served on
// loopback, raw exchanges for what no client sends, environment variables
// set for one test, and scratch files.
#ifndef EVOLVE_TESTS_SERVICES_SERVICE_TEST_SUPPORT_H_
#define EVOLVE_TESTS_SERVICES_SERVICE_TEST_SUPPORT_H_

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

#include "evolve/http/http_server.h"
#include "net_test_support.h"

namespace evolve::testing::services {

inline bool Contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// The "code" of an {"error": {"code": ...}} body, or "".
inline std::string ErrorCode(const std::string& body) {
  const std::string key = "\"code\":\"";
  const size_t at = body.find(key);
  if (at == std::string::npos) return "";
  const size_t start = at + key.size();
  return body.substr(start, body.find('"', start) - start);
}

// `server` bound to 127.0.0.1 on a port of the kernel's choice, served on a
// thread of its own until the end of the scope.
class ServedOnLoopback {
 public:
  explicit ServedOnLoopback(http::HttpServer& server) : server_(server) {
    auto port = server_.Bind("127.0.0.1", 0);
    REQUIRE_MESSAGE(port.ok(), port.status().ToString());
    port_ = *port;
    thread_ = std::thread([this] { server_.Serve(); });
    while (!server_.running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~ServedOnLoopback() {
    server_.Stop();
    thread_.join();
  }
  ServedOnLoopback(const ServedOnLoopback&) = delete;
  ServedOnLoopback& operator=(const ServedOnLoopback&) = delete;

  int port() const { return port_; }

 private:
  http::HttpServer& server_;
  int port_ = 0;
  std::thread thread_;
};

// Sends `request` as is to 127.0.0.1:`port` and returns the reply: its
// head and a body of its Content-Length (all that came, if the server
// closed the connection first).
inline std::string RawExchange(int port, const std::string& request) {
  const int fd = ConnectLoopback(port);
  REQUIRE(::send(fd, request.data(), request.size(), 0) == static_cast<ssize_t>(request.size()));
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) {
    out.append(buf, static_cast<size_t>(n));
    const size_t head = out.find("\r\n\r\n");
    const size_t length = out.find("Content-Length: ");
    if (head == std::string::npos || length == std::string::npos || length > head) continue;
    if (out.size() >= head + 4 + std::stoul(out.substr(length + 16))) break;
  }
  ::close(fd);
  return out;
}

// Environment variable `name` set to `value` (or unset, for nullopt) until
// the end of the scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::optional<std::string>& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value.has_value()) {
      ::setenv(name, value->c_str(), 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_.has_value()) {
      ::setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

// A fresh directory removed with its files.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "evolve-svc-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  std::string Write(const std::string& name, const std::string& text) const {
    std::ofstream(*this / name) << text;
    return *this / name;
  }

 private:
  std::string path_;
};

}  // namespace evolve::testing::services

#endif  // EVOLVE_TESTS_SERVICES_SERVICE_TEST_SUPPORT_H_
