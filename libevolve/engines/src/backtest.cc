#include "evolve/engines/backtest.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>  // TEMP
#include <memory>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace evolve::engines {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr int64_t kSecondsPerDay = 86400;
constexpr uint64_t kSecondsPerWeek = 7 * 86400;
constexpr double kSecondsPerYear = 365.25 * 86400;
// More weeks than 1,000 years hold means the time stamps are not seconds.
constexpr int64_t kMaxWeeks = 1000 * 53;

int64_t FloorDiv(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

// Civil date of a day count since 1970-01-01 (proleptic Gregorian; H.
// Hinnant's algorithm).
void CivilFromDays(int64_t z, int64_t* year, unsigned* month, unsigned* day) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *day = doy - (153 * mp + 2) / 5 + 1;
  *month = mp < 10 ? mp + 3 : mp - 9;
  *year = static_cast<int64_t>(yoe) + era * 400 + (*month <= 2 ? 1 : 0);
}

int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day) {
  year -= month <= 2 ? 1 : 0;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const auto yoe = static_cast<unsigned>(year - era * 400);
  const unsigned doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

// Day number (since the epoch) of the Monday of the ISO week of a time
// stamp. 1970-01-01 was a Thursday.
int64_t MondayOf(int64_t unix_seconds) {
  const int64_t days = FloorDiv(unix_seconds, kSecondsPerDay);
  return days - (days + 3 - FloorDiv(days + 3, 7) * 7);
}

// An optional metric is set only when finite: no NaN or Infinity leaves.
std::optional<double> Finite(double v) { return std::isfinite(v) ? std::optional<double>(v) : std::nullopt; }

// Bars per chunk. The per-bar work shared by all cells (validation, running
// sums, signal bit masks) is done one chunk at a time; every cell is then
// simulated over the chunk while it is still in the cache.
constexpr size_t kChunk = 2048;
constexpr size_t kChunkWords = kChunk / 64;

// Per-cell state of the simulation.
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
  // Running close-to-close return sums through the entry bar.
  double s1_entry = 0, s2_entry = 0;
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
  // Long only: closes inside [band_lo, band_hi] change neither the peak
  // nor the maximum drawdown.
  double band_lo = -kInf, band_hi = kInf;

  // Carries between 64-bar words: the signal and position bits of the bar
  // before the word.
  uint64_t sig_long = 0, sig_short = 0, pos_long = 0, pos_short = 0;

  std::vector<int32_t> week_trades;
};

inline int CountTrailingZeros(uint64_t v) { return __builtin_ctzll(v); }

// The shared per-bar data of the chunk of bars [begin, begin + len).
struct Chunk {
  size_t begin = 0, len = 0;
  // s1[i + 1], s2[i + 1]: running sums of the close-to-close return g and of
  // g^2 through bar begin + i; s1[0], s2[0]: through bar begin - 1.
  double s1[kChunk + 1] = {};
  double s2[kChunk + 1] = {};
  double g[kChunk] = {};
  // Bit i of word w is bar begin + 64 w + i: up[k * kChunkWords + w] is
  // prediction > thresholds[k], down[...] is -prediction > thresholds[k],
  // filter[f * kChunkWords + w] is "filter f allows the bar's label".
  std::vector<uint64_t> up, down, filter;
};

class Engine {
 public:
  // week0: the Unix time of the Monday 00:00 UTC that starts the first week.
  Engine(const BacktestBars& bars, const BacktestOptions& options, size_t cells, int64_t week0, size_t weeks,
         std::vector<std::vector<BacktestTrade>>* trades)
      : bars_(bars),
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

  CellState& state(size_t c) { return state_[c]; }

  static double Mark(const CellState& s, double price) {
    if (s.side > 0) return s.units * price;
    if (s.side < 0) return s.units * std::max(0.0, s.anchor - price);
    return s.cash;
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

  static void SetBand(CellState& s) {
    if (s.side > 0 && s.units > 0) {
      s.band_hi = s.peak / s.units;
      s.band_lo = s.peak * (1.0 - s.mdd) / s.units;
    } else {
      s.band_lo = -kInf;
      s.band_hi = kInf;
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

  void Enter(size_t c, size_t bar, int side, double s1, double s2) {
    CellState& s = state_[c];
    const double price = bars_.open[bar];
    s.side = side;
    s.entry_bar = bar;
    s.entry_price = price;
    if (side > 0) {
      s.units = s.cash / (price * (1.0 + cost_));
    } else {
      s.units = s.cash / price;
      s.anchor = price * (2.0 - cost_);
    }
    s.s1_entry = s1;
    s.s2_entry = s2;
    // Time stamps are validated (chunk by chunk, before the chunk is
    // simulated) as increasing, so time >= week0_; the bound check is a guard.
    const auto week = static_cast<uint64_t>(bars_.time[bar] - week0_) / kSecondsPerWeek;
    if (week < s.week_trades.size()) ++s.week_trades[week];
  }

  // Position of cell c changes to new_side at the open of bar j >= 1.
  // s1_prev/s2_prev: running sums through bar j-1; s1/s2: through bar j.
  void Transition(size_t c, size_t j, int new_side, double s1_prev, double s2_prev, double s1, double s2) {
    CellState& s = state_[c];
    const double prev = Mark(s, bars_.close[j - 1]);
    if (s.side != 0) {
      if (s.side > 0) {  // bars entry+1 .. j-1 earned the close-to-close return
        s.sum_bar += s1_prev - s.s1_entry;
        s.sum_bar2 += s2_prev - s.s2_entry;
      }
      Exit(c, j, bars_.open[j], false);
    }
    if (new_side != 0) Enter(c, j, new_side, s1, s2);
    if (j + 1 == n_ && s.side != 0) {  // the final exit at this close completes the bar
      s.deferred_prev = prev;
      return;
    }
    const double now = Mark(s, bars_.close[j]);
    AddBar(s, prev, now);
    Drawdown(s, now);
    SetBand(s);
  }

  // Cell c over the bars of a chunk: every transition, and between them the
  // marks of the position held. Bar n-1 is only ever a transition (the
  // position held over it is closed by Finish).
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
          ((pos_long ^ ((pos_long << 1) | s.pos_long)) | (pos_short ^ ((pos_short << 1) | s.pos_short))) & valid;
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
        const int b = CountTrailingZeros(changes);
        const uint64_t bit = uint64_t{1} << b;
        const int side = (pos_long & bit) != 0 ? 1 : ((pos_short & bit) != 0 ? -1 : 0);
        const size_t i = to - ch.begin;
        Transition(c, to, side, ch.s1[i], ch.s2[i], ch.s1[i + 1], ch.s2[i + 1]);
        changes &= changes - 1;
        from = to + 1;
      }
    }
  }

  // After the last bar: closes an open position at the last close.
  void Finish(size_t c, double s1_prev, double s2_prev) {
    CellState& s = state_[c];
    if (s.side == 0) return;
    const size_t last = n_ - 1;
    double prev = s.deferred_prev;
    if (s.entry_bar < last) {
      if (s.side > 0) {
        s.sum_bar += s1_prev - s.s1_entry;
        s.sum_bar2 += s2_prev - s.s2_entry;
      }
      prev = Mark(s, bars_.close[last - 1]);
    }
    Exit(c, last, bars_.close[last], true);
    AddBar(s, prev, s.cash);
    Drawdown(s, s.cash);
  }

 private:
  const BacktestBars& bars_;
  const size_t n_;
  const double cost_;
  const double long_factor_;
  const int64_t week0_;
  std::vector<std::vector<BacktestTrade>>* trades_;
  std::vector<CellState> state_;
};

// Bit i of the result: p[i] > t (or -p[i] > t when `negate`), for i < count
// <= 64. NaN gives 0.
uint64_t GreaterMask(const double* p, size_t count, double t, bool negate) {
  uint64_t m = 0;
  if (negate) {
    for (size_t i = 0; i < count; ++i) m |= uint64_t{-p[i] > t} << i;
  } else {
    for (size_t i = 0; i < count; ++i) m |= uint64_t{p[i] > t} << i;
  }
  return m;
}

// A regime filter: the labels (0..127) one or more cells allow on a column.
struct Filter {
  size_t column = 0;
  bool allowed[128] = {};
};

uint64_t FilterMask(const int8_t* labels, size_t count, const Filter& f) {
  uint64_t m = 0;
  for (size_t i = 0; i < count; ++i) {
    const int v = labels[i];
    m |= uint64_t{v >= 0 && f.allowed[v]} << i;
  }
  return m;
}

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

IsoWeek IsoWeekOf(int64_t unix_seconds) {
  const int64_t thursday = MondayOf(unix_seconds) + 3;
  int64_t year;
  unsigned month, day;
  CivilFromDays(thursday, &year, &month, &day);
  const int64_t jan1 = DaysFromCivil(year, 1, 1);
  return IsoWeek{static_cast<int>(year), static_cast<int>((thursday - jan1) / 7 + 1)};
}

std::string UtcDate(int64_t unix_seconds) {
  int64_t year;
  unsigned month, day;
  CivilFromDays(FloorDiv(unix_seconds, kSecondsPerDay), &year, &month, &day);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02u", static_cast<long long>(year), month, day);
  return buf;
}

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
    f.column = static_cast<size_t>(std::find(columns.begin(), columns.end(), cell.regime_column) - columns.begin());
    if (f.column == columns.size()) columns.push_back(cell.regime_column);
    for (int v : cell.allowed) {
      if (v >= 0 && v < 128) f.allowed[v] = true;
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

  const int64_t monday0 = MondayOf(bars.time[0]);
  const int64_t span_weeks = (MondayOf(bars.time[n - 1]) - monday0) / 7 + 1;
  if (span_weeks > kMaxWeeks) {
    return InvalidArgumentError("time: the bars span " + std::to_string(span_weeks) +
                                " weeks; time stamps must be Unix seconds");
  }
  const auto weeks = static_cast<size_t>(span_weeks);
  Engine engine(bars, options, num_cells, monday0 * kSecondsPerDay, weeks, trades);

  const double* open = bars.open.data();
  const double* close = bars.close.data();
  const double* prediction = bars.prediction.data();
  const int64_t* time = bars.time.data();
  const bool allow_short = options.allow_short;
  auto chunk = std::make_unique<Chunk>();
  Chunk& ch = *chunk;
  ch.up.assign(thresholds.size() * kChunkWords, 0);
  ch.down.assign(thresholds.size() * kChunkWords, 0);
  ch.filter.assign(filters.size() * kChunkWords, 0);
  // Running sums through bar n - 2, for Finish.
  double s1_last = 0, s2_last = 0;
  double run1 = 0, run2 = 0;
  for (size_t begin = 0; begin < n; begin += kChunk) {
    const size_t len = std::min(kChunk, n - begin);
    ch.begin = begin;
    ch.len = len;
    // Validation.
    bool bad = false;
    for (size_t j = begin; j < begin + len; ++j) {
      bad |= !(open[j] > 0 && open[j] < kInf && close[j] > 0 && close[j] < kInf);
      if (j > 0) bad |= time[j] <= time[j - 1];
    }
    if (bad) return InvalidArgumentError(BarProblem(bars));
    // Close-to-close returns and their running sums (bar 0 has none).
    const size_t first = begin == 0 ? 1 : 0;
    ch.g[0] = 0;
    for (size_t i = first; i < len; ++i) ch.g[i] = close[begin + i] / close[begin + i - 1] - 1.0;
    ch.s1[0] = run1;
    ch.s2[0] = run2;
    for (size_t i = 0; i < len; ++i) {
      if (i >= first) {
        run1 += ch.g[i];
        run2 += ch.g[i] * ch.g[i];
      }
      ch.s1[i + 1] = run1;
      ch.s2[i + 1] = run2;
    }
    if (begin + len == n && n >= 2) {
      s1_last = ch.s1[n - 1 - begin];
      s2_last = ch.s2[n - 1 - begin];
    }
    // Signal bits.
    const size_t words = (len + 63) / 64;
    for (size_t w = 0; w < words; ++w) {
      const size_t at = begin + 64 * w;
      const size_t count = std::min<size_t>(64, n - at);
      for (size_t k = 0; k < thresholds.size(); ++k) {
        ch.up[k * kChunkWords + w] = GreaterMask(prediction + at, count, thresholds[k], false);
        ch.down[k * kChunkWords + w] = allow_short ? GreaterMask(prediction + at, count, thresholds[k], true) : 0;
      }
      ch.filter[w] = ~uint64_t{0};
      for (size_t f = 1; f < filters.size(); ++f) {
        ch.filter[f * kChunkWords + w] = FilterMask(labels[filters[f].column] + at, count, filters[f]);
      }
    }
    static const bool skip_run = getenv("BT_SKIP_RUN") != nullptr;  // TEMP
    for (size_t c = 0; c < num_cells && !skip_run; ++c) {
      engine.Run(c, ch, &ch.up[cell_threshold[c] * kChunkWords], &ch.down[cell_threshold[c] * kChunkWords],
                 &ch.filter[cell_filter[c] * kChunkWords]);
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
    engine.Finish(c, s1_last, s2_last);
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

}  // namespace evolve::engines
