#include "evolve/shutdown.h"

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cstring>
#include <thread>

namespace evolve {

Status HandleStopSignals(std::function<void(int)> on_signal) {
  static std::atomic<bool> installed{false};
  if (installed.exchange(true)) return FailedPreconditionError("stop signals are already handled");
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  if (int rc = pthread_sigmask(SIG_BLOCK, &set, nullptr); rc != 0) {
    installed = false;
    return InternalError(std::string("pthread_sigmask: ") + std::strerror(rc));
  }
  // Detached: it lives as long as the process, waiting for the next signal.
  std::thread([set, on_signal = std::move(on_signal)] {
    for (;;) {
      int signo = 0;
      if (sigwait(&set, &signo) == 0) on_signal(signo);
    }
  }).detach();
  return Status::Ok();
}

}  // namespace evolve
