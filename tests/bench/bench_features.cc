// Benchmark: every feature column (ComputeFeatures) on one million one-minute
// synthetic bars, against tests/bench/peers/features_pandas.py on the same CSV.
//
//   bench_features BARS.csv [--bars N] [--repeats R]
//
// Generates the bars with a fixed seed, writes them to BARS.csv (so the
// pandas peer reads the very same data), reads them back with LoadBarsCsv,
// then times ComputeFeatures: best of R runs (default 5), steady_clock.
// Prints one key=value per line; the first is the headline:
//   features_1m_bars_seconds=<best>
//   parse_1m_bars_seconds=<LoadBarsCsv of the file, once>
//   feature_columns=<count>, bars=<count>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>

#include "evolve/engines/bars.h"
#include "evolve/engines/features.h"
#include "evolve/engines/synthetic.h"

namespace {

double Seconds(std::chrono::steady_clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

int main(int argc, char** argv) {
  using evolve::engines::Bars;
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s BARS.csv [--bars N] [--repeats R]\n", argv[0]);
    return 2;
  }
  const std::string path = argv[1];
  size_t n_bars = 1'000'000;
  int repeats = 5;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--bars") == 0) n_bars = std::strtoull(argv[i + 1], nullptr, 10);
    if (std::strcmp(argv[i], "--repeats") == 0) repeats = std::max(1, std::atoi(argv[i + 1]));
  }

  evolve::engines::SyntheticOptions options;
  options.symbols = {"BENCH"};
  options.bars = n_bars;
  options.intraday = true;
  options.seed = 20240601;
  options.signal_strength = 0.2;
  const Bars generated = evolve::engines::GenerateSyntheticBars(options).at("BENCH");
  if (auto s = evolve::engines::WriteBarsCsv(generated, path); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }

  const auto parse_start = std::chrono::steady_clock::now();
  auto loaded = evolve::engines::LoadBarsCsv(path, "BENCH");
  const double parse_seconds = Seconds(std::chrono::steady_clock::now() - parse_start);
  if (!loaded.ok()) {
    std::fprintf(stderr, "%s\n", loaded.status().ToString().c_str());
    return 1;
  }
  const Bars& bars = *loaded;

  double best = std::numeric_limits<double>::infinity();
  size_t columns = 0;
  double checksum = 0;  // keeps the work observable
  for (int r = 0; r < repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    auto frame = evolve::engines::ComputeFeatures(bars);
    const double seconds = Seconds(std::chrono::steady_clock::now() - start);
    if (!frame.ok()) {
      std::fprintf(stderr, "%s\n", frame.status().ToString().c_str());
      return 1;
    }
    best = std::min(best, seconds);
    columns = frame->columns.size();
    for (const auto& col : frame->columns) {
      const double v = col[bars.size() - 1];
      if (std::isfinite(v)) checksum += v;
    }
  }
  std::printf("features_1m_bars_seconds=%.6f\n", best);
  std::printf("parse_1m_bars_seconds=%.6f\n", parse_seconds);
  std::printf("feature_columns=%zu\n", columns);
  std::printf("bars=%zu\n", bars.size());
  std::fprintf(stderr, "checksum %.6g\n", checksum);
  return 0;
}
