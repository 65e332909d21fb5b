// Benchmark: BacktestGrid over 1M one-minute bars x 4 thresholds x 3 regime
// filters (none, regime_vix in {2, 3}, regime_gmm = 0), against the time it
// takes to merely read every input array once (a single pass summing them).
//
// Usage: bench_backtest DATA_FILE [REPEATS] [BARS]
// Writes the deterministic inputs to DATA_FILE (for tests/bench/peers/
// backtest_numpy.py, which must simulate the SAME data), then prints
//   backtest_seconds=<best of REPEATS>
//   read_inputs_seconds=<best of REPEATS>
//   ratio=<backtest / read>
// and one line per cell with its main metrics, to compare with the peer.
//
// DATA_FILE layout (little-endian): "EVBT0001", int64 n, int64 time[n],
// float64 open[n], close[n], prediction[n], int8 regime_vix[n],
// int8 regime_gmm[n].
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "evolve/engines/backtest.h"
#include "evolve/engines/regimes.h"

namespace {

using evolve::engines::BacktestBars;
using evolve::engines::BacktestCell;

double Seconds(std::chrono::steady_clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Normal deviates by Box-Muller over mt19937_64 (the same on every platform).
class Normal {
 public:
  explicit Normal(uint64_t seed) : rng_(seed) {}
  double operator()() {
    const double u1 = (static_cast<double>(rng_() >> 11) + 0.5) * 0x1.0p-53;
    const double u2 = (static_cast<double>(rng_() >> 11) + 0.5) * 0x1.0p-53;
    return std::sqrt(-2 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  std::mt19937_64 rng_;
};

// One-minute bars from 2024-01-01, volatility switching between calm and
// stressed every ~20,000 bars; a prediction that is a persistent (AR(1))
// noisy forecast of the next return, NaN now and then (no model yet).
BacktestBars MakeBars(size_t n) {
  Normal normal(42);
  BacktestBars b;
  b.time.resize(n);
  b.open.resize(n);
  b.close.resize(n);
  b.prediction.resize(n);
  double price = 100, forecast = 0;
  for (size_t i = 0; i < n; ++i) {
    const double vol = ((i / 20000) % 3 == 2) ? 0.0015 : 0.0005;
    b.time[i] = 1704067200 + static_cast<int64_t>(i) * 60;
    b.open[i] = price * std::exp(0.1 * vol * normal());
    price = b.open[i] * std::exp(vol * normal());
    b.close[i] = price;
    forecast = 0.95 * forecast + 0.0002 * normal();
    b.prediction[i] = (i % 100000) < 500 ? std::numeric_limits<double>::quiet_NaN() : forecast;
  }
  b.regimes["regime_vix"] = evolve::engines::RegimeVix(b.close);
  auto gmm = evolve::engines::RegimeGmm(b.close, evolve::engines::ExpandingRegimeSegments(n, n / 10, n / 10));
  if (!gmm.ok()) {
    std::fprintf(stderr, "regime_gmm: %s\n", gmm.status().ToString().c_str());
    std::exit(1);
  }
  b.regimes["regime_gmm"] = *gmm;
  return b;
}

bool Write(const std::string& path, const BacktestBars& b) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return false;
  const int64_t n = static_cast<int64_t>(b.time.size());
  bool ok = std::fwrite("EVBT0001", 1, 8, f) == 8;
  ok = ok && std::fwrite(&n, sizeof n, 1, f) == 1;
  ok = ok && std::fwrite(b.time.data(), sizeof(int64_t), b.time.size(), f) == b.time.size();
  for (const std::vector<double>* v : {&b.open, &b.close, &b.prediction}) {
    ok = ok && std::fwrite(v->data(), sizeof(double), v->size(), f) == v->size();
  }
  for (const char* column : {"regime_vix", "regime_gmm"}) {
    const std::vector<int8_t>& v = b.regimes.at(column);
    ok = ok && std::fwrite(v.data(), 1, v.size(), f) == v.size();
  }
  return std::fclose(f) == 0 && ok;
}

std::string Opt(const std::optional<double>& v) {
  if (!v) return "none";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.10g", *v);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DATA_FILE [REPEATS] [BARS]\n", argv[0]);
    return 2;
  }
  const std::string path = argv[1];
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 20;
  const size_t n = argc > 3 ? static_cast<size_t>(std::atoll(argv[3])) : 1000000;
  const BacktestBars bars = MakeBars(n);
  if (!Write(path, bars)) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    return 1;
  }

  std::vector<BacktestCell> cells;
  for (double threshold : {0.0, 0.0005, 0.001, 0.002}) {
    cells.push_back(BacktestCell{threshold, "", {}});
    cells.push_back(BacktestCell{threshold, "regime_vix", {2, 3}});
    cells.push_back(BacktestCell{threshold, "regime_gmm", {0}});
  }
  const evolve::engines::BacktestOptions options;  // 1 bps fee + 1 bps slippage per side, long only

  double best_backtest = 1e300, best_read = 1e300;
  std::vector<evolve::SimulationResult> results;
  double checksum = 0;
  for (int r = 0; r < repeats; ++r) {
    // Reading the inputs once: one pass over every array the backtest reads.
    auto t0 = std::chrono::steady_clock::now();
    double sum = 0;
    int64_t tsum = 0, lsum = 0;
    const std::vector<int8_t>& vix = bars.regimes.at("regime_vix");
    const std::vector<int8_t>& gmm = bars.regimes.at("regime_gmm");
    for (size_t i = 0; i < n; ++i) {
      sum += bars.open[i] + bars.close[i] + bars.prediction[i];
      tsum += bars.time[i];
      lsum += vix[i] + gmm[i];
    }
    auto t1 = std::chrono::steady_clock::now();
    checksum += sum + static_cast<double>(tsum) + static_cast<double>(lsum);
    best_read = std::min(best_read, Seconds(t1 - t0));

    t0 = std::chrono::steady_clock::now();
    auto grid = evolve::engines::BacktestGrid(bars, cells, options);
    t1 = std::chrono::steady_clock::now();
    if (!grid.ok()) {
      std::fprintf(stderr, "backtest: %s\n", grid.status().ToString().c_str());
      return 1;
    }
    best_backtest = std::min(best_backtest, Seconds(t1 - t0));
    results = std::move(grid).value();
  }
  std::printf("bars=%zu cells=%zu repeats=%d\n", n, cells.size(), repeats);
  std::printf("backtest_seconds=%.6f\n", best_backtest);
  std::printf("read_inputs_seconds=%.6f\n", best_read);
  std::printf("ratio=%.2f\n", best_backtest / best_read);
  std::printf(
      "# checksum of the read pass (keeps it from being optimised away; NaN predictions make it nan): %.6g\n",
      checksum);
  for (size_t c = 0; c < cells.size(); ++c) {
    const auto& s = results[c];
    std::printf(
        "cell %zu threshold=%g filter=%s trades=%lld sqn=%s pf=%s total_return_pct=%.10g "
        "max_drawdown_pct=%.10g sharpe=%s exposure=%.10g weekly_consistency=%s\n",
        c, cells[c].threshold, cells[c].regime_column.empty() ? "none" : cells[c].regime_column.c_str(),
        static_cast<long long>(s.trade_count), Opt(s.sqn).c_str(), Opt(s.profit_factor).c_str(),
        s.total_return_pct, s.max_drawdown_pct, Opt(s.sharpe).c_str(), s.exposure,
        Opt(s.weekly_consistency).c_str());
  }
  return 0;
}
