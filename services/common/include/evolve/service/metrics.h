// Prometheus metrics of `evolve serve`, in the text exposition format
// (version 0.0.4): request counts and latency histograms per route, and
// counters the API increments. Gauges that come from the store (runs and
// jobs by status, live workers) are computed at scrape time by the caller
// and written with Gauge().
//
// Thread-safety: every method may be called from any thread.
#ifndef EVOLVE_SERVICE_METRICS_H_
#define EVOLVE_SERVICE_METRICS_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace evolve::service {

class Metrics {
 public:
  // One request served: `route` is the route's pattern (not the path, so
  // ids do not make new series).
  void ObserveRequest(const std::string& method, const std::string& route, int status, double seconds);

  // Adds `n` to a counter of this process, e.g. "claims" (see Render for
  // the names it knows).
  void Add(const std::string& counter, int64_t n = 1);
  int64_t Get(const std::string& counter) const;

  // The request metrics: evolve_http_requests_total{method,route,status}
  // and evolve_http_request_duration_seconds{method,route} histograms.
  std::string RenderRequests() const;

 private:
  struct Histogram {
    std::vector<int64_t> buckets;  // per upper bound of kBounds, not cumulative
    int64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mu_;
  std::map<std::tuple<std::string, std::string, int>, int64_t> requests_;  // guarded by mu_
  std::map<std::pair<std::string, std::string>, Histogram> latency_;       // guarded by mu_
  std::map<std::string, int64_t> counters_;                                // guarded by mu_
};

// Writers of the exposition format.
// "# HELP name help\n# TYPE name type\n".
std::string MetricHeader(const std::string& name, const std::string& type, const std::string& help);
// `name{k="v",...} value\n`, label values escaped.
std::string MetricLine(const std::string& name, const std::vector<std::pair<std::string, std::string>>& labels,
                       double value);

}  // namespace evolve::service

#endif  // EVOLVE_SERVICE_METRICS_H_
