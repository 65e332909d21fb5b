// Bars: the times they are stamped with, their spacing and when each is
// complete. The CSV format is in bars_csv.cc, the sources in bar_source.cc.
#include "evolve/engines/bars.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <system_error>
#include <utility>

#include "bar_text.h"

namespace evolve::engines {
namespace {

constexpr int64_t kSecondsPerDay = 86400;

}  // namespace

Result<int64_t> ParseBarTime(std::string_view text) {
  EVOLVE_ASSIGN_OR_RETURN(ParsedTime t, ParseTimeParts(text, TimeRules{}));
  return t.utc;
}

std::string FormatBarTime(int64_t unix_seconds, bool intraday) {
  CivilTime c = ToCivilTime(unix_seconds);
  char buf[40];
  if (intraday) {
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d", c.year, c.month, c.day, c.hour, c.minute,
                  c.second);
  } else {
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", c.year, c.month, c.day);
  }
  return buf;
}

int64_t CompleteAt(const Bars& bars, size_t i) {
  if (bars.bar_seconds > 0) return bars.time[i] + bars.bar_seconds;
  return bars.intraday ? bars.time[i] : bars.time[i] + kSecondsPerDay;
}

int64_t InferBarSeconds(const std::vector<int64_t>& time) {
  if (time.size() < 2) return 0;
  // Few distinct gaps in real data: a small table, searched linearly.
  std::vector<std::pair<int64_t, size_t>> counts;
  for (size_t i = 1; i < time.size(); ++i) {
    const int64_t gap = time[i] - time[i - 1];
    auto it = std::find_if(counts.begin(), counts.end(), [gap](const auto& c) { return c.first == gap; });
    if (it != counts.end()) {
      ++it->second;
    } else if (counts.size() < 256) {
      counts.emplace_back(gap, 1);
    }
  }
  // The most common; on a tie the shortest.
  auto best = counts.front();
  for (const auto& c : counts) {
    if (c.second > best.second || (c.second == best.second && c.first < best.first)) best = c;
  }
  return best.first;
}

BarsSummary SummarizeBars(const Bars& bars) {
  BarsSummary out;
  out.bars = bars.size();
  if (bars.size() == 0) return out;
  out.first = bars.time.front();
  out.last = bars.time.back();
  out.bar_seconds = bars.bar_seconds > 0 ? bars.bar_seconds : InferBarSeconds(bars.time);
  for (size_t i = 0; i < bars.size(); ++i) {
    if (bars.volume[i] == 0) ++out.zero_volume;
    if (i == 0 || out.bar_seconds <= 0) continue;
    const int64_t gap = bars.time[i] - bars.time[i - 1];
    bool is_gap;
    if (out.bar_seconds < kSecondsPerDay) {
      is_gap = gap > out.bar_seconds && bars.time[i] / kSecondsPerDay == bars.time[i - 1] / kSecondsPerDay;
    } else if (out.bar_seconds == kSecondsPerDay) {
      is_gap = gap > 4 * kSecondsPerDay;
    } else {
      is_gap = gap > 2 * out.bar_seconds;
    }
    if (is_gap) {
      ++out.gaps;
      out.longest_gap = std::max(out.longest_gap, gap);
    }
  }
  return out;
}

std::string TimeframeLabel(int64_t s) {
  if (s <= 0) return "";
  if (s % 604800 == 0) return std::to_string(s / 604800) + "w";
  if (s % kSecondsPerDay == 0) return std::to_string(s / kSecondsPerDay) + "d";
  if (s % 3600 == 0) return std::to_string(s / 3600) + "h";
  if (s % 60 == 0) return std::to_string(s / 60) + "m";
  return std::to_string(s) + "s";
}

int64_t TimeframeSeconds(const std::string& label) {
  if (label.size() < 2) return 0;
  int64_t n = 0;
  auto res = std::from_chars(label.data(), label.data() + label.size() - 1, n);
  if (res.ec != std::errc() || res.ptr != label.data() + label.size() - 1 || n <= 0 || label[0] == '0')
    return 0;
  switch (label.back()) {
    case 's':
      return n;
    case 'm':
      return n * 60;
    case 'h':
      return n * 3600;
    case 'd':
      return n * kSecondsPerDay;
    case 'w':
      return n * 604800;
    default:
      return 0;
  }
}

}  // namespace evolve::engines
