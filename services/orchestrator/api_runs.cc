// Runs, promotions and lineage: POST /evolve, GET /runs..., POST
// /runs/{id}/stop|cancel|resume, GET /promoted..., GET /models/{id}/lineage.
#include <rapidjson/document.h>

#include <algorithm>
#include <string>
#include <vector>

#include "api.h"
#include "evolve/evolution.h"  // NewId
#include "evolve/log.h"
#include "output.h"
#include "validity_summary.h"

namespace evolve::cli {
namespace {

constexpr int kResultsSample = 10;  // GET /runs/{id}: best completed results
constexpr int kTopResults = 5;      // GET /runs/{id}/generations: per generation

// `object` (a JSON object) with `fields` (",\"k\":v..." ) added at its end.
std::string WithFields(const std::string& object, const std::string& fields) {
  return object.substr(0, object.size() - 1) + fields + "}";
}

// Completed simulations, best SQN first (unset SQN last), at most `n`;
// training jobs have no result to rank.
std::vector<Job> BestResults(std::vector<Job> jobs, int n) {
  jobs.erase(std::remove_if(jobs.begin(), jobs.end(),
                            [](const Job& j) {
                              return j.kind != JobKind::kSimulate || j.status != JobStatus::kCompleted ||
                                     !j.result.has_value();
                            }),
             jobs.end());
  auto sqn = [](const Job& j) { return j.result->sqn.has_value() ? *j.result->sqn : -1e300; };
  std::stable_sort(jobs.begin(), jobs.end(), [&sqn](const Job& a, const Job& b) { return sqn(a) > sqn(b); });
  if (static_cast<int>(jobs.size()) > n) jobs.resize(static_cast<size_t>(n));
  return jobs;
}

std::string JobsJson(const std::vector<Job>& jobs) {
  std::vector<std::string> out;
  out.reserve(jobs.size());
  for (const Job& j : jobs) out.push_back(ToJson(j));
  return JsonArray(out);
}

// True when the body is a JSON object with a "timeframe" member: a run
// whose request names none takes the data's (daily or one-minute bars).
// The field a kInvalidArgument of the engine names ("seed_model_id: no
// model 'm_x'"), as the one detail of its 400.
std::vector<FieldError> FieldErrorsOf(const Status& status) {
  const std::string& m = status.message();
  const size_t colon = m.find(": ");
  if (status.code() != StatusCode::kInvalidArgument || colon == std::string::npos) return {};
  return {{m.substr(0, colon), m.substr(colon + 2)}};
}

bool NamesTimeframe(const std::string& body) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(body.data(), body.size());
  return !doc.HasParseError() && doc.IsObject() && doc.HasMember("timeframe") && !doc["timeframe"].IsNull();
}

void PostEvolve(ApiContext& ctx, const Request& req, Response& res) {
  std::vector<FieldError> errors;
  auto config = EvolutionConfigFromJson(req.body, &errors, ctx.default_max_generations);
  if (!config.ok()) {
    if (errors.empty()) errors.push_back({"", config.status().message()});
    SendError(res, 400, "invalid_argument", config.status().message(), errors);
    return;
  }
  if (ctx.prepare_config) {
    auto problems = ctx.prepare_config(*config, NamesTimeframe(req.body));
    if (!problems.ok()) return SendStatus(res, problems.status());
    errors = std::move(*problems);
    if (!errors.empty()) {
      std::string message;
      for (const FieldError& e : errors)
        message += (message.empty() ? "" : "; ") + e.field + ": " + e.message;
      SendError(res, 400, "invalid_argument", message, errors);
      return;
    }
  }
  // A run this service could not lock (a read-only run-lock file, a lost
  // lock session) would be stored and never stepped: find out first, with
  // a lock on an id no run has.
  {
    auto probe = ctx.store.TryLockRun("probe_" + NewId("lock_"));
    if (!probe.ok()) {
      return SendError(res, 503, "unavailable",
                       "this service cannot schedule runs now: " + probe.status().message());
    }
  }
  auto run = ctx.engine.CreateRun(*config);
  if (!run.ok()) return SendStatus(res, run.status(), FieldErrorsOf(run.status()));
  Status scheduled = ctx.scheduler.Submit(run->id);
  if (scheduled.code() == StatusCode::kResourceExhausted) {
    // Full (--max-runs): stored PENDING, adopted by a service on this store
    // with room, or by this one when a run of it ends.
    Log(LogLevel::kInfo, "run stored for a service with room", {{"run_id", run->id}});
  } else if (!scheduled.ok()) {
    // Stored PENDING: the next start of a service on this store adopts it.
    Log(LogLevel::kWarning, "run stored but not scheduled",
        {{"run_id", run->id}, {"error", scheduled.ToString()}});
  }
  res.SetHeader("Location", "/runs/" + run->id);
  SendJson(res, 202,
           "{\"run_id\":" + JsonQuote(run->id) + ",\"status\":\"started\",\"message\":" +
               JsonQuote("Evolution run started for " + run->config.symbol) + ",\"max_generations\":" +
               std::to_string(run->config.max_generations) + ",\"run\":" + ToJson(*run) + "}");
}

void GetRuns(ApiContext& ctx, const Request& req, Response& res) {
  auto page = service::QueryPage(req);
  if (!page.ok()) return SendStatus(res, page.status());
  RunFilter filter;
  filter.limit = page->limit;
  filter.offset = page->offset;
  if (req.HasParam("status")) {
    std::string name = req.Param("status");
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::toupper(c); });
    RunStatus status;
    if (!ParseRunStatus(name, &status)) {
      return SendError(res, 400, "invalid_argument",
                       "status: unknown run status '" + req.Param("status") +
                           "' (PENDING, RUNNING, PROMOTED, COMPLETED, STOPPED, CANCELLED, FAILED)",
                       {{"status", "unknown run status"}});
    }
    filter.status = status;
  }
  auto runs = ctx.store.ListRuns(filter);
  if (!runs.ok()) return SendStatus(res, runs.status());
  auto counts = ctx.store.CountRuns();  // for `total`: how far the pages go
  if (!counts.ok()) return SendStatus(res, counts.status());
  const int64_t total = filter.status.has_value() ? counts->Of(*filter.status) : counts->total();
  std::vector<std::string> out;
  for (const Run& r : *runs) out.push_back(ToJson(r));
  SendJson(res, 200,
           "{\"runs\":" + JsonArray(out) + ",\"count\":" + std::to_string(out.size()) +
               ",\"total\":" + std::to_string(total) + ",\"limit\":" + std::to_string(filter.limit) +
               ",\"offset\":" + std::to_string(filter.offset) + "}");
}

void GetRun(ApiContext& ctx, const Request& req, Response& res) {
  const std::string& run_id = req.matches[1];
  auto run = ctx.store.GetRun(run_id);
  if (!run.ok()) return SendStatus(res, run.status());
  auto generations = ctx.store.ListGenerations(run_id);
  if (!generations.ok()) return SendStatus(res, generations.status());
  auto lineage = ctx.store.ListLineage(run_id);
  if (!lineage.ok()) return SendStatus(res, lineage.status());
  JobFilter filter;
  filter.run_id = run_id;
  auto jobs = ctx.store.ListJobs(filter);
  if (!jobs.ok()) return SendStatus(res, jobs.status());
  JobCounts counts;
  for (const Job& job : *jobs) counts.Add(job.status);
  const std::string by_kind = JobCountsByKindJson(*jobs);
  std::string promotion = "null";
  if (run->promoted) {
    auto p = ctx.store.GetPromotion(run->promotion_id);
    if (!p.ok()) return SendStatus(res, p.status());
    promotion = ToJson(*p);
  }
  std::vector<std::string> gens, edges;
  for (const Generation& g : *generations) gens.push_back(ToJson(g));
  for (const LineageEdge& e : *lineage) edges.push_back(ToJson(e));
  SendJson(res, 200,
           "{\"run\":" + ToJson(*run) + ",\"lineage\":" + JsonArray(edges) +
               ",\"generations\":" + JsonArray(gens) + ",\"jobs\":" + JobCountsJson(counts) +
               ",\"jobs_by_kind\":" + by_kind + ",\"completed_jobs\":" + std::to_string(counts.completed) +
               ",\"results_sample\":" + JobsJson(BestResults(std::move(*jobs), kResultsSample)) + ",\"promotion\":" + promotion +
               ",\"validity\":" + ValiditySummaryJson(SummarizeValidity(*run, *generations)) +
               ",\"scheduled\":" + (ctx.scheduler.IsScheduled(run_id) ? "true" : "false") + "}");
}

void GetGenerations(ApiContext& ctx, const Request& req, Response& res) {
  const std::string& run_id = req.matches[1];
  auto run = ctx.store.GetRun(run_id);
  if (!run.ok()) return SendStatus(res, run.status());
  auto generations = ctx.store.ListGenerations(run_id);
  if (!generations.ok()) return SendStatus(res, generations.status());
  std::vector<std::string> out;
  for (const Generation& g : *generations) {
    JobCounts counts;
    std::vector<Job> top;
    if (!g.batch_id.empty()) {
      JobFilter filter;
      filter.batch_id = g.batch_id;
      auto c = ctx.store.CountJobs(filter);
      if (!c.ok()) return SendStatus(res, c.status());
      counts = *c;
      filter.status = JobStatus::kCompleted;
      auto jobs = ctx.store.ListJobs(filter);
      if (!jobs.ok()) return SendStatus(res, jobs.status());
      top = BestResults(std::move(*jobs), kTopResults);
    }
    out.push_back(
        WithFields(ToJson(g), ",\"jobs\":" + JobCountsJson(counts) + ",\"top_results\":" + JobsJson(top)));
  }
  SendJson(res, 200,
           "{\"run_id\":" + JsonQuote(run_id) + ",\"status\":" + JsonQuote(RunStatusName(run->status)) +
               ",\"generations\":" + JsonArray(out) + ",\"count\":" + std::to_string(out.size()) + "}");
}

// Replies with the run's stored status after a user action.
void ReplyRunStatus(ApiContext& ctx, const std::string& run_id, const std::string& message, Response& res) {
  auto run = ctx.store.GetRun(run_id);
  if (!run.ok()) return SendStatus(res, run.status());
  SendJson(res, 200,
           "{\"run_id\":" + JsonQuote(run_id) + ",\"status\":" + JsonQuote(RunStatusName(run->status)) +
               ",\"message\":" + JsonQuote(message) + "}");
}

void PostRunAction(ApiContext& ctx, const Request& req, Response& res) {
  const std::string& run_id = req.matches[1];
  const std::string& action = req.matches[2];
  if (action == "stop") {
    if (Status s = ctx.engine.StopRun(run_id); !s.ok()) return SendStatus(res, s);
    ctx.scheduler.Wake(run_id);  // its loop records the stop now, not at the next poll
    return ReplyRunStatus(
        ctx, run_id, "stopped; queued jobs stay queued; POST /runs/" + run_id + "/resume continues", res);
  }
  if (action == "cancel") {
    if (Status s = ctx.engine.CancelRun(run_id); !s.ok()) return SendStatus(res, s);
    ctx.scheduler.Wake(run_id);
    return ReplyRunStatus(ctx, run_id, "cancelled; its pending jobs were cancelled", res);
  }
  // resume
  auto run = ctx.store.GetRun(run_id);
  if (!run.ok()) return SendStatus(res, run.status());
  std::string message = "resumed";
  if (run->status == RunStatus::kRunning || run->status == RunStatus::kPending) {
    message = "already running";  // scheduled again below in case no process steps it
  } else if (Status s = ctx.engine.ResumeRun(run_id); !s.ok()) {
    return SendStatus(res, s);
  }
  if (Status s = ctx.scheduler.Submit(run_id); !s.ok()) {
    // Full (--max-runs): the run waits in the store for a service with room.
    if (s.code() != StatusCode::kResourceExhausted) return SendStatus(res, s);
    message += "; queued for a service with room (this one runs its --max-runs)";
  }
  ReplyRunStatus(ctx, run_id, message, res);
}

void GetPromoted(ApiContext& ctx, const Request& req, Response& res) {
  auto page = service::QueryPage(req);
  if (!page.ok()) return SendStatus(res, page.status());
  auto promotions = ctx.store.ListPromotions(page->limit, page->offset);
  if (!promotions.ok()) return SendStatus(res, promotions.status());
  std::vector<std::string> out;
  for (const Promotion& p : *promotions) out.push_back(ToJson(p));
  SendJson(res, 200,
           "{\"promoted\":" + JsonArray(out) + ",\"count\":" + std::to_string(out.size()) + ",\"limit\":" +
               std::to_string(page->limit) + ",\"offset\":" + std::to_string(page->offset) + "}");
}

std::string LineageJson(const std::vector<LineageEdge>& edges) {
  std::vector<std::string> out;
  for (const LineageEdge& e : edges) out.push_back(ToJson(e));
  return JsonArray(out);
}

void GetPromotion(ApiContext& ctx, const Request& req, Response& res) {
  const std::string& id = req.matches[1];
  auto p = ctx.store.GetPromotion(id);
  if (!p.ok()) return SendStatus(res, p.status());
  auto ancestry = ctx.store.Ancestry(p->model_id);
  if (!ancestry.ok()) return SendStatus(res, ancestry.status());
  SimulationParams params;
  params.model_id = p->model_id;
  params.ticker = p->ticker;
  params.threshold = p->threshold;
  params.regime = p->regime;
  SendJson(res, 200,
           "{\"promotion\":" + ToJson(*p) +
               ",\"model\":" + WithFields(ToJson(p->spec), ",\"model_id\":" + JsonQuote(p->model_id)) +
               ",\"simulation\":" + ToJson(params) + ",\"lineage\":" + LineageJson(*ancestry) +
               ",\"result\":" + ToJson(p->result) + "}");
}

void GetModelLineage(ApiContext& ctx, const Request& req, Response& res) {
  const std::string& model_id = req.matches[1];
  auto ancestry = ctx.store.Ancestry(model_id);
  if (!ancestry.ok()) return SendStatus(res, ancestry.status());
  if (ancestry->empty()) {
    return SendError(res, 404, "not_found", "model " + model_id + " is in no run's lineage");
  }
  SendJson(res, 200,
           "{\"model_id\":" + JsonQuote(model_id) + ",\"ancestry\":" + LineageJson(*ancestry) +
               ",\"depth\":" + std::to_string(ancestry->size()) + "}");
}

}  // namespace

void RegisterRunRoutes(http::HttpServer& server, ApiContext& ctx) {
  server.Add(ctx,
             {{Method::kPost, "/evolve", Access::kProtected, &PostEvolve},
              {Method::kGet, "/runs", Access::kPublic, &GetRuns},
              {Method::kGet, R"(/runs/([^/]+))", Access::kPublic, &GetRun},
              {Method::kGet, R"(/runs/([^/]+)/generations)", Access::kPublic, &GetGenerations},
              {Method::kPost, R"(/runs/([^/]+)/(stop|cancel|resume))", Access::kProtected, &PostRunAction},
              {Method::kGet, "/promoted", Access::kPublic, &GetPromoted},
              {Method::kGet, R"(/promoted/([^/]+))", Access::kPublic, &GetPromotion},
              {Method::kGet, R"(/models/([^/]+)/lineage)", Access::kPublic, &GetModelLineage}});
}

}  // namespace evolve::cli
