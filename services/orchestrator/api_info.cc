// The service's own information: GET /health, /api/stats, the feature
// proxies, /metrics and /openapi.json.
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "api.h"
#include "evolve/log.h"
#include "openapi_document.h"
#include "output.h"

namespace evolve::cli {
namespace {

const RunStatus kAllRunStatuses[] = {RunStatus::kPending,   RunStatus::kRunning, RunStatus::kPromoted,
                                     RunStatus::kCompleted, RunStatus::kStopped, RunStatus::kCancelled,
                                     RunStatus::kFailed};

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// What /api/stats and /metrics both report, read once.
struct Snapshot {
  RunCounts runs;
  JobCounts jobs;
  int live_workers = 0;
  int workers = 0;
};

Result<Snapshot> ReadSnapshot(ApiContext& ctx) {
  Snapshot s;
  EVOLVE_ASSIGN_OR_RETURN(s.runs, ctx.store.CountRuns());
  EVOLVE_ASSIGN_OR_RETURN(s.jobs, ctx.store.CountJobs(JobFilter{}));
  EVOLVE_ASSIGN_OR_RETURN(std::vector<WorkerInfo> workers, ctx.store.ListWorkers());
  const TimePoint now = ctx.store.clock().Now();
  for (const WorkerInfo& w : workers) {
    ++s.workers;
    if (IsLive(w, now)) ++s.live_workers;
  }
  return s;
}

// The counts behind /api/stats and /metrics cost a scan of every job ever
// queued (a GROUP BY over the job tables); dashboards poll them every
// second or two. One read serves every request for up to a second.
class SnapshotCache {
 public:
  Result<Snapshot> Get(ApiContext& ctx) {
    std::lock_guard<std::mutex> lock(mu_);  // one reader at a time refreshes
    const auto now = std::chrono::steady_clock::now();
    if (cached_.has_value() && now - taken_ < kMaxAge) return *cached_;
    Result<Snapshot> fresh = ReadSnapshot(ctx);
    if (!fresh.ok()) return fresh;
    cached_ = *fresh;
    taken_ = now;
    return fresh;
  }

 private:
  static constexpr auto kMaxAge = std::chrono::seconds(1);
  std::mutex mu_;
  std::optional<Snapshot> cached_;  // guarded by mu_
  std::chrono::steady_clock::time_point taken_;
};

// {"kind": kind, ...object's fields}.
std::string WithKind(const std::string& object, const std::string& kind) {
  return "{\"kind\":" + JsonQuote(kind) + "," + object.substr(1);
}

void GetHealth(ApiContext& ctx, httplib::Response& res) {
  // One cheap read of each dependency.
  RunFilter one;
  one.limit = 1;
  auto store = ctx.store.ListRuns(one);
  auto symbols = ctx.features.ListSymbols();
  auto reach = [](const Status& s) {
    return std::string("{\"ok\":") + (s.ok() ? "true" : "false") +
           (s.ok() ? "" : ",\"error\":" + JsonQuote(s.ToString())) + "}";
  };
  const bool healthy = store.ok() && symbols.ok();
  SendJson(res, healthy ? 200 : 503,
           std::string("{\"status\":") + (healthy ? "\"healthy\"" : "\"unhealthy\"") +
               ",\"service\":\"orchestrator\",\"store\":" +
               WithKind(reach(store.status()), ctx.store_kind) + ",\"engines\":" +
               WithKind(reach(symbols.status()), ctx.engines_kind) + "}");
}

void GetStats(ApiContext& ctx, SnapshotCache& cache, httplib::Response& res) {
  auto snap = cache.Get(ctx);
  if (!snap.ok()) return SendStatus(res, snap.status());
  const RunCounts& r = snap->runs;
  const int64_t active = r.Of(RunStatus::kPending) + r.Of(RunStatus::kRunning);
  std::string by_status = "{";
  for (RunStatus status : kAllRunStatuses) {
    by_status += (by_status.size() > 1 ? "," : "") + JsonQuote(Lower(RunStatusName(status))) + ":" +
                 std::to_string(r.Of(status));
  }
  by_status += "}";
  const JobCounts& j = snap->jobs;
  SendJson(res, 200,
           "{\"total_runs\":" + std::to_string(r.total()) + ",\"active_runs\":" + std::to_string(active) +
               ",\"completed_runs\":" + std::to_string(r.Of(RunStatus::kCompleted)) +
               ",\"promoted_runs\":" + std::to_string(r.Of(RunStatus::kPromoted)) +
               ",\"promoted_models\":" + std::to_string(r.Of(RunStatus::kPromoted)) +
               ",\"runs_by_status\":" + by_status + ",\"pending_jobs\":" + std::to_string(j.pending) +
               ",\"running_jobs\":" + std::to_string(j.running) + ",\"completed_jobs\":" + std::to_string(j.completed) +
               ",\"failed_jobs\":" + std::to_string(j.failed) + ",\"cancelled_jobs\":" + std::to_string(j.cancelled) +
               ",\"live_workers\":" + std::to_string(snap->live_workers) +
               ",\"known_workers\":" + std::to_string(snap->workers) + "}");
}

void GetSymbols(ApiContext& ctx, httplib::Response& res) {
  auto symbols = ctx.features.ListSymbols();
  if (!symbols.ok()) return SendStatus(res, symbols.status());
  std::vector<std::string> quoted;
  for (const std::string& s : *symbols) quoted.push_back(JsonQuote(s));
  SendJson(res, 200, "{\"symbols\":" + JsonArray(quoted) + ",\"count\":" + std::to_string(quoted.size()) + "}");
}

void GetColumns(ApiContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const std::string symbol = req.get_param_value("symbol");
  if (symbol.empty()) {
    return SendError(res, 400, "invalid_argument", "symbol: the query parameter is required (?symbol=TTRC)",
                     {{"symbol", "is required"}});
  }
  auto columns = ctx.features.ListFeatures(symbol);
  if (!columns.ok()) return SendStatus(res, columns.status());
  std::vector<std::string> quoted;
  for (const std::string& c : *columns) quoted.push_back(JsonQuote(c));
  SendJson(res, 200,
           "{\"symbol\":" + JsonQuote(symbol) + ",\"columns\":" + JsonArray(quoted) +
               ",\"count\":" + std::to_string(quoted.size()) + "}");
}

void GetMetrics(ApiContext& ctx, SnapshotCache& cache, httplib::Response& res) {
  std::string out;
  auto snap = cache.Get(ctx);
  out += MetricHeader("evolve_store_up", "gauge", "1 when the store answered this scrape.");
  out += MetricLine("evolve_store_up", {}, snap.ok() ? 1 : 0);
  if (snap.ok()) {
    out += MetricHeader("evolve_runs", "gauge", "Runs in the store, by status.");
    for (RunStatus status : kAllRunStatuses) {
      out += MetricLine("evolve_runs", {{"status", RunStatusName(status)}},
                        static_cast<double>(snap->runs.Of(status)));
    }
    const JobCounts& j = snap->jobs;
    out += MetricHeader("evolve_jobs", "gauge", "Simulation jobs in the store, by status.");
    out += MetricLine("evolve_jobs", {{"status", "PENDING"}}, j.pending);
    out += MetricLine("evolve_jobs", {{"status", "RUNNING"}}, j.running);
    out += MetricLine("evolve_jobs", {{"status", "COMPLETED"}}, j.completed);
    out += MetricLine("evolve_jobs", {{"status", "FAILED"}}, j.failed);
    out += MetricLine("evolve_jobs", {{"status", "CANCELLED"}}, j.cancelled);
    out += MetricHeader("evolve_live_workers", "gauge", "Workers that heartbeat within the last 60 s.");
    out += MetricLine("evolve_live_workers", {}, snap->live_workers);
  } else {
    Log(LogLevel::kWarning, "metrics: the store did not answer", {{"error", snap.status().ToString()}});
  }
  if (ctx.process_metrics) out += ctx.process_metrics();
  out += ctx.metrics.RenderRequests();
  res.status = 200;
  res.set_content(out, "text/plain; version=0.0.4; charset=utf-8");
}

}  // namespace

void RegisterInfoRoutes(Router& router, ApiContext& ctx) {
  using Access = Router::Access;
  router.Get("/health", Access::kPublic,
             [&ctx](const httplib::Request&, httplib::Response& res) { GetHealth(ctx, res); });
  auto cache = std::make_shared<SnapshotCache>();
  router.Get("/api/stats", Access::kPublic,
             [&ctx, cache](const httplib::Request&, httplib::Response& res) { GetStats(ctx, *cache, res); });
  router.Get("/api/features/symbols", Access::kPublic,
             [&ctx](const httplib::Request&, httplib::Response& res) { GetSymbols(ctx, res); });
  router.Get("/api/features/columns", Access::kPublic,
             [&ctx](const httplib::Request& req, httplib::Response& res) { GetColumns(ctx, req, res); });
  router.Get("/metrics", Access::kPublic,
             [&ctx, cache](const httplib::Request&, httplib::Response& res) { GetMetrics(ctx, *cache, res); });
  router.Get("/openapi.json", Access::kPublic, [](const httplib::Request&, httplib::Response& res) {
    SendJson(res, 200, OpenApiDocument());
  });
}

}  // namespace evolve::cli
