// Queue events between processes: the NOTIFY payloads and the LISTEN thread.
#include "postgres_listener.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <random>
#include <utility>

#include "evolve/json.h"
#include "postgres_codec.h"

namespace evolve::postgres {
namespace {

// The NOTIFY channel of queue events.
constexpr char kChannel[] = "evolve_jobs";
// How long the thread waits for input before it looks again (a closing
// store wakes it at once through its pipe; this only bounds a wait that
// nothing wakes).
constexpr std::chrono::milliseconds kListenPoll(1000);

std::string RandomToken() {
  std::random_device device;
  std::mt19937_64 generator((static_cast<uint64_t>(device()) << 32) ^ device());
  char buffer[17];
  std::snprintf(buffer, sizeof(buffer), "%016llx", static_cast<unsigned long long>(generator()));  // NOLINT
  return buffer;
}

const char* KindName(QueueEvent::Kind kind) {
  return kind == QueueEvent::Kind::kJobsAvailable ? "available" : "finished";
}

// Hands each NOTIFY on the channel to the notifier.
class Receiver final : public pqxx::notification_receiver {
 public:
  Receiver(pqxx::connection& conn, std::function<void(const std::string&)> deliver)
      : pqxx::notification_receiver(conn, kChannel), deliver_(std::move(deliver)) {}

  void operator()(const std::string& payload, int /*backend_pid*/) override { deliver_(payload); }

 private:
  std::function<void(const std::string&)> deliver_;
};

}  // namespace

QueueNotifier::QueueNotifier(Endpoint endpoint, std::chrono::seconds connect_timeout,
                             QueueListeners& listeners)
    : endpoint_(std::move(endpoint)),
      connect_timeout_(connect_timeout),
      listeners_(listeners),
      origin_(RandomToken()) {}

QueueNotifier::~QueueNotifier() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  wake_.Wake();
  if (thread_.joinable()) thread_.join();
}

void QueueNotifier::Send(pqxx::work& tx, const std::vector<QueueEvent>& events) const {
  std::vector<std::optional<std::string>> payloads;
  for (const QueueEvent& e : events) {
    payloads.push_back(ToJson(std::vector<std::string>{origin_, KindName(e.kind), e.run_id, e.batch_id}));
  }
  tx.exec_params("SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p", kChannel, ArrayOf(payloads));
}

void QueueNotifier::Deliver(const std::string& payload) {
  Result<std::vector<std::string>> fields = StringListFromJson(payload);
  // Not ours to read (another program on the channel): ignored.
  if (!fields.ok() || fields->size() != 4) return;
  // This store told its listeners already, right after its commit.
  if ((*fields)[0] == origin_) return;
  const QueueEvent::Kind kind =
      (*fields)[1] == "available" ? QueueEvent::Kind::kJobsAvailable : QueueEvent::Kind::kJobFinished;
  listeners_.Notify({QueueEvent{kind, (*fields)[2], (*fields)[3]}});
}

bool QueueNotifier::stopping() {
  std::lock_guard<std::mutex> lock(mu_);
  return stopping_;
}

void QueueNotifier::Loop() {
  constexpr std::chrono::milliseconds kFirstBackoff(100);
  constexpr std::chrono::milliseconds kMaxBackoff(5000);
  std::chrono::milliseconds backoff = kFirstBackoff;
  bool listened_before = false;
  while (!stopping()) {
    try {
      pqxx::connection conn(endpoint_.conninfo);
      Receiver receiver(conn, [this](const std::string& payload) { Deliver(payload); });
      {
        std::lock_guard<std::mutex> lock(mu_);
        tried_ = true;
      }
      cv_.notify_all();
      if (listened_before) {
        // Whatever was sent while the connection was down is lost: every
        // listener looks for work once.
        listeners_.Notify({QueueEvent{QueueEvent::Kind::kJobsAvailable, "", ""}});
      }
      listened_before = true;
      backoff = kFirstBackoff;
      while (!stopping()) {
        conn.get_notifs();  // delivers what has arrived; throws when the connection is lost
        if (WaitForInput(conn.sock(), wake_, kListenPoll) == WaitResult::kWoken)
          return;  // the store is closing
      }
      return;
    } catch (const std::exception&) {
      // Lost or not reachable: try again after a pause. Listeners are hints;
      // workers also poll, so nothing waits on this forever.
    }
    std::unique_lock<std::mutex> lock(mu_);
    tried_ = true;
    cv_.notify_all();
    cv_.wait_for(lock, backoff, [this] { return stopping_; });
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
}

void QueueNotifier::Listen() {
  std::unique_lock<std::mutex> lock(mu_);
  if (!started_) {
    started_ = true;
    thread_ = std::thread([this] { Loop(); });
  }
  cv_.wait_for(lock, connect_timeout_ + std::chrono::seconds(1), [this] { return tried_; });
}

}  // namespace evolve::postgres
