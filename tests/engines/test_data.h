// Test data and measures shared by the engines' tests (tests/engines/) and
// benchmarks (tests/bench/bench_*.cc): normal deviates that are the same on
// every platform, a date by the C library, and R^2. Independent of the code
// under test (no engines header).
#ifndef EVOLVE_TESTS_ENGINES_TEST_DATA_H_
#define EVOLVE_TESTS_ENGINES_TEST_DATA_H_

#include <cmath>
#include <cstdint>
#include <ctime>
#include <random>
#include <vector>

namespace evolve::engines {

// Normal deviates by Box-Muller over mt19937_64 (the same on every platform,
// unlike std::normal_distribution).
class MtNormal {
 public:
  explicit MtNormal(uint64_t seed) : rng_(seed) {}
  double operator()() {
    const double u1 = (static_cast<double>(rng_() >> 11) + 0.5) * 0x1.0p-53;
    const double u2 = (static_cast<double>(rng_() >> 11) + 0.5) * 0x1.0p-53;
    return std::sqrt(-2 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  // The next raw 64 bits of the same stream.
  uint64_t Raw() { return rng_(); }

 private:
  std::mt19937_64 rng_;
};

// Unix seconds of 00:00 UTC of a date, by the C library's timegm.
inline int64_t UnixDate(int year, int month, int day) {
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  return static_cast<int64_t>(timegm(&tm));
}

// Coefficient of determination of predictions p for targets y:
// 1 - sum (y - p)^2 / sum (y - mean y)^2.
inline double R2(const std::vector<double>& y, const std::vector<double>& p) {
  double mean = 0.0;
  for (double v : y) mean += v;
  mean /= static_cast<double>(y.size());
  double res = 0.0;
  double tot = 0.0;
  for (size_t i = 0; i < y.size(); ++i) {
    res += (y[i] - p[i]) * (y[i] - p[i]);
    tot += (y[i] - mean) * (y[i] - mean);
  }
  return 1.0 - res / tot;
}

}  // namespace evolve::engines

#endif  // EVOLVE_TESTS_ENGINES_TEST_DATA_H_
