#include "postgres_test_support.h"

#include <doctest/doctest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <pqxx/pqxx>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>

namespace evolve::testing {
namespace {

std::string ServerDir() {
  const char* dir = std::getenv(kTestPostgresDirEnv);
  REQUIRE_MESSAGE((dir != nullptr && *dir != '\0'),
                  kTestPostgresDirEnv << " is not set: run the PostgreSQL tests through CTest, whose "
                                         "evolve_postgres fixture starts the server");
  return dir;
}

std::string ReadUrl(const std::string& dir) {
  std::ifstream in(dir + "/url");
  std::string url;
  std::getline(in, url);
  REQUIRE_MESSAGE(!url.empty(), "no server URL in " << dir << "/url: did the postgres/start test pass?");
  return url;
}

// Unique among parallel test processes and within one.
std::string UniqueName(const std::string& prefix) {
  static std::atomic<int> counter{0};
  std::random_device random;
  std::ostringstream name;
  name << prefix << getpid() << "_" << counter++ << "_" << std::hex << random();
  return name.str();
}

}  // namespace

std::string TestServerUrl() { return ReadUrl(ServerDir()); }

void RunTestServerScript(const std::string& command, const std::string& dir) {
  const std::string line =
      std::string("'") + EVOLVE_TEST_POSTGRES_SCRIPT + "' " + command + " '" + dir + "' 2>&1";
  const int rc = std::system(line.c_str());
  REQUIRE_MESSAGE((rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0), line << " failed (" << rc << ")");
}

struct SqlSession::Impl {
  explicit Impl(const std::string& url) : conn(url) {}
  pqxx::connection conn;
};

SqlSession::SqlSession(const std::string& url) {
  try {
    impl_ = std::make_unique<Impl>(url);
  } catch (const std::exception& e) {
    FAIL("cannot connect to " << url << ": " << std::string(e.what()));
  }
}

SqlSession::~SqlSession() = default;

std::string SqlSession::Query(const std::string& sql) {
  try {
    pqxx::nontransaction tx(impl_->conn);
    const pqxx::result rows = tx.exec(sql);
    if (rows.empty() || rows[0][0].is_null()) return "";
    return rows[0][0].c_str();
  } catch (const std::exception& e) {
    FAIL("on " << std::string(impl_->conn.dbname()) << ": " << sql << ": " << std::string(e.what()));
  }
  return "";
}

std::string QueryValue(const std::string& url, const std::string& sql) { return SqlSession(url).Query(sql); }

void ExecSql(const std::string& url, const std::string& sql) { SqlSession(url).Query(sql); }

std::string DatabaseUrl(const std::string& server_url, const std::string& database) {
  const size_t slash = server_url.rfind('/');
  REQUIRE(slash != std::string::npos);
  const size_t query = server_url.find('?', slash);
  return server_url.substr(0, slash + 1) + database +
         (query == std::string::npos ? std::string() : server_url.substr(query));
}

TestDatabase::TestDatabase() : TestDatabase(TestServerUrl()) {}

TestDatabase::TestDatabase(const std::string& server_url)
    : server_url_(server_url), name_(UniqueName("evolve_test_")), url_(DatabaseUrl(server_url, name_)) {
  try {
    pqxx::connection conn(server_url_);
    pqxx::nontransaction tx(conn);
    tx.exec("CREATE DATABASE " + tx.quote_name(name_));
  } catch (const std::exception& e) {
    FAIL("cannot create database " << name_ << " on " << server_url_ << ": " << e.what());
  }
}

TestDatabase::~TestDatabase() {
  try {
    pqxx::connection conn(server_url_);
    pqxx::nontransaction tx(conn);
    // FORCE: a store that leaked a connection must not keep the database.
    tx.exec("DROP DATABASE IF EXISTS " + tx.quote_name(name_) + " WITH (FORCE)");
  } catch (const std::exception& e) {
    CHECK_MESSAGE(false, "cannot drop database " << name_ << ": " << e.what());
  }
}

TestServer::TestServer() {
  dir_ = ServerDir() + "-" + UniqueName("private_");
  RunTestServerScript("start", dir_);
  url_ = ReadUrl(dir_);
}

TestServer::~TestServer() {
  const std::string line = std::string("'") + EVOLVE_TEST_POSTGRES_SCRIPT + "' stop '" + dir_ + "' 2>&1";
  const int rc = std::system(line.c_str());
  CHECK_MESSAGE(rc == 0, line << " failed (" << rc << ")");
}

void TestServer::Restart() { RunTestServerScript("restart", dir_); }

}  // namespace evolve::testing
