// Feature columns of a symbol's bars: the inputs of the built-in trainer and
// of the FeatureSource. docs/features.md defines every column exactly (warm-up,
// population or sample stdev, units); the indicators themselves are
// internal (libevolve/engines/src/indicators.h).
//
// Guarantees:
//   * No look-ahead: the value at bar i uses bars 0..i only (and reference
//     bars complete by then), and is bit-for-bit unchanged when bars are
//     appended.
//   * NaN where a value is undefined (warm-up, division by zero); never
//     +/-Infinity.
//   * Price-level columns (sma_*, ema_*, bb_upper/lower, macd_*, atr_14,
//     momentum_10) are in price units and non-stationary: they keep the names
//     the seed and the original feature service use, but a model trained on
//     them learns price levels; prefer the relative columns (close_to_sma_*,
//     bb_pct_b, atr_pct_14, returns, z-scores) for anything that must
//     generalise across time or symbols.
//
// Reference symbols add, for each reference (prefix = its symbol lower-cased
// + "_"): return_1, log_return_1, rsi_14, volatility_20, return_z_score_20,
// computed on the reference's own bars and aligned to the symbol's bars: bar
// i takes the reference's last bar complete by bar i's close, i.e. the last
// with time <= bar i's time when both are daily or both intraday (a daily bar,
// stamped at 00:00 of its date, is complete at the end of that date), with the
// values carried forward; NaN before the reference's first bar.
//
// Thread-safety: pure functions, reentrant.
#ifndef EVOLVE_ENGINES_FEATURES_H_
#define EVOLVE_ENGINES_FEATURES_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "evolve/engines/bars.h"
#include "evolve/status.h"

namespace evolve::engines {

struct FeatureFrame {
  std::vector<int64_t> time;       // the times of the kept bars
  std::vector<std::string> names;  // one per column
  // columns[j][r]: column j at bar first_row + r; NaN where undefined.
  // Empty for a column a FeatureRequest did not keep.
  std::vector<std::vector<double>> columns;
  // The bar of row 0 (FeatureRequest::begin; 0 for a whole frame).
  size_t first_row = 0;
  // Per column: the first bar of the whole series where it is defined
  // (finite), whether kept or not, and whatever the rows kept; the series'
  // length when it is never defined.
  std::vector<size_t> first_defined;

  size_t rows() const { return time.size(); }
  // The position of column `name` in names/columns, or -1.
  int Index(const std::string& name) const;
};

// Which part of the frame ComputeFeatures keeps. Every column is computed
// over every bar (the indicators are recursive: a value depends on all the
// bars before it), and every column's first_defined is set; only the kept
// values are stored, so a long series can be worked through in windows of
// rows, and columns, that fit in memory. The kept values are bit for bit
// those of the whole frame.
struct FeatureRequest {
  size_t begin = 0;                  // the first bar kept
  size_t end = SIZE_MAX;             // one past the last bar kept (at most the bars')
  std::vector<std::string> columns;  // the columns kept, by name; empty: every column
  bool keep_none = false;            // keep no column (first_defined only)
};

// Every column ComputeFeatures gives for these references, in its order: the
// symbol's own columns, then each reference's, in the order given.
std::vector<std::string> FeatureNames(const std::vector<std::string>& reference_symbols);

// The columns of the symbol's own bars (FeatureNames({})), in order.
const std::vector<std::string>& OwnFeatureNames();

// Computes every column for `bars`, with the reference symbols' columns
// aligned as described above.
// Errors: kInvalidArgument for bars (own or reference) whose columns differ
// in length, whose times are not strictly increasing, or with a price that is
// not positive and finite or a negative or non-finite volume (ParseBarsCsv
// never yields such bars); a null reference; two references with the same
// lower-cased symbol.
//
// Series of 100,000 bars or more are computed by two threads (the columns
// split in two groups of about equal cost) when the machine has two cores.
Result<FeatureFrame> ComputeFeatures(const Bars& bars,
                                     const std::vector<std::shared_ptr<const Bars>>& references = {});

// The part of that frame `request` asks for. Errors: as above, and
// kInvalidArgument for begin > end or begin past the last bar, or a column
// name that is not one of FeatureNames (named).
Result<FeatureFrame> ComputeFeatures(const Bars& bars,
                                     const std::vector<std::shared_ptr<const Bars>>& references,
                                     const FeatureRequest& request);

}  // namespace evolve::engines

#endif  // EVOLVE_ENGINES_FEATURES_H_
