#include "evolve/store_wrapper.h"

namespace evolve {
namespace {

constexpr bool kWrites = true;
constexpr bool kReads = false;

// The target's answer, unless the interception refused the call.
template <typename Call>
auto Forward(const Status& intercepted, Call call) -> decltype(call()) {
  if (!intercepted.ok()) return intercepted;
  return call();
}

}  // namespace

Status StoreWrapper::Intercept(const char*, bool) { return Status::Ok(); }

Clock& StoreWrapper::clock() { return target_.clock(); }

Status StoreWrapper::CreateRun(const Run& run) {
  return Forward(Intercept("CreateRun", kWrites), [&] { return target_.CreateRun(run); });
}
Result<Run> StoreWrapper::GetRun(const std::string& run_id) {
  return Forward(Intercept("GetRun", kReads), [&] { return target_.GetRun(run_id); });
}
Result<std::vector<Run>> StoreWrapper::ListRuns(const RunFilter& filter) {
  return Forward(Intercept("ListRuns", kReads), [&] { return target_.ListRuns(filter); });
}
Result<RunCounts> StoreWrapper::CountRuns() {
  return Forward(Intercept("CountRuns", kReads), [&] { return target_.CountRuns(); });
}
Status StoreWrapper::UpdateRun(const Run& run, RunStatus expected) {
  return Forward(Intercept("UpdateRun", kWrites), [&] { return target_.UpdateRun(run, expected); });
}
Status StoreWrapper::TransitionRun(const std::string& run_id, const std::vector<RunStatus>& from,
                                   RunStatus to, const std::string& stop_reason, const std::string& error) {
  return Forward(Intercept("TransitionRun", kWrites),
                 [&] { return target_.TransitionRun(run_id, from, to, stop_reason, error); });
}
Status StoreWrapper::SaveGeneration(const Generation& generation) {
  return Forward(Intercept("SaveGeneration", kWrites), [&] { return target_.SaveGeneration(generation); });
}
Result<Generation> StoreWrapper::GetGeneration(const std::string& run_id, int generation) {
  return Forward(Intercept("GetGeneration", kReads),
                 [&] { return target_.GetGeneration(run_id, generation); });
}
Result<std::vector<Generation>> StoreWrapper::ListGenerations(const std::string& run_id) {
  return Forward(Intercept("ListGenerations", kReads), [&] { return target_.ListGenerations(run_id); });
}

Result<FingerprintRecord> StoreWrapper::LookupFingerprint(const std::string& fingerprint) {
  return Forward(Intercept("LookupFingerprint", kReads),
                 [&] { return target_.LookupFingerprint(fingerprint); });
}
Result<FingerprintRecord> StoreWrapper::RecordFingerprint(const FingerprintRecord& record) {
  return Forward(Intercept("RecordFingerprint", kWrites), [&] { return target_.RecordFingerprint(record); });
}
Status StoreWrapper::AddLineageEdge(const LineageEdge& edge) {
  return Forward(Intercept("AddLineageEdge", kWrites), [&] { return target_.AddLineageEdge(edge); });
}
Result<std::vector<LineageEdge>> StoreWrapper::ListLineage(const std::string& run_id) {
  return Forward(Intercept("ListLineage", kReads), [&] { return target_.ListLineage(run_id); });
}
Result<std::vector<LineageEdge>> StoreWrapper::Ancestry(const std::string& model_id) {
  return Forward(Intercept("Ancestry", kReads), [&] { return target_.Ancestry(model_id); });
}

Result<std::vector<Job>> StoreWrapper::ClaimJobs(const ClaimHolder& holder, int max_jobs, Duration lease,
                                                 JobKinds kinds) {
  return Forward(Intercept("ClaimJobs", kWrites),
                 [&] { return target_.ClaimJobs(holder, max_jobs, lease, kinds); });
}
Status StoreWrapper::HeartbeatJob(const std::string& job_id, const ClaimHolder& holder, Duration lease) {
  return Forward(Intercept("HeartbeatJob", kWrites),
                 [&] { return target_.HeartbeatJob(job_id, holder, lease); });
}
Result<std::vector<Status>> StoreWrapper::FinishJobs(const std::string& worker_id,
                                                     const std::vector<JobOutcome>& outcomes) {
  return Forward(Intercept("FinishJobs", kWrites), [&] { return target_.FinishJobs(worker_id, outcomes); });
}
Status StoreWrapper::ReleaseJob(const std::string& job_id, const ClaimHolder& holder) {
  return Forward(Intercept("ReleaseJob", kWrites), [&] { return target_.ReleaseJob(job_id, holder); });
}
int64_t StoreWrapper::Subscribe(std::function<void(const QueueEvent&)> listener) {
  return target_.Subscribe(std::move(listener));
}
void StoreWrapper::Unsubscribe(int64_t handle) { target_.Unsubscribe(handle); }

Result<int> StoreWrapper::EnqueueBatch(const std::string& batch_id, const std::vector<Job>& jobs) {
  return Forward(Intercept("EnqueueBatch", kWrites), [&] { return target_.EnqueueBatch(batch_id, jobs); });
}
Status StoreWrapper::CompleteJob(const std::string& job_id, const ClaimHolder& holder,
                                 const SimulationResult& result) {
  return Forward(Intercept("CompleteJob", kWrites),
                 [&] { return target_.CompleteJob(job_id, holder, result); });
}
Status StoreWrapper::FailJob(const std::string& job_id, const ClaimHolder& holder, const std::string& error,
                             bool retryable) {
  return Forward(Intercept("FailJob", kWrites),
                 [&] { return target_.FailJob(job_id, holder, error, retryable); });
}
Result<int> StoreWrapper::ReapExpiredJobs() {
  return Forward(Intercept("ReapExpiredJobs", kWrites), [&] { return target_.ReapExpiredJobs(); });
}
Result<int> StoreWrapper::ReclaimJobsOfWorker(const std::string& worker_id, const std::string& cause) {
  return Forward(Intercept("ReclaimJobsOfWorker", kWrites),
                 [&] { return target_.ReclaimJobsOfWorker(worker_id, cause); });
}
Result<int> StoreWrapper::RequeueFailedJobs(const std::string& batch_id) {
  return Forward(Intercept("RequeueFailedJobs", kWrites),
                 [&] { return target_.RequeueFailedJobs(batch_id); });
}
Result<Job> StoreWrapper::GetJob(const std::string& job_id) {
  return Forward(Intercept("GetJob", kReads), [&] { return target_.GetJob(job_id); });
}
Result<std::vector<Job>> StoreWrapper::ListJobs(const JobFilter& filter) {
  return Forward(Intercept("ListJobs", kReads), [&] { return target_.ListJobs(filter); });
}
Result<JobCounts> StoreWrapper::CountJobs(const JobFilter& filter) {
  return Forward(Intercept("CountJobs", kReads), [&] { return target_.CountJobs(filter); });
}

Status StoreWrapper::SavePromotion(const Promotion& promotion) {
  return Forward(Intercept("SavePromotion", kWrites), [&] { return target_.SavePromotion(promotion); });
}
Result<Promotion> StoreWrapper::GetPromotion(const std::string& promotion_id) {
  return Forward(Intercept("GetPromotion", kReads), [&] { return target_.GetPromotion(promotion_id); });
}
Result<std::vector<Promotion>> StoreWrapper::ListPromotions(int limit, int offset) {
  return Forward(Intercept("ListPromotions", kReads), [&] { return target_.ListPromotions(limit, offset); });
}

Status StoreWrapper::RegisterWorker(const WorkerInfo& worker) {
  return Forward(Intercept("RegisterWorker", kWrites), [&] { return target_.RegisterWorker(worker); });
}
Status StoreWrapper::WorkerHeartbeat(const std::string& worker_id,
                                     const std::vector<std::string>& current_jobs) {
  return Forward(Intercept("WorkerHeartbeat", kWrites),
                 [&] { return target_.WorkerHeartbeat(worker_id, current_jobs); });
}
Status StoreWrapper::DeregisterWorker(const std::string& worker_id) {
  return Forward(Intercept("DeregisterWorker", kWrites), [&] { return target_.DeregisterWorker(worker_id); });
}
Result<std::vector<WorkerInfo>> StoreWrapper::ListWorkers() {
  return Forward(Intercept("ListWorkers", kReads), [&] { return target_.ListWorkers(); });
}

Status StoreWrapper::PutArtifact(const std::string& key, const std::string& bytes) {
  return Forward(Intercept("PutArtifact", kWrites), [&] { return target_.PutArtifact(key, bytes); });
}
Result<std::string> StoreWrapper::GetArtifact(const std::string& key) {
  return Forward(Intercept("GetArtifact", kReads), [&] { return target_.GetArtifact(key); });
}

Result<std::unique_ptr<RunLock>> StoreWrapper::TryLockRun(const std::string& run_id) {
  return Forward(Intercept("TryLockRun", kReads), [&] { return target_.TryLockRun(run_id); });
}

}  // namespace evolve
