// PostgresStore: the job queue (JobQueue).
#include "postgres_backend.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "evolve/json.h"
#include "postgres_schema.h"

namespace evolve::postgres {
namespace {

// The two statements of every claim and every finish, prepared once per
// pooled connection (QueueStatements): parsing and planning them was ~5% of
// the server's time per job. Their comments are in ClaimJobs and Finish.
constexpr const char* kClaimStatement = "evolve_claim";
constexpr const char* kFinishStatement = "evolve_finish";

}  // namespace

std::vector<PreparedStatement> QueueStatements() {
  std::string claim =
      "UPDATE job_queue SET status = 'RUNNING', worker_id = $1, attempts = attempts + 1, "
      "lease_until = now() + $2::bigint * interval '1 microsecond', updated_at = now(), claim_token = $4 "
      "WHERE ctid = ANY(ARRAY(SELECT ctid FROM job_queue "
      "WHERE status <> 'RUNNING' AND kind <> ALL($5::text[]) "
      "ORDER BY priority DESC, created_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)) AND status <> 'RUNNING' "
      "RETURNING id, batch_id, run_id, model_id, generation, priority, status, params, result, error, "
      "worker_id, attempts, max_attempts, " +
      FloatMicros("lease_until") + ", " + FloatMicros("created_at") + ", " + FloatMicros("updated_at") +
      ", deaths, claim_token, kind, task, output";
  std::string finish =
      "WITH input AS (SELECT * FROM unnest($2::text[], string_to_array($3, E'\\x1e', 'null'), "
      "  $4::text[], $5::boolean[], $6::text[], $7::text[]) "
      "  AS i (job_id, result, error, retryable, claim_token, output)), "
      "retried AS (UPDATE job_queue AS j SET status = 'PENDING', error = i.error, worker_id = '', "
      "  lease_until = NULL, updated_at = now(), claim_token = '' "
      "  FROM input AS i WHERE j.id = i.job_id AND j.worker_id = $1 AND j.status = 'RUNNING' "
      "  AND j.claim_token = i.claim_token "
      "  AND i.result IS NULL AND i.retryable AND j.attempts < j.max_attempts "
      "  RETURNING j.id, j.status, j.run_id, j.batch_id), "
      "ended AS (DELETE FROM job_queue AS j USING input AS i "
      "  WHERE j.id = i.job_id AND j.worker_id = $1 AND j.status = 'RUNNING' "
      "  AND j.claim_token = i.claim_token "
      "  AND NOT (i.result IS NULL AND i.retryable AND j.attempts < j.max_attempts) "
      "  RETURNING j.*, i.result AS new_result, i.error AS new_error, i.output AS new_output), "
      "finished AS (INSERT INTO priority_jobs (" +
      std::string(kJobTableColumns) +
      ") SELECT id, batch_id, run_id, model_id, generation, priority, "
      "  CASE WHEN new_result IS NOT NULL THEN 'COMPLETED' ELSE 'FAILED' END, params, "
      "  CASE WHEN kind = 'simulate' THEN COALESCE(new_result, result) END, "
      "  CASE WHEN new_result IS NOT NULL THEN '' ELSE new_error END, "
      "  worker_id, attempts, max_attempts, NULL, created_at, now(), '', deaths, kind, task, "
      "  CASE WHEN new_result IS NOT NULL AND kind <> 'simulate' THEN new_output ELSE '' END FROM ended "
      "  RETURNING id, status, run_id, batch_id), "
      "done AS (SELECT * FROM finished UNION ALL SELECT * FROM retried), "
      "counted AS (UPDATE workers SET "
      "  jobs_completed = jobs_completed + (SELECT count(*) FROM finished WHERE status = "
      "'COMPLETED'), "
      "  jobs_failed = jobs_failed + (SELECT count(*) FROM finished WHERE status = 'FAILED') "
      "  WHERE id = $1 AND EXISTS (SELECT 1 FROM finished)) "
      "SELECT id, status, run_id, batch_id FROM done";
  return {{kClaimStatement, std::move(claim)}, {kFinishStatement, std::move(finish)}};
}

Result<int> PostgresStore::EnqueueBatch(const std::string& batch_id, const std::vector<Job>& jobs) {
  EVOLVE_RETURN_IF_ERROR(ValidateBatch(batch_id, jobs));
  if (jobs.empty()) return 0;
  const std::string ids = ArrayOf(jobs, [](const Job& j) { return j.id; });
  const std::string run_ids = ArrayOf(jobs, [](const Job& j) { return j.run_id; });
  const std::string model_ids = ArrayOf(jobs, [](const Job& j) { return j.model_id; });
  const std::string generations = ArrayOf(jobs, [](const Job& j) { return std::to_string(j.generation); });
  const std::string priorities = ArrayOf(jobs, [](const Job& j) { return Float(j.priority); });
  const std::string params = ArrayOf(jobs, [](const Job& j) { return ToJson(j.params); });
  const std::string max_attempts = ArrayOf(jobs, [](const Job& j) { return std::to_string(j.max_attempts); });
  const std::string kinds = ArrayOf(jobs, [](const Job& j) { return std::string(JobKindName(j.kind)); });
  const std::string tasks = ArrayOf(jobs, [](const Job& j) { return j.task; });
  return Write([&](pqxx::work& tx, std::vector<QueueEvent>* events) -> Result<int> {
    // Two processes enqueueing one batch (a resumed engine) take turns, so
    // the second sees the first's jobs and does nothing.
    tx.exec_params("SELECT pg_advisory_xact_lock($1, hashtext($2))", kLockSpace, batch_id);
    if (!tx.exec_params("SELECT 1 FROM job_queue WHERE batch_id = $1 UNION ALL "
                        "SELECT 1 FROM priority_jobs WHERE batch_id = $1 LIMIT 1",
                        batch_id)
             .empty())
      return 0;
    const pqxx::result inserted = tx.exec_params(
        "INSERT INTO job_queue (id, batch_id, run_id, model_id, generation, priority, status, params, "
        "result, error, worker_id, attempts, max_attempts, lease_until, created_at, updated_at, kind, task) "
        "SELECT j.id, $1, j.run_id, j.model_id, j.generation, j.priority, 'PENDING', j.params, NULL, '', '', "
        "0, j.max_attempts, NULL, now(), now(), j.kind, j.task "
        "FROM unnest($2::text[], $3::text[], $4::text[], $5::integer[], $6::double precision[], $7::text[], "
        "$8::integer[], $9::text[], $10::text[]) "
        "AS j (id, run_id, model_id, generation, priority, params, max_attempts, kind, task) "
        "ON CONFLICT (id) DO NOTHING RETURNING id",
        batch_id, ids, run_ids, model_ids, generations, priorities, params, max_attempts, kinds, tasks);
    // Ids are unique across both tables: an id of a finished job is taken
    // too. Checked after the INSERT, by a statement of its own, so that it
    // sees a job that another transaction moved to priority_jobs while the
    // INSERT waited for it.
    std::set<std::string> finished_ids;
    for (const pqxx::row& row :
         tx.exec_params("SELECT id FROM priority_jobs WHERE id = ANY($1::text[])", ids))
      finished_ids.insert(Text(row, 0));
    if (inserted.size() != jobs.size() || !finished_ids.empty()) {
      // An id belongs to another batch: the whole batch is rolled back.
      std::set<std::string> new_ids;
      for (const pqxx::row& row : inserted) new_ids.insert(Text(row, 0));
      for (const Job& job : jobs) {
        if (new_ids.count(job.id) > 0 && finished_ids.count(job.id) == 0) continue;
        const pqxx::result owner = tx.exec_params(
            "SELECT batch_id FROM priority_jobs WHERE id = $1 UNION ALL "
            "SELECT batch_id FROM job_queue WHERE id = $1 AND batch_id <> $2 LIMIT 1",
            job.id, batch_id);
        return AlreadyExistsError("job " + job.id + " exists already (in batch " +
                                  (owner.empty() ? std::string("?") : Text(owner[0], 0)) + ")");
      }
    }
    for (const Job& job : jobs) AddEvent(events, QueueEvent::Kind::kJobsAvailable, job);
    return static_cast<int>(jobs.size());
  });
}

Result<std::vector<Job>> PostgresStore::ClaimJobs(const ClaimHolder& holder, int max_jobs, Duration lease,
                                                  JobKinds kinds) {
  EVOLVE_RETURN_IF_ERROR(ValidateClaim(holder, max_jobs, lease));
  if (kinds.empty()) return std::vector<Job>();
  // The kinds the claimer cannot run, which the claim passes over.
  std::vector<std::string> unwanted;
  for (JobKind kind : JobKinds::All().List()) {
    if (!kinds.Has(kind)) unwanted.emplace_back(JobKindName(kind));
  }
  const std::string unwanted_kinds = ArrayOf(unwanted, [](const std::string& k) { return k; });
  const int64_t lease_micros = std::chrono::duration_cast<std::chrono::microseconds>(lease).count();
  return pool_.Transact([&](pqxx::work& tx) -> Result<std::vector<Job>> {
    // The claim index walks live jobs in claim order, passing over the
    // RUNNING ones; SKIP LOCKED makes concurrent claimers pass over each
    // other's rows. Only unindexed columns change: a HOT update.
    // `status <> 'RUNNING'` is `status = 'PENDING'` in job_queue, but the
    // planner estimates it as most rows (without statistics, or with the
    // few RUNNING jobs a queue has), so it walks the index for LIMIT rows
    // instead of sorting the whole table as it would for a rare `=`.
    //
    // The UPDATE finds the locked rows by their ctid (a TID scan), not by id:
    // no second index search per job, and no plan that changes with the
    // claim's size (`id IN (...)` became a hash join over a scan of the whole
    // table at 5,000 jobs per claim). That is safe because the subquery holds
    // each row's lock until commit, so the row version at that ctid cannot be
    // updated, deleted or vacuumed away meanwhile. A row that another
    // transaction changed after this statement's snapshot was taken is locked
    // in its newest version, which the UPDATE does not see: it is left out of
    // this claim (still PENDING, unlocked at commit), never claimed twice.
    // The status is checked again all the same.
    //
    // Times are read with date_part (double precision, rounded back to whole
    // microseconds: exact for any date a job has) rather than the exact
    // numeric of extract(), which cost more than a tenth of the claim.
    //
    // The kinds are a residual filter of the same walk, for the same reason
    // spelled as the kinds to pass over (`kind <> ALL(...)`: none for a
    // worker that runs every kind, the training kinds for one that only
    // simulates): estimated as most rows, with statistics or without,
    // where `kind = ANY('{simulate}')` on a table not yet analyzed is
    // estimated as rare and made a large claim sort the whole table.
    const pqxx::result rows = tx.exec_prepared(kClaimStatement, holder.worker_id, lease_micros, max_jobs,
                                               holder.claim_token, unwanted_kinds);
    EVOLVE_ASSIGN_OR_RETURN(std::vector<Job> read, rows_.ReadAll(rows, &RowReader::ReadJob));
    // RETURNING has no order: put the jobs back in claim order, sorting
    // their positions and moving each job once.
    std::vector<size_t> order(read.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&read](size_t x, size_t y) {
      const Job& a = read[x];
      const Job& b = read[y];
      if (a.priority != b.priority) return a.priority > b.priority;
      if (a.created_at != b.created_at) return a.created_at < b.created_at;
      return a.id < b.id;
    });
    std::vector<Job> claimed;
    claimed.reserve(read.size());
    for (size_t i : order) claimed.push_back(std::move(read[i]));
    return claimed;
  });
}

Status PostgresStore::Refusal(pqxx::work& tx, const std::string& job_id, const ClaimHolder& holder) const {
  const std::string& worker_id = holder.worker_id;
  const pqxx::result rows = tx.exec_params(
      "SELECT status, worker_id, claim_token FROM job_queue WHERE id = $1 UNION ALL "
      "SELECT status, worker_id, claim_token FROM priority_jobs WHERE id = $1",
      job_id);
  if (rows.empty()) return NotFoundError("job " + job_id + " not found");
  EVOLVE_ASSIGN_OR_RETURN(const JobStatus status,
                          rows_.ReadStatus(rows[0], 0, &ParseJobStatus, "priority_jobs", job_id));
  Status refusal = CheckLeaseHolder(job_id, holder, status, Text(rows[0], 1), Text(rows[0], 2));
  if (refusal.ok()) {
    // Held by this worker now, though the fenced write found it otherwise:
    // another call of the same worker changed it in between.
    return AbortedError("job " + job_id + " changed while worker " + worker_id +
                        " was writing it; try again");
  }
  return refusal;
}

Status PostgresStore::HeartbeatJob(const std::string& job_id, const ClaimHolder& holder, Duration lease) {
  if (lease <= Duration::zero()) return InvalidArgumentError("lease: must be positive");
  const int64_t lease_micros = std::chrono::duration_cast<std::chrono::microseconds>(lease).count();
  return pool_.Transact([&](pqxx::work& tx) -> Status {
    const pqxx::result updated = tx.exec_params(
        "UPDATE job_queue SET lease_until = now() + $3::bigint * interval '1 microsecond', "
        "updated_at = now() WHERE id = $1 AND worker_id = $2 AND status = 'RUNNING' AND claim_token = $4 "
        "RETURNING 1",
        job_id, holder.worker_id, lease_micros, holder.claim_token);
    if (!updated.empty()) return Status::Ok();
    return Refusal(tx, job_id, holder);
  });
}

Result<std::vector<Status>> PostgresStore::Finish(const std::string& worker_id,
                                                  const std::vector<JobOutcome>& outcomes) {
  // Each job once: UPDATE ... FROM picks an arbitrary row among duplicates,
  // while CompleteJob called twice would let the first win and refuse the
  // second, which is what the repeats are told below.
  std::vector<const JobOutcome*> firsts;
  std::unordered_set<std::string_view> seen;  // into `outcomes`
  seen.reserve(outcomes.size());
  for (const JobOutcome& o : outcomes) {
    if (seen.insert(o.job_id).second) firsts.push_back(&o);
  }
  // The outcomes go in chunks of at most kFinishChunk jobs, one statement
  // each, all in one transaction. The planner reckons the held jobs among
  // the input as few (the statistics of job_queue show PENDING jobs nobody
  // holds); up to ~3,000 jobs it still looks each up by id, beyond that it
  // chose a nested loop comparing every held job with every input row
  // (5,000 jobs: 25 million comparisons, 3 s a statement).
  constexpr size_t kFinishChunk = 1000;
  constexpr char kResultSeparator = '\x1e';  // as in the statement below
  constexpr const char* kNoResult = "null";
  struct Chunk {
    std::string ids, results, errors, retryables, claim_tokens, outputs;
  };
  std::vector<Chunk> chunks;
  for (size_t first = 0; first < firsts.size(); first += kFinishChunk) {
    const std::vector<const JobOutcome*> part(
        firsts.begin() + static_cast<std::ptrdiff_t>(first),
        firsts.begin() + static_cast<std::ptrdiff_t>(std::min(firsts.size(), first + kFinishChunk)));
    Chunk chunk;
    chunk.ids = ArrayOf(part, [](const JobOutcome* o) { return o->job_id; });
    // The results, the largest parameter, as one text split by the server
    // (string_to_array) rather than an array literal that it would scan twice
    // and unescape: a record separator between them, `null` for no result.
    // JSON text never holds a raw control character, and a result is an
    // object, never `null`.
    for (const JobOutcome* o : part) {
      if (!chunk.results.empty()) chunk.results += kResultSeparator;
      if (o->result.has_value()) {
        const std::string json = ToJson(*o->result);
        if (json.find(kResultSeparator) != std::string::npos) {
          return InternalError("job " + o->job_id + ": result JSON holds a raw control character");
        }
        chunk.results += json;
      } else {
        chunk.results += kNoResult;
      }
    }
    chunk.errors = ArrayOf(part, [](const JobOutcome* o) { return o->error; });
    chunk.retryables =
        ArrayOf(part, [](const JobOutcome* o) { return std::string(o->retryable ? "t" : "f"); });
    chunk.claim_tokens = ArrayOf(part, [](const JobOutcome* o) { return o->claim_token; });
    // Kept only for a completed training job, which keeps no result.
    chunk.outputs = ArrayOf(part, [](const JobOutcome* o) { return o->output; });
    chunks.push_back(std::move(chunk));
  }
  std::vector<Status> statuses;
  Result<int> written = Write([&](pqxx::work& tx, std::vector<QueueEvent>* events) -> Result<int> {
    statuses.clear();
    // job id -> (status, run id, batch id) as written
    std::unordered_map<std::string, std::array<std::string, 3>> written_rows;
    written_rows.reserve(outcomes.size());
    for (const Chunk& chunk : chunks) {
      // One fenced statement for every outcome: a retryable failure with
      // attempts left goes back to PENDING in job_queue; every other outcome
      // moves the job from job_queue to priority_jobs, COMPLETED or FAILED;
      // and the worker's counters are updated in the same statement.
      const pqxx::result done =
          tx.exec_prepared(kFinishStatement, worker_id, chunk.ids, chunk.results, chunk.errors,
                           chunk.retryables, chunk.claim_tokens, chunk.outputs);
      for (const pqxx::row& row : done) {
        written_rows.emplace(Text(row, 0),
                             std::array<std::string, 3>{Text(row, 1), Text(row, 2), Text(row, 3)});
      }
    }
    std::unordered_set<std::string_view> reported;  // into `outcomes`
    reported.reserve(outcomes.size());
    int count = 0;
    for (const JobOutcome& o : outcomes) {
      auto it = written_rows.find(o.job_id);
      if (it != written_rows.end() && reported.insert(o.job_id).second) {
        const std::array<std::string, 3>& row = it->second;
        AddEvent(events,
                 row[0] == "PENDING" ? QueueEvent::Kind::kJobsAvailable : QueueEvent::Kind::kJobFinished,
                 row[1], row[2]);
        statuses.push_back(Status::Ok());
        ++count;
        continue;
      }
      // Refused alone (not held, or a repeat); the others are still written.
      statuses.push_back(Refusal(tx, o.job_id, ClaimHolder(worker_id, o.claim_token)));
      const StatusCode code = statuses.back().code();
      if (code != StatusCode::kAborted && code != StatusCode::kNotFound) return statuses.back();
    }
    return count;
  });
  if (!written.ok()) return written.status();
  return statuses;
}

Status PostgresStore::CompleteJob(const std::string& job_id, const ClaimHolder& holder,
                                  const SimulationResult& result) {
  JobOutcome outcome;
  outcome.job_id = job_id;
  outcome.result = result;
  outcome.claim_token = holder.claim_token;
  EVOLVE_ASSIGN_OR_RETURN(std::vector<Status> statuses, Finish(holder.worker_id, {outcome}));
  return statuses.front();
}

Status PostgresStore::FailJob(const std::string& job_id, const ClaimHolder& holder, const std::string& error,
                              bool retryable) {
  JobOutcome outcome;
  outcome.job_id = job_id;
  outcome.error = error;
  outcome.retryable = retryable;
  outcome.claim_token = holder.claim_token;
  EVOLVE_ASSIGN_OR_RETURN(std::vector<Status> statuses, Finish(holder.worker_id, {outcome}));
  return statuses.front();
}

Result<std::vector<Status>> PostgresStore::FinishJobs(const std::string& worker_id,
                                                      const std::vector<JobOutcome>& outcomes) {
  if (outcomes.empty()) return std::vector<Status>();
  return Finish(worker_id, outcomes);
}

Status PostgresStore::ReleaseJob(const std::string& job_id, const ClaimHolder& holder) {
  return Write([&](pqxx::work& tx, std::vector<QueueEvent>* events) -> Status {
    // The worker never ran it, so the claim must not eat into max_attempts.
    const pqxx::result released = tx.exec_params(
        "UPDATE job_queue SET status = 'PENDING', attempts = GREATEST(0, attempts - 1), worker_id = '', "
        "claim_token = '', lease_until = NULL, updated_at = now() "
        "WHERE id = $1 AND worker_id = $2 AND status = 'RUNNING' AND claim_token = $3 "
        "RETURNING run_id, batch_id",
        job_id, holder.worker_id, holder.claim_token);
    if (released.empty()) return Refusal(tx, job_id, holder);
    AddEvent(events, QueueEvent::Kind::kJobsAvailable, Text(released[0], 0), Text(released[0], 1));
    return Status::Ok();
  });
}

namespace {

// JobQueue's rule for holder deaths (store.h, kJobDeathLimit), on the
// RUNNING jobs of `held` (id, run_id, batch_id, worker_id, error, deaths),
// locked by the caller: deaths + 1, the claim's attempt given back, PENDING
// again in job_queue, or quarantined: FAILED, moved to priority_jobs, with
// the evidence. `death` says how the holder died.
int TakeBackFromDeadHolders(pqxx::work& tx, const pqxx::result& held,
                            const std::function<std::string(const std::string& worker)>& death,
                            std::vector<QueueEvent>* events) {
  if (held.empty()) return 0;
  std::vector<std::optional<std::string>> ids;
  std::vector<std::optional<std::string>> statuses;
  std::vector<std::optional<std::string>> errors;
  for (const pqxx::row& row : held) {
    const int deaths = Int(row, 5);
    const bool quarantined = deaths + 1 >= kJobDeathLimit;
    ids.push_back(Text(row, 0));
    statuses.push_back(std::string(quarantined ? "FAILED" : "PENDING"));
    errors.push_back(HolderDeathError(Text(row, 4), deaths, death(Text(row, 3))));
    AddEvent(events, quarantined ? QueueEvent::Kind::kJobFinished : QueueEvent::Kind::kJobsAvailable,
             Text(row, 1), Text(row, 2));
  }
  // Jobs to retry stay in job_queue, PENDING; quarantined ones move to
  // priority_jobs, FAILED.
  tx.exec_params(
      std::string(
          "WITH u AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) AS u (id, status, error)), "
          "retried AS (UPDATE job_queue AS j SET status = 'PENDING', error = u.error, worker_id = '', "
          "  attempts = GREATEST(0, j.attempts - 1), deaths = j.deaths + 1, claim_token = '', "
          "  lease_until = NULL, updated_at = now() FROM u WHERE j.id = u.id AND u.status = 'PENDING'), "
          "ended AS (DELETE FROM job_queue AS j USING u WHERE j.id = u.id AND u.status = 'FAILED' "
          "  RETURNING j.*, u.error AS new_error) "
          "INSERT INTO priority_jobs (") +
          kJobTableColumns +
          ") SELECT id, batch_id, run_id, model_id, generation, priority, 'FAILED', params, result, "
          "new_error, worker_id, GREATEST(0, attempts - 1), max_attempts, NULL, created_at, now(), '', "
          "deaths + 1, kind, task, output FROM ended",
      ArrayOf(ids), ArrayOf(statuses), ArrayOf(errors));
  return static_cast<int>(held.size());
}

}  // namespace

Result<int> PostgresStore::ReapExpiredJobs() {
  return Write([&](pqxx::work& tx, std::vector<QueueEvent>* events) -> Result<int> {
    // Only RUNNING jobs, by lease end. A job whose holder is finishing it
    // right now is locked and skipped: the holder wins, and a later reap
    // sees what it wrote.
    const pqxx::result expired = tx.exec(
        "SELECT id, run_id, batch_id, worker_id, error, deaths FROM job_queue "
        "WHERE status = 'RUNNING' AND lease_until < now() ORDER BY lease_until, id FOR UPDATE SKIP LOCKED");
    return TakeBackFromDeadHolders(tx, expired, LeaseExpiredMessage, events);
  });
}

Result<int> PostgresStore::ReclaimJobsOfWorker(const std::string& worker_id, const std::string& cause) {
  if (worker_id.empty()) return InvalidArgumentError("worker_id: must not be empty");
  return Write([&](pqxx::work& tx, std::vector<QueueEvent>* events) -> Result<int> {
    // Locked and waited for (not skipped): a holder that is gone finishes
    // nothing, and a finish in flight of another process wins.
    const pqxx::result held = tx.exec_params(
        "SELECT id, run_id, batch_id, worker_id, error, deaths FROM job_queue "
        "WHERE status = 'RUNNING' AND worker_id = $1 ORDER BY lease_until, id FOR UPDATE",
        worker_id);
    return TakeBackFromDeadHolders(
        tx, held, [&cause](const std::string& worker) { return cause + " (worker " + worker + ")"; }, events);
  });
}

Result<int> PostgresStore::RequeueFailedJobs(const std::string& batch_id) {
  if (batch_id.empty()) return InvalidArgumentError("batch_id: must not be empty");
  return Write([&](pqxx::work& tx, std::vector<QueueEvent>* events) -> Result<int> {
    // Finished jobs live in priority_jobs: the FAILED ones move back to
    // job_queue, PENDING, keeping created_at (their place in claim order).
    const pqxx::result moved = tx.exec_params(
        std::string("WITH failed AS (DELETE FROM priority_jobs WHERE batch_id = $1 AND status = 'FAILED' "
                    "RETURNING *) "
                    "INSERT INTO job_queue (") +
            kJobTableColumns +
            ") SELECT id, batch_id, run_id, model_id, generation, priority, 'PENDING', params, NULL, '', "
            "'', 0, max_attempts, NULL, created_at, now(), '', 0, kind, task, '' "
            "FROM failed RETURNING run_id",
        batch_id);
    if (!moved.empty()) AddEvent(events, QueueEvent::Kind::kJobsAvailable, Text(moved[0], 0), batch_id);
    return static_cast<int>(moved.size());
  });
}

Result<Job> PostgresStore::GetJob(const std::string& job_id) {
  return GetOne("SELECT " + JobColumns() + " FROM job_queue WHERE id = $1 UNION ALL SELECT " + JobColumns() +
                    " FROM priority_jobs WHERE id = $1",
                job_id, "job " + job_id + " not found", &RowReader::ReadJob);
}

Result<std::vector<Job>> PostgresStore::ListJobs(const JobFilter& filter) {
  EVOLVE_RETURN_IF_ERROR(CheckPage(filter.limit, filter.offset));
  const std::string status = filter.status.has_value() ? JobStatusName(*filter.status) : "";
  const std::string kind = filter.kind.has_value() ? JobKindName(*filter.kind) : "";
  return pool_.Transact([&](pqxx::work& tx) -> Result<std::vector<Job>> {
    // '' matches anything; an unnamed statement is planned for its actual
    // arguments, so the unused conditions fold away and the indexes serve.
    const pqxx::result rows = tx.exec_params(
        // Live and finished jobs together, in one order.
        "SELECT " + JobColumns() + " FROM (SELECT " + kJobTableColumns +
            " FROM job_queue WHERE ($1 = '' OR run_id = $1) AND ($2 = '' OR batch_id = $2) AND ($3 = '' OR "
            "status = $3) AND ($6 = '' OR kind = $6) UNION ALL SELECT " +
            kJobTableColumns +
            " FROM priority_jobs WHERE ($1 = '' OR run_id = $1) AND ($2 = '' OR batch_id = $2) "
            "AND ($3 = '' OR status = $3) AND ($6 = '' OR kind = $6)) AS j "
            "ORDER BY priority DESC, created_at, id LIMIT NULLIF($4, 0) OFFSET $5",
        filter.run_id, filter.batch_id, status, filter.limit, filter.offset, kind);
    return rows_.ReadAll(rows, &RowReader::ReadJob);
  });
}

Result<JobCounts> PostgresStore::CountJobs(const JobFilter& filter) {
  const std::string kind = filter.kind.has_value() ? JobKindName(*filter.kind) : "";
  return pool_.Transact([&](pqxx::work& tx) -> Result<JobCounts> {
    const pqxx::result rows = tx.exec_params(
        "SELECT status, count(*) FROM (SELECT status FROM job_queue WHERE ($1 = '' OR run_id = $1) "
        "AND ($2 = '' OR batch_id = $2) AND ($3 = '' OR kind = $3) UNION ALL SELECT status FROM "
        "priority_jobs "
        "WHERE ($1 = '' OR run_id = $1) AND ($2 = '' OR batch_id = $2) AND ($3 = '' OR kind = $3)) AS j "
        "GROUP BY status",
        filter.run_id, filter.batch_id, kind);
    JobCounts counts;
    for (const pqxx::row& row : rows) {
      EVOLVE_ASSIGN_OR_RETURN(const JobStatus status,
                              rows_.ReadStatus(row, 0, &ParseJobStatus, "priority_jobs", "(count)"));
      counts.Add(status, Int(row, 1));
    }
    return counts;
  });
}

}  // namespace evolve::postgres
