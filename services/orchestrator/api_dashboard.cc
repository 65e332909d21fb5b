// The dashboard of `evolve serve` (docs/dashboard.md): GET / and its script
// and style sheet, compiled into the binary from services/orchestrator/
// dashboard/ (cmake/evolve_dashboard.cc.in), served with a Content-Security-
// Policy that allows nothing but this origin; and GET /promoted/{id}/equity,
// the equity curve of a promoted model, replayed by the built-in backtester
// from the model's stored predictions and simulation data.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "api.h"
#include "evolve/engines/backtest.h"
#include "evolve/engines/builtin.h"
#include "evolve/fingerprint.h"
#include "output.h"

namespace evolve::cli {

// Generated from services/orchestrator/dashboard/ (cmake/evolve_dashboard.cc.in).
const std::string& DashboardIndexHtml();
const std::string& DashboardAppJs();
const std::string& DashboardStyleCss();

namespace {

constexpr size_t kMaxEquityPoints = 1500;  // the curve is thinned to about this many points

// Nothing but this origin: no remote script, style, image, font or fetch,
// no inline script, no framing.
constexpr char kContentSecurityPolicy[] =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

struct Asset {
  const std::string* body;
  const char* content_type;
  std::string etag;
};

// A strong ETag: the first 128 bits of the bytes' SHA-256.
std::string ETagOf(const std::string& body) { return "\"" + Sha256Hex(body).substr(0, 32) + "\""; }

// The bytes with a strong ETag; revalidated on every load (no-cache), so a
// new binary's dashboard is picked up at once and an unchanged one costs a 304.
void ServeAsset(const Asset& asset, const Request& req, Response& res) {
  res.SetHeader("Content-Security-Policy", kContentSecurityPolicy);
  res.SetHeader("X-Content-Type-Options", "nosniff");
  res.SetHeader("Referrer-Policy", "no-referrer");
  res.SetHeader("X-Frame-Options", "DENY");
  res.SetHeader("Cache-Control", "no-cache");
  res.SetHeader("ETag", asset.etag);
  if (req.Header("If-None-Match") == asset.etag) {
    res.status = 304;
    return;
  }
  res.status = 200;
  res.SetContent(*asset.body, asset.content_type);
}

// ------------------------------------------------------------ equity curve

std::string Num(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%.10g", v);
  return buf;
}

void GetEquity(ApiContext& ctx, const std::string& promotion_id, Response& res) {
  auto p = ctx.store.GetPromotion(promotion_id);
  if (!p.ok()) return SendStatus(res, p.status());
  engines::BacktestOptions options;
  if (auto run = ctx.store.GetRun(p->run_id); run.ok()) {
    options.fee_bps = run->config.fee_bps;
    options.slippage_bps = run->config.slippage_bps;
    options.initial_cash = run->config.initial_cash;
  }
  // The span the promoted result scored (the research span of a run with a
  // split), at the threshold it traded (what a quantile came to).
  const std::string span = p->result.span.empty() ? std::string(kSpanAll) : p->result.span;
  const double threshold = p->result.threshold.value_or(p->threshold);
  auto input = engines::LoadModelBacktestBars(ctx.store, p->model_id, span);
  if (!input.ok()) {
    return SendError(res, input.status().code() == StatusCode::kNotFound ? 404 : 500,
                     input.status().code() == StatusCode::kNotFound ? "not_found" : "internal",
                     "no equity curve for model " + p->model_id + " (only models of the built-in engines have one): " +
                         input.status().message());
  }
  const engines::BacktestBars& bars = *input;
  std::vector<engines::BacktestTrade> trades;
  auto result = engines::Backtest(bars, engines::BacktestCell{threshold, p->regime.column, p->regime.allowed},
                                  options, &trades);
  if (!result.ok()) return SendStatus(res, result.status());

  // Equity marked to market at every close, by the backtester's own rule.
  const size_t n = bars.time.size();
  auto curve = engines::EquityCurve(bars, trades, options);
  if (!curve.ok()) return SendStatus(res, curve.status());
  const std::vector<double>& equity = *curve;

  const size_t step = std::max<size_t>(1, (n + kMaxEquityPoints - 1) / kMaxEquityPoints);
  std::string points = "[";
  for (size_t i = 0; i < n; i += step) {
    const size_t k = std::min(i, n - 1);
    if (points.size() > 1) points += ",";
    points += "[" + std::to_string(bars.time[k]) + "," + Num(equity[k]) + "," +
              Num(options.initial_cash * bars.close[k] / bars.close[0]) + "]";
  }
  if ((n - 1) % step != 0) {
    points += ",[" + std::to_string(bars.time[n - 1]) + "," + Num(equity[n - 1]) + "," +
              Num(options.initial_cash * bars.close[n - 1] / bars.close[0]) + "]";
  }
  points += "]";
  SendJson(res, 200,
           "{\"promotion_id\":" + JsonQuote(p->id) + ",\"model_id\":" + JsonQuote(p->model_id) +
               ",\"source\":\"builtin_backtest_replay\",\"initial_cash\":" + Num(options.initial_cash) +
               ",\"final_equity\":" + Num(equity[n - 1]) +
               ",\"total_return_pct\":" + Num(result->total_return_pct) +
               ",\"trade_count\":" + std::to_string(result->trade_count) +
               ",\"sqn\":" + (result->sqn.has_value() ? Num(*result->sqn) : "null") +
               ",\"bars\":" + std::to_string(n) + ",\"start_date\":" + JsonQuote(engines::UtcDate(bars.time[0])) +
               ",\"end_date\":" + JsonQuote(engines::UtcDate(bars.time[n - 1])) +
               ",\"columns\":[\"time\",\"equity\",\"buy_and_hold\"],\"points\":" + points + "}");
}

}  // namespace

void RegisterDashboardRoutes(http::HttpServer& server, ApiContext& ctx) {
  auto asset = [&server](const std::string& path, const std::string& body, const char* type) {
    Asset a{&body, type, ETagOf(body)};
    server.Add({Method::kGet, path, Access::kPublic, [a](const Request& req, Response& res) { ServeAsset(a, req, res); }});
  };
  asset("/", DashboardIndexHtml(), "text/html; charset=utf-8");
  asset("/dashboard/app.js", DashboardAppJs(), "text/javascript; charset=utf-8");
  asset("/dashboard/style.css", DashboardStyleCss(), "text/css; charset=utf-8");
  server.Add({Method::kGet, R"(/promoted/([^/]+)/equity)", Access::kPublic,
              [&ctx](const Request& req, Response& res) { GetEquity(ctx, req.matches[1], res); }});
}

}  // namespace evolve::cli
