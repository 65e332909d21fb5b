// The HTTP suite of `evolve serve` (serve_suite.h) on SQLite files.
#include <doctest/doctest.h>

#include "evolve/sqlite/sqlite_store.h"
#include "serve_suite.h"

namespace evolve::testing {
namespace {

class SqliteUnderTest final : public StoreUnderTest {
 public:
  std::vector<std::string> Args() const override { return {"--db", dir_ / "evolve.db"}; }
  std::unique_ptr<Store> Open() const override {
    auto store = sqlite::OpenSqliteStore(dir_ / "evolve.db");
    REQUIRE_MESSAGE(store.ok(), store.status().ToString());
    return std::move(*store);
  }

 private:
  TempDir dir_;
};

std::unique_ptr<StoreUnderTest> MakeSqlite() { return std::make_unique<SqliteUnderTest>(); }

EVOLVE_SERVE_SUITE("serve sqlite", MakeSqlite)

}  // namespace
}  // namespace evolve::testing
