// What the end-to-end tests on PostgreSQL share (cli_postgres_test.cc,
// distributed_training_test.cc): the test server's store, opened or failed.
#ifndef EVOLVE_TESTS_CLI_CLI_POSTGRES_SUPPORT_H_
#define EVOLVE_TESTS_CLI_CLI_POSTGRES_SUPPORT_H_

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <utility>

#include "evolve/postgres/postgres_store.h"

namespace evolve::testing {

inline std::unique_ptr<Store> OpenPg(const std::string& url) {
  auto store = postgres::OpenPostgresStore(url);
  REQUIRE_MESSAGE(store.ok(), store.status().ToString());
  return std::move(*store);
}

}  // namespace evolve::testing

#endif  // EVOLVE_TESTS_CLI_CLI_POSTGRES_SUPPORT_H_
