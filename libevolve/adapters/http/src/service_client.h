// ServiceClient: the request policy shared by the adapters of the original
// services (evolve/http/service_options.h): URL parsing, a keep-alive
// connection pool, retries with backoff, HTTP status -> Status, and JSON
// parsing of replies. Private to evolve::http.
//
// Thread-safety: safe for concurrent use by many threads.
#ifndef EVOLVE_HTTP_SRC_SERVICE_CLIENT_H_
#define EVOLVE_HTTP_SRC_SERVICE_CLIENT_H_

#include <rapidjson/document.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "evolve/clock.h"
#include "evolve/http/service_options.h"
#include "evolve/status.h"

namespace httplib {
class Client;
}

namespace evolve::http::internal {

struct ServiceReply {
  int status = 0;
  std::string body;
};

class ServiceClient {
 public:
  // `service` names the service in messages ("training service").
  // Errors: kInvalidArgument for a bad URL or options.
  static Result<std::unique_ptr<ServiceClient>> Create(std::string service,
                                                       const ServiceClientOptions& options);

  ~ServiceClient();
  ServiceClient(const ServiceClient&) = delete;
  ServiceClient& operator=(const ServiceClient&) = delete;

  const std::string& url() const { return url_; }
  Clock& clock() const { return *clock_; }

  // "training service http://host:8200: POST /train"
  std::string Where(const char* method, const std::string& target) const;

  // Sends the request with the retry policy. Returns the first reply whose
  // status is not 5xx; kUnavailable when every try failed to connect or
  // answered 5xx.
  Result<ServiceReply> Send(const char* method, const std::string& target, const std::string& body);

  // Send, then: a non-2xx status as its Status, a 2xx body parsed as JSON
  // into `doc` (NaN/Infinity accepted, as Python writes them), kInternal
  // naming the endpoint when it is not JSON.
  Status CallJson(const char* method, const std::string& target, const std::string& body,
                  rapidjson::Document* doc);

 private:
  struct Pooled {
    std::unique_ptr<httplib::Client> client;
    std::chrono::steady_clock::time_point idle_since;
  };

  ServiceClient(std::string service, ServiceClientOptions options, std::string host, int port,
                std::string prefix, std::string url);

  Result<ServiceReply> SendOnce(const char* method, const std::string& target, const std::string& body);
  std::unique_ptr<httplib::Client> Acquire();
  void Release(std::unique_ptr<httplib::Client> client);

  const std::string service_;
  const ServiceClientOptions options_;
  const std::string host_;
  const int port_;
  const std::string prefix_;  // "" or "/path", no trailing '/'
  const std::string url_;
  Clock* const clock_;

  std::mutex pool_mu_;
  std::vector<Pooled> pool_;  // guarded by pool_mu_; idle connections, newest last
};

// The message of an error reply: FastAPI's {"detail": ...}, {"error":
// "..." | {"message": ...}}, {"message": ...}, else the start of the body.
std::string ErrorMessageOf(const std::string& body);

// Compact JSON text of a value.
std::string Serialize(const rapidjson::Value& v);

}  // namespace evolve::http::internal

#endif  // EVOLVE_HTTP_SRC_SERVICE_CLIENT_H_
