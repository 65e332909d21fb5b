// The engines' one pseudo-random generator: xoshiro256** (D. Blackman and
// S. Vigna, "Scrambled Linear Pseudorandom Number Generators", ACM TOMS 47,
// 2021; reference code at https://prng.di.unimi.it/xoshiro256starstar.c)
// seeded through splitmix64 (G. Steele, D. Lea and C. Flood, "Fast
// splittable pseudorandom number generators", OOPSLA 2014), with Lemire's
// unbiased bounded integers (D. Lemire, "Fast Random Integer Generation in
// an Interval", ACM TOMACS 29, 2019).
//
// Every stream is fixed by its definition, unlike the std:: distributions,
// whose output varies by library: seeded results (forests, permutation
// importance, synthetic bars, the validity benchmark's fixed seeds) are the
// same on every platform with IEEE doubles. tests/engines/random_test.cc
// holds known answers; a change to any output here changes them all.
//
// Internal to the engines. Thread-safety: an Rng is a value, used by one
// thread at a time.
#ifndef EVOLVE_ENGINES_SRC_RANDOM_H_
#define EVOLVE_ENGINES_SRC_RANDOM_H_

#include <cmath>
#include <cstdint>

namespace evolve::engines {

class Rng {
 public:
  // The four words of state are splitmix64's first four outputs from `seed`.
  explicit Rng(uint64_t seed);
  // A seed derived from (a, b), e.g. (forest seed, tree index).
  static uint64_t Mix(uint64_t a, uint64_t b);

  // The next 64 bits of xoshiro256**.
  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, n). REQUIRES: n > 0.
  uint32_t Below(uint32_t n);
  // Uniform in [0, 1), with the 53 high bits of Next().
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  // Standard normal by Box-Muller (one draw per two uniforms); deterministic
  // for the seed, unlike std::normal_distribution across library versions.
  double Normal() {
    const double u1 = 1.0 - Uniform();  // in (0, 1]: log(u1) is finite
    const double u2 = Uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

  uint64_t s_[4];
};

// Standard normal deviates from an Rng by the Marsaglia polar method (G.
// Marsaglia and T. A. Bray, "A Convenient Method for Generating Normal
// Variables", SIAM Review 6, 1964): only sqrt (exact in IEEE) and log, so
// the stream does not depend on a library's sin or cos. Each accepted pair
// of uniforms gives two deviates; the second is kept for the next call.
// The synthetic bars' normals (synthetic.h).
class PolarNormal {
 public:
  double operator()(Rng& rng) {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u, v, s;
    do {
      u = 2.0 * rng.Uniform() - 1.0;
      v = 2.0 * rng.Uniform() - 1.0;
      s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    const double f = std::sqrt(-2.0 * std::log(s) / s);
    spare_ = v * f;
    has_spare_ = true;
    return u * f;
  }

 private:
  double spare_ = 0.0;
  bool has_spare_ = false;
};

}  // namespace evolve::engines

#endif  // EVOLVE_ENGINES_SRC_RANDOM_H_
