// A scratch directory for the engine tests, removed at the end of the test,
// and bars written into it as SYMBOL.csv.
#ifndef EVOLVE_TESTS_ENGINES_SCRATCH_DIR_H_
#define EVOLVE_TESTS_ENGINES_SCRATCH_DIR_H_

#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>

#include "evolve/engines/bars.h"

namespace evolve::engines {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/evolve-engines-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

// Writes `bars` (or their first `keep` bars) as SYMBOL.csv into `dir`.
inline void WriteBars(const std::filesystem::path& dir, Bars bars, size_t keep = 0) {
  if (keep > 0) {
    for (auto* v : {&bars.open, &bars.high, &bars.low, &bars.close, &bars.volume}) v->resize(keep);
    bars.time.resize(keep);
  }
  REQUIRE(WriteBarsCsv(bars, (dir / (bars.symbol + ".csv")).string()).ok());
}

}  // namespace evolve::engines

#endif  // EVOLVE_TESTS_ENGINES_SCRATCH_DIR_H_
