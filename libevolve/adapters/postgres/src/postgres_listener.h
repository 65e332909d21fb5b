// Queue events between the processes sharing a PostgreSQL database: NOTIFY
// on the channel evolve_jobs inside a store's write transactions (delivered
// on commit), and the LISTEN thread that hands the events of other stores
// to this store's listeners. Private to evolve::postgres.
//
// Each event is sent twice, on purpose: to this process's listeners
// directly after COMMIT (by the store: fast, and with its locks released),
// and to other processes by NOTIFY. The LISTEN thread drops the NOTIFYs its
// own store sent (they carry its origin token), so a local listener hears
// each event once.
//
// Thread-safety: safe for concurrent use.
#ifndef EVOLVE_POSTGRES_POSTGRES_LISTENER_H_
#define EVOLVE_POSTGRES_POSTGRES_LISTENER_H_

#include <pqxx/pqxx>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "evolve/store.h"
#include "evolve/store_support.h"
#include "postgres_connection.h"

namespace evolve::postgres {

class QueueNotifier {
 public:
  // Delivers other stores' events to `listeners`, which must outlive this.
  // `connect_timeout` bounds how long Listen waits for the first LISTEN.
  QueueNotifier(Endpoint endpoint, std::chrono::seconds connect_timeout, QueueListeners& listeners);
  QueueNotifier(const QueueNotifier&) = delete;
  QueueNotifier& operator=(const QueueNotifier&) = delete;
  // Stops the LISTEN thread at once.
  ~QueueNotifier();

  // Sends `events` with NOTIFY in `tx`: other processes hear them on commit.
  void Send(pqxx::work& tx, const std::vector<QueueEvent>& events) const;

  // Starts the LISTEN thread unless it runs, and returns once LISTEN is in
  // place (or the first attempt failed), so that an event of another
  // process right after this call is heard. The thread reconnects with
  // backoff after a lost connection and then wakes every listener with a
  // kJobsAvailable of no batch: events may have been missed meanwhile.
  void Listen();

 private:
  void Loop();
  void Deliver(const std::string& payload);
  bool stopping();

  const Endpoint endpoint_;
  const std::chrono::seconds connect_timeout_;
  QueueListeners& listeners_;
  // Names this store in its NOTIFY payloads.
  const std::string origin_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool started_ = false;   // guarded by mu_
  bool tried_ = false;     // the first connection attempt is over; guarded by mu_
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
  // Woken when the store closes, so the thread, which waits for input on
  // its connection and this pipe, stops at once.
  WakePipe wake_;
};

}  // namespace evolve::postgres

#endif  // EVOLVE_POSTGRES_POSTGRES_LISTENER_H_
