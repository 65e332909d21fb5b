// The bit-packed signals of the backtester's pass (backtest.cc): the shared
// per-chunk data every cell of a grid reads, prepared once per chunk of
// kChunk bars, with AVX2 where the CPU has it.
//
// Layout of the pass (docs/simulation.md section 6). The bars are
// processed kChunk at a time. For a chunk, the work shared by all cells is
// done first: validation, the close-to-close returns, and one bit mask per
// distinct threshold and per distinct regime filter. Then every cell is
// simulated over the chunk while its data is in the L1/L2 cache: its
// signals are the AND of two masks, its position changes the XOR of those
// shifted by one bar, and only the bars where its position changes, or that
// it holds, cost it any work (AppendBits turns the changes into bar
// offsets).
//
// The portable kernels and the SIMD ones (SSE2 on x86-64, AVX2 where the CPU
// has it) give the same bits; UseSimd() says which run, and the environment
// variable EVOLVE_BACKTEST_PORTABLE selects the portable ones (see UseSimd).
//
// Internal to the engines. Thread-safety: pure functions; a Chunk is
// written by one thread.
#ifndef EVOLVE_ENGINES_SRC_SIGNAL_BITS_H_
#define EVOLVE_ENGINES_SRC_SIGNAL_BITS_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace evolve::engines::backtest_internal {

constexpr size_t kChunk = 4096;
constexpr size_t kChunkWords = kChunk / 64;

inline int CountTrailingZeros(uint64_t v) { return __builtin_ctzll(v); }

// The positions of the set bits of each byte value, ascending (then zeros),
// and their number.
struct ByteBits {
  uint16_t position[8];
  uint16_t count;
};

constexpr std::array<ByteBits, 256> MakeByteBits() {
  std::array<ByteBits, 256> table{};
  for (int v = 0; v < 256; ++v) {
    uint16_t k = 0;
    for (int b = 0; b < 8; ++b) {
      if (((v >> b) & 1) != 0) table[v].position[k++] = static_cast<uint16_t>(b);
    }
    table[v].count = k;
  }
  return table;
}

inline constexpr std::array<ByteBits, 256> kByteBits = MakeByteBits();

// Appends offset + the positions of the set bits of `bits`, ascending, to
// out[count ..] and returns the new count. A byte at a time, without a
// data-dependent branch; it writes up to 8 scratch entries past the result.
inline size_t AppendBits(uint64_t bits, uint16_t offset, uint16_t* out, size_t count) {
  for (int b = 0; b < 8; ++b) {
    const ByteBits& t = kByteBits[(bits >> (8 * b)) & 0xff];
    const auto at = static_cast<uint16_t>(offset + 8 * b);
#if defined(__SSE2__)
    const __m128i p = _mm_loadu_si128(reinterpret_cast<const __m128i*>(t.position));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + count),
                     _mm_add_epi16(p, _mm_set1_epi16(static_cast<int16_t>(at))));
#else
    for (int i = 0; i < 8; ++i)
      out[count + static_cast<size_t>(i)] = static_cast<uint16_t>(at + t.position[i]);
#endif
    count += t.count;
  }
  return count;
}

// The shared per-bar data of the chunk of bars [begin, begin + len).
struct Chunk {
  size_t begin = 0, len = 0;
  // g[i]: close-to-close return of bar begin + i (0 for bar 0).
  double g[kChunk] = {};
  // Bit i of word w is bar begin + 64 w + i: up[k * kChunkWords + w] is
  // prediction > thresholds[k], down[...] is -prediction > thresholds[k]
  // (0 unless allow_short), filter[f * kChunkWords + w] is "regime filter f
  // allows the bar's label" (filter 0 allows every bar).
  std::vector<uint64_t> up, down, filter;
};

// A regime filter: the labels (0..127) one or more cells allow on a column.
struct Filter {
  size_t column = 0;
  bool allowed[128] = {};
  std::vector<int8_t> values;  // the allowed labels, ascending
};

// What the per-chunk preparation reads.
struct Inputs {
  const double* open = nullptr;
  const double* close = nullptr;
  const double* prediction = nullptr;
  const int64_t* time = nullptr;
  size_t n = 0;
  std::vector<double> thresholds;  // distinct, ascending
  bool allow_short = false;
  std::vector<Filter> filters;        // [0] allows every bar
  std::vector<const int8_t*> labels;  // per regime column
};

// Whether the SIMD kernels run: true unless the environment variable
// EVOLVE_BACKTEST_PORTABLE is set and not empty. Read at every BacktestGrid
// call. It exists so that tests can check, in one process, that the
// portable kernels (PrepareWord in signal_bits.cc, HeldLongPortable in
// drawdown_band.h) give the same bits as the SSE2/AVX2 ones
// (tests/engines/backtest_test.cc, "the portable kernels give the same bits
// as the SIMD ones"; signal_bits_test.cc), and so that tests/bench/
// bench_backtest can time the portable kernels (docs/engines.md). Results
// never depend on it; only speed does.
bool UseSimd();

// Whether the AVX2 kernel prepares whole words: `simd` and a CPU with AVX2
// (x86-64 Linux with GCC; false elsewhere).
bool UseAvx2(bool simd);

// Prepares the chunk [ch->begin, ch->begin + ch->len); false when a bar of it
// is invalid.
bool PrepareChunk(const Inputs& in, bool avx2, Chunk* ch);

}  // namespace evolve::engines::backtest_internal

#endif  // EVOLVE_ENGINES_SRC_SIGNAL_BITS_H_
