// Logging: structured one-line records ("ts=... level=INFO msg=\"...\" k=v")
// to stderr by default, filtered by a global level (LOG_LEVEL in the
// services). A sink can be installed to capture records (tests, services).
//
// Thread-safety: all functions may be called concurrently.
#ifndef EVOLVE_LOG_H_
#define EVOLVE_LOG_H_

#include <functional>
#include <initializer_list>
#include <string>
#include <utility>

namespace evolve {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

const char* LogLevelName(LogLevel level);  // "DEBUG", "INFO", "WARNING", "ERROR"
// Accepts DEBUG, INFO, WARNING/WARN, ERROR in any case.
bool ParseLogLevel(const std::string& name, LogLevel* out);

void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();

// Replaces the sink (nullptr: back to stderr). Receives the formatted line
// without a trailing newline.
void SetLogSink(std::function<void(LogLevel, const std::string&)> sink);

using LogField = std::pair<std::string, std::string>;

// Writes one record if `level` passes the filter. Values are quoted when
// they contain spaces, quotes or '='.
void Log(LogLevel level, const std::string& message, std::initializer_list<LogField> fields = {});

}  // namespace evolve

#endif  // EVOLVE_LOG_H_
