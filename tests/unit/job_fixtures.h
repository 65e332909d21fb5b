// What the worker and worker-pool tests share: a bounded wait for a
// condition, and batches of jobs.
#ifndef EVOLVE_TESTS_UNIT_JOB_FIXTURES_H_
#define EVOLVE_TESTS_UNIT_JOB_FIXTURES_H_

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "evolve/types.h"

namespace evolve::testing {

// Waits (in real time, bounded so a bug fails instead of hanging: about
// 10 s) until `done` holds.
template <typename Pred>
bool Eventually(Pred done) {
  for (int i = 0; i < 10000; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return done();
}

// `n` jobs of run "run-1"; with `distinct_models` each job has its own
// model, so a worker runs them one simulation at a time instead of as one
// grid.
inline std::vector<Job> MakeJobs(const std::string& batch, int n, int max_attempts = 3,
                                 bool distinct_models = false) {
  std::vector<Job> jobs;
  for (int i = 0; i < n; ++i) {
    Job j;
    j.id = batch + "-" + std::to_string(i);
    j.batch_id = batch;
    j.run_id = "run-1";
    j.model_id = distinct_models ? "model-" + std::to_string(i) : "model-1";
    j.max_attempts = max_attempts;
    j.params.model_id = j.model_id;
    j.params.ticker = "TTRC";
    j.params.threshold = 0.0001 * (i + 1);
    jobs.push_back(j);
  }
  return jobs;
}

}  // namespace evolve::testing

#endif  // EVOLVE_TESTS_UNIT_JOB_FIXTURES_H_
