// Benchmark: BacktestGrid over 1M one-minute bars x 4 thresholds x 3 regime
// filters (none, regime_vix in {2, 3}, regime_gmm = 0), against the time it
// takes to merely read every input array once: one pass that loads every
// byte of time, open, close, prediction and both regime columns, as fast as
// the machine streams memory (AVX2 loads XOR-folded where the CPU has AVX2;
// no dependency chain on floating-point adds, which would time the adder
// rather than the reads).
//
// Usage: bench_backtest DATA_FILE [REPEATS] [BARS]
// Writes the deterministic inputs to DATA_FILE (for tests/bench/peers/
// backtest_numpy.py, which must simulate the SAME data), then runs the read
// pass and the backtest alternately REPEATS times and prints
//   backtest_seconds=<best>             read_inputs_seconds=<best>
//   backtest_median_seconds=<median>    read_inputs_median_seconds=<median>
//   ratio=<best / best>                 median_ratio=<median / median>
// and one line per cell with its main metrics, to compare with the peer.
// EVOLVE_BACKTEST_PORTABLE=1 times the backtest's portable (non-SIMD)
// kernels instead.
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
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define BENCH_AVX2 1
#include <immintrin.h>
#endif

#include "../engines/test_data.h"
#include "evolve/engines/backtest.h"
#include "evolve/engines/regimes.h"

namespace {

using evolve::engines::BacktestBars;
using evolve::engines::BacktestCell;
using evolve::engines::MtNormal;

double Seconds(std::chrono::steady_clock::duration d) { return std::chrono::duration<double>(d).count(); }

// One-minute bars from 2024-01-01, volatility switching between calm and
// stressed every ~20,000 bars; a prediction that is a persistent (AR(1))
// noisy forecast of the next return, NaN now and then (no model yet).
BacktestBars MakeBars(size_t n) {
  MtNormal normal(42);
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

// The inputs the backtest reads, read once: every element is loaded and
// folded into the result (so the pass cannot be optimised away), with no
// arithmetic dependency slower than the loads.
struct Inputs {
  const int64_t* time;
  const double *open, *close, *prediction;
  const int8_t *vix, *gmm;
  size_t n;
};

uint64_t Bits(double v) {
  uint64_t u;
  std::memcpy(&u, &v, sizeof u);
  return u;
}

uint64_t ReadTail(const Inputs& in, size_t from) {
  uint64_t acc = 0;
  for (size_t i = from; i < in.n; ++i) {
    acc ^= Bits(in.open[i]) ^ Bits(in.close[i]) ^ Bits(in.prediction[i]) ^ static_cast<uint64_t>(in.time[i]) ^
           static_cast<uint8_t>(in.vix[i]) ^ (uint64_t{static_cast<uint8_t>(in.gmm[i])} << 8);
  }
  return acc;
}

uint64_t ReadPortable(const Inputs& in) {
  uint64_t acc[4] = {};
  size_t i = 0;
  for (; i + 4 <= in.n; i += 4) {
    for (size_t l = 0; l < 4; ++l) {
      acc[l] ^= Bits(in.open[i + l]) ^ Bits(in.close[i + l]) ^ Bits(in.prediction[i + l]) ^
                static_cast<uint64_t>(in.time[i + l]) ^ static_cast<uint8_t>(in.vix[i + l]) ^
                (uint64_t{static_cast<uint8_t>(in.gmm[i + l])} << 8);
    }
  }
  return acc[0] ^ acc[1] ^ acc[2] ^ acc[3] ^ ReadTail(in, i);
}

#if defined(BENCH_AVX2)
__attribute__((target("avx2"))) inline __m256i Load(const void* p) {
  return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

__attribute__((target("avx2"))) uint64_t ReadAvx2(const Inputs& in) {
  __m256i a = _mm256_setzero_si256(), b = a, labels = a;
  size_t i = 0;
  for (; i + 32 <= in.n; i += 32) {
    for (size_t k = i; k < i + 32; k += 8) {
      a = _mm256_xor_si256(a, _mm256_xor_si256(_mm256_xor_si256(Load(in.open + k), Load(in.close + k)),
                                               _mm256_xor_si256(Load(in.prediction + k), Load(in.time + k))));
      b = _mm256_xor_si256(
          b, _mm256_xor_si256(_mm256_xor_si256(Load(in.open + k + 4), Load(in.close + k + 4)),
                              _mm256_xor_si256(Load(in.prediction + k + 4), Load(in.time + k + 4))));
    }
    labels = _mm256_xor_si256(labels, _mm256_xor_si256(Load(in.vix + i), Load(in.gmm + i)));
  }
  uint64_t lanes[4];
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(lanes), _mm256_xor_si256(_mm256_xor_si256(a, b), labels));
  // GCC does not always clear the upper halves of the vector registers
  // here; left dirty, they slow down the legacy SSE code that follows (the
  // previous backtest's, by 1.7x on a 2-core AMD EPYC).
  _mm256_zeroupper();
  return lanes[0] ^ lanes[1] ^ lanes[2] ^ lanes[3] ^ ReadTail(in, i);
}
#endif

uint64_t ReadInputs(const Inputs& in) {
#if defined(BENCH_AVX2)
  if (__builtin_cpu_supports("avx2")) return ReadAvx2(in);
#endif
  return ReadPortable(in);
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 != 0 ? v[m] : (v[m - 1] + v[m]) / 2;
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

  const Inputs in{bars.time.data(),
                  bars.open.data(),
                  bars.close.data(),
                  bars.prediction.data(),
                  bars.regimes.at("regime_vix").data(),
                  bars.regimes.at("regime_gmm").data(),
                  n};
  std::vector<double> backtest_times, read_times;
  std::vector<evolve::SimulationResult> results;
  uint64_t checksum = 0;
  for (int r = 0; r < repeats; ++r) {
    // Reading the inputs once, then the backtest, alternately: the same
    // state of the caches and of the machine for both.
    auto t0 = std::chrono::steady_clock::now();
    checksum += ReadInputs(in);
    auto t1 = std::chrono::steady_clock::now();
    read_times.push_back(Seconds(t1 - t0));

    t0 = std::chrono::steady_clock::now();
    auto grid = evolve::engines::BacktestGrid(bars, cells, options);
    t1 = std::chrono::steady_clock::now();
    if (!grid.ok()) {
      std::fprintf(stderr, "backtest: %s\n", grid.status().ToString().c_str());
      return 1;
    }
    backtest_times.push_back(Seconds(t1 - t0));
    results = std::move(grid).value();
  }
  const double best_backtest = *std::min_element(backtest_times.begin(), backtest_times.end());
  const double best_read = *std::min_element(read_times.begin(), read_times.end());
  const double median_backtest = Median(backtest_times);
  const double median_read = Median(read_times);
  const char* portable = std::getenv("EVOLVE_BACKTEST_PORTABLE");
  std::printf("bars=%zu cells=%zu repeats=%d kernels=%s\n", n, cells.size(), repeats,
              portable != nullptr && *portable != 0 ? "portable" : "simd");
  std::printf("backtest_seconds=%.6f\n", best_backtest);
  std::printf("read_inputs_seconds=%.6f\n", best_read);
  std::printf("ratio=%.2f\n", best_backtest / best_read);
  std::printf("backtest_median_seconds=%.6f\n", median_backtest);
  std::printf("read_inputs_median_seconds=%.6f\n", median_read);
  std::printf("median_ratio=%.2f\n", median_backtest / median_read);
  std::printf("# checksum of the read pass (keeps it from being optimised away): %016llx\n",
              static_cast<unsigned long long>(checksum));
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
