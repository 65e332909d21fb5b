// PostgreSQL for tests: the server CTest's `evolve_postgres` fixture starts
// (scripts/test-postgres.sh, URL in $EVOLVE_TEST_POSTGRES_DIR/url), a fresh
// database per test case so cases can run in parallel, and private servers
// for the tests that restart one.
//
// A test that cannot reach the server fails; it never skips: a PostgreSQL
// test that silently passes without PostgreSQL proves nothing.
//
// For doctest test cases (failures are REQUIREs).
#ifndef EVOLVE_TESTS_INTEGRATION_POSTGRES_TEST_SUPPORT_H_
#define EVOLVE_TESTS_INTEGRATION_POSTGRES_TEST_SUPPORT_H_

#include <memory>
#include <string>

namespace evolve::testing {

// The environment variable naming the fixture server's directory.
inline constexpr char kTestPostgresDirEnv[] = "EVOLVE_TEST_POSTGRES_DIR";

// The URL of the fixture's server (postgresql://evolve@127.0.0.1:PORT/postgres).
// Fails the test when $EVOLVE_TEST_POSTGRES_DIR is unset or its url file is
// missing (the test was run without the fixture).
std::string TestServerUrl();

// Runs `scripts/test-postgres.sh <command> <dir>` (start, restart, stop) and
// fails the test when it fails.
void RunTestServerScript(const std::string& command, const std::string& dir);

// Runs `sql` (one or more statements, no parameters) on the database at
// `url` outside any store, for what a store must not be able to do itself;
// fails the test when it fails.
void ExecSql(const std::string& url, const std::string& sql);

// A connection of its own to the database at `url`, outside any store, for
// what a test does on one session (hold an advisory lock) or wants to see
// as the server sees it (pg_locks, pg_stat_activity).
class SqlSession {
 public:
  // Fails the test when it cannot connect.
  explicit SqlSession(const std::string& url);
  SqlSession(const SqlSession&) = delete;
  SqlSession& operator=(const SqlSession&) = delete;
  ~SqlSession();

  // Runs `sql` (no parameters) and returns the first column of its first
  // row as text: "" when there is no row or it is NULL. Fails the test on
  // an error.
  std::string Query(const std::string& sql);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// SqlSession(url).Query(sql), on a connection for this one query.
std::string QueryValue(const std::string& url, const std::string& sql);

// `server_url` with its database replaced by `database`.
std::string DatabaseUrl(const std::string& server_url, const std::string& database);

// A database of its own for one test: created (with a unique name) by the
// constructor, dropped by the destructor, connections and all. Destroy the
// stores using it first.
class TestDatabase {
 public:
  // On the fixture's server by default.
  TestDatabase();
  explicit TestDatabase(const std::string& server_url);
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;
  ~TestDatabase();

  const std::string& name() const { return name_; }
  // postgresql://evolve@127.0.0.1:PORT/<name>
  const std::string& url() const { return url_; }

 private:
  std::string server_url_;
  std::string name_;
  std::string url_;
};

// A private server, for tests that restart or stop it (which would cut the
// connections of every other test on the fixture's server). Started in a
// fresh directory beside the fixture's, stopped and removed by the
// destructor.
class TestServer {
 public:
  TestServer();
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;
  ~TestServer();

  const std::string& dir() const { return dir_; }
  // postgresql://evolve@127.0.0.1:PORT/postgres; the same after Restart.
  const std::string& url() const { return url_; }

  // Stops the server (cutting every connection) and starts it again on the
  // same port; returns once it accepts connections.
  void Restart();

 private:
  std::string dir_;
  std::string url_;
};

}  // namespace evolve::testing

#endif  // EVOLVE_TESTS_INTEGRATION_POSTGRES_TEST_SUPPORT_H_
