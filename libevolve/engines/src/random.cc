// The engines' pseudo-random generator (random.h): seeding, seed mixing
// and bounded integers.
#include "random.h"

namespace evolve::engines {
namespace {

// splitmix64 (Steele, Lea and Flood 2014): the next output of the state.
uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

Rng::Rng(uint64_t seed) {
  uint64_t state = seed;
  for (uint64_t& s : s_) s = SplitMix64(&state);
}

uint64_t Rng::Mix(uint64_t a, uint64_t b) {
  uint64_t state = a;
  uint64_t h = SplitMix64(&state);
  state = h ^ (b + 0x632be59bd9b4e019ULL);
  return SplitMix64(&state);
}

uint32_t Rng::Below(uint32_t n) {
  uint64_t m = (Next() >> 32) * n;
  uint32_t low = static_cast<uint32_t>(m);
  if (low < n) {
    const uint32_t threshold = static_cast<uint32_t>(-n) % n;
    while (low < threshold) {
      m = (Next() >> 32) * n;
      low = static_cast<uint32_t>(m);
    }
  }
  return static_cast<uint32_t>(m >> 32);
}

}  // namespace evolve::engines
