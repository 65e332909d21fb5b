#include "bar_rows.h"

#include <algorithm>
#include <charconv>
#include <utility>

namespace evolve::engines {
namespace {

constexpr int64_t kSecondsPerDay = 86400;

}  // namespace

std::string ShowNumber(double v) {
  char buf[32];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, res.ptr);
}

std::string ShowTime(int64_t t) {
  return t % kSecondsPerDay == 0 ? FormatBarTime(t, false) : FormatBarTime(t, true) + " UTC";
}

std::string RowPlace::Text() const {
  const std::string& src = source != nullptr ? *source : std::string();
  return is_line ? src + ":" + std::to_string(index) : src + ", row " + std::to_string(index);
}

void BarReport::Add(const std::string& kind, const std::string& where, const std::string& message) {
  ++refused;
  for (Problem& p : problems) {
    if (p.kind != kind) continue;
    if (++p.count <= kMaxExamples) p.examples.push_back(where + ": " + message);
    return;
  }
  problems.push_back({kind, 1, {where + ": " + message}});
}

void BarReport::Merge(const BarReport& other) {
  rows += other.rows;
  refused += other.refused;
  for (const Problem& o : other.problems) {
    auto it =
        std::find_if(problems.begin(), problems.end(), [&](const Problem& p) { return p.kind == o.kind; });
    if (it == problems.end()) {
      problems.push_back(o);
      continue;
    }
    it->count += o.count;
    for (const std::string& e : o.examples) {
      if (it->examples.size() < kMaxExamples) it->examples.push_back(e);
    }
  }
}

BarRows::BarRows(std::string symbol, BarReport* report, size_t reserve, bool with_vwap, bool with_trade_count)
    : report_(report), with_vwap_(with_vwap), with_trade_count_(with_trade_count) {
  bars_.symbol = std::move(symbol);
  bars_.time.reserve(reserve);
  for (auto* v : {&bars_.open, &bars_.high, &bars_.low, &bars_.close, &bars_.volume}) v->reserve(reserve);
  if (with_vwap_) bars_.vwap.reserve(reserve);
  if (with_trade_count_) bars_.trade_count.reserve(reserve);
}

void BarRows::Refuse(const std::string& kind, const RowPlace& place, const std::string& message) {
  ++refused_;
  report_->Add(kind, place.Text(), message);
}

void BarRows::Add(const BarRow& written, const RowPlace& place) {
  BarRow r = written;
  if (!std::isnan(r.tick_volume) && r.volume == 0) r.volume = r.tick_volume;
  if (!std::isnan(r.adj_close)) {
    if (!(r.adj_close > 0) || !(r.close > 0)) {
      return Refuse("price not positive", place,
                    "adjusted close " + ShowNumber(r.adj_close) + " or close " + ShowNumber(r.close) +
                        " is not positive");
    }
    const double factor = r.adj_close / r.close;
    r.open *= factor;
    r.high *= factor;
    r.low *= factor;
    r.close = r.adj_close;
  }
  auto refuse = [&](const char* kind, const std::string& message) { Refuse(kind, place, message); };
  // While every row is a local midnight written with an offset, the rows
  // are daily bars of the written dates, which must increase too.
  const bool local_midnight = r.offset && r.local % kSecondsPerDay == 0;
  if (local_midnights_ && local_midnight && !local_dates_.empty() && r.local <= local_dates_.back()) {
    return refuse("repeated date",
                  "date " + FormatBarTime(r.local, false) +
                      (r.local == local_dates_.back() ? " again" : " out of order") +
                      " (the rows are daily bars stamped at local midnight; the previous row's date is " +
                      FormatBarTime(local_dates_.back(), false) + ")");
  }
  if (!bars_.time.empty() && r.utc <= bars_.time.back()) {
    if (r.utc == bars_.time.back()) return refuse("duplicate time", "duplicate time " + ShowTime(r.utc));
    return refuse("out of order", "time " + ShowTime(r.utc) + " is before the previous row's " +
                                      ShowTime(bars_.time.back()) +
                                      " (rows must be in increasing time order)");
  }
  for (auto [value, name] : {std::pair<double, const char*>{r.open, "open"},
                             {r.high, "high"},
                             {r.low, "low"},
                             {r.close, "close"}}) {
    if (!(value > 0))
      return refuse("price not positive", std::string(name) + " " + ShowNumber(value) + " is not positive");
  }
  if (r.volume < 0) return refuse("negative volume", "volume " + ShowNumber(r.volume) + " is negative");
  if (r.high < r.low)
    return refuse("high below low", "high " + ShowNumber(r.high) + " < low " + ShowNumber(r.low));
  const double lo = r.low * (1 - kOhlcTolerance), hi = r.high * (1 + kOhlcTolerance);
  if (r.open < lo || r.open > hi) {
    return refuse("open outside low-high", "open " + ShowNumber(r.open) + " outside [low " +
                                               ShowNumber(r.low) + ", high " + ShowNumber(r.high) + "]");
  }
  if (r.close < lo || r.close > hi) {
    return refuse("close outside low-high", "close " + ShowNumber(r.close) + " outside [low " +
                                                ShowNumber(r.low) + ", high " + ShowNumber(r.high) + "]");
  }
  if (!std::isnan(r.vwap) && !(r.vwap > 0 && std::isfinite(r.vwap))) {
    return refuse("bad vwap", "vwap " + ShowNumber(r.vwap) + " is not a positive number");
  }
  if (!std::isnan(r.trade_count) &&
      !(r.trade_count >= 0 && std::isfinite(r.trade_count) && r.trade_count == std::floor(r.trade_count))) {
    return refuse("bad trade count",
                  "trade_count " + ShowNumber(r.trade_count) + " is not a whole number >= 0");
  }
  if (local_midnights_ && local_midnight) {
    local_dates_.push_back(r.local);
  } else if (local_midnights_) {
    local_midnights_ = false;
    std::vector<int64_t>().swap(local_dates_);
  }
  bars_.time.push_back(r.utc);
  bars_.open.push_back(r.open);
  bars_.high.push_back(r.high);
  bars_.low.push_back(r.low);
  bars_.close.push_back(r.close);
  bars_.volume.push_back(r.volume);
  if (with_vwap_) bars_.vwap.push_back(r.vwap);
  if (with_trade_count_) bars_.trade_count.push_back(r.trade_count);
}

Bars BarRows::Finish() {
  if (local_midnights_ && !local_dates_.empty()) bars_.time = std::move(local_dates_);
  bars_.intraday =
      std::any_of(bars_.time.begin(), bars_.time.end(), [](int64_t t) { return t % kSecondsPerDay != 0; });
  bars_.bar_seconds = InferBarSeconds(bars_.time);
  bars_.dropped_rows = refused_;
  return std::move(bars_);
}

Result<std::vector<Bars>> FinishSymbols(std::map<std::string, std::unique_ptr<BarRows>>& by_symbol,
                                        const BarReport& report, const BarFormat& format,
                                        const std::string& source) {
  if (report.refused > 0 && !format.drop_bad_rows) return RefusedRowsError(report);
  std::vector<Bars> out;
  for (auto& [name, rows] : by_symbol) {
    if (rows->kept() > 0) out.push_back(rows->Finish());
  }
  if (out.empty()) {
    return InvalidArgumentError(source + ": every row was refused (" +
                                report.problems.front().examples.front() + ")");
  }
  return out;
}

Status RefusedRowsError(const BarReport& report) {
  if (report.problems.empty()) return Status::Ok();
  std::string message = report.problems.front().examples.front();
  if (report.refused > 1) {
    message += " (and " + std::to_string(report.refused - 1) + " more refused row" +
               (report.refused > 2 ? "s" : "") +
               "; `evolve validate` lists every problem, --drop-bad-rows skips such rows)";
  }
  return InvalidArgumentError(message);
}

}  // namespace evolve::engines
