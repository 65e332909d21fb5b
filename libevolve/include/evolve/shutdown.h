// Graceful shutdown on SIGTERM / SIGINT, for the service binaries.
//
// HandleStopSignals blocks SIGTERM and SIGINT in the calling thread and
// starts a thread that waits for them with sigwait() and calls `on_signal`
// (on that thread, not in a signal handler, so it may lock, log and call
// Worker::RequestStop or stop a server). Threads created afterwards inherit
// the blocked mask, so the signals are only ever taken by that thread.
//
// REQUIRES: called once, from the main thread, before other threads start.
#ifndef EVOLVE_SHUTDOWN_H_
#define EVOLVE_SHUTDOWN_H_

#include <functional>

#include "evolve/status.h"

namespace evolve {

// Errors: kFailedPrecondition if called twice; kInternal if the signal mask
// cannot be set.
Status HandleStopSignals(std::function<void(int signo)> on_signal);

}  // namespace evolve

#endif  // EVOLVE_SHUTDOWN_H_
