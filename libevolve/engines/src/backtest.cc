// The built-in backtester (backtest.h): one pass over the bars for a whole
// grid of cells. The calendar of its weekly metrics is calendar.h's, the
// per-chunk signal bits signal_bits.h's, the drawdown kernels of long
// positions drawdown_band.h's; this file simulates the cells and reports.
#include "evolve/engines/backtest.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "drawdown_band.h"
#include "evolve/engines/calendar.h"
#include "evolve/selection_stats.h"
#include "position.h"
#include "signal_bits.h"

namespace evolve::engines {
namespace {

using namespace backtest_internal;  // NOLINT: the pass's own kernels

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr int64_t kSecondsPerDay = 86400;
constexpr uint64_t kSecondsPerWeek = 7 * 86400;
constexpr double kSecondsPerYear = 365.25 * 86400;
// More weeks than 1,000 years hold means the time stamps are not seconds.
constexpr int64_t kMaxWeeks = 1000 * 53;

// An optional metric is set only when finite: no NaN or Infinity leaves.
std::optional<double> Finite(double v) { return std::isfinite(v) ? std::optional<double>(v) : std::nullopt; }

// ---------------------------------------------------------------------------
// The simulation of the cells, a chunk at a time over the chunk's signal
// bits (signal_bits.h has the layout of the pass). Long-only grids (the
// default) take a specialised path (Engine::RunLong): the transitions'
// arithmetic without data-dependent branches, and the drawdown of the bars
// held by a vector kernel (HeldLongSse2, drawdown_band.h) that proves, bar
// by bar, that it gives the same bits as the general rule, or defers to it.

// Per-cell state.
struct CellState {
  // Position: +1 long, -1 short, 0 flat.
  int side = 0;
  // Realised equity: when flat, the equity; in a trade, the equity at entry.
  double cash = 0;
  // Long: units held, equity = units * close. Short: units = cash / entry,
  // equity = units * max(0, anchor - close) with anchor = entry (2 - c).
  double units = 0;
  double anchor = 0;
  size_t entry_bar = 0;
  double entry_price = 0;
  // Long: the close-to-close returns (and squares) of the bars held so far
  // after the entry bar, summed in bar order.
  double held1 = 0, held2 = 0;
  // Equity at the close before the last bar, kept when the last bar's
  // return must wait for the final exit.
  double deferred_prev = 0;

  // Trades: count, Welford mean / M2 of r (so equal returns give exactly 0).
  int64_t trades = 0;
  double mean_r = 0, m2_r = 0;
  double gross_profit = 0, gross_loss = 0;
  int64_t wins = 0;

  // Bars: sums of per-bar equity returns, bars in the market, drawdown.
  double sum_bar = 0, sum_bar2 = 0;
  int64_t bars_in = 0;
  double peak = 0, mdd = 0;
  // Closes inside [band_lo, band_hi] change neither the peak nor the
  // maximum drawdown of a long position (SetBand).
  double band_lo = -kInf, band_hi = kInf;

  // Carries between 64-bar words: the signal and position bits of the bar
  // before the word.
  uint64_t sig_long = 0, sig_short = 0, pos_long = 0, pos_short = 0;

  std::vector<int32_t> week_trades;
};

class Engine {
 public:
  // week0: the Unix time of the Monday 00:00 UTC that starts the first week.
  Engine(const BacktestBars& bars, const BacktestOptions& options, size_t cells, int64_t week0, size_t weeks,
         std::vector<std::vector<BacktestTrade>>* trades, bool simd)
      : simd_(simd),
        bars_(bars),
        n_(bars.time.size()),
        cost_((options.fee_bps + options.slippage_bps) / 1e4),
        long_factor_((1.0 - cost_) / (1.0 + cost_)),
        week0_(week0),
        trades_(trades) {
    state_.resize(cells);
    for (CellState& s : state_) {
      s.cash = options.initial_cash;
      s.peak = options.initial_cash;
      s.week_trades.assign(weeks, 0);
    }
    if (trades_ != nullptr) trades_->assign(cells, {});
  }

  const CellState& state(size_t c) const { return state_[c]; }

  // Cell c over the bars of a chunk, long and short: every transition, and
  // between them the marks of the position held. Bar n-1 is only ever a
  // transition (a position held over it is closed by Finish).
  void Run(size_t c, const Chunk& ch, const uint64_t* up, const uint64_t* down, const uint64_t* filter) {
    CellState& s = state_[c];
    const double* close = bars_.close.data();
    const size_t words = (ch.len + 63) / 64;
    for (size_t w = 0; w < words; ++w) {
      const size_t base = ch.begin + 64 * w;
      const size_t count = std::min<size_t>(64, n_ - base);
      const uint64_t valid = count == 64 ? ~uint64_t{0} : (uint64_t{1} << count) - 1;
      // The position during bar j is the signal of bar j - 1.
      const uint64_t sig_long = up[w] & filter[w];
      const uint64_t sig_short = down[w] & filter[w];
      const uint64_t pos_long = ((sig_long << 1) | s.sig_long) & valid;
      const uint64_t pos_short = ((sig_short << 1) | s.sig_short) & valid;
      s.sig_long = sig_long >> 63;
      s.sig_short = sig_short >> 63;
      uint64_t changes =
          ((pos_long ^ ((pos_long << 1) | s.pos_long)) | (pos_short ^ ((pos_short << 1) | s.pos_short))) &
          valid;
      s.pos_long = pos_long >> 63;
      s.pos_short = pos_short >> 63;
      // Marks stop before bar n - 1.
      const size_t mark_end = std::min(base + count, n_ - 1);
      size_t from = base;
      while (true) {
        const size_t to = changes != 0 ? base + CountTrailingZeros(changes) : base + count;
        // Bars [from, to) hold the position s.side, entered before `from`.
        const size_t end = std::min(to, mark_end);
        if (s.side > 0) {
          for (size_t j = from; j < end; ++j) {
            const double g = ch.g[j - ch.begin];
            s.held1 += g;
            s.held2 += g * g;
            const double cj = close[j];
            if (cj < s.band_lo || cj > s.band_hi) {
              Drawdown(s, s.units * cj);
              SetBand(s);
            }
          }
        } else if (s.side < 0) {
          for (size_t j = from; j < end; ++j) {
            const double prev = Mark(s, close[j - 1]);
            const double now = Mark(s, close[j]);
            AddBar(s, prev, now);
            Drawdown(s, now);
          }
        }
        if (changes == 0) break;
        const uint64_t bit = changes & (~changes + 1);
        const int side = (pos_long & bit) != 0 ? 1 : ((pos_short & bit) != 0 ? -1 : 0);
        Transition(c, to, side);
        changes &= changes - 1;
        from = to + 1;
      }
    }
  }

  // Long-only cell c over the bars of a chunk: Run's arithmetic, specialised
  // (every transition alternates between an entry from flat and an exit to
  // flat) and free of data-dependent branches but the transitions.
  void RunLong(size_t c, const Chunk& ch, const uint64_t* up, const uint64_t* filter) {
    CellState& s = state_[c];
    const double* open = bars_.open.data();
    const double* close = bars_.close.data();
    // The bars where the position changes, as offsets in the chunk.
    uint16_t* ev = events_.data();
    size_t count = 0;
    const size_t words = (ch.len + 63) / 64;
    for (size_t w = 0; w < words; ++w) {
      const size_t base = ch.begin + 64 * w;
      const size_t bars = std::min<size_t>(64, n_ - base);
      const uint64_t valid = bars == 64 ? ~uint64_t{0} : (uint64_t{1} << bars) - 1;
      const uint64_t sig = up[w] & filter[w];
      const uint64_t pos = ((sig << 1) | s.sig_long) & valid;
      s.sig_long = sig >> 63;
      const uint64_t changes = (pos ^ ((pos << 1) | s.pos_long)) & valid;
      s.pos_long = pos >> 63;
      if (changes != 0) count = AppendBits(changes, static_cast<uint16_t>(64 * w), ev, count);
    }
    // Bars held long before bar n - 1 are marked; n - 1 is closed by Finish.
    const size_t held_end = std::min(ch.begin + ch.len, n_ - 1);
    size_t from = ch.begin;  // the first held bar not yet marked
    for (size_t e = 0; e < count; ++e) {
      const size_t j = ch.begin + ev[e];
      if (s.side > 0) {  // exit at open[j]
        const double units = s.units;
        HeldLong(s, ch, from, j, units);
        const double prev = units * close[j - 1];
        s.sum_bar += s.held1;
        s.sum_bar2 += s.held2;
        const double price = open[j];
        const double x = price / s.entry_price;
        const double r = std::max(x * long_factor_ - 1.0, -1.0);
        ++s.trades;
        const double delta = r - s.mean_r;
        s.mean_r += delta / static_cast<double>(s.trades);
        s.m2_r += delta * (r - s.mean_r);
        // Adding or subtracting a zero to a sum >= +0 changes no bit.
        s.gross_profit += std::max(r, 0.0);
        s.gross_loss -= std::min(r, 0.0);
        s.wins += r > 0;
        s.cash *= 1.0 + r;
        s.bars_in += static_cast<int64_t>(j - s.entry_bar);
        if (trades_ != nullptr) {
          (*trades_)[c].push_back(BacktestTrade{s.entry_bar, j, false, 1, s.entry_price, price, r});
        }
        s.side = 0;
        s.units = 0;
        const double now = s.cash;
        const double q = now / prev - 1.0;
        const double rb = prev > 0 ? q : 0.0;
        s.sum_bar += rb;
        s.sum_bar2 += rb * rb;
        DrawdownBranchFree(s, now);
      } else {  // entry at open[j]
        const double prev = s.cash;
        const double price = open[j];
        s.side = 1;
        s.entry_bar = j;
        s.entry_price = price;
        s.units = LongUnits(s.cash, price, cost_);
        s.held1 = 0;
        s.held2 = 0;
        const auto week = static_cast<uint64_t>(bars_.time[j] - week0_) / kSecondsPerWeek;
        if (week < s.week_trades.size()) ++s.week_trades[week];
        if (j + 1 == n_) {  // the final exit at this close completes the bar
          s.deferred_prev = prev;
        } else {
          const double now = s.units * close[j];
          const double q = now / prev - 1.0;
          const double rb = prev > 0 ? q : 0.0;
          s.sum_bar += rb;
          s.sum_bar2 += rb * rb;
          DrawdownBranchFree(s, now);
        }
      }
      from = j + 1;
    }
    if (s.side > 0 && from < held_end) HeldLong(s, ch, from, held_end, s.units);
  }

  // After the last bar: closes an open position at the last close.
  void Finish(size_t c) {
    CellState& s = state_[c];
    if (s.side == 0) return;
    const size_t last = n_ - 1;
    double prev = s.deferred_prev;
    if (s.entry_bar < last) {
      if (s.side > 0) {
        s.sum_bar += s.held1;
        s.sum_bar2 += s.held2;
      }
      prev = Mark(s, bars_.close[last - 1]);
    }
    Exit(c, last, bars_.close[last], true);
    AddBar(s, prev, s.cash);
    Drawdown(s, s.cash);
  }

 private:
  static double Mark(const CellState& s, double price) {
    return MarkToMarket(s.side, s.units, s.anchor, s.cash, price);
  }

  static void AddBar(CellState& s, double prev, double now) {
    const double r = prev > 0 ? now / prev - 1.0 : 0.0;
    s.sum_bar += r;
    s.sum_bar2 += r * r;
  }

  static void Drawdown(CellState& s, double equity) {
    if (equity > s.peak) {
      s.peak = equity;
    } else if (s.peak > 0) {
      const double dd = 1.0 - equity / s.peak;
      if (dd > s.mdd) s.mdd = dd;
    }
  }

  // Drawdown without branches. The peak is always > 0 (it starts at the
  // initial cash), and when equity > peak, 1 - equity / peak <= 0 <= mdd, so
  // taking the maximum unconditionally changes nothing then.
  static void DrawdownBranchFree(CellState& s, double equity) {
    const double dd = 1.0 - equity / s.peak;
    s.mdd = std::max(s.mdd, dd);
    s.peak = std::max(s.peak, equity);
  }

  // The band of a long position: closes inside it change neither the peak
  // nor the maximum drawdown (up to rounding at its edges).
  static void SetBand(CellState& s) {
    if (s.side > 0 && s.units > 0) {
      s.band_hi = s.peak / s.units;
      s.band_lo = s.peak * (1.0 - s.mdd) / s.units;
    } else {
      s.band_lo = -kInf;
      s.band_hi = kInf;
    }
  }

  // The bars [from, to) held long with `units` after the entry bar: their
  // returns into held1/held2, and their marks by Run's rule.
  void HeldLong(CellState& s, const Chunk& ch, size_t from, size_t to, double units) {
    if (from >= to) return;
    const double* c = bars_.close.data() + from;
    const double* g = ch.g + (from - ch.begin);
#if defined(__SSE2__)
    if (simd_ ? HeldLongSse2(c, g, to - from, units, &s.peak, &s.mdd, &s.held1, &s.held2)
              : HeldLongPortable(c, g, to - from, units, &s.peak, &s.mdd, &s.held1, &s.held2)) {
      return;
    }
#else
    if (HeldLongPortable(c, g, to - from, units, &s.peak, &s.mdd, &s.held1, &s.held2)) return;
#endif
    ExactHeldLong(s, from, to, units);
  }

  // Run's rule for the marks of bars [from, to) held long with `units`:
  // only a close outside the band is marked.
  void ExactHeldLong(CellState& s, size_t from, size_t to, double units) {
    const double* close = bars_.close.data();
    auto band = [&s, units](double* lo, double* hi) {
      *hi = units > 0 ? s.peak / units : kInf;
      *lo = units > 0 ? s.peak * (1.0 - s.mdd) / units : -kInf;
    };
    double lo, hi;
    band(&lo, &hi);
    for (size_t j = from; j < to; ++j) {
      const double cj = close[j];
      if (cj < lo || cj > hi) {
        Drawdown(s, units * cj);
        band(&lo, &hi);
      }
    }
  }

  void Exit(size_t c, size_t bar, double price, bool at_close) {
    CellState& s = state_[c];
    const double x = price / s.entry_price;
    // Long: exit (1 - c) / (entry (1 + c)) - 1, as x * long_factor_ - 1.
    double r = s.side > 0 ? x * long_factor_ - 1.0 : (1.0 - cost_) - x * (1.0 + cost_);
    r = std::max(r, -1.0);
    ++s.trades;
    const double delta = r - s.mean_r;
    s.mean_r += delta / static_cast<double>(s.trades);
    s.m2_r += delta * (r - s.mean_r);
    if (r > 0) {
      s.gross_profit += r;
      ++s.wins;
    } else if (r < 0) {
      s.gross_loss -= r;
    }
    s.cash *= 1.0 + r;
    s.bars_in += static_cast<int64_t>((at_close ? bar + 1 : bar) - s.entry_bar);
    if (trades_ != nullptr) {
      (*trades_)[c].push_back(BacktestTrade{s.entry_bar, bar, at_close, s.side, s.entry_price, price, r});
    }
    s.side = 0;
    s.units = 0;
  }

  void Enter(size_t c, size_t bar, int side) {
    CellState& s = state_[c];
    const double price = bars_.open[bar];
    s.side = side;
    s.entry_bar = bar;
    s.entry_price = price;
    if (side > 0) {
      s.units = LongUnits(s.cash, price, cost_);
    } else {
      s.units = ShortUnits(s.cash, price);
      s.anchor = ShortAnchor(price, cost_);
    }
    s.held1 = 0;
    s.held2 = 0;
    // Time stamps are validated as increasing before the chunk is simulated,
    // so time >= week0_; the bound check is a guard.
    const auto week = static_cast<uint64_t>(bars_.time[bar] - week0_) / kSecondsPerWeek;
    if (week < s.week_trades.size()) ++s.week_trades[week];
  }

  // Position of cell c changes to new_side at the open of bar j >= 1.
  void Transition(size_t c, size_t j, int new_side) {
    CellState& s = state_[c];
    const double prev = Mark(s, bars_.close[j - 1]);
    if (s.side != 0) {
      if (s.side > 0) {  // bars entry+1 .. j-1 earned their close-to-close return
        s.sum_bar += s.held1;
        s.sum_bar2 += s.held2;
      }
      Exit(c, j, bars_.open[j], false);
    }
    if (new_side != 0) Enter(c, j, new_side);
    if (j + 1 == n_ && s.side != 0) {  // the final exit at this close completes the bar
      s.deferred_prev = prev;
      return;
    }
    const double now = Mark(s, bars_.close[j]);
    AddBar(s, prev, now);
    Drawdown(s, now);
    SetBand(s);
  }

  const bool simd_;
  const BacktestBars& bars_;
  const size_t n_;
  const double cost_;
  const double long_factor_;
  const int64_t week0_;
  std::vector<std::vector<BacktestTrade>>* trades_;
  std::vector<CellState> state_;
  // RunLong's scratch: up to kChunk offsets, and AppendBits' 8 past them.
  std::vector<uint16_t> events_ = std::vector<uint16_t>(kChunk + 8);
};

std::string BarProblem(const BacktestBars& bars) {
  for (size_t j = 0; j < bars.time.size(); ++j) {
    if (!(bars.open[j] > 0 && bars.open[j] < kInf)) {
      return "open[" + std::to_string(j) + "]: must be positive and finite";
    }
    if (!(bars.close[j] > 0 && bars.close[j] < kInf)) {
      return "close[" + std::to_string(j) + "]: must be positive and finite";
    }
    if (j > 0 && bars.time[j] <= bars.time[j - 1]) {
      return "time[" + std::to_string(j) + "]: not after time[" + std::to_string(j - 1) + "]";
    }
  }
  return "bars: invalid";
}

Status Validate(const BacktestBars& bars, const std::vector<BacktestCell>& cells,
                const BacktestOptions& options) {
  const size_t n = bars.time.size();
  if (n == 0) return InvalidArgumentError("bars: no bars to simulate");
  if (bars.open.size() != n || bars.close.size() != n || bars.prediction.size() != n) {
    return InvalidArgumentError("bars: time, open, close and prediction must have the same length (" +
                                std::to_string(n) + ", " + std::to_string(bars.open.size()) + ", " +
                                std::to_string(bars.close.size()) + ", " +
                                std::to_string(bars.prediction.size()) + ")");
  }
  for (const auto& [name, labels] : bars.regimes) {
    if (labels.size() != n) {
      return InvalidArgumentError("regimes[" + name + "]: has " + std::to_string(labels.size()) +
                                  " labels for " + std::to_string(n) + " bars");
    }
  }
  for (size_t c = 0; c < cells.size(); ++c) {
    const BacktestCell& cell = cells[c];
    const std::string name = "cells[" + std::to_string(c) + "]";
    if (!(cell.threshold >= 0) || !std::isfinite(cell.threshold)) {
      return InvalidArgumentError(name + ".threshold: must be finite and >= 0");
    }
    if (!cell.regime_column.empty() && bars.regimes.count(cell.regime_column) == 0) {
      return InvalidArgumentError(name + ".regime_column: unknown regime column \"" + cell.regime_column +
                                  "\"");
    }
  }
  auto bad = [](double v) { return !(v >= 0) || !std::isfinite(v); };
  if (bad(options.fee_bps)) return InvalidArgumentError("fee_bps: must be finite and >= 0");
  if (bad(options.slippage_bps)) return InvalidArgumentError("slippage_bps: must be finite and >= 0");
  if (options.fee_bps + options.slippage_bps >= 1e4) {
    return InvalidArgumentError("fee_bps + slippage_bps: must be < 10000 (100% per side)");
  }
  if (!(options.initial_cash > 0) || !std::isfinite(options.initial_cash)) {
    return InvalidArgumentError("initial_cash: must be finite and > 0");
  }
  if (bad(options.bars_per_year)) return InvalidArgumentError("bars_per_year: must be finite and >= 0");
  return Status::Ok();
}

}  // namespace

Result<std::vector<SimulationResult>> BacktestGrid(const BacktestBars& bars,
                                                   const std::vector<BacktestCell>& cells,
                                                   const BacktestOptions& options,
                                                   std::vector<std::vector<BacktestTrade>>* trades) {
  EVOLVE_RETURN_IF_ERROR(Validate(bars, cells, options));
  const size_t n = bars.time.size();
  const size_t num_cells = cells.size();
  if (trades != nullptr) trades->assign(num_cells, {});
  if (num_cells == 0) return std::vector<SimulationResult>{};
  if (bars.time[n - 1] < bars.time[0]) return InvalidArgumentError(BarProblem(bars));

  // Distinct thresholds, and each cell's.
  std::vector<double> thresholds;
  for (const BacktestCell& cell : cells) thresholds.push_back(cell.threshold);
  std::sort(thresholds.begin(), thresholds.end());
  thresholds.erase(std::unique(thresholds.begin(), thresholds.end()), thresholds.end());
  std::vector<size_t> cell_threshold(num_cells);
  for (size_t c = 0; c < num_cells; ++c) {
    cell_threshold[c] = static_cast<size_t>(
        std::lower_bound(thresholds.begin(), thresholds.end(), cells[c].threshold) - thresholds.begin());
  }

  // Distinct regime filters (column, allowed labels >= 0), and each cell's;
  // filter 0 allows every bar (a cell without a column).
  std::vector<std::string> columns;
  std::vector<Filter> filters(1);
  std::vector<size_t> cell_filter(num_cells, 0);
  for (size_t c = 0; c < num_cells; ++c) {
    const BacktestCell& cell = cells[c];
    if (cell.regime_column.empty()) continue;
    Filter f;
    f.column =
        static_cast<size_t>(std::find(columns.begin(), columns.end(), cell.regime_column) - columns.begin());
    if (f.column == columns.size()) columns.push_back(cell.regime_column);
    for (int v : cell.allowed) {
      if (v >= 0 && v < 128) f.allowed[v] = true;
    }
    for (int v = 0; v < 128; ++v) {
      if (f.allowed[v]) f.values.push_back(static_cast<int8_t>(v));
    }
    size_t k = 1;
    while (k < filters.size() &&
           !(filters[k].column == f.column && std::equal(f.allowed, f.allowed + 128, filters[k].allowed))) {
      ++k;
    }
    if (k == filters.size()) filters.push_back(f);
    cell_filter[c] = k;
  }
  std::vector<const int8_t*> labels(columns.size());
  for (size_t q = 0; q < columns.size(); ++q) labels[q] = bars.regimes.at(columns[q]).data();

  const int64_t monday0 = IsoWeekMonday(bars.time[0]);
  const int64_t span_weeks = (IsoWeekMonday(bars.time[n - 1]) - monday0) / 7 + 1;
  if (span_weeks > kMaxWeeks) {
    return InvalidArgumentError("time: the bars span " + std::to_string(span_weeks) +
                                " weeks; time stamps must be Unix seconds");
  }
  const auto weeks = static_cast<size_t>(span_weeks);
  const bool simd = UseSimd();
  const bool avx2 = UseAvx2(simd);
  Engine engine(bars, options, num_cells, monday0 * kSecondsPerDay, weeks, trades, simd);

  const double* open = bars.open.data();
  const double* close = bars.close.data();
  const int64_t* time = bars.time.data();
  Inputs in;
  in.open = open;
  in.close = close;
  in.prediction = bars.prediction.data();
  in.time = time;
  in.n = n;
  in.thresholds = thresholds;
  in.allow_short = options.allow_short;
  in.filters = filters;
  in.labels = labels;
  auto chunk = std::make_unique<Chunk>();
  Chunk& ch = *chunk;
  ch.up.assign(thresholds.size() * kChunkWords, 0);
  ch.down.assign(thresholds.size() * kChunkWords, 0);
  ch.filter.assign(filters.size() * kChunkWords, 0);
  std::fill(ch.filter.begin(), ch.filter.begin() + kChunkWords, ~uint64_t{0});
  for (size_t begin = 0; begin < n; begin += kChunk) {
    ch.begin = begin;
    ch.len = std::min(kChunk, n - begin);
    if (!PrepareChunk(in, avx2, &ch)) return InvalidArgumentError(BarProblem(bars));
    for (size_t c = 0; c < num_cells; ++c) {
      const uint64_t* up = &ch.up[cell_threshold[c] * kChunkWords];
      const uint64_t* filter = &ch.filter[cell_filter[c] * kChunkWords];
      if (options.allow_short) {
        engine.Run(c, ch, up, &ch.down[cell_threshold[c] * kChunkWords], filter);
      } else {
        engine.RunLong(c, ch, up, filter);
      }
    }
  }

  double bars_per_year = options.bars_per_year;
  if (bars_per_year == 0 && n >= 2 && time[n - 1] > time[0]) {
    bars_per_year = static_cast<double>(n - 1) * kSecondsPerYear / static_cast<double>(time[n - 1] - time[0]);
  }
  const std::string start_date = UtcDate(time[0]);
  const std::string end_date = UtcDate(time[n - 1]);
  const double benchmark = (close[n - 1] / open[0] - 1.0) * 100.0;

  std::vector<SimulationResult> results(num_cells);
  for (size_t c = 0; c < num_cells; ++c) {
    engine.Finish(c);
    const CellState& s = engine.state(c);
    SimulationResult& out = results[c];
    out.trade_count = s.trades;
    out.total_trades = 2 * s.trades;
    out.gross_profit = s.gross_profit;
    out.gross_loss = s.gross_loss;
    if (s.trades > 0) {
      const double count = static_cast<double>(s.trades);
      out.win_rate = static_cast<double>(s.wins) / count;
      out.expectancy = Finite(s.mean_r);
      if (s.trades >= 2) {
        const double sd = std::sqrt(s.m2_r / (count - 1));
        if (sd > 0) {
          out.sqn = Finite(std::sqrt(count) * s.mean_r / sd);
          out.sqn_100 = Finite(std::sqrt(std::min(count, 100.0)) * s.mean_r / sd);
        }
      }
      if (s.gross_loss > 0) out.profit_factor = Finite(s.gross_profit / s.gross_loss);
    }
    out.total_return_pct = (s.cash / options.initial_cash - 1.0) * 100.0;
    out.max_drawdown_pct = s.mdd * 100.0;
    out.benchmark_return_pct = Finite(benchmark);
    out.exposure = static_cast<double>(s.bars_in) / static_cast<double>(n);
    if (n >= 2 && bars_per_year > 0) {
      const double count = static_cast<double>(n);
      const double mean = s.sum_bar / count;
      const double var = (s.sum_bar2 - s.sum_bar * mean) / (count - 1);
      if (var > 0) out.sharpe = Finite(mean / std::sqrt(var) * std::sqrt(bars_per_year));
    }
    const double num_weeks = static_cast<double>(weeks);
    const double per_week = static_cast<double>(s.trades) / num_weeks;
    out.trades_per_week = per_week;
    int64_t traded = 0;
    double ss = 0;
    for (int32_t t : s.week_trades) {
      traded += t > 0;
      ss += (t - per_week) * (t - per_week);
    }
    out.weeks_traded = traded;
    if (per_week > 0) out.weekly_consistency = Finite(std::sqrt(ss / num_weeks) / per_week);
    out.start_date = start_date;
    out.end_date = end_date;
  }
  return results;
}

Result<SimulationResult> Backtest(const BacktestBars& bars, const BacktestCell& cell,
                                  const BacktestOptions& options, std::vector<BacktestTrade>* trades) {
  std::vector<std::vector<BacktestTrade>> all;
  EVOLVE_ASSIGN_OR_RETURN(std::vector<SimulationResult> results,
                          BacktestGrid(bars, {cell}, options, trades != nullptr ? &all : nullptr));
  if (trades != nullptr) *trades = std::move(all[0]);
  return results[0];
}

namespace {
constexpr size_t kTradeBlocks = static_cast<size_t>(kCscvBlocks);
}  // namespace

void AddSelectionFigures(const BacktestBars& span, const std::vector<BacktestTrade>& trades,
                         SimulationResult* r) {
  const size_t bars = span.time.size();
  if (r->benchmark_return_pct && r->total_return_pct > -100.0 && *r->benchmark_return_pct > -100.0) {
    const double growth = std::log1p(r->total_return_pct / 100.0);
    const double matched = r->exposure * std::log1p(*r->benchmark_return_pct / 100.0);
    const double excess = 100.0 * std::expm1(growth - matched);
    if (std::isfinite(excess)) r->excess_return_pct = excess;
  }
  // Drift per bar of the span, and each trade's net log return less the
  // drift over the bars it held (entry open to exit open, or to the last
  // close: one bar more).
  const double drift = std::log(span.close[bars - 1] / span.open[0]) / static_cast<double>(bars);
  ReturnMoments excess;
  for (const BacktestTrade& t : trades) {
    if (t.net_return <= -1.0) continue;
    const double held = static_cast<double>(t.exit_bar - t.entry_bar + (t.at_close ? 1 : 0));
    excess.Add(std::log1p(t.net_return) - t.side * drift * held);
  }
  if (const std::optional<double> sharpe = excess.Sharpe()) {
    const double sqn = std::sqrt(static_cast<double>(excess.n)) * *sharpe;
    if (std::isfinite(sqn)) r->excess_sqn = sqn;
  }
  std::vector<ReturnMoments> blocks(kTradeBlocks);
  for (const BacktestTrade& t : trades) {
    blocks[std::min(kTradeBlocks - 1, t.exit_bar * kTradeBlocks / bars)].Add(t.net_return);
  }
  r->trade_blocks.assign(blocks.begin(), blocks.end());
}

}  // namespace evolve::engines
