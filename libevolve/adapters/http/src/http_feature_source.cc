#include "evolve/http/http_feature_source.h"

#include <algorithm>
#include <set>
#include <utility>

#include "http_url.h"
#include "service_client.h"

namespace evolve::http {

using internal::ServiceClient;

namespace {

// Columns of a features sample that are not features (WIRE-CONTRACT B).
bool IsNotAFeature(const std::string& key) {
  static const std::set<std::string> kExcluded = {"ts",         "symbol",  "open",       "high",
                                                  "low",        "close",   "volume",     "vwap",
                                                  "data_split", "options", "trade_count"};
  return kExcluded.count(key) > 0;
}

}  // namespace

class HttpFeatureSource::Impl {
 public:
  explicit Impl(std::unique_ptr<ServiceClient> client) : client_(std::move(client)) {}
  ServiceClient& client() { return *client_; }

 private:
  std::unique_ptr<ServiceClient> client_;
};

Result<std::unique_ptr<HttpFeatureSource>> HttpFeatureSource::Create(
    const HttpFeatureSourceOptions& options) {
  EVOLVE_ASSIGN_OR_RETURN(auto client, ServiceClient::Create("feature service", options.http));
  return std::unique_ptr<HttpFeatureSource>(new HttpFeatureSource(std::make_unique<Impl>(std::move(client))));
}

Result<std::unique_ptr<FeatureSource>> NewHttpFeatureSource(const HttpFeatureSourceOptions& options) {
  EVOLVE_ASSIGN_OR_RETURN(auto source, HttpFeatureSource::Create(options));
  return std::unique_ptr<FeatureSource>(std::move(source));
}

HttpFeatureSource::HttpFeatureSource(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpFeatureSource::~HttpFeatureSource() = default;

const std::string& HttpFeatureSource::url() const { return impl_->client().url(); }

Result<std::vector<std::string>> HttpFeatureSource::ListSymbols() {
  ServiceClient& client = impl_->client();
  rapidjson::Document doc;
  EVOLVE_RETURN_IF_ERROR(client.CallJson("GET", "/symbols", "", &doc));
  const rapidjson::Value* list = &doc;
  if (doc.IsObject()) {
    auto it = doc.FindMember("symbols");
    if (it != doc.MemberEnd()) list = &it->value;
  }
  if (!list->IsArray()) {
    return InternalError(client.Where("GET", "/symbols") + ": the reply is not a JSON list of symbols");
  }
  std::vector<std::string> symbols;
  for (const rapidjson::Value& v : list->GetArray()) {
    if (!v.IsString()) {
      return InternalError(client.Where("GET", "/symbols") +
                           ": a symbol is not a string: " + internal::Serialize(v));
    }
    if (v.GetStringLength() > 0) symbols.emplace_back(v.GetString(), v.GetStringLength());
  }
  std::sort(symbols.begin(), symbols.end());
  symbols.erase(std::unique(symbols.begin(), symbols.end()), symbols.end());
  return symbols;
}

Result<std::vector<std::string>> HttpFeatureSource::ListFeatures(const std::string& symbol) {
  if (symbol.empty()) return InvalidArgumentError("ListFeatures: the symbol must not be empty");
  ServiceClient& client = impl_->client();
  const std::string target = "/features_sample?symbol=" + PercentEncode(symbol) + "&limit=1";
  rapidjson::Document doc;
  Status s = client.CallJson("GET", target, "", &doc);
  if (s.code() == StatusCode::kNotFound)
    return NotFoundError("unknown symbol " + symbol + " (" + s.message() + ")");
  EVOLVE_RETURN_IF_ERROR(s);
  if (!doc.IsArray()) {
    return InternalError(client.Where("GET", target) + ": the reply is not a JSON list of rows");
  }
  if (doc.Empty())
    return NotFoundError("unknown symbol " + symbol + ": the feature service has no rows for it");
  const rapidjson::Value& row = doc[0];
  if (!row.IsObject()) return InternalError(client.Where("GET", target) + ": a row is not a JSON object");
  std::vector<std::string> features;
  for (const auto& member : row.GetObject()) {
    std::string key(member.name.GetString(), member.name.GetStringLength());
    if (!IsNotAFeature(key)) features.push_back(std::move(key));
  }
  return features;
}

}  // namespace evolve::http
