// The backtester's bit-packed signals (signal_bits.h): a chunk's signal
// bits, returns and validity from the portable and the AVX2 kernels, bit
// for bit against a plain reading of the rules, and the set bits of a mask
// as bar offsets.
#include "signal_bits.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <memory>
#include <random>
#include <vector>

namespace evolve::engines::backtest_internal {
namespace {

struct Series {
  std::vector<double> open, close, prediction;
  std::vector<int64_t> time;
  std::vector<int8_t> labels;
};

Series RandomSeries(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-1, 1);
  Series s;
  double price = 100;
  for (size_t i = 0; i < n; ++i) {
    price *= 1 + 0.01 * u(rng);
    s.open.push_back(price);
    s.close.push_back(price * (1 + 0.005 * u(rng)));
    s.time.push_back(static_cast<int64_t>(i) * 60);
    // Some NaN predictions, some exactly at a threshold.
    const double p = i % 17 == 0 ? std::nan("") : (i % 13 == 0 ? 0.25 : u(rng));
    s.prediction.push_back(p);
    s.labels.push_back(static_cast<int8_t>(static_cast<int>(rng() % 5) - 1));  // -1..3
  }
  return s;
}

Inputs InputsOf(const Series& s, bool allow_short) {
  Inputs in;
  in.open = s.open.data();
  in.close = s.close.data();
  in.prediction = s.prediction.data();
  in.time = s.time.data();
  in.n = s.open.size();
  in.thresholds = {0.0, 0.25, 0.5};
  in.allow_short = allow_short;
  in.filters.resize(2);
  in.filters[1].column = 0;
  for (int8_t v : {1, 3}) {
    in.filters[1].allowed[v] = true;
    in.filters[1].values.push_back(v);
  }
  in.labels = {s.labels.data()};
  return in;
}

std::unique_ptr<Chunk> Prepare(const Inputs& in, size_t begin, bool avx2, bool* ok) {
  auto ch = std::make_unique<Chunk>();
  ch->begin = begin;
  ch->len = std::min(kChunk, in.n - begin);
  ch->up.assign(in.thresholds.size() * kChunkWords, 0);
  ch->down.assign(in.thresholds.size() * kChunkWords, 0);
  ch->filter.assign(in.filters.size() * kChunkWords, 0);
  *ok = PrepareChunk(in, avx2, ch.get());
  return ch;
}

bool Bit(const std::vector<uint64_t>& words, size_t k, size_t i) {
  return ((words[k * kChunkWords + i / 64] >> (i % 64)) & 1) != 0;
}

TEST_CASE("signal bits: both kernels give the rules' bits, returns and validity") {
  const Series s = RandomSeries(kChunk + 300, 7);
  for (bool allow_short : {false, true}) {
    const Inputs in = InputsOf(s, allow_short);
    for (size_t begin : {size_t{0}, kChunk}) {
      bool ok_portable = false, ok_simd = false;
      auto portable = Prepare(in, begin, false, &ok_portable);
      auto simd = Prepare(in, begin, UseAvx2(true), &ok_simd);
      CHECK(ok_portable);
      CHECK(ok_simd);
      CHECK(portable->up == simd->up);
      CHECK(portable->down == simd->down);
      CHECK(portable->filter == simd->filter);
      for (size_t i = 0; i < portable->len; ++i) {
        const size_t j = begin + i;
        REQUIRE(portable->g[i] == (j == 0 ? 0.0 : s.close[j] / s.close[j - 1] - 1.0));
        REQUIRE(simd->g[i] == portable->g[i]);
        for (size_t k = 0; k < in.thresholds.size(); ++k) {
          const double p = s.prediction[j], t = in.thresholds[k];
          REQUIRE(Bit(portable->up, k, i) == (p > t));  // false for NaN and at the threshold
          REQUIRE(Bit(portable->down, k, i) == (allow_short && -p > t));
        }
        REQUIRE(Bit(portable->filter, 1, i) == (s.labels[j] == 1 || s.labels[j] == 3));
      }
    }
  }
}

TEST_CASE("signal bits: an invalid bar makes the chunk invalid in both kernels") {
  for (int problem = 0; problem < 3; ++problem) {
    Series s = RandomSeries(600, 11);
    if (problem == 0) s.open[321] = 0;
    if (problem == 1) s.close[321] = std::numeric_limits<double>::infinity();
    if (problem == 2) s.time[321] = s.time[320];
    const Inputs in = InputsOf(s, false);
    bool ok_portable = true, ok_simd = true;
    Prepare(in, 0, false, &ok_portable);
    Prepare(in, 0, UseAvx2(true), &ok_simd);
    CHECK_FALSE(ok_portable);
    CHECK_FALSE(ok_simd);
  }
}

TEST_CASE("signal bits: AppendBits lists the set bits as offsets, ascending") {
  std::vector<uint16_t> out(64 + 8);
  size_t count = AppendBits(0, 0, out.data(), 0);
  CHECK(count == 0);
  count = AppendBits((uint64_t{1} << 63) | (uint64_t{1} << 8) | 0x5, 128, out.data(), 0);
  REQUIRE(count == 4);
  CHECK(out[0] == 128);
  CHECK(out[1] == 130);
  CHECK(out[2] == 136);
  CHECK(out[3] == 191);
  count = AppendBits(~uint64_t{0}, 0, out.data(), 0);
  REQUIRE(count == 64);
  for (size_t i = 0; i < 64; ++i) CHECK(out[i] == i);
  CHECK(CountTrailingZeros(uint64_t{1} << 40) == 40);
}

TEST_CASE("signal bits: EVOLVE_BACKTEST_PORTABLE selects the portable kernels") {
  unsetenv("EVOLVE_BACKTEST_PORTABLE");
  CHECK(UseSimd());
  setenv("EVOLVE_BACKTEST_PORTABLE", "", 1);
  CHECK(UseSimd());  // set but empty: still SIMD
  setenv("EVOLVE_BACKTEST_PORTABLE", "1", 1);
  CHECK_FALSE(UseSimd());
  CHECK_FALSE(UseAvx2(UseSimd()));
  unsetenv("EVOLVE_BACKTEST_PORTABLE");
}

}  // namespace
}  // namespace evolve::engines::backtest_internal
