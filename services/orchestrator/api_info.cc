// The service's own information: GET /health, /api/stats, /api/defaults,
// the feature proxies, /metrics and /openapi.json.
#include <chrono>
#include <map>
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
  JobCounts jobs;                             // every kind
  std::map<JobKind, JobCounts> jobs_by_kind;  // every kind
  int live_workers = 0;
  int workers = 0;
};

Result<Snapshot> ReadSnapshot(ApiContext& ctx) {
  Snapshot s;
  EVOLVE_ASSIGN_OR_RETURN(s.runs, ctx.store.CountRuns());
  for (JobKind kind : JobKinds::All().List()) {
    JobFilter filter;
    filter.kind = kind;
    EVOLVE_ASSIGN_OR_RETURN(s.jobs_by_kind[kind], ctx.store.CountJobs(filter));
    s.jobs.Add(s.jobs_by_kind[kind]);
  }
  EVOLVE_ASSIGN_OR_RETURN(std::vector<WorkerInfo> workers, ctx.store.ListWorkers());
  const TimePoint now = ctx.store.clock().Now();
  for (const WorkerInfo& w : workers) {
    ++s.workers;
    if (IsWorkerLive(w, now)) ++s.live_workers;
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

// What the routes below serve from: the API's context and the snapshot
// cache of /api/stats and /metrics.
struct Info {
  ApiContext& api;
  SnapshotCache cache;
};

void GetOpenApi(Info&, const Request&, Response& res) { SendJson(res, 200, OpenApiDocument()); }

// The defaults of a POST /evolve body: a default EvolutionConfig (the one
// source of them) with this service's default max_generations.
void GetDefaults(Info& info, const Request&, Response& res) {
  EvolutionConfig defaults;
  defaults.max_generations = info.api.default_max_generations;
  SendJson(res, 200, ToJson(defaults));
}

// {"kind": kind, ...object's fields}.
std::string WithKind(const std::string& object, const std::string& kind) {
  return "{\"kind\":" + JsonQuote(kind) + "," + object.substr(1);
}

void GetHealth(Info& info, const Request&, Response& res) {
  ApiContext& ctx = info.api;
  // One cheap read of each dependency.
  RunFilter one;
  one.limit = 1;
  auto store = ctx.store.ListRuns(one);
  auto symbols = ctx.features.ListSymbols();
  auto reach = [](const Status& s) {
    return std::string("{\"ok\":") + (s.ok() ? "true" : "false") +
           (s.ok() ? "" : ",\"error\":" + JsonQuote(s.ToString())) + "}";
  };
  // A store that answers reads but cannot write (a full disk, a read-only
  // file) as the engine's last steps saw it: degraded until a step writes.
  const StoreWriteHealth writes = ctx.engine.store_health();
  auto millis = [](TimePoint t) {
    return std::to_string(
        std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count());
  };
  std::string writes_json = std::string("{\"ok\":") + (writes.writable ? "true" : "false");
  if (!writes.writable) {
    // The cause names server paths ("/srv/evolve.db: disk I/O error"),
    // which a public route does not show; the log has it ("step failed").
    writes_json += ",\"error\":\"the store refuses writes (the service log has the cause: 'step failed')\"";
    if (writes.failing_since) writes_json += ",\"failing_since_ms\":" + millis(*writes.failing_since);
    if (writes.last_error_at) writes_json += ",\"last_error_ms\":" + millis(*writes.last_error_at);
  }
  writes_json += "}";
  const bool reachable = store.ok() && symbols.ok();
  const char* status = !reachable ? "\"unhealthy\"" : !writes.writable ? "\"degraded\"" : "\"healthy\"";
  std::string store_json = reach(store.status());
  store_json.insert(store_json.size() - 1, ",\"writes\":" + writes_json);
  SendJson(res, reachable && writes.writable ? 200 : 503,
           std::string("{\"status\":") + status +
               ",\"service\":\"orchestrator\",\"store\":" + WithKind(store_json, ctx.store_kind) +
               ",\"engines\":" + WithKind(reach(symbols.status()), ctx.engines_kind) + "}");
}

void GetStats(Info& info, const Request&, Response& res) {
  auto snap = info.cache.Get(info.api);
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
               ",\"running_jobs\":" + std::to_string(j.running) + ",\"completed_jobs\":" +
               std::to_string(j.completed) + ",\"failed_jobs\":" + std::to_string(j.failed) +
               ",\"cancelled_jobs\":" + std::to_string(j.cancelled) +
               ",\"jobs_by_kind\":" + JobCountsByKindJson(snap->jobs_by_kind) +
               ",\"live_workers\":" + std::to_string(snap->live_workers) +
               ",\"known_workers\":" + std::to_string(snap->workers) + "}");
}

void GetSymbols(Info& info, const Request&, Response& res) {
  auto symbols = info.api.features.ListSymbols();
  if (!symbols.ok()) return SendStatus(res, symbols.status());
  std::vector<std::string> quoted;
  for (const std::string& s : *symbols) quoted.push_back(JsonQuote(s));
  SendJson(res, 200,
           "{\"symbols\":" + JsonArray(quoted) + ",\"count\":" + std::to_string(quoted.size()) + "}");
}

void GetColumns(Info& info, const Request& req, Response& res) {
  const std::string symbol = req.Param("symbol");
  if (symbol.empty()) {
    return SendError(res, 400, "invalid_argument", "symbol: the query parameter is required (?symbol=TTRC)",
                     {{"symbol", "is required"}});
  }
  auto columns = info.api.features.ListFeatures(symbol);
  if (!columns.ok()) {
    // The built-in source's message names the data directory's path, which
    // is no caller's business (the route is public).
    if (columns.status().code() == StatusCode::kNotFound) {
      return SendError(res, 404, "not_found", "no bars for symbol " + symbol);
    }
    return SendStatus(res, columns.status());
  }
  std::vector<std::string> quoted;
  for (const std::string& c : *columns) quoted.push_back(JsonQuote(c));
  SendJson(res, 200,
           "{\"symbol\":" + JsonQuote(symbol) + ",\"columns\":" + JsonArray(quoted) +
               ",\"count\":" + std::to_string(quoted.size()) + "}");
}

void GetMetrics(Info& info, const Request&, Response& res) {
  ApiContext& ctx = info.api;
  std::string out;
  auto snap = info.cache.Get(ctx);
  out += service::MetricHeader("evolve_store_up", "gauge", "1 when the store answered this scrape.");
  out += service::MetricLine("evolve_store_up", {}, snap.ok() ? 1 : 0);
  if (snap.ok()) {
    out += service::MetricHeader("evolve_runs", "gauge", "Runs in the store, by status.");
    for (RunStatus status : kAllRunStatuses) {
      out += service::MetricLine("evolve_runs", {{"status", RunStatusName(status)}},
                                 static_cast<double>(snap->runs.Of(status)));
    }
    const JobCounts& j = snap->jobs;
    out += service::MetricHeader("evolve_jobs", "gauge", "Jobs in the store (every kind), by status.");
    out += service::MetricLine("evolve_jobs", {{"status", "PENDING"}}, j.pending);
    out += service::MetricLine("evolve_jobs", {{"status", "RUNNING"}}, j.running);
    out += service::MetricLine("evolve_jobs", {{"status", "COMPLETED"}}, j.completed);
    out += service::MetricLine("evolve_jobs", {{"status", "FAILED"}}, j.failed);
    out += service::MetricLine("evolve_jobs", {{"status", "CANCELLED"}}, j.cancelled);
    out += service::MetricHeader("evolve_jobs_by_kind", "gauge",
                                 "Jobs in the store by kind (simulate, train, assemble) and status.");
    for (const auto& [k, c] : snap->jobs_by_kind) {
      const std::string kind = JobKindName(k);
      for (JobStatus status : {JobStatus::kPending, JobStatus::kRunning, JobStatus::kCompleted,
                               JobStatus::kFailed, JobStatus::kCancelled}) {
        out += service::MetricLine("evolve_jobs_by_kind", {{"kind", kind}, {"status", JobStatusName(status)}},
                                   c.Of(status));
      }
    }
    out +=
        service::MetricHeader("evolve_live_workers", "gauge", "Workers that heartbeat within the last 60 s.");
    out += service::MetricLine("evolve_live_workers", {}, snap->live_workers);
  } else {
    Log(LogLevel::kWarning, "metrics: the store did not answer", {{"error", snap.status().ToString()}});
  }
  if (ctx.process_metrics) out += ctx.process_metrics();
  out += ctx.metrics.RenderRequests();
  res.status = 200;
  res.SetContent(std::move(out), "text/plain; version=0.0.4; charset=utf-8");
}

}  // namespace

void RegisterInfoRoutes(http::HttpServer& server, ApiContext& ctx) {
  std::shared_ptr<Info> info(new Info{ctx, {}});
  server.Add(info, {{Method::kGet, "/health", Access::kPublic, &GetHealth},
                    {Method::kGet, "/api/stats", Access::kPublic, &GetStats},
                    {Method::kGet, "/api/defaults", Access::kPublic, &GetDefaults},
                    {Method::kGet, "/api/features/symbols", Access::kPublic, &GetSymbols},
                    {Method::kGet, "/api/features/columns", Access::kPublic, &GetColumns},
                    {Method::kGet, "/metrics", Access::kPublic, &GetMetrics},
                    {Method::kGet, "/openapi.json", Access::kPublic, &GetOpenApi}});
}

}  // namespace evolve::cli
