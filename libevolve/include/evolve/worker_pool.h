// WorkerPool: N Workers draining one queue on threads of this process.
//
// What `evolve run`, `evolve serve`, `evolve-worker` and an embedding
// program each need: start the workers, stop them from any thread (a signal
// handler's thread, before or after they started), and learn what each did.
//
// Contract:
//   - Worker i (0-based) has id `options.worker.worker_id` when the pool has
//     one worker, else "<worker_id>-<i+1>"; every worker registers with
//     this host's name and this process's pid (WorkerInfo::host, ::pid),
//     which is what ReleaseJobsOfDeadWorkers tells dead workers apart by.
//   - RequestStop() lets each worker finish the simulation in flight and
//     gives back the jobs it claimed but did not start (Worker::RequestStop):
//     a stopped pool loses no job and leaves none waiting for a lease.
//   - A RequestStop() that comes before Start() makes Start() start nothing.
//   - The destructor stops the pool and waits for it.
//
// Thread-safety: Start() and Wait() from one thread; RequestStop(),
// stats() and reports() from any thread.
#ifndef EVOLVE_WORKER_POOL_H_
#define EVOLVE_WORKER_POOL_H_

#include <memory>
#include <string>
#include <vector>

#include "evolve/clock.h"
#include "evolve/simulator.h"
#include "evolve/status.h"
#include "evolve/store.h"
#include "evolve/worker.h"

namespace evolve {

struct WorkerPoolOptions {
  int size = 1;  // workers (threads); 0: none (other processes drain the queue)
  // Every worker's options; worker_id is the base of the ids (see above),
  // an empty host and a zero pid are filled with this host and process.
  WorkerOptions worker;
};

// The options of workers that live inside an `evolve run` or `evolve serve`
// process: ids "<id_prefix>-<host>-<pid>[-n]", a short lease (20 s,
// heartbeat 5 s) since they die with the process and another process should
// soon be able to take their jobs back, and an idle poll of 1 s.
WorkerPoolOptions InProcessWorkerPoolOptions(const std::string& id_prefix, int size, int max_jobs_per_claim);

// What one worker of the pool did.
struct WorkerReport {
  std::string worker_id;
  WorkerStats stats;
  Status result;  // what its Run() returned (OK while it runs)
};

class WorkerPool {
 public:
  // The references must outlive the pool; `registry` may be null.
  WorkerPool(WorkerQueue& queue, WorkerRegistry* registry, Simulator& simulator, Clock& clock,
             WorkerPoolOptions options);
  // Workers that run training jobs too, with `trainer` (Worker's
  // constructor with a trainer); `trainer` may be null (simulations only).
  WorkerPool(WorkerQueue& queue, WorkerRegistry* registry, Simulator& simulator, Trainer* trainer, Clock& clock,
             WorkerPoolOptions options);
  // On a whole Store: its queue, registry and clock.
  WorkerPool(Store& store, Simulator& simulator, WorkerPoolOptions options);
  ~WorkerPool();  // RequestStop(), then Wait()
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Errors: kInvalidArgument naming the option (Worker::ValidateOptions).
  static Status ValidateOptions(const WorkerPoolOptions& options);

  // Starts the workers. Errors: kInvalidArgument for bad options (nothing
  // started); kFailedPrecondition when called twice.
  Status Start();

  // Asks every worker to stop after its simulation in flight.
  void RequestStop();

  // Waits for every worker to return (after RequestStop(), or on its own:
  // max_jobs, exit_when_idle). Returns the first worker's error, if any.
  Status Wait();

  // RequestStop() and Wait().
  void Stop();

  int size() const;
  // The sum of every worker's stats.
  WorkerStats stats() const;
  // Each worker, in id order.
  std::vector<WorkerReport> reports() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// Hands back at once, as holder deaths (JobQueue::ReclaimJobsOfWorker), the
// RUNNING jobs held by workers registered on `host` whose process is no
// longer running (it was killed): otherwise they would wait for their lease
// to run out. The dead are told by the registry's host and pid, never by
// parsing worker ids; the process calling it is never dead. A death is not
// a failed attempt: a job is quarantined (FAILED) only when its holders died
// kJobDeathLimit times, so a job that kills its process stops doing so
// while a service killed a few times fails nothing; the dead worker is
// marked STOPPED. Safe only where `host` names one machine's pid space (a
// SQLite store, whose users share one host); across hosts, leases do this
// for every worker alike. Returns how many jobs it handed back.
// Errors: store errors of reading the workers or of taking the jobs back.
Result<int> ReleaseJobsOfDeadWorkers(JobQueue& queue, WorkerRegistry& registry, const std::string& host);

}  // namespace evolve

#endif  // EVOLVE_WORKER_POOL_H_
