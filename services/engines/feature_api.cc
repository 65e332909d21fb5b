// The feature service (8100): GET /symbols, GET /options,
// GET /features_sample and GET /health, over the data directory.
#include <cstdio>

#include "engines_api.h"
#include "evolve/engines/features.h"
#include "evolve/service/http_support.h"
#include "evolve/service/json_text.h"

namespace evolve::engines_service {

using service::JsonOut;

namespace {

// The one option set of the built-in features.
constexpr char kDefaultOptions[] = "default";

// RFC 3339 UTC, seconds: "2000-01-03T00:00:00Z".
std::string IsoTime(int64_t unix_seconds) {
  const engines::CivilTime c = engines::ToCivilTime(unix_seconds);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", c.year, c.month, c.day, c.hour, c.minute,
                c.second);
  return buf;
}

// False (after a 400 reply) for an option set other than the default.
bool CheckOptions(const Request& req, Response& res, bool* matches) {
  *matches = true;
  if (!req.HasParam("options")) return true;
  const std::string options = req.Param("options");
  if (options.empty()) {
    SendError(res, 400, "invalid_argument", "options: must not be empty", {{"options", "must not be empty"}});
    return false;
  }
  *matches = options == kDefaultOptions;
  return true;
}

void GetSymbols(EnginesContext& ctx, const Request& req, Response& res) {
  bool matches = true;
  if (!CheckOptions(req, res, &matches)) return;
  auto symbols = ctx.bars->Symbols();
  if (!symbols.ok()) {
    SendStatus(res, symbols.status());
    return;
  }
  JsonOut out;
  out.StringArray(matches ? *symbols : std::vector<std::string>{});
  SendJson(res, 200, out.str());
}

void GetFeaturesSample(EnginesContext& ctx, const Request& req, Response& res) {
  bool matches = true;
  if (!CheckOptions(req, res, &matches)) return;
  const std::string symbol = req.Param("symbol");
  if (symbol.empty()) {
    SendError(res, 400, "invalid_argument", "symbol: is required", {{"symbol", "is required"}});
    return;
  }
  auto limit = service::QueryInt(req, "limit", 100, 1, 100000);
  if (!limit.ok()) {
    SendError(res, 400, "invalid_argument", limit.status().message(), {{"limit", limit.status().message()}});
    return;
  }
  auto bars = ctx.bars->Load(symbol);
  if (!bars.ok() || !matches) {
    if (!matches || bars.status().code() == StatusCode::kNotFound) {
      SendError(res, 404, "not_found",
                "no data for symbol '" + symbol + "'" + (matches ? "" : " with options " + req.Param("options")));
    } else {
      SendStatus(res, bars.status());
    }
    return;
  }
  auto frame = engines::ComputeFeatures(**bars);
  if (!frame.ok()) {
    SendStatus(res, frame.status());
    return;
  }
  const engines::Bars& b = **bars;
  const size_t n = b.size();
  const size_t from = n > static_cast<size_t>(*limit) ? n - static_cast<size_t>(*limit) : 0;
  JsonOut out;
  out.StartArray();
  for (size_t i = from; i < n; ++i) {
    out.StartObject();
    out.Key("ts").String(IsoTime(b.time[i]));
    out.Key("symbol").String(b.symbol);
    out.Key("open").Number(b.open[i]);
    out.Key("high").Number(b.high[i]);
    out.Key("low").Number(b.low[i]);
    out.Key("close").Number(b.close[i]);
    out.Key("volume").Number(b.volume[i]);
    for (size_t j = 0; j < frame->names.size(); ++j) {
      out.Key(frame->names[j]);
      out.Number(frame->columns[j][i]);  // NaN (undefined) -> null
    }
    out.EndObject();
  }
  out.EndArray();
  SendJson(res, 200, out.str());
}

void GetOptions(EnginesContext&, const Request&, Response& res) {
  SendJson(res, 200, std::string("[\"") + kDefaultOptions + "\"]");
}

void GetHealth(EnginesContext& ctx, const Request&, Response& res) {
  auto symbols = ctx.bars->Symbols();
  JsonOut out;
  out.StartObject();
  out.Key("status").String(symbols.ok() ? "healthy" : "unhealthy");
  out.Key("service").String("features");
  out.Key("engine").String("builtin");
  out.Key("data_dir").String(ctx.bars->describe());
  if (symbols.ok()) {
    out.Key("symbols").Int(static_cast<int64_t>(symbols->size()));
  } else {
    out.Key("error").String(symbols.status().message());
  }
  out.EndObject();
  SendJson(res, 200, out.str());
}

}  // namespace

void RegisterFeatureRoutes(http::HttpServer& server, EnginesContext& ctx) {
  server.Add(ctx, {{Method::kGet, "/symbols", Access::kPublic, &GetSymbols},
                   {Method::kGet, "/options", Access::kPublic, &GetOptions},
                   {Method::kGet, "/features_sample", Access::kPublic, &GetFeaturesSample},
                   {Method::kGet, "/health", Access::kPublic, &GetHealth}});
}

}  // namespace evolve::engines_service
