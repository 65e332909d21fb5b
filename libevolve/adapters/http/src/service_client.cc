#include "service_client.h"

#include <httplib.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <exception>
#include <utility>

#include "http_url.h"

namespace evolve::http::internal {

std::string Serialize(const rapidjson::Value& v) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer, rapidjson::UTF8<>, rapidjson::UTF8<>, rapidjson::CrtAllocator,
                    rapidjson::kWriteNanAndInfFlag>
      writer(buffer);
  v.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string ErrorMessageOf(const std::string& body) {
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  if (!doc.HasParseError() && doc.IsObject()) {
    for (const char* key : {"detail", "error", "message"}) {
      auto it = doc.FindMember(key);
      if (it == doc.MemberEnd() || it->value.IsNull()) continue;
      const rapidjson::Value& v = it->value;
      if (v.IsString()) return v.GetString();
      if (v.IsObject()) {
        auto message = v.FindMember("message");
        if (message != v.MemberEnd() && message->value.IsString()) return message->value.GetString();
      }
      return Serialize(v);
    }
  }
  std::string text = body.substr(0, 300);
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text.empty() ? "(no body)" : text;
}

Result<std::unique_ptr<ServiceClient>> ServiceClient::Create(std::string service,
                                                             const ServiceClientOptions& options) {
  EVOLVE_ASSIGN_OR_RETURN(HttpUrl url, ParseHttpUrl(options.url, service, 8300));
  if (options.connect_timeout.count() <= 0 || options.read_timeout.count() <= 0) {
    return InvalidArgumentError(service + ": connect_timeout and read_timeout must be positive");
  }
  if (options.max_retries < 0 || options.max_retries > 100) {
    return InvalidArgumentError(service + ": max_retries must be in [0, 100]");
  }
  if (options.initial_backoff.count() < 0 || options.max_backoff < options.initial_backoff) {
    return InvalidArgumentError(service + ": backoffs must satisfy 0 <= initial_backoff <= max_backoff");
  }
  if (options.max_idle_connections < 0 || options.idle_timeout.count() < 0) {
    return InvalidArgumentError(service + ": max_idle_connections and idle_timeout must not be negative");
  }
  return std::unique_ptr<ServiceClient>(
      new ServiceClient(std::move(service), options, url.host, url.port, url.prefix, url.url));
}

ServiceClient::ServiceClient(std::string service, ServiceClientOptions options, std::string host, int port,
                             std::string prefix, std::string url)
    : service_(std::move(service)),
      options_(std::move(options)),
      host_(std::move(host)),
      port_(port),
      prefix_(std::move(prefix)),
      url_(std::move(url)),
      clock_(options_.clock != nullptr ? options_.clock : RealClock()) {}

ServiceClient::~ServiceClient() = default;

std::string ServiceClient::Where(const char* method, const std::string& target) const {
  return service_ + " " + url_ + ": " + method + " " + target;
}

std::unique_ptr<httplib::Client> ServiceClient::Acquire() {
  const auto now = std::chrono::steady_clock::now();
  std::vector<Pooled> stale;  // closed outside the lock
  std::unique_ptr<httplib::Client> found;
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    while (!pool_.empty()) {
      Pooled p = std::move(pool_.back());
      pool_.pop_back();
      if (now - p.idle_since <= options_.idle_timeout) {
        found = std::move(p.client);
        break;
      }
      stale.push_back(std::move(p));
    }
  }
  return found;
}

void ServiceClient::Release(std::unique_ptr<httplib::Client> client) {
  if (!options_.keep_alive) return;
  std::lock_guard<std::mutex> lock(pool_mu_);
  if (static_cast<int>(pool_.size()) >= options_.max_idle_connections) return;  // closed by the destructor
  pool_.push_back(Pooled{std::move(client), std::chrono::steady_clock::now()});
}

Result<ServiceReply> ServiceClient::SendOnce(const char* method, const std::string& target,
                                             const std::string& body) {
  const std::string path = prefix_ + target;
  const bool is_get = std::string(method) == "GET";
  try {
    // A pooled connection may have been closed by the server meanwhile: a
    // read or write error on one is tried again at once on a new connection.
    for (int fresh = 0; fresh < 2; ++fresh) {
      std::unique_ptr<httplib::Client> client = options_.keep_alive && fresh == 0 ? Acquire() : nullptr;
      const bool reused = client != nullptr;
      if (!reused) {
        client = std::make_unique<httplib::Client>(host_, port_);
        client->set_connection_timeout(options_.connect_timeout);
        client->set_read_timeout(options_.read_timeout);
        client->set_write_timeout(options_.read_timeout);
        client->set_keep_alive(options_.keep_alive);
        // Headers and body are written separately: without this, Nagle and
        // delayed ACKs add ~40 ms to every POST on a kept-alive connection.
        client->set_tcp_nodelay(true);
        client->set_url_encode(false);  // EncodeComponent did it
      }
      httplib::Result res =
          is_get ? client->Get(path.c_str()) : client->Post(path.c_str(), body, "application/json");
      if (res) {
        ServiceReply reply{res->status, std::move(res->body)};
        Release(std::move(client));
        return reply;
      }
      const httplib::Error error = res.error();
      if (reused && (error == httplib::Error::Read || error == httplib::Error::Write)) continue;
      return UnavailableError(Where(method, target) + ": " + httplib::to_string(error));
    }
    return UnavailableError(Where(method, target) + ": the connection broke");
  } catch (const std::exception& e) {
    return UnavailableError(Where(method, target) + ": " + e.what());
  }
}

Result<ServiceReply> ServiceClient::Send(const char* method, const std::string& target,
                                         const std::string& body) {
  Status last;
  std::chrono::milliseconds backoff = options_.initial_backoff;
  const int tries = 1 + options_.max_retries;
  for (int attempt = 0; attempt < tries; ++attempt) {
    if (attempt > 0) {
      clock_->SleepFor(backoff);
      backoff = std::min(options_.max_backoff, backoff * 2);
    }
    Result<ServiceReply> reply = SendOnce(method, target, body);
    if (!reply.ok()) {
      last = reply.status();
      continue;
    }
    if (reply->status >= 500) {
      last = UnavailableError(Where(method, target) + ": HTTP " + std::to_string(reply->status) + ": " +
                              ErrorMessageOf(reply->body));
      continue;
    }
    return reply;
  }
  return UnavailableError(last.message() + " (" + std::to_string(tries) + (tries == 1 ? " try" : " tries") +
                          ")");
}

Status ServiceClient::CallJson(const char* method, const std::string& target, const std::string& body,
                               rapidjson::Document* doc) {
  EVOLVE_ASSIGN_OR_RETURN(ServiceReply reply, Send(method, target, body));
  if (reply.status < 200 || reply.status >= 300) {
    const std::string message =
        Where(method, target) + ": HTTP " + std::to_string(reply.status) + ": " + ErrorMessageOf(reply.body);
    switch (reply.status) {
      case 400:
      case 422:
        return InvalidArgumentError(message);
      case 404:
        return NotFoundError(message);
      case 401:
      case 403:
        return FailedPreconditionError(message);
      case 408:
      case 429:
        return UnavailableError(message);
      default:
        return FailedPreconditionError(message + " (unexpected status)");
    }
  }
  doc->Parse<rapidjson::kParseNanAndInfFlag | rapidjson::kParseFullPrecisionFlag>(reply.body.data(),
                                                                                  reply.body.size());
  if (doc->HasParseError()) {
    std::string start = reply.body.substr(0, 200);
    std::replace(start.begin(), start.end(), '\n', ' ');
    return InternalError(Where(method, target) +
                         ": the reply is not JSON: " + (start.empty() ? "(empty)" : start));
  }
  return Status::Ok();
}

}  // namespace evolve::http::internal
