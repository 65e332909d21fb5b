#include "evolve/http/http_simulator.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <utility>

#include "evolve/json.h"
#include "service_client.h"

namespace evolve::http {

using internal::Serialize;
using internal::ServiceClient;

namespace {

constexpr char kEndpoint[] = "/api/simulate";

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant).
int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0); }

// Reads `n` digits at `*pos` of `s`.
bool Digits(const std::string& s, size_t* pos, int n, int64_t* out) {
  if (*pos + static_cast<size_t>(n) > s.size()) return false;
  int64_t v = 0;
  for (int i = 0; i < n; ++i) {
    const char c = s[*pos + static_cast<size_t>(i)];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *pos += static_cast<size_t>(n);
  *out = v;
  return true;
}

// The UTC day (days since the epoch) of an ISO 8601 date or date-time:
// "YYYY-MM-DD", optionally followed by 'T' or ' ', "HH:MM[:SS[.fff]]" and
// "Z" or "+HH[:]MM" / "-HH[:]MM" (no offset: UTC).
std::optional<int64_t> DayOfIsoString(const std::string& s) {
  size_t pos = 0;
  int64_t y = 0, mo = 0, d = 0;
  if (!Digits(s, &pos, 4, &y) || pos >= s.size() || s[pos++] != '-' || !Digits(s, &pos, 2, &mo) ||
      pos >= s.size() || s[pos++] != '-' || !Digits(s, &pos, 2, &d)) {
    return std::nullopt;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31) return std::nullopt;
  int64_t seconds = DaysFromCivil(y, mo, d) * 86400;
  if (pos < s.size() && (s[pos] == 'T' || s[pos] == ' ')) {
    ++pos;
    int64_t h = 0, mi = 0, sec = 0;
    if (!Digits(s, &pos, 2, &h) || pos >= s.size() || s[pos++] != ':' || !Digits(s, &pos, 2, &mi)) {
      return std::nullopt;
    }
    if (pos < s.size() && s[pos] == ':') {
      ++pos;
      if (!Digits(s, &pos, 2, &sec)) return std::nullopt;
      if (pos < s.size() && s[pos] == '.') {
        ++pos;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
      }
    }
    if (h > 24 || mi > 59 || sec > 60) return std::nullopt;
    seconds += h * 3600 + mi * 60 + sec;
    if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
      ++pos;
    } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
      const int64_t sign = s[pos++] == '+' ? 1 : -1;
      int64_t oh = 0, om = 0;
      if (!Digits(s, &pos, 2, &oh)) return std::nullopt;
      if (pos < s.size() && s[pos] == ':') ++pos;
      if (pos < s.size() && !Digits(s, &pos, 2, &om)) return std::nullopt;
      seconds -= sign * (oh * 3600 + om * 60);
    }
  }
  if (pos != s.size()) return std::nullopt;
  return FloorDiv(seconds, 86400);
}

// The UTC day of a trade time: an ISO string, or a number of seconds since
// the epoch (milliseconds, microseconds or nanoseconds when that large).
std::optional<int64_t> DayOf(const rapidjson::Value& v) {
  if (v.IsString()) return DayOfIsoString(std::string(v.GetString(), v.GetStringLength()));
  if (!v.IsNumber()) return std::nullopt;
  double t = v.GetDouble();
  if (!std::isfinite(t) || t <= 0) return std::nullopt;
  while (t > 1e11) t /= 1000.0;  // ms, us, ns -> s (1e11 s is the year 5138)
  return FloorDiv(static_cast<int64_t>(std::floor(t)), 86400);
}

// The index of the Monday-based (ISO) week of a day; consecutive ISO weeks
// have consecutive indices. 1970-01-01 was a Thursday.
int64_t WeekOf(int64_t day) { return FloorDiv(day + 3, 7); }

const rapidjson::Value* Member(const rapidjson::Value& obj, const char* key) {
  auto it = obj.FindMember(key);
  return it == obj.MemberEnd() || it->value.IsNull() ? nullptr : &it->value;
}

// A finite number (null, NaN, Infinity, missing or not a number: none).
std::optional<double> Number(const rapidjson::Value& obj, const char* key) {
  const rapidjson::Value* v = Member(obj, key);
  if (v == nullptr || !v->IsNumber() || !std::isfinite(v->GetDouble())) return std::nullopt;
  return v->GetDouble();
}

int64_t Count(const rapidjson::Value& obj, const char* key) {
  const std::optional<double> v = Number(obj, key);
  if (!v || *v < 0 || *v > 9e15) return 0;
  return static_cast<int64_t>(std::llround(*v));
}

std::string Date(const rapidjson::Value& obj, const char* key) {
  const rapidjson::Value* v = Member(obj, key);
  if (v == nullptr || !v->IsString()) return "";
  std::string s(v->GetString(), v->GetStringLength());
  // "2020-01-02T00:00:00" -> "2020-01-02", the form of SimulationResult.
  if (s.size() > 10 && DayOfIsoString(s.substr(0, 10))) s.resize(10);
  return s;
}

// Weekly consistency (docs/simulation.md section 5) from the reply's trades:
// population stdev / mean of the trade count of every ISO week from the
// week of `start_date` to that of `end_date` (widened to every trade),
// weeks without a trade counting 0. Each trade counts in the week of its
// entry time (entry_time, entry_date, ...) or, for records with one time
// only (timestamp, ts, time, date, datetime), of that time; then there must
// be exactly `trade_count` records, one per round trip. Unset when a trade
// has no usable time, when the records are not the round trips, or there is
// no trade.
std::optional<double> WeeklyConsistency(const rapidjson::Value& trades, int64_t trade_count,
                                        const std::string& start_date, const std::string& end_date) {
  static const char* const kEntryKeys[] = {"entry_time", "entry_date", "entry_ts", "entry_timestamp",
                                           "open_time"};
  static const char* const kTimeKeys[] = {"timestamp", "ts", "time", "date", "datetime"};
  if (!trades.IsArray() || trades.Empty() || static_cast<int64_t>(trades.Size()) != trade_count)
    return std::nullopt;
  std::map<int64_t, int64_t> per_week;
  std::optional<int64_t> first = DayOfIsoString(start_date);
  std::optional<int64_t> last = DayOfIsoString(end_date);
  for (const rapidjson::Value& trade : trades.GetArray()) {
    if (!trade.IsObject()) return std::nullopt;
    const rapidjson::Value* time = nullptr;
    for (const char* key : kEntryKeys) {
      if ((time = Member(trade, key)) != nullptr) break;
    }
    if (time == nullptr) {
      for (const char* key : kTimeKeys) {
        if ((time = Member(trade, key)) != nullptr) break;
      }
    }
    if (time == nullptr) return std::nullopt;
    const std::optional<int64_t> day = DayOf(*time);
    if (!day) return std::nullopt;
    ++per_week[WeekOf(*day)];
    if (!first || *day < *first) first = day;
    if (!last || *day > *last) last = day;
  }
  const int64_t weeks = WeekOf(*last) - WeekOf(*first) + 1;
  if (weeks <= 0 || weeks > 1000000) return std::nullopt;
  const double w = static_cast<double>(weeks);
  const double mean = static_cast<double>(trade_count) / w;
  if (!(mean > 0)) return std::nullopt;
  double sum_sq = static_cast<double>(weeks - static_cast<int64_t>(per_week.size())) * mean * mean;
  for (const auto& [week, n] : per_week) {
    const double dev = static_cast<double>(n) - mean;
    sum_sq += dev * dev;
  }
  const double cv = std::sqrt(sum_sq / w) / mean;
  if (!std::isfinite(cv)) return std::nullopt;
  return cv;
}

// The original service's stats (WIRE-CONTRACT B) as a SimulationResult.
SimulationResult FromSeedStats(const rapidjson::Value& stats, const rapidjson::Value* trades) {
  SimulationResult r;
  r.trade_count = Count(stats, "trade_count");
  r.total_trades = Count(stats, "total_trades");
  const int64_t n = r.trade_count;
  if (n >= 2) {
    r.sqn = Number(stats, "sqn");
    // sqn = sqrt(N) * mean / sd, so the N-capped form follows from it.
    if (r.sqn)
      r.sqn_100 = *r.sqn * std::sqrt(static_cast<double>(std::min<int64_t>(n, 100)) / static_cast<double>(n));
  }
  if (n > 0) {
    r.profit_factor = Number(stats, "profit_factor");
    std::optional<double> win_pct = Number(stats, "win_rate");
    if (!win_pct) win_pct = Number(stats, "hit_rate_pct");
    if (win_pct) r.win_rate = *win_pct / 100.0;
    r.expectancy = Number(stats, "expectancy");
  }
  r.total_return_pct = Number(stats, "strategy_return_pct").value_or(0.0);
  r.benchmark_return_pct = Number(stats, "benchmark_return_pct");
  r.trades_per_week = Number(stats, "trades_per_week").value_or(0.0);
  r.weeks_traded = Count(stats, "weeks_traded");
  if (std::optional<double> dd = Number(stats, "max_drawdown_pct")) r.max_drawdown_pct = std::fabs(*dd);
  r.sharpe = Number(stats, "sharpe_ratio");
  if (!r.sharpe) r.sharpe = Number(stats, "sharpe");
  r.start_date = Date(stats, "start_date");
  r.end_date = Date(stats, "end_date");
  if (trades != nullptr) r.weekly_consistency = WeeklyConsistency(*trades, n, r.start_date, r.end_date);
  return r;
}

}  // namespace

class HttpSimulator::Impl {
 public:
  Impl(std::unique_ptr<ServiceClient> client, HttpSimulatorOptions options)
      : client_(std::move(client)), options_(std::move(options)) {}
  ServiceClient& client() { return *client_; }
  const HttpSimulatorOptions& options() const { return options_; }

 private:
  std::unique_ptr<ServiceClient> client_;
  const HttpSimulatorOptions options_;
};

Result<std::unique_ptr<HttpSimulator>> HttpSimulator::Create(const HttpSimulatorOptions& options) {
  EVOLVE_ASSIGN_OR_RETURN(auto client, ServiceClient::Create("simulation service", options.http));
  return std::unique_ptr<HttpSimulator>(
      new HttpSimulator(std::make_unique<Impl>(std::move(client), options)));
}

Result<std::unique_ptr<Simulator>> NewHttpSimulator(const HttpSimulatorOptions& options) {
  EVOLVE_ASSIGN_OR_RETURN(auto simulator, HttpSimulator::Create(options));
  return std::unique_ptr<Simulator>(std::move(simulator));
}

HttpSimulator::HttpSimulator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpSimulator::~HttpSimulator() = default;

const std::string& HttpSimulator::url() const { return impl_->client().url(); }

std::string HttpSimulator::SimulateRequestBody(const SimulationParams& params) const {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  auto str = [&w](const std::string& s) { w.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); };
  // Non-finite numbers cannot be written as JSON; they are sent as 0.
  auto num = [&w](double v) { w.Double(std::isfinite(v) ? v : 0.0); };
  w.StartObject();
  w.Key("model_id");
  str(params.model_id);
  w.Key("ticker");
  str(params.ticker);
  w.Key("initial_cash");
  num(params.initial_cash);
  w.Key("use_bot");
  w.Bool(params.use_bot);
  w.Key("min_prediction_threshold");
  num(params.threshold);
  w.Key("enable_z_score_check");
  w.Bool(params.enable_z_score_check);
  w.Key("volatility_normalization");
  w.Bool(params.volatility_normalization);
  if (!params.regime.empty()) {
    w.Key("regime_col");
    str(params.regime.column);
    w.Key("allowed_regimes");
    w.StartArray();
    for (int r : params.regime.allowed) w.Int(r);
    w.EndArray();
  }
  // Which bars to score (types.h); evolve-engines honours it and echoes it
  // in libevolve_result. Not sent for the whole span, which is what the
  // original service always scores, so requests to it stay as they were.
  if (!params.span.empty() && params.span != kSpanAll) {
    w.Key("span");
    str(params.span);
  }
  if (params.threshold_quantile) {  // evolve-engines only; the engine checks the result says what it used
    w.Key("threshold_quantile");
    num(*params.threshold_quantile);
  }
  if (impl_->options().send_costs) {
    w.Key("fee_bps");
    num(params.fee_bps);
    w.Key("slippage_bps");
    num(params.slippage_bps);
  }
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

Result<SimulationResult> HttpSimulator::Simulate(const SimulationParams& params) {
  if (params.model_id.empty()) return InvalidArgumentError("Simulate: the model id must not be empty");
  ServiceClient& client = impl_->client();
  const std::string where = client.Where("POST", kEndpoint);
  rapidjson::Document doc;
  EVOLVE_RETURN_IF_ERROR(client.CallJson("POST", kEndpoint, SimulateRequestBody(params), &doc));
  if (!doc.IsObject()) return InternalError(where + ": the reply is not a JSON object");
  const rapidjson::Value* stats = Member(doc, "stats");
  if (stats == nullptr || !stats->IsObject())
    return InternalError(where + ": the reply has no \"stats\" object");

  // An internal failure answers 200 with zeros and stats.error set.
  if (const rapidjson::Value* error = Member(*stats, "error")) {
    const bool set =
        error->IsString() ? error->GetStringLength() > 0 : !(error->IsBool() && !error->GetBool());
    if (set) {
      return InternalError("simulation of model " + params.model_id + " failed on the simulation service: " +
                           (error->IsString() ? std::string(error->GetString(), error->GetStringLength())
                                              : Serialize(*error)));
    }
  }

  // evolve-engines: the engine's own result, exactly.
  if (const rapidjson::Value* exact = Member(*stats, "libevolve_result")) {
    const std::string text =
        exact->IsString() ? std::string(exact->GetString(), exact->GetStringLength()) : Serialize(*exact);
    Result<SimulationResult> result = SimulationResultFromJson(text);
    if (!result.ok()) {
      return InternalError(where + ": stats.libevolve_result does not parse: " + result.status().message());
    }
    return result;
  }
  return FromSeedStats(*stats, Member(doc, "trades"));
}

}  // namespace evolve::http
