// The HTTP suite of `evolve serve` (serve_suite.h) on PostgreSQL: a fresh
// database of the test server (the CTest fixture `evolve_postgres`) per test.
#include <doctest/doctest.h>

#include "evolve/postgres/postgres_store.h"
#include "postgres_test_support.h"
#include "serve_suite.h"

namespace evolve::testing {
namespace {

class PostgresUnderTest final : public StoreUnderTest {
 public:
  std::vector<std::string> Args() const override { return {"--store", db_.url()}; }
  std::unique_ptr<Store> Open() const override {
    auto store = postgres::OpenPostgresStore(db_.url());
    REQUIRE_MESSAGE(store.ok(), store.status().ToString());
    return std::move(*store);
  }

 private:
  TestDatabase db_;
};

std::unique_ptr<StoreUnderTest> MakePostgres() { return std::make_unique<PostgresUnderTest>(); }

EVOLVE_SERVE_SUITE("serve postgres", MakePostgres)

}  // namespace
}  // namespace evolve::testing
