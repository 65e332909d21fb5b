// Writes the browser test's data: SYMBOL.csv files of synthetic daily bars
// whose first symbol carries a planted, learnable signal (the data of
// tests/cli/serve_suite.h ServePromotion, which a run promotes reliably).
//
//   evolve_browser_bars DIR BARS STRENGTH SEED SYMBOL...
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "evolve/engines/bars.h"
#include "evolve/engines/synthetic.h"

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr, "usage: %s DIR BARS STRENGTH SEED SYMBOL...\n", argv[0]);
    return 2;
  }
  evolve::engines::SyntheticOptions o;
  o.bars = static_cast<size_t>(std::strtoul(argv[2], nullptr, 10));
  o.signal_strength = std::strtod(argv[3], nullptr);
  o.seed = std::strtoull(argv[4], nullptr, 10);
  o.symbols.assign(argv + 5, argv + argc);
  for (const auto& [symbol, bars] : evolve::engines::GenerateSyntheticBars(o)) {
    const std::string path = std::string(argv[1]) + "/" + symbol + ".csv";
    if (auto s = evolve::engines::WriteBarsCsv(bars, path); !s.ok()) {
      std::fprintf(stderr, "%s: %s\n", path.c_str(), s.ToString().c_str());
      return 1;
    }
  }
  return 0;
}
