// ServiceClientOptions: how the HTTP adapters of the original services
// (HttpFeatureSource, HttpTrainer, HttpSimulator) reach their service.
//
// Every request of an adapter goes through the same policy:
//   - a connection may take `connect_timeout` to open, and sending the
//     request or waiting for each part of its reply `read_timeout` (the
//     seed's HTTP timeout is 120 s: a simulation answers only when done);
//   - connection failures (refused, reset, timed out) and HTTP 5xx replies
//     are tried again up to `max_retries` times (so 1 + max_retries tries in
//     all), waiting initial_backoff, 2x, 4x, ... (at most max_backoff)
//     between tries, then the call fails with kUnavailable;
//   - 4xx replies are never retried: 400 and 422 are kInvalidArgument (with
//     the service's message), 404 kNotFound, 401/403 kFailedPrecondition,
//     408/429 kUnavailable, any other kFailedPrecondition;
//   - a 2xx reply that is not the JSON the endpoint answers is kInternal
//     naming the endpoint.
// So every call returns after at most (1 + max_retries) tries of bounded
// length plus the backoffs: no thread ever waits forever.
//
// Connections: each adapter keeps a small pool of idle keep-alive
// connections (at most max_idle_connections; one idle longer than
// idle_timeout is closed instead of reused). A call takes an idle connection
// or opens a new one, so concurrent calls never wait for each other, and
// gives it back when the reply was read in full. keep_alive = false opens
// one connection per request instead (what OrchestratorClient does).
#ifndef EVOLVE_HTTP_SERVICE_OPTIONS_H_
#define EVOLVE_HTTP_SERVICE_OPTIONS_H_

#include <chrono>
#include <string>

#include "evolve/clock.h"

namespace evolve::http {

struct ServiceClientOptions {
  // "http://host:port", optionally with a path prefix the service is mounted
  // under ("http://gateway/training"). Required.
  std::string url;
  std::chrono::milliseconds connect_timeout{10000};
  // Per read or write on the connection (httplib's read/write timeouts).
  std::chrono::milliseconds read_timeout{120000};
  // Extra tries after a connection failure or a 5xx reply (>= 0).
  int max_retries = 3;
  std::chrono::milliseconds initial_backoff{500};
  std::chrono::milliseconds max_backoff{8000};
  bool keep_alive = true;
  int max_idle_connections = 8;
  std::chrono::milliseconds idle_timeout{2000};
  // Backoff waits and training polls are measured on this clock; nullptr:
  // RealClock(). Must outlive the adapter.
  Clock* clock = nullptr;
};

}  // namespace evolve::http

#endif  // EVOLVE_HTTP_SERVICE_OPTIONS_H_
