// The REST API of `evolve serve` (docs/api.md; WIRE-CONTRACT.md part A).
// The routes are split by subject; each Register* function adds its routes
// to the router. Handlers use only the context, so a test can serve them
// over any store.
#ifndef EVOLVE_SERVICES_ORCHESTRATOR_API_H_
#define EVOLVE_SERVICES_ORCHESTRATOR_API_H_

#include <functional>
#include <string>
#include <vector>

#include "evolve/evolution.h"
#include "evolve/feature_source.h"
#include "evolve/json.h"
#include "evolve/scheduler.h"
#include "evolve/store.h"
#include "http_support.h"
#include "metrics.h"

namespace evolve::cli {

// Names of the counters the API adds to (Metrics::Add); /metrics reports
// them together with the in-process workers' own counts.
inline constexpr char kJobsClaimedOverHttp[] = "http_jobs_claimed";
inline constexpr char kJobsCompletedOverHttp[] = "http_jobs_completed";
inline constexpr char kJobsFailedOverHttp[] = "http_jobs_failed";
inline constexpr char kJobsLostOverHttp[] = "http_jobs_lost";  // 409: the lease was gone

// A worker is live while it is ACTIVE and has heartbeat within the last
// 60 s (in-process workers heartbeat every 5 s, evolve-worker every 15 s
// by default).
inline bool IsLive(const WorkerInfo& worker, TimePoint now) {
  return worker.status == "ACTIVE" && now - worker.last_heartbeat <= std::chrono::seconds(60);
}

struct ApiContext {
  Store& store;
  EvolutionEngine& engine;
  RunScheduler& scheduler;
  FeatureSource& features;
  Metrics& metrics;
  int default_max_generations = 4;
  std::string store_kind;    // "sqlite" or "postgresql"
  std::string engines_kind;  // "builtin" or "http"
  // Checks a new run's config against the data and fills what the data
  // decides (the timeframe when none was given); returns the problems, each
  // naming its field, or an error when the data cannot be read (503 for
  // kUnavailable). Nothing may be written.
  std::function<Result<std::vector<FieldError>>(EvolutionConfig& config, bool timeframe_given)> prepare_config;
  // Metric text of this process beyond the API's (in-process workers, the
  // scheduler), appended to GET /metrics.
  std::function<std::string()> process_metrics;
};

// POST /evolve, GET /runs, GET /runs/{id}, GET /runs/{id}/generations,
// POST /runs/{id}/stop|cancel|resume, GET /promoted, GET /promoted/{id},
// GET /models/{id}/lineage.
void RegisterRunRoutes(Router& router, ApiContext& ctx);

// The worker protocol: POST /jobs/claim, /jobs/{id}/heartbeat,
// /jobs/{id}/complete, /jobs/{id}/release, /jobs/finish; GET /jobs/pending;
// GET /workers, POST /workers/register, /workers/{id}/heartbeat,
// /workers/{id}/deregister; GET /artifacts/{key}.
void RegisterJobRoutes(Router& router, ApiContext& ctx);

// GET /health, /api/stats, /api/features/symbols, /api/features/columns,
// /metrics, /openapi.json.
void RegisterInfoRoutes(Router& router, ApiContext& ctx);

// The dashboard: GET / and /dashboard/app.js, /dashboard/style.css (compiled
// in); GET /promoted/{id}/equity (a promoted model's equity curve).
void RegisterDashboardRoutes(Router& router, ApiContext& ctx);

}  // namespace evolve::cli

#endif  // EVOLVE_SERVICES_ORCHESTRATOR_API_H_
