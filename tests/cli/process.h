// Child processes for the end-to-end tests of the binaries: run one to its
// end capturing its output, or start one in the background and signal it.
#ifndef EVOLVE_TESTS_CLI_PROCESS_H_
#define EVOLVE_TESTS_CLI_PROCESS_H_

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace evolve::testing {

struct ProcessResult {
  int exit_code = -1;  // the exit status, or 128 + signal when killed
  std::string out;
  std::string err;
};

// A child started with Spawn; its stdout and stderr go to files.
class Process {
 public:
  // Starts `argv` with `env` added to (or replacing in) the environment, in
  // working directory `cwd` (empty: the current one).
  static Process Spawn(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env = {},
                       const std::string& cwd = "");
  Process(Process&& other) noexcept;
  Process& operator=(Process&&) = delete;
  Process(const Process&) = delete;
  ~Process();  // kills the child if it still runs

  pid_t pid() const { return pid_; }
  void Signal(int signo) const;
  // Waits for the exit and returns the result with the captured output.
  ProcessResult Wait();
  // What the child wrote to stderr so far.
  std::string ErrSoFar() const;
  // What the child wrote to stdout so far.
  std::string OutSoFar() const;

 private:
  Process() = default;
  pid_t pid_ = -1;
  std::string out_path_, err_path_;
  bool waited_ = false;
};

// Spawn + Wait.
ProcessResult RunProcess(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env = {},
                         const std::string& cwd = "");

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& text);
bool FileExists(const std::string& path);

}  // namespace evolve::testing

#endif  // EVOLVE_TESTS_CLI_PROCESS_H_
