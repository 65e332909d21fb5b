// The REST API of `evolve serve` (docs/api.md; WIRE-CONTRACT.md part A).
// The routes are split by subject; each Register* function adds its routes
// to the server (evolve::http::HttpServer, which applies the token, the
// metrics and the logging). Handlers use only the context, so a test can
// serve them over any store.
#ifndef EVOLVE_SERVICES_ORCHESTRATOR_API_H_
#define EVOLVE_SERVICES_ORCHESTRATOR_API_H_

#include <functional>
#include <string>
#include <vector>

#include "evolve/evolution.h"
#include "evolve/feature_source.h"
#include "evolve/http/http_server.h"
#include "evolve/json.h"
#include "evolve/scheduler.h"
#include "evolve/service/http_support.h"
#include "evolve/service/metrics.h"
#include "evolve/store.h"
#include "evolve/worker.h"

namespace evolve::cli {

// What every handler file of the API uses (SendJson, SendError and
// SendStatus come with Response, by argument-dependent lookup).
using http::Access;
using http::Method;
using http::Request;
using http::Response;
using service::Metrics;

// Names of the counters the API adds to (Metrics::Add); /metrics reports
// them together with the in-process workers' own counts.
inline constexpr char kJobsClaimedOverHttp[] = "http_jobs_claimed";
inline constexpr char kJobsCompletedOverHttp[] = "http_jobs_completed";
inline constexpr char kJobsFailedOverHttp[] = "http_jobs_failed";
inline constexpr char kJobsLostOverHttp[] = "http_jobs_lost";  // 409: the lease was gone

struct ApiContext {
  Store& store;
  EvolutionEngine& engine;
  RunScheduler& scheduler;
  FeatureSource& features;
  Metrics& metrics;
  int default_max_generations = EvolutionConfig{}.max_generations;
  std::string store_kind;    // "sqlite" or "postgresql"
  std::string engines_kind;  // "builtin" or "http"
  // Checks a new run's config against the data and fills what the data
  // decides (the timeframe when none was given); returns the problems, each
  // naming its field, or an error when the data cannot be read (503 for
  // kUnavailable). Nothing may be written.
  std::function<Result<std::vector<FieldError>>(EvolutionConfig& config, bool timeframe_given)>
      prepare_config;
  // Metric text of this process beyond the API's (in-process workers, the
  // scheduler), appended to GET /metrics.
  std::function<std::string()> process_metrics;
  // evolve serve --require-claim-tokens: the worker protocol refuses
  // version 1 (requests without a claim token).
  bool require_claim_tokens = false;
};

// POST /evolve, GET /runs, GET /runs/{id}, GET /runs/{id}/generations,
// POST /runs/{id}/stop|cancel|resume, GET /promoted, GET /promoted/{id},
// GET /models/{id}/lineage.
void RegisterRunRoutes(http::HttpServer& server, ApiContext& ctx);

// The worker protocol over the store (evolve/http/worker_protocol.h: POST
// /jobs/claim, /jobs/{id}/heartbeat|complete|release, /jobs/finish; GET
// /workers, POST /workers/register, /workers/{id}/heartbeat|deregister; GET
// /artifacts/{key}), counted in the metrics; and GET /jobs/pending, the
// dashboard's page of the queue.
void RegisterJobRoutes(http::HttpServer& server, ApiContext& ctx);

// GET /health, /api/stats, /api/defaults, /api/features/symbols,
// /api/features/columns, /metrics, /openapi.json.
void RegisterInfoRoutes(http::HttpServer& server, ApiContext& ctx);

// The dashboard: GET / and /dashboard/app.js, /dashboard/style.css (compiled
// in); GET /promoted/{id}/equity (a promoted model's equity curve).
void RegisterDashboardRoutes(http::HttpServer& server, ApiContext& ctx);

}  // namespace evolve::cli

#endif  // EVOLVE_SERVICES_ORCHESTRATOR_API_H_
