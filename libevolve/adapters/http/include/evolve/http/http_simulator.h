// HttpSimulator: the Simulator of the original simulation service (port
// 8300, WIRE-CONTRACT part B; docs/http-adapters.md).
//
// Simulate(params) sends POST /api/simulate with
//   model_id, ticker, initial_cash, use_bot, min_prediction_threshold
//   (params.threshold), enable_z_score_check, volatility_normalization,
//   regime_col and allowed_regimes (both left out when params.regime is
//   empty) and, unless send_costs is false, fee_bps and slippage_bps
// and reads the reply {stats, trades, chart_data}:
//   - stats.error set (a string other than "", or any other non-null,
//     non-false value): the simulation FAILED: kInternal with that error,
//     never a result of zeros;
//   - stats.libevolve_result (added by `evolve-engines`): the exact
//     SimulationResult of the engine, returned as is (lossless: a run over
//     HTTP equals the same run in process);
//   - otherwise the original service's fields are mapped: sqn,
//     profit_factor, trade_count (round trips), total_trades (fills),
//     win_rate (percent -> fraction 0..1; hit_rate_pct when win_rate is
//     absent), expectancy, trades_per_week, weeks_traded,
//     strategy_return_pct (-> total_return_pct), benchmark_return_pct,
//     start_date, end_date; sqn_100 is derived from sqn and trade_count;
//     weekly_consistency is computed from `trades` (ISO weeks, population
//     stdev / mean, weeks without a trade count as 0, docs/simulation.md
//     section 5) when every trade carries a usable time, else left unset.
//     No metric is ever NaN or Infinity (non-finite values, which Python
//     services can send, become unset or 0).
// Any other reply shape: kInternal naming the endpoint.
//
// Errors, retries and timeouts: evolve/http/service_options.h (a 404 for an
// unknown model is kNotFound, a 400 kInvalidArgument: the job fails for
// good; a service that is down is kUnavailable: the job is retried).
//
// Thread-safety: safe for concurrent use by many threads.
#ifndef EVOLVE_HTTP_HTTP_SIMULATOR_H_
#define EVOLVE_HTTP_HTTP_SIMULATOR_H_

#include <memory>
#include <string>

#include "evolve/http/service_options.h"
#include "evolve/simulator.h"
#include "evolve/status.h"
#include "evolve/types.h"

namespace evolve::http {

struct HttpSimulatorOptions {
  ServiceClientOptions http;  // http.url: e.g. SIMULATION_URL, http://simulation-service:8300
  // Sends params.fee_bps and params.slippage_bps as fee_bps and slippage_bps.
  // `evolve-engines` applies them (so that the costs of a run are the same
  // in process and over HTTP); the original service does not know them.
  bool send_costs = true;
};

class HttpSimulator final : public Simulator {
 public:
  // Checks the options; makes no request.
  // Errors: kInvalidArgument for a bad URL or bad http options.
  static Result<std::unique_ptr<HttpSimulator>> Create(const HttpSimulatorOptions& options);

  ~HttpSimulator() override;

  // The service URL, without a trailing '/'.
  const std::string& url() const;

  // The POST /api/simulate body Simulate(params) sends.
  std::string SimulateRequestBody(const SimulationParams& params) const;

  Result<SimulationResult> Simulate(const SimulationParams& params) override;

 private:
  class Impl;
  explicit HttpSimulator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// HttpSimulator::Create, as the interface.
Result<std::unique_ptr<Simulator>> NewHttpSimulator(const HttpSimulatorOptions& options);

}  // namespace evolve::http

#endif  // EVOLVE_HTTP_HTTP_SIMULATOR_H_
