#include "process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace evolve::testing {
namespace {

std::string TempBase() {
  const char* t = std::getenv("TMPDIR");
  return t != nullptr && *t != '\0' ? t : "/tmp";
}

}  // namespace

Process Process::Spawn(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                       const std::string& cwd) {
  static int counter = 0;
  Process p;
  const std::string base =
      TempBase() + "/evolve-proc-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
  p.out_path_ = base + ".out";
  p.err_path_ = base + ".err";
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    const int out = ::open(p.out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = ::open(p.err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int in = ::open("/dev/null", O_RDONLY);
    if (out < 0 || err < 0 || in < 0) ::_exit(127);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    // The test runner may block signals; the child must get the defaults.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(127);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  p.pid_ = pid;
  return p;
}

Process::Process(Process&& other) noexcept
    : pid_(other.pid_), out_path_(std::move(other.out_path_)), err_path_(std::move(other.err_path_)),
      waited_(other.waited_) {
  other.pid_ = -1;
  other.waited_ = true;
}

Process::~Process() {
  if (pid_ > 0 && !waited_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  if (!out_path_.empty()) ::unlink(out_path_.c_str());
  if (!err_path_.empty()) ::unlink(err_path_.c_str());
}

void Process::Signal(int signo) const {
  if (pid_ > 0 && !waited_) ::kill(pid_, signo);
}

ProcessResult Process::Wait() {
  ProcessResult r;
  int status = 0;
  if (!waited_ && ::waitpid(pid_, &status, 0) == pid_) {
    waited_ = true;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  r.out = ReadFile(out_path_);
  r.err = ReadFile(err_path_);
  return r;
}

std::string Process::ErrSoFar() const { return ReadFile(err_path_); }

std::string Process::OutSoFar() const { return ReadFile(out_path_); }

ProcessResult RunProcess(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                         const std::string& cwd) {
  return Process::Spawn(argv, env, cwd).Wait();
}

TempDir::TempDir() {
  std::string templ = TempBase() + "/evolve-test-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = templ;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

bool FileExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace evolve::testing
