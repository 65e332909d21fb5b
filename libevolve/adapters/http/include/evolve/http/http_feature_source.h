// HttpFeatureSource: the FeatureSource of the original feature service
// (port 8100, WIRE-CONTRACT part B; docs/http-adapters.md).
//
//   ListSymbols()        GET /symbols: a JSON list of symbols (an object with
//                        a "symbols" list is accepted too); returned sorted
//                        and without duplicates.
//   ListFeatures(symbol) GET /features_sample?symbol=S&limit=1: the keys of
//                        the first row, in the service's order, except
//                        ts, symbol, open, high, low, close, volume, vwap,
//                        data_split, options and trade_count. HTTP 404 or an
//                        empty sample: kNotFound.
//
// Errors, retries and timeouts: evolve/http/service_options.h.
//
// Thread-safety: safe for concurrent use by many threads.
#ifndef EVOLVE_HTTP_HTTP_FEATURE_SOURCE_H_
#define EVOLVE_HTTP_HTTP_FEATURE_SOURCE_H_

#include <memory>
#include <string>
#include <vector>

#include "evolve/feature_source.h"
#include "evolve/http/service_options.h"
#include "evolve/status.h"

namespace evolve::http {

struct HttpFeatureSourceOptions {
  ServiceClientOptions http;  // http.url: e.g. FEATURE_URL, http://feature-service:8100
};

class HttpFeatureSource final : public FeatureSource {
 public:
  // Checks the options; makes no request.
  // Errors: kInvalidArgument for a URL that is not http://host[:port][/path]
  // or a timeout, retry count or pool size out of range.
  static Result<std::unique_ptr<HttpFeatureSource>> Create(const HttpFeatureSourceOptions& options);

  ~HttpFeatureSource() override;

  // The service URL, without a trailing '/'.
  const std::string& url() const;

  Result<std::vector<std::string>> ListSymbols() override;
  Result<std::vector<std::string>> ListFeatures(const std::string& symbol) override;

 private:
  class Impl;
  explicit HttpFeatureSource(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// HttpFeatureSource::Create, as the interface.
Result<std::unique_ptr<FeatureSource>> NewHttpFeatureSource(const HttpFeatureSourceOptions& options);

}  // namespace evolve::http

#endif  // EVOLVE_HTTP_HTTP_FEATURE_SOURCE_H_
