// The simulation service (8300): POST /api/simulate and GET /health.
#include <rapidjson/document.h>

#include <cmath>

#include "engines_api.h"
#include "evolve/json.h"
#include "evolve/log.h"
#include "evolve/service/json_text.h"

namespace evolve::engines_service {

using service::JsonOut;

namespace {

double Or0(const std::optional<double>& v) { return v.has_value() && std::isfinite(*v) ? *v : 0.0; }

// {"stats": {...}, "trades": [], "chart_data": []}: the seed's metrics from
// `result` (0 where undefined), plus the lossless libevolve form; or, when
// `result` is an error, every metric 0 and stats.error set.
std::string SimulateReply(const Result<SimulationResult>& result) {
  JsonOut out;
  out.StartObject();
  out.Key("stats");
  out.StartObject();
  const SimulationResult r = result.ok() ? *result : SimulationResult{};
  out.Key("sqn").Number(Or0(r.sqn));
  out.Key("profit_factor").Number(Or0(r.profit_factor));
  out.Key("trade_count").Int(r.trade_count);
  out.Key("total_trades").Int(r.total_trades);
  out.Key("win_rate").Number(Or0(r.win_rate) * 100.0);
  out.Key("expectancy").Number(Or0(r.expectancy));
  out.Key("trades_per_week").Number(std::isfinite(r.trades_per_week) ? r.trades_per_week : 0.0);
  out.Key("weeks_traded").Int(r.weeks_traded);
  out.Key("strategy_return_pct").Number(std::isfinite(r.total_return_pct) ? r.total_return_pct : 0.0);
  out.Key("benchmark_return_pct").Number(Or0(r.benchmark_return_pct));
  out.Key("hit_rate_pct").Number(Or0(r.win_rate) * 100.0);
  out.Key("start_date").String(r.start_date);
  out.Key("end_date").String(r.end_date);
  if (result.ok()) {
    out.Key("libevolve_result").Raw(ToJson(r));
  } else {
    out.Key("libevolve_result").Null();
    out.Key("error").String(result.status().message());
  }
  out.EndObject();
  out.Key("trades");
  out.StartArray();
  out.EndArray();
  out.Key("chart_data");
  out.StartArray();
  out.EndArray();
  out.EndObject();
  return out.str();
}

void PostSimulate(EnginesContext& ctx, const Request& req, Response& res) {
  JsonBody body(req.body, {"model_id", "ticker", "initial_cash", "use_bot", "min_prediction_threshold",
                           "enable_z_score_check", "volatility_normalization", "regime_col", "allowed_regimes",
                           "fee_bps", "slippage_bps", "span", "threshold_quantile"});
  SimulationParams params;
  params.model_id = body.String("model_id", /*required=*/true).value_or("");
  std::optional<std::string> ticker = body.String("ticker");
  params.initial_cash = body.Number("initial_cash", 1e-6, 1e15).value_or(10000.0);
  params.threshold = body.Number("min_prediction_threshold", 0.0, 1e9).value_or(0.0);
  params.fee_bps = body.Number("fee_bps", 0.0, 10000.0).value_or(params.fee_bps);
  params.slippage_bps = body.Number("slippage_bps", 0.0, 10000.0).value_or(params.slippage_bps);
  params.span = body.String("span").value_or(kSpanAll);
  params.threshold_quantile = body.Number("threshold_quantile", 0.0, 0.999999);
  if (params.span != kSpanAll && params.span != kSpanResearch && params.span != kSpanHoldout) {
    body.AddError("span", "must be research, holdout or all");
  }
  // The built-in simulator has no bot, z-score check or volatility
  // normalisation: asking for one is a request it cannot honour.
  for (const char* unsupported : {"use_bot", "enable_z_score_check", "volatility_normalization"}) {
    if (body.Bool(unsupported).value_or(false)) {
      body.AddError(unsupported, "not supported by the built-in simulator (only false)");
    }
  }
  std::optional<std::string> regime_col = body.String("regime_col");
  std::optional<std::vector<std::string>> allowed = body.Array("allowed_regimes");
  if (regime_col && !regime_col->empty()) {
    params.regime.column = *regime_col;
    if (!allowed) body.AddError("allowed_regimes", "is required with regime_col");
  } else if (allowed && !allowed->empty()) {
    body.AddError("regime_col", "is required with allowed_regimes");
  }
  if (allowed) {
    for (size_t i = 0; i < allowed->size(); ++i) {
      rapidjson::Document doc;
      doc.Parse((*allowed)[i].c_str());
      if (!doc.IsInt() || doc.GetInt() < 0 || doc.GetInt() > 127) {
        body.AddError("allowed_regimes[" + std::to_string(i) + "]", "must be an integer in [0, 127]");
        continue;
      }
      params.regime.allowed.push_back(doc.GetInt());
    }
  }
  if (!body.ok()) {
    body.SendErrors(res);
    return;
  }

  // The model: this service's id, or the built-in trainer's model id.
  // Unknown -> 404; known but not trained -> stats.error.
  std::optional<ModelRecord> record = ctx.models.Find(params.model_id);
  Result<SimulationResult> result = InternalError("not simulated");
  if (record) {
    if (record->state != ModelState::kCompleted) {
      result = FailedPreconditionError("model " + params.model_id + " is " + ModelStateName(record->state) +
                                       (record->error_message.empty() ? "" : " (" + record->error_message + ")") +
                                       ", not completed");
      SendJson(res, 200, SimulateReply(result));
      return;
    }
    params.model_id = record->engine_model_id;
    params.ticker = ticker.value_or(record->spec.symbol);
  } else {
    auto spec = ctx.engines.trainer->DescribeModel(params.model_id);
    if (!spec.ok()) {
      if (spec.status().code() == StatusCode::kNotFound) {
        SendError(res, 404, "not_found", "model " + params.model_id + " not found");
      } else {
        SendStatus(res, spec.status());
      }
      return;
    }
    params.ticker = ticker.value_or(spec->symbol);
  }
  try {
    result = ctx.engines.simulator->Simulate(params);
  } catch (const std::exception& e) {
    result = InternalError(std::string("simulation threw: ") + e.what());
  }
  if (!result.ok()) {
    Log(LogLevel::kWarning, "simulation failed", {{"model_id", params.model_id}, {"error", result.status().ToString()}});
  }
  SendJson(res, 200, SimulateReply(result));
}

void GetHealth(EnginesContext&, const Request&, Response& res) {
  SendJson(res, 200, R"({"status":"healthy","service":"simulation","engine":"builtin"})");
}

}  // namespace

void RegisterSimulationRoutes(http::HttpServer& server, EnginesContext& ctx) {
  server.Add(ctx, {{Method::kPost, "/api/simulate", Access::kPublic, &PostSimulate},
                   {Method::kGet, "/health", Access::kPublic, &GetHealth}});
}

}  // namespace evolve::engines_service
