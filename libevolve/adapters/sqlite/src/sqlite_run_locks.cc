// The run locks of a SQLite store: one byte of the lock file per run.
#include "sqlite_run_locks.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>

#include "evolve/fingerprint.h"
#include "evolve/store_support.h"

namespace evolve::sqlite {
namespace {

class FileRunLock final : public RunLock {
 public:
  FileRunLock(std::string run_id, int fd) : RunLock(std::move(run_id)), fd_(fd) {}
  ~FileRunLock() override { ::close(fd_); }  // closing the description drops its locks

 private:
  int fd_;
};

}  // namespace

std::string RunLockFilePath(const std::string& database_path) { return database_path + "-runs.lock"; }

Result<std::unique_ptr<RunLock>> TryLockRunInFile(const std::string& lock_path, const std::string& run_id) {
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return UnavailableError("cannot open the run lock file " + lock_path + ": " + std::strerror(errno));
  // One byte per run, at the first 40 bits of SHA-256("evolve/run/" + id):
  // the same byte in every process whatever built it (std::hash may differ
  // between standard libraries). Two runs share a byte with probability
  // 2^-40, and then only look busy to each other.
  struct flock fl = {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = static_cast<off_t>(std::stoull(Sha256Hex("evolve/run/" + run_id).substr(0, 10), nullptr, 16));
  fl.l_len = 1;
  if (::fcntl(fd, F_OFD_SETLK, &fl) != 0) {
    const int error = errno;
    ::close(fd);
    if (error == EAGAIN || error == EACCES) return RunBusyError(run_id);
    return UnavailableError("cannot lock run " + run_id + " in " + lock_path + ": " + std::strerror(error));
  }
  return std::unique_ptr<RunLock>(new FileRunLock(run_id, fd));
}

}  // namespace evolve::sqlite
