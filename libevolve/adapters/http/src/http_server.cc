#include "evolve/http/http_server.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <regex>
#include <thread>

#include "evolve/fingerprint.h"  // Sha256Hex
#include "evolve/http/error_reply.h"
#include "evolve/log.h"

namespace evolve::http {
namespace {

bool SameName(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

Request ToRequest(const httplib::Request& req) {
  Request r;
  r.method = req.method;
  r.path = req.path;
  for (size_t i = 0; i < req.matches.size(); ++i) r.matches.push_back(req.matches[i].str());
  r.body = req.body;
  r.remote_addr = req.remote_addr;
  r.params.insert(req.params.begin(), req.params.end());
  r.headers.assign(req.headers.begin(), req.headers.end());
  return r;
}

void ToHttplib(Response&& r, httplib::Response& res) {
  res.status = r.status;
  for (auto& [name, value] : r.headers) res.set_header(name, value);
  if (!r.content_type.empty() || !r.body.empty()) {
    res.body = std::move(r.body);
    if (!r.content_type.empty()) res.set_header("Content-Type", r.content_type);
  }
}

using Clock = std::chrono::steady_clock;

// What the server knows of the connection a thread is serving, for the
// pre-routing handler, the routes and the error handler, which run on
// that thread and see only httplib's Request.
struct Connection {
  socket_t sock = INVALID_SOCKET;
  bool close = false;         // the body was not consumed: close after the reply
  bool timed_out = false;     // the request did not arrive by its deadline
  bool headers_read = false;  // the request's head has been read
};
thread_local Connection* current_connection = nullptr;

// Request::client_gone for the request this thread serves: the peer closed
// (POLLRDHUP: its FIN arrived) or the connection broke. HTTP clients do not
// half-close while they wait for a reply, so a FIN means it left.
std::function<bool()> ClientGoneCheck() {
  if (current_connection == nullptr || current_connection->sock == INVALID_SOCKET) return nullptr;
  const socket_t sock = current_connection->sock;
  return [sock] {
    pollfd p{sock, POLLRDHUP, 0};
    return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
  };
}

void CloseAfterReply(const httplib::Request& req) {
  if (current_connection != nullptr) current_connection->close = true;
  // httplib writes "Connection: close" when the request asked for it; the
  // connection itself is closed by ListeningServer's loop.
  auto& headers = const_cast<httplib::Headers&>(req.headers);
  headers.erase("Connection");
  headers.emplace("Connection", "close");
}

// True when the request announces a body (RFC 9112 §6.3: Transfer-Encoding,
// or a Content-Length other than 0).
bool HasBody(const httplib::Request& req) {
  if (req.has_header("Transfer-Encoding")) return true;
  const std::string length = req.get_header_value("Content-Length");
  return !length.empty() && length.find_first_not_of('0') != std::string::npos;
}

// A TaskQueue that grows: httplib's ThreadPool has a fixed number of
// threads, and a connection holds one from its first byte to its last
// (keep-alive idle time included), so a few slow or idle clients (or
// long-polling workers) used to leave every other request waiting. This
// one keeps `min_threads` threads, starts another whenever a connection
// would otherwise wait for one (up to `max_threads`, after which
// connections queue), and lets threads above `min_threads` end after
// `idle` without work.
class ElasticThreadPool final : public httplib::TaskQueue {
 public:
  ElasticThreadPool(size_t min_threads, size_t max_threads, std::chrono::seconds idle)
      : min_(std::max<size_t>(1, min_threads)), max_(std::max(min_, max_threads)), idle_time_(idle) {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < min_; ++i) StartThread();
  }
  ~ElasticThreadPool() override { shutdown(); }

  void enqueue(std::function<void()> fn) override {
    std::lock_guard<std::mutex> lock(mu_);
    JoinEnded();
    jobs_.push_back(std::move(fn));
    if (jobs_.size() > idle_ && threads_.size() < max_) StartThread();
    cv_.notify_one();
  }

  void shutdown() override {
    std::map<std::thread::id, std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (shutdown_) return;
      shutdown_ = true;
      threads.swap(threads_);
    }
    cv_.notify_all();
    for (auto& [id, t] : threads) t.join();
    std::lock_guard<std::mutex> lock(mu_);
    JoinEnded();
  }

 private:
  // Under mu_.
  void StartThread() {
    std::thread t([this] { Run(); });
    const std::thread::id id = t.get_id();
    threads_.emplace(id, std::move(t));
  }

  // Under mu_: joins the threads that ended for want of work (they have
  // returned, or are about to).
  void JoinEnded() {
    for (std::thread& t : ended_) t.join();
    ended_.clear();
  }

  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      ++idle_;
      const bool woken = cv_.wait_for(lock, idle_time_, [this] { return shutdown_ || !jobs_.empty(); });
      --idle_;
      if (!jobs_.empty()) {
        std::function<void()> fn = std::move(jobs_.front());
        jobs_.pop_front();
        lock.unlock();
        fn();
        lock.lock();
        continue;
      }
      if (shutdown_) return;
      if (!woken && threads_.size() > min_) {
        auto self = threads_.find(std::this_thread::get_id());
        if (self != threads_.end()) {
          ended_.push_back(std::move(self->second));
          threads_.erase(self);
          return;
        }
      }
    }
  }

  const size_t min_;
  const size_t max_;
  const std::chrono::seconds idle_time_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;          // guarded by mu_
  std::map<std::thread::id, std::thread> threads_;  // guarded by mu_
  std::vector<std::thread> ended_;                  // guarded by mu_
  size_t idle_ = 0;                                 // guarded by mu_
  bool shutdown_ = false;                           // guarded by mu_
};

// A connection's socket as httplib's Stream, with deadlines: httplib 0.11.4
// only times out each recv() (a client sending a byte every few seconds
// could hold a thread for ever); here every read also fails once the
// request's deadline has passed: `head` after its first byte for the
// request line and headers, `whole` for the rest (the body). Reads are
// buffered, as httplib reads a request's head one byte at a time.
class DeadlineStream final : public httplib::Stream {
 public:
  DeadlineStream(socket_t sock, Connection& conn, std::chrono::milliseconds read_timeout,
                 std::chrono::milliseconds write_timeout, Clock::time_point head_deadline,
                 Clock::time_point whole_deadline)
      : sock_(sock),
        conn_(conn),
        read_timeout_(read_timeout),
        write_timeout_(write_timeout),
        head_deadline_(head_deadline),
        whole_deadline_(whole_deadline) {}

  bool is_readable() const override { return begin_ < end_ || Wait(POLLIN, ReadWait()); }
  bool is_writable() const override { return Wait(POLLOUT, write_timeout_); }

  ssize_t read(char* ptr, size_t size) override {
    if (begin_ == end_) {
      if (!Wait(POLLIN, ReadWait())) {
        // Nothing came in time: the request's deadline passed, or httplib's
        // per-read timeout did (both a 408). A socket error is not a timeout.
        if (!Failed(POLLIN)) conn_.timed_out = true;
        return -1;
      }
      ssize_t n;
      do {
        n = ::recv(sock_, buffer_, sizeof buffer_, 0);
      } while (n < 0 && errno == EINTR);
      if (n <= 0) return n;
      begin_ = 0;
      end_ = static_cast<size_t>(n);
    }
    const size_t n = std::min(size, end_ - begin_);
    std::memcpy(ptr, buffer_ + begin_, n);
    begin_ += n;
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (!is_writable()) return -1;
    ssize_t n;
    do {
      n = ::send(sock_, ptr, size, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n;
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override { Address(true, ip, port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override { Address(false, ip, port); }
  socket_t socket() const override { return sock_; }

 private:
  Clock::time_point Deadline() const { return conn_.headers_read ? whole_deadline_ : head_deadline_; }

  // Rounded up: a wait truncated to 0 ms would end before the deadline.
  std::chrono::milliseconds ReadWait() const {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(Deadline() - Clock::now());
    return std::max(std::chrono::milliseconds(0), std::min(read_timeout_, left));
  }

  // True when the socket has an error or was hung up (poll at once).
  bool Failed(short events) const {
    pollfd p{sock_, events, 0};
    return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLERR | POLLHUP | POLLNVAL)) != 0;
  }

  bool Wait(short events, std::chrono::milliseconds timeout) const {
    pollfd p{sock_, events, 0};
    int n;
    do {
      n = ::poll(&p, 1, static_cast<int>(timeout.count()));
    } while (n < 0 && errno == EINTR);
    return n > 0 && (p.revents & (events | POLLHUP | POLLERR)) != 0;
  }

  void Address(bool remote, std::string& ip, int& port) const {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    auto* sa = reinterpret_cast<sockaddr*>(&addr);
    if ((remote ? ::getpeername(sock_, sa, &len) : ::getsockname(sock_, sa, &len)) != 0) return;
    char text[INET6_ADDRSTRLEN] = {};
    if (addr.ss_family == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
      ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
      port = ntohs(in->sin_port);
    } else if (addr.ss_family == AF_INET6) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
      ::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
      port = ntohs(in6->sin6_port);
    }
    ip = text;
  }

  const socket_t sock_;
  Connection& conn_;
  const std::chrono::milliseconds read_timeout_;
  const std::chrono::milliseconds write_timeout_;
  const Clock::time_point head_deadline_;
  const Clock::time_point whole_deadline_;
  char buffer_[4096];
  size_t begin_ = 0, end_ = 0;
};

// httplib::Server with what a service needs that httplib 0.11.4 does not do
// itself:
//   - a listen backlog that fits a service: Debian's libcpp-httplib is
//     compiled with a backlog of 5, so a burst of new connections overflows
//     the queue and clients retry after a second. Linux lets listen() be
//     called again on a listening socket to change it;
//   - each connection served by its own loop (httplib's is private): reads
//     through a DeadlineStream, and the connection closed after a reply
//     whose request body was not read (CloseAfterReply), where httplib
//     would read the rest of the body as the next request.
class ListeningServer final : public httplib::Server {
 public:
  // After binding. False if the socket refused (the server still works,
  // with the small backlog).
  bool WidenListenBacklog(int backlog) {
    const socket_t sock = svr_sock_;
    return sock != INVALID_SOCKET && ::listen(sock, backlog) == 0;
  }

  void SetDeadlines(std::chrono::milliseconds head, std::chrono::milliseconds whole) {
    head_time_ = head;
    whole_time_ = whole;
  }

 private:
  bool process_and_close_socket(socket_t sock) override {
    bool ret = false;
    const std::chrono::milliseconds read_timeout(read_timeout_sec_ * 1000 + read_timeout_usec_ / 1000);
    const std::chrono::milliseconds write_timeout(write_timeout_sec_ * 1000 + write_timeout_usec_ / 1000);
    for (size_t left = keep_alive_max_count_; left > 0 && WaitForRequest(sock); --left) {
      Connection conn;
      conn.sock = sock;
      current_connection = &conn;
      const Clock::time_point start = Clock::now();
      DeadlineStream stream(sock, conn, read_timeout, write_timeout, start + head_time_, start + whole_time_);
      bool closed = false;
      ret = process_request(stream, left == 1, closed,
                            [&conn](httplib::Request&) { conn.headers_read = true; });
      current_connection = nullptr;
      if (conn.close || conn.timed_out) LingerBeforeClose(sock);
      if (!ret || closed || conn.close || conn.timed_out) break;
    }
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
    return ret;
  }

  // A lingering close (what Apache's lingering_close does): after a reply
  // to a request whose body was not read (401 before the body, 413 for a
  // Content-Length over the limit) or that timed out (408), the client may
  // still be sending; closing at once makes the kernel answer its next bytes with a
  // reset, which can destroy the reply before the client reads it (and
  // kills a client that does not ignore SIGPIPE). So the server stops
  // writing and reads what comes into a fixed buffer, discarded, for at
  // most kLingerTime and kLingerBytes: no memory grows, and a thread is
  // held for a bounded time.
  static void LingerBeforeClose(socket_t sock) {
    constexpr auto kLingerTime = std::chrono::seconds(2);
    constexpr size_t kLingerBytes = size_t{4} << 20;  // above socket buffers and a usual --max-body
    ::shutdown(sock, SHUT_WR);
    const Clock::time_point until = Clock::now() + kLingerTime;
    char buffer[16384];
    for (size_t drained = 0; drained < kLingerBytes;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
      if (left <= 0) break;
      pollfd p{sock, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) break;
      const ssize_t n = ::recv(sock, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      drained += static_cast<size_t>(n);
    }
  }

  // Waits for the first byte of the next request on a kept-alive
  // connection, for at most the keep-alive timeout; false when the
  // connection idled that long, was closed, or the server stops.
  bool WaitForRequest(socket_t sock) const {
    const auto until = Clock::now() + std::chrono::seconds(keep_alive_timeout_sec_);
    while (svr_sock_ != INVALID_SOCKET && Clock::now() < until) {
      pollfd p{sock, POLLIN, 0};
      const int n = ::poll(&p, 1, 100);
      if (n > 0) return (p.revents & POLLIN) != 0;
      if (n < 0 && errno != EINTR) return false;
    }
    return false;
  }

  std::chrono::milliseconds head_time_{10000};
  std::chrono::milliseconds whole_time_{60000};
};

}  // namespace

const char* MethodName(Method method) { return method == Method::kGet ? "GET" : "POST"; }

// ---------------------------------------------------------------------------
// Request, Response

bool Request::HasParam(const std::string& name) const { return params.count(name) != 0; }

std::string Request::Param(const std::string& name) const {
  auto it = params.find(name);
  return it == params.end() ? "" : it->second;
}

bool Request::HasHeader(std::string_view name) const {
  return std::any_of(headers.begin(), headers.end(),
                     [name](const auto& h) { return SameName(h.first, name); });
}

std::string Request::Header(std::string_view name) const {
  for (const auto& h : headers) {
    if (SameName(h.first, name)) return h.second;
  }
  return "";
}

void Response::SetContent(std::string content, std::string type) {
  body = std::move(content);
  content_type = std::move(type);
}

void Response::SetHeader(std::string name, std::string value) {
  headers.emplace_back(std::move(name), std::move(value));
}

void SendJson(Response& res, int http_status, std::string body) {
  res.status = http_status;
  res.SetContent(std::move(body), "application/json");
}

void SendError(Response& res, int http_status, std::string_view code, std::string_view message,
               const std::vector<FieldError>& details) {
  SendJson(res, http_status, ErrorJson(code, message, details));
}

void SendStatus(Response& res, const Status& status, const std::vector<FieldError>& details) {
  SendError(res, HttpStatusOf(status.code()), ErrorCodeOf(status.code()), status.message(), details);
}

bool BearerTokenMatches(std::string_view header, std::string_view token) {
  // RFC 7235 §2.1: credentials = auth-scheme [ 1*SP token68 ], and the
  // scheme is case-insensitive ("bearer", "BEARER").
  static constexpr std::string_view kScheme = "Bearer";
  if (token.empty() || header.size() <= kScheme.size() ||
      !SameName(header.substr(0, kScheme.size()), kScheme) || header[kScheme.size()] != ' ') {
    return false;
  }
  std::string_view given_token = header.substr(kScheme.size());
  given_token.remove_prefix(std::min(given_token.find_first_not_of(' '), given_token.size()));
  // Digests of equal length, compared without an early exit: the time
  // taken says nothing about the token's length or where a guess goes wrong.
  const std::string given = Sha256Hex(given_token);
  const std::string expected = Sha256Hex(token);
  unsigned char differ = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    differ |= static_cast<unsigned char>(given[i] ^ expected[i]);
  }
  return differ == 0;
}

// ---------------------------------------------------------------------------
// HttpServer

class HttpServer::Impl {
 public:
  explicit Impl(ServerOptions options) : options_(std::move(options)) {
    const size_t max_body = options_.max_body;
    const size_t threads = static_cast<size_t>(std::max(1, options_.threads));
    const size_t max_threads = std::max(threads, static_cast<size_t>(std::max(1, options_.max_threads)));
    server_.set_payload_max_length(max_body);
    server_.set_read_timeout(std::min(30, std::max(1, options_.header_seconds)));
    server_.set_write_timeout(60);
    server_.SetDeadlines(std::chrono::seconds(std::max(1, options_.header_seconds)),
                         std::chrono::seconds(std::max(1, options_.request_seconds)));
    server_.new_task_queue = [threads, max_threads] {
      return new ElasticThreadPool(threads, max_threads, std::chrono::seconds(30));
    };
    // A keep-alive connection holds a server thread until it has been idle
    // for 5 s (httplib's default) or served this many requests.
    server_.set_keep_alive_max_count(1000);
    // A reply on a kept-alive connection otherwise waits ~40 ms for the
    // client's delayed ACK.
    server_.set_tcp_nodelay(true);
    server_.set_socket_options([](socket_t sock) {
      int yes = 1;
      ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    // `curl -X POST .../runs/ID/stop` sends neither a body nor
    // Content-Length, which httplib would answer with 400 before any route
    // is chosen. The pre-routing handler runs before the body is read, on
    // the server's own (non-const) Request: say the body is empty.
    // Runs after the request's head is read and before any of its body:
    // what can be refused without reading the body is refused here, and the
    // connection is closed after the reply (its body is still unread).
    server_.set_pre_routing_handler(
        [this](const httplib::Request& req, httplib::Response& res) { return PreRoute(req, res); });
    server_.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return;  // a handler's own error reply
      Response out;
      const bool timed_out = current_connection != nullptr && current_connection->timed_out;
      ReplyUnrouted(req, timed_out ? 408 : res.status, out);
      ToHttplib(std::move(out), res);
    });
  }

  ~Impl() { server_.stop(); }

  void Add(Route route) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      known_.push_back({route.method, std::regex(route.pattern)});
    }
    const std::string pattern = route.pattern;
    if (route.method == Method::kGet) {
      server_.Get(pattern, Wrap(std::move(route)));
    } else {
      server_.Post(pattern, WrapWithBody(std::move(route)));
    }
  }

  Result<int> Bind(const std::string& host, int port) {
    const int bound =
        port == 0 ? server_.bind_to_any_port(host) : (server_.bind_to_port(host, port) ? port : -1);
    if (bound <= 0) {
      return UnavailableError("cannot listen on " + host + ":" + std::to_string(port) +
                              " (address in use, or not an address of this host)");
    }
    if (!server_.WidenListenBacklog(128)) Log(LogLevel::kWarning, "could not widen the listen backlog");
    bound_ = true;
    return bound;
  }

  bool Serve() {
    serving_ = true;
    if (stop_requested_) {
      serving_ = false;
      return true;
    }
    const bool served = bound_ && server_.listen_after_bind();
    serving_ = false;
    return served || stop_requested_;
  }

  void Stop() {
    stop_requested_ = true;
    // A Serve() that has not begun to listen yet would not see httplib's
    // stop(): wait until it listens (or gave up).
    while (serving_ && !server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    server_.stop();
  }

  bool running() const { return server_.is_running(); }

 private:
  struct Known {
    Method method;
    std::regex pattern;
  };

  // The reply to a request no route served: httplib's `status` with a JSON
  // body; a 404 for a path that a route of another method takes is a 405.
  void ReplyUnrouted(const httplib::Request& req, int status, Response& out) {
    if (status == 404) {
      const std::string allowed = AllowedMethods(req.path);
      if (!allowed.empty()) {
        out.SetHeader("Allow", allowed);
        return SendError(out, 405, "method_not_allowed",
                         req.method + " " + req.path + ": this endpoint takes " + allowed);
      }
      return SendError(out, 404, "not_found", "no such endpoint: " + req.method + " " + req.path);
    }
    if (status == 413) {
      return SendError(out, 413, "payload_too_large",
                       "the request body is larger than " + std::to_string(options_.max_body) + " bytes");
    }
    if (status == 400) return SendError(out, 400, "bad_request", "malformed HTTP request");
    if (status == 408) {
      return SendError(out, 408, "request_timeout",
                       "the request did not arrive within " + std::to_string(options_.header_seconds) +
                           " s (its head) or " + std::to_string(options_.request_seconds) + " s (all of it)");
    }
    SendError(out, status, "http_" + std::to_string(status), "the request could not be served");
  }

  // "GET, POST": the methods of the routes whose pattern matches `path`.
  std::string AllowedMethods(const std::string& path) {
    bool get = false, post = false;
    std::lock_guard<std::mutex> lock(mu_);
    for (const Known& k : known_) {
      if (!std::regex_match(path, k.pattern)) continue;
      (k.method == Method::kGet ? get : post) = true;
    }
    if (get && post) return "GET, POST";
    return get ? "GET" : post ? "POST" : "";
  }

  httplib::Server::HandlerResponse PreRoute(const httplib::Request& req, httplib::Response& res) {
    using Handled = httplib::Server::HandlerResponse;
    if (req.method == "POST" && !req.has_header("Content-Length") && !req.has_header("Transfer-Encoding")) {
      // `curl -X POST .../runs/ID/stop` sends neither a body nor
      // Content-Length, which httplib would answer with 400 before any
      // route is chosen: say the body is empty.
      const_cast<httplib::Request&>(req).headers.emplace("Content-Length", "0");
    }
    Response out;
    if (req.method == "POST") {
      // httplib would read the whole body of a POST no route takes before
      // its 404; no route's reply depends on it.
      if (!HasRoute(Method::kPost, req.path)) ReplyUnrouted(req, 404, out);
    } else if (req.method != "GET") {
      // PUT, DELETE, ...: no route takes them, and httplib reads their
      // bodies whole, chunked ones without a limit.
      ReplyUnrouted(req, 404, out);
    }
    if (out.status == 200 && req.method == "POST" && req.has_header("Content-Length")) {
      // RFC 9110 §15.5.14: 413, and the connection may be closed rather
      // than the body read.
      const std::string length = req.get_header_value("Content-Length");
      char* end = nullptr;
      errno = 0;
      const unsigned long long n = std::strtoull(length.c_str(), &end, 10);
      if (length.empty() || *end != '\0' || errno != 0 || n > options_.max_body) ReplyTooLarge(out);
    }
    if (out.status == 200) {
      // A GET's body (httplib reads none) would be read as the next request.
      if (req.method == "GET" && HasBody(req)) CloseAfterReply(req);
      return Handled::Unhandled;
    }
    if (HasBody(req)) CloseAfterReply(req);
    ToHttplib(std::move(out), res);
    return Handled::Handled;
  }

  void ReplyTooLarge(Response& out) const {
    SendError(out, 413, "payload_too_large",
              "the request body is larger than " + std::to_string(options_.max_body) + " bytes");
  }

  bool HasRoute(Method method, const std::string& path) {
    std::lock_guard<std::mutex> lock(mu_);
    return std::any_of(known_.begin(), known_.end(), [&](const Known& k) {
      return k.method == method && std::regex_match(path, k.pattern);
    });
  }

  // 401 for a protected route without the token (nothing else read).
  bool Refused(const Route& route, const Request& req, Response& out) const {
    if (route.access != Access::kProtected || options_.token.empty() ||
        BearerTokenMatches(req.Header("Authorization"), options_.token)) {
      return false;
    }
    out.SetHeader("WWW-Authenticate", "Bearer");
    SendError(out, 401, "unauthorized",
              req.HasHeader("Authorization") ? "the bearer token is not valid"
                                             : "this endpoint requires Authorization: Bearer <token>");
    return true;
  }

  void Handle(const Route& route, const Request& req, Response& out) {
    try {
      route.handler(req, out);
    } catch (const std::exception& e) {
      out = Response{};
      SendError(out, 500, "internal", std::string("internal error: ") + e.what());
    }
  }

  httplib::Server::Handler Wrap(Route route) {
    return [this, route = std::move(route)](const httplib::Request& raw, httplib::Response& res) {
      const auto start = std::chrono::steady_clock::now();
      Request req = ToRequest(raw);
      req.client_gone = ClientGoneCheck();
      Response out;
      if (!Refused(route, req, out)) Handle(route, req, out);
      Finish(route, req, std::move(out), res, start);
    };
  }

  // A POST route: the token is checked before any of the body is read
  // (a request without it costs the server no more than its head), and
  // the body is read into a buffer of at most max_body bytes, chunked or
  // not (httplib 0.11.4 reads a chunked body whole, whatever its
  // payload limit).
  httplib::Server::HandlerWithContentReader WrapWithBody(Route route) {
    return [this, route = std::move(route)](const httplib::Request& raw, httplib::Response& res,
                                            const httplib::ContentReader& read_body) {
      const auto start = std::chrono::steady_clock::now();
      Request req = ToRequest(raw);
      req.client_gone = ClientGoneCheck();
      Response out;
      if (Refused(route, req, out)) {
        if (HasBody(raw)) CloseAfterReply(raw);
      } else {
        bool too_large = false;
        const bool read = read_body([&](const char* data, size_t length) {
          if (req.body.size() + length > options_.max_body) {
            too_large = true;
            return false;
          }
          req.body.append(data, length);
          return true;
        });
        if (!read) {
          CloseAfterReply(raw);
          if (too_large) {
            ReplyTooLarge(out);
          } else if (current_connection != nullptr && current_connection->timed_out) {
            ReplyUnrouted(raw, 408, out);
          } else {
            SendError(out, 400, "bad_request", "the request body could not be read (malformed or cut short)");
          }
        } else {
          Handle(route, req, out);
        }
      }
      Finish(route, req, std::move(out), res, start);
    };
  }

  void Finish(const Route& route, const Request& req, Response&& out, httplib::Response& res,
              std::chrono::steady_clock::time_point start) {
    const int status = out.status;
    ToHttplib(std::move(out), res);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (options_.on_request) options_.on_request(req, route.pattern, status, seconds);
    // Reads and frequent calls (claims and heartbeats every second or so
    // per worker) at DEBUG; what users do at INFO; server errors louder.
    const LogLevel level = status >= 500                                    ? LogLevel::kWarning
                           : route.method == Method::kGet || route.frequent ? LogLevel::kDebug
                                                                            : LogLevel::kInfo;
    if (level >= GetLogLevel()) {
      Log(level, "request",
          {{"method", req.method},
           {"path", req.path},
           {"status", std::to_string(status)},
           {"ms", std::to_string(seconds * 1000.0)},
           {"remote", req.remote_addr}});
    }
  }

  const ServerOptions options_;
  ListeningServer server_;
  std::mutex mu_;
  std::vector<Known> known_;  // guarded by mu_
  bool bound_ = false;
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> serving_{false};
};

HttpServer::HttpServer(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
HttpServer::~HttpServer() = default;

void HttpServer::Add(Route route) { impl_->Add(std::move(route)); }

void HttpServer::Add(std::vector<Route> routes) {
  for (Route& r : routes) impl_->Add(std::move(r));
}

Result<int> HttpServer::Bind(const std::string& host, int port) { return impl_->Bind(host, port); }
bool HttpServer::Serve() { return impl_->Serve(); }
void HttpServer::Stop() { impl_->Stop(); }
bool HttpServer::running() const { return impl_->running(); }

}  // namespace evolve::http
