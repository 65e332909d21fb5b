// Loopback helpers for the tests that talk HTTP.
#ifndef EVOLVE_TESTS_NET_TEST_SUPPORT_H_
#define EVOLVE_TESTS_NET_TEST_SUPPORT_H_

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace evolve::testing {

// A loopback port nothing listens on: bound by a socket that is closed
// again at once (a connection to it is refused).
inline int UnusedPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace evolve::testing

#endif  // EVOLVE_TESTS_NET_TEST_SUPPORT_H_
