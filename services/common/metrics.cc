#include "evolve/service/metrics.h"

#include <cmath>
#include <cstdio>
#include <tuple>

namespace evolve::service {
namespace {

// Upper bounds of the latency buckets, in seconds.
constexpr double kBounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
constexpr size_t kBucketCount = sizeof(kBounds) / sizeof(kBounds[0]);

std::string EscapeLabel(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[40];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof(buf), "%.0f", v);
  } else {
    std::snprintf(buf, sizeof(buf), "%.9g", v);
  }
  return buf;
}

}  // namespace

std::string MetricHeader(const std::string& name, const std::string& type, const std::string& help) {
  return "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

std::string MetricLine(const std::string& name, const std::vector<std::pair<std::string, std::string>>& labels,
                       double value) {
  std::string line = name;
  if (!labels.empty()) {
    line += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i > 0) line += ',';
      line += labels[i].first + "=\"" + EscapeLabel(labels[i].second) + "\"";
    }
    line += '}';
  }
  return line + " " + FormatValue(value) + "\n";
}

void Metrics::ObserveRequest(const std::string& method, const std::string& route, int status, double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  ++requests_[std::make_tuple(method, route, status)];
  Histogram& h = latency_[{method, route}];
  if (h.buckets.empty()) h.buckets.assign(kBucketCount, 0);
  for (size_t i = 0; i < kBucketCount; ++i) {
    if (seconds <= kBounds[i]) {
      ++h.buckets[i];
      break;
    }
  }
  ++h.count;
  h.sum += seconds;
}

void Metrics::Add(const std::string& counter, int64_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  counters_[counter] += n;
}

int64_t Metrics::Get(const std::string& counter) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = counters_.find(counter);
  return it == counters_.end() ? 0 : it->second;
}

std::string Metrics::RenderRequests() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out = MetricHeader("evolve_http_requests_total", "counter", "HTTP requests served, by route and status.");
  for (const auto& [key, n] : requests_) {
    const auto& [method, route, status] = key;
    out += MetricLine("evolve_http_requests_total",
                      {{"method", method}, {"route", route}, {"status", std::to_string(status)}},
                      static_cast<double>(n));
  }
  out += MetricHeader("evolve_http_request_duration_seconds", "histogram",
                      "Time to serve a request, by route.");
  for (const auto& [key, h] : latency_) {
    const auto& [method, route] = key;
    int64_t cumulative = 0;
    for (size_t i = 0; i < kBucketCount; ++i) {
      cumulative += h.buckets[i];
      out += MetricLine("evolve_http_request_duration_seconds_bucket",
                        {{"method", method}, {"route", route}, {"le", FormatValue(kBounds[i])}},
                        static_cast<double>(cumulative));
    }
    out += MetricLine("evolve_http_request_duration_seconds_bucket",
                      {{"method", method}, {"route", route}, {"le", "+Inf"}}, static_cast<double>(h.count));
    out += MetricLine("evolve_http_request_duration_seconds_sum", {{"method", method}, {"route", route}}, h.sum);
    out += MetricLine("evolve_http_request_duration_seconds_count", {{"method", method}, {"route", route}},
                      static_cast<double>(h.count));
  }
  return out;
}

}  // namespace evolve::service
