#include "evolve/engines/backtest.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
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

  std::vector<int32_t> week_trades;
};

inline int CountTrailingZeros(uint64_t v) { return __builtin_ctzll(v); }

class Engine {
 public:
  // week0: the Unix time of the Monday 00:00 UTC that starts the first week.
  Engine(const BacktestBars& bars, const BacktestOptions& options, size_t cells, int64_t week0, size_t weeks,
         std::vector<std::vector<BacktestTrade>>* trades)
      : bars_(bars),
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

  double Mark(const CellState& s, double price) const {
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
    // Time stamps are validated as increasing, so time >= week0_ (an
    // unsorted one is caught after the pass; the bound check keeps it safe).
    const auto week = static_cast<uint64_t>(bars_.time[bar] - week0_) / kSecondsPerWeek;
    if (week < s.week_trades.size()) ++s.week_trades[week];
  }

  // Position of cell c changes to new_side at the open of bar j >= 1.
  // s1_prev/s2_prev: running sums through bar j-1; s1/s2: through bar j.
  void Transition(size_t c, size_t j, int new_side, bool last, double s1_prev, double s2_prev, double s1,
                  double s2) {
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
    if (last && s.side != 0) {  // the final exit at this close completes the bar
      s.deferred_prev = prev;
      return;
    }
    const double now = Mark(s, bars_.close[j]);
    AddBar(s, prev, now);
    Drawdown(s, now);
    SetBand(s);
  }

  // After the last bar: closes an open position at the last close.
  void Finish(size_t c, size_t n, double s1_prev, double s2_prev) {
    CellState& s = state_[c];
    if (s.side == 0) return;
    const size_t last = n - 1;
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
  const double cost_;
  const double long_factor_;
  const int64_t week0_;
  std::vector<std::vector<BacktestTrade>>* trades_;
  std::vector<CellState> state_;
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

  // Cells are bits of `words` 64-bit masks.
  const size_t words = (num_cells + 63) / 64;

  // Distinct thresholds, ascending; prefix[m] = cells whose threshold is one
  // of the m smallest, i.e. the cells a prediction above m of them signals.
  std::vector<double> thresholds;
  for (const BacktestCell& cell : cells) thresholds.push_back(cell.threshold);
  std::sort(thresholds.begin(), thresholds.end());
  thresholds.erase(std::unique(thresholds.begin(), thresholds.end()), thresholds.end());
  const size_t num_thresholds = thresholds.size();
  std::vector<uint64_t> prefix((num_thresholds + 1) * words, 0);
  for (size_t c = 0; c < num_cells; ++c) {
    const size_t k = static_cast<size_t>(
        std::lower_bound(thresholds.begin(), thresholds.end(), cells[c].threshold) - thresholds.begin());
    for (size_t m = k + 1; m <= num_thresholds; ++m) prefix[m * words + c / 64] |= uint64_t{1} << (c % 64);
  }

  // Regime columns in use; allow[q][(label + 128) * words + w] = cells that
  // may trade a bar with that label of column q (every cell that does not
  // filter on q, and those of q that list the label; never a label < 0).
  std::vector<std::string> columns;
  for (const BacktestCell& cell : cells) {
    if (!cell.regime_column.empty() &&
        std::find(columns.begin(), columns.end(), cell.regime_column) == columns.end()) {
      columns.push_back(cell.regime_column);
    }
  }
  const size_t num_columns = columns.size();
  std::vector<const int8_t*> labels(num_columns);
  std::vector<std::vector<uint64_t>> allow(num_columns, std::vector<uint64_t>(256 * words, 0));
  for (size_t q = 0; q < num_columns; ++q) {
    labels[q] = bars.regimes.at(columns[q]).data();
    for (size_t c = 0; c < num_cells; ++c) {
      const uint64_t bit = uint64_t{1} << (c % 64);
      for (int v = -128; v < 128; ++v) {
        bool ok = cells[c].regime_column != columns[q];
        if (!ok && v >= 0) {
          ok = std::find(cells[c].allowed.begin(), cells[c].allowed.end(), v) != cells[c].allowed.end();
        }
        if (ok) allow[q][static_cast<size_t>(v + 128) * words + c / 64] |= bit;
      }
    }
  }

  const int64_t monday0 = MondayOf(bars.time[0]);
  const int64_t span_weeks = (MondayOf(bars.time[n - 1]) - monday0) / 7 + 1;
  if (span_weeks > kMaxWeeks) {
    return InvalidArgumentError("time: the bars span " + std::to_string(span_weeks) +
                                " weeks; time stamps must be Unix seconds");
  }
  const auto weeks = static_cast<size_t>(span_weeks);
  Engine engine(bars, options, num_cells, monday0 * kSecondsPerDay, weeks, trades);

  std::vector<uint64_t> cur_long(words, 0), cur_short(words, 0), next_long(words, 0), next_short(words, 0);
  const double* open = bars.open.data();
  const double* close = bars.close.data();
  const double* prediction = bars.prediction.data();
  const int64_t* time = bars.time.data();
  const bool allow_short = options.allow_short;
  double s1 = 0, s2 = 0, s1_prev = 0, s2_prev = 0;
  // The band of closes that changes no long position's peak or drawdown.
  double band_lo = -kInf, band_hi = kInf;
  bool any_long = false, any_short = false;
  bool bad = false;

  auto recompute_band = [&]() {
    band_lo = -kInf;
    band_hi = kInf;
    any_long = false;
    for (size_t w = 0; w < words; ++w) {
      any_long |= cur_long[w] != 0;
      for (uint64_t bits = cur_long[w]; bits != 0; bits &= bits - 1) {
        const CellState& s = engine.state(w * 64 + CountTrailingZeros(bits));
        band_lo = std::max(band_lo, s.band_lo);
        band_hi = std::min(band_hi, s.band_hi);
      }
    }
  };

  for (size_t j = 0; j < n; ++j) {
    const double cj = close[j];
    bad |= !(open[j] > 0 && open[j] < kInf && cj > 0 && cj < kInf);
    s1_prev = s1;
    s2_prev = s2;
    if (j > 0) {
      bad |= time[j] <= time[j - 1];
      const double g = cj / close[j - 1] - 1.0;
      s1 += g;
      s2 += g * g;
    }
    const bool last = j + 1 == n;

    // Positions of bar j: the signals of bar j-1, changed at this open.
    bool long_changed = false, short_changed = false;
    for (size_t w = 0; w < words; ++w) {
      const uint64_t long_diff = next_long[w] ^ cur_long[w];
      const uint64_t short_diff = next_short[w] ^ cur_short[w];
      uint64_t changed = long_diff | short_diff;
      if (changed == 0) continue;
      long_changed |= long_diff != 0;
      short_changed |= short_diff != 0;
      for (; changed != 0; changed &= changed - 1) {
        const int b = CountTrailingZeros(changed);
        const uint64_t bit = uint64_t{1} << b;
        const int side = (next_long[w] & bit) != 0 ? 1 : ((next_short[w] & bit) != 0 ? -1 : 0);
        engine.Transition(w * 64 + b, j, side, last, s1_prev, s2_prev, s1, s2);
      }
      cur_long[w] = next_long[w];
      cur_short[w] = next_short[w];
    }
    if (last) break;
    if (long_changed) recompute_band();
    if (short_changed) {
      any_short = false;
      for (size_t w = 0; w < words; ++w) any_short |= cur_short[w] != 0;
    }

    // Mark open positions at this close.
    if (any_long && (cj < band_lo || cj > band_hi)) {
      for (size_t w = 0; w < words; ++w) {
        for (uint64_t bits = cur_long[w]; bits != 0; bits &= bits - 1) {
          CellState& s = engine.state(w * 64 + CountTrailingZeros(bits));
          if (cj < s.band_lo || cj > s.band_hi) {
            Engine::Drawdown(s, s.units * cj);
            Engine::SetBand(s);
          }
        }
      }
      recompute_band();
    }
    if (any_short) {
      for (size_t w = 0; w < words; ++w) {
        for (uint64_t bits = cur_short[w]; bits != 0; bits &= bits - 1) {
          CellState& s = engine.state(w * 64 + CountTrailingZeros(bits));
          if (s.entry_bar == j) continue;  // marked by its transition
          const double prev = engine.Mark(s, close[j - 1]);
          const double now = engine.Mark(s, cj);
          Engine::AddBar(s, prev, now);
          Engine::Drawdown(s, now);
        }
      }
    }

    // Signals of bar j (traded from the next open).
    const double p = prediction[j];
    size_t up = 0, down = 0;
    for (size_t k = 0; k < num_thresholds; ++k) {
      up += p > thresholds[k];
      down += -p > thresholds[k];
    }
    if (!allow_short) down = 0;
    for (size_t w = 0; w < words; ++w) {
      uint64_t l = prefix[up * words + w];
      uint64_t s = prefix[down * words + w];
      for (size_t q = 0; q < num_columns; ++q) {
        const uint64_t ok = allow[q][static_cast<size_t>(labels[q][j] + 128) * words + w];
        l &= ok;
        s &= ok;
      }
      next_long[w] = l;
      next_short[w] = s;
    }
  }
  if (bad) return InvalidArgumentError(BarProblem(bars));

  double bars_per_year = options.bars_per_year;
  if (bars_per_year == 0 && n >= 2 && time[n - 1] > time[0]) {
    bars_per_year = static_cast<double>(n - 1) * kSecondsPerYear / static_cast<double>(time[n - 1] - time[0]);
  }
  const std::string start_date = UtcDate(time[0]);
  const std::string end_date = UtcDate(time[n - 1]);
  const double benchmark = (close[n - 1] / open[0] - 1.0) * 100.0;

  std::vector<SimulationResult> results(num_cells);
  for (size_t c = 0; c < num_cells; ++c) {
    engine.Finish(c, n, s1_prev, s2_prev);
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
