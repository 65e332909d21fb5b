// The job queue over HTTP: the worker protocol (evolve::http, both sides)
// served over the store, with this service's counters; and GET
// /jobs/pending, the dashboard's page of the queue.
#include <string>

#include "api.h"
#include "evolve/http/worker_protocol.h"

namespace evolve::cli {
namespace {

// Counts what the queue said about an outcome reported over HTTP.
void CountOutcome(Metrics& metrics, const JobOutcome& outcome, const Status& written) {
  if (written.ok()) {
    metrics.Add(outcome.result.has_value() ? kJobsCompletedOverHttp : kJobsFailedOverHttp);
  } else if (written.code() == StatusCode::kAborted) {
    metrics.Add(kJobsLostOverHttp);
  }
}

void GetPendingJobs(ApiContext& ctx, const Request& req, Response& res) {
  auto page = service::QueryPage(req);
  if (!page.ok()) return SendError(res, 400, "invalid_argument", page.status().message());
  JobFilter filter;
  filter.run_id = req.Param("run_id");
  filter.status = JobStatus::kPending;
  filter.limit = page->limit;
  filter.offset = page->offset;
  auto jobs = ctx.store.ListJobs(filter);
  if (!jobs.ok()) return SendStatus(res, jobs.status());
  auto counts = ctx.store.CountJobs(filter);
  if (!counts.ok()) return SendStatus(res, counts.status());
  std::string out = "[";
  for (size_t i = 0; i < jobs->size(); ++i) out += (i > 0 ? "," : "") + ToJson((*jobs)[i]);
  SendJson(res, 200,
           "{\"jobs\":" + out + "],\"count\":" + std::to_string(jobs->size()) +
               ",\"total\":" + std::to_string(counts->pending) + "}");
}

}  // namespace

void RegisterJobRoutes(http::HttpServer& server, ApiContext& ctx) {
  http::WorkerProtocolHooks hooks;
  Metrics& metrics = ctx.metrics;
  hooks.on_claim = [&metrics](const std::string&, size_t jobs) {
    if (jobs > 0) metrics.Add(kJobsClaimedOverHttp, static_cast<int64_t>(jobs));
  };
  hooks.on_outcome = [&metrics](const JobOutcome& outcome, const Status& written) {
    CountOutcome(metrics, outcome, written);
  };
  http::WorkerProtocolOptions options;
  options.require_claim_tokens = ctx.require_claim_tokens;
  http::RegisterWorkerProtocolRoutes(server, {ctx.store, ctx.store, ctx.store, ctx.store.clock()},
                                     std::move(hooks), options);
  server.Add(ctx, {{Method::kGet, "/jobs/pending", Access::kProtected, &GetPendingJobs}});
}

}  // namespace evolve::cli
