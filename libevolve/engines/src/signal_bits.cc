// The bit-packed signals of the backtester's pass (signal_bits.h): the
// portable and AVX2 kernels that prepare a chunk, and the switch between
// SIMD and portable kernels.
#include "signal_bits.h"

#include <algorithm>
#include <cstdlib>
#include <limits>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define EVOLVE_BACKTEST_AVX2 1
#include <immintrin.h>
#endif

namespace evolve::engines::backtest_internal {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Bars [base, base + count) of word w of the chunk (count <= 64): returns
// whether they are valid, and fills their returns and signal bits. The
// portable kernel; PrepareWordAvx2 gives the same bits.
bool PrepareWord(const Inputs& in, size_t base, size_t count, size_t w, Chunk* ch) {
  const size_t off = base - ch->begin;
  bool ok = true;
  for (size_t i = 0; i < count; ++i) {
    const size_t j = base + i;
    ok &= (in.open[j] > 0) & (in.open[j] < kInf) & (in.close[j] > 0) & (in.close[j] < kInf);
    ok &= j == 0 || in.time[j] > in.time[j - 1];
  }
  for (size_t i = 0; i < count; ++i) {
    const size_t j = base + i;
    ch->g[off + i] = j == 0 ? 0.0 : in.close[j] / in.close[j - 1] - 1.0;
  }
  const double* p = in.prediction + base;
  for (size_t k = 0; k < in.thresholds.size(); ++k) {
    const double t = in.thresholds[k];
    uint64_t up = 0, down = 0;
    for (size_t i = 0; i < count; ++i) {
      up |= uint64_t{p[i] > t} << i;
      down |= uint64_t{-p[i] > t} << i;
    }
    ch->up[k * kChunkWords + w] = up;
    ch->down[k * kChunkWords + w] = in.allow_short ? down : 0;
  }
  for (size_t f = 1; f < in.filters.size(); ++f) {
    const Filter& filter = in.filters[f];
    const int8_t* labels = in.labels[filter.column] + base;
    uint64_t m = 0;
    for (size_t i = 0; i < count; ++i) m |= uint64_t{labels[i] >= 0 && filter.allowed[labels[i]]} << i;
    ch->filter[f * kChunkWords + w] = m;
  }
  return ok;
}

#if defined(EVOLVE_BACKTEST_AVX2)
// PrepareWord for a whole word (count = 64) after bar 0, with AVX2: the same
// comparisons and the same IEEE divisions (AVX2 brings no FMA contraction),
// so the same bits.
__attribute__((target("avx2"))) bool PrepareWordAvx2(const Inputs& in, size_t base, size_t w, Chunk* ch) {
  const size_t off = base - ch->begin;
  const __m256d zero = _mm256_setzero_pd();
  const __m256d inf = _mm256_set1_pd(kInf);
  const __m256d one = _mm256_set1_pd(1.0);
  __m256d ok = _mm256_castsi256_pd(_mm256_set1_epi64x(-1));
  __m256i increasing = _mm256_set1_epi64x(-1);
  for (size_t i = 0; i < 64; i += 4) {
    const size_t j = base + i;
    const __m256d o = _mm256_loadu_pd(in.open + j);
    const __m256d c = _mm256_loadu_pd(in.close + j);
    const __m256d o_ok = _mm256_and_pd(_mm256_cmp_pd(o, zero, _CMP_GT_OQ), _mm256_cmp_pd(o, inf, _CMP_LT_OQ));
    const __m256d c_ok = _mm256_and_pd(_mm256_cmp_pd(c, zero, _CMP_GT_OQ), _mm256_cmp_pd(c, inf, _CMP_LT_OQ));
    ok = _mm256_and_pd(ok, _mm256_and_pd(o_ok, c_ok));
    const __m256i t = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in.time + j));
    const __m256i t_prev = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in.time + j - 1));
    increasing = _mm256_and_si256(increasing, _mm256_cmpgt_epi64(t, t_prev));
    const __m256d g = _mm256_sub_pd(_mm256_div_pd(c, _mm256_loadu_pd(in.close + j - 1)), one);
    _mm256_storeu_pd(ch->g + off + i, g);
  }
  const double* p = in.prediction + base;
  for (size_t k = 0; k < in.thresholds.size(); ++k) {
    const __m256d t = _mm256_set1_pd(in.thresholds[k]);
    const __m256d neg_t = _mm256_set1_pd(-in.thresholds[k]);
    uint64_t up = 0, down = 0;
    for (size_t i = 0; i < 64; i += 4) {
      const __m256d v = _mm256_loadu_pd(p + i);
      up |= static_cast<uint64_t>(_mm256_movemask_pd(_mm256_cmp_pd(v, t, _CMP_GT_OQ))) << i;
      // -p > t exactly when p < -t (both false for NaN).
      down |= static_cast<uint64_t>(_mm256_movemask_pd(_mm256_cmp_pd(v, neg_t, _CMP_LT_OQ))) << i;
    }
    ch->up[k * kChunkWords + w] = up;
    ch->down[k * kChunkWords + w] = in.allow_short ? down : 0;
  }
  for (size_t f = 1; f < in.filters.size(); ++f) {
    const Filter& filter = in.filters[f];
    const int8_t* labels = in.labels[filter.column] + base;
    uint64_t m = 0;
    if (filter.values.size() <= 8) {
      for (size_t half = 0; half < 2; ++half) {
        const __m256i l = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(labels + 32 * half));
        __m256i hit = _mm256_setzero_si256();
        for (int8_t v : filter.values) hit = _mm256_or_si256(hit, _mm256_cmpeq_epi8(l, _mm256_set1_epi8(v)));
        m |= static_cast<uint64_t>(static_cast<uint32_t>(_mm256_movemask_epi8(hit))) << (32 * half);
      }
    } else {
      for (size_t i = 0; i < 64; ++i) m |= uint64_t{labels[i] >= 0 && filter.allowed[labels[i]]} << i;
    }
    ch->filter[f * kChunkWords + w] = m;
  }
  const bool valid =
      _mm256_movemask_pd(ok) == 0xf && _mm256_movemask_pd(_mm256_castsi256_pd(increasing)) == 0xf;
  // Clean upper register halves for the SSE code that follows (GCC does not
  // always insert this itself; without it, that code runs much slower).
  _mm256_zeroupper();
  return valid;
}
#endif

}  // namespace

// The EVOLVE_BACKTEST_PORTABLE switch: set and not empty, the portable
// kernels run instead of the SIMD ones, with the same results. For the tests
// that compare the two and for timing the portable ones (signal_bits.h,
// docs/engines.md "EVOLVE_BACKTEST_PORTABLE").
bool UseSimd() {
  const char* portable = std::getenv("EVOLVE_BACKTEST_PORTABLE");
  return portable == nullptr || *portable == 0;
}

bool UseAvx2(bool simd) {
#if defined(EVOLVE_BACKTEST_AVX2)
  static const bool cpu = __builtin_cpu_supports("avx2") != 0;
  return simd && cpu;
#else
  (void)simd;
  return false;
#endif
}

bool PrepareChunk(const Inputs& in, bool avx2, Chunk* ch) {
  bool ok = true;
  const size_t words = (ch->len + 63) / 64;
  for (size_t w = 0; w < words; ++w) {
    const size_t base = ch->begin + 64 * w;
    const size_t count = std::min<size_t>(64, in.n - base);
#if defined(EVOLVE_BACKTEST_AVX2)
    if (avx2 && count == 64 && base > 0) {
      ok &= PrepareWordAvx2(in, base, w, ch);
      continue;
    }
#else
    (void)avx2;
#endif
    ok &= PrepareWord(in, base, count, w, ch);
  }
  return ok;
}

}  // namespace evolve::engines::backtest_internal
