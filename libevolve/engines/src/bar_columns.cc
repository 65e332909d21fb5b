#include "bar_columns.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "bar_text.h"

namespace evolve::engines {
namespace {

// The names each role is known by, in order of preference (MatchName form).
struct RoleNames {
  const char* role;
  std::vector<const char*> names;
};

const std::vector<RoleNames>& KnownNames() {
  static const std::vector<RoleNames> kNames = {
      {"time", {"date", "datetime", "timestamp", "time", "ts", "windowstart", "index", "t"}},
      {"open", {"open", "o"}},
      {"high", {"high", "h"}},
      {"low", {"low", "l"}},
      {"close", {"close", "c"}},
      {"volume", {"volume", "vol", "v"}},
      {"tick_volume", {"tickvol", "tickvolume"}},
      {"vwap", {"vwap", "vw"}},
      {"trade_count", {"tradecount", "trades", "transactions", "numtrades", "n"}},
      {"adj_close", {"adjclose", "adjustedclose", "adjusted"}},
      {"symbol", {"symbol", "ticker"}},
  };
  return kNames;
}

}  // namespace

std::string MatchName(std::string_view field) {
  std::string_view s = Unquote(field);
  if (s.size() >= 2 && s.front() == '<' && s.back() == '>') s = Trim(s.substr(1, s.size() - 2));
  if (size_t dot = s.rfind('.'); dot != std::string_view::npos) s = s.substr(dot + 1);
  std::string out;
  for (char c : s) {
    if (c != ' ' && c != '_') out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

size_t* BarColumns::Role(const std::string& role) {
  if (role == "time" || role == "date") return &time;
  if (role == "time_of_day") return &time_of_day;
  if (role == "open") return &open;
  if (role == "high") return &high;
  if (role == "low") return &low;
  if (role == "close") return &close;
  if (role == "volume") return &volume;
  if (role == "tick_volume") return &tick_volume;
  if (role == "vwap") return &vwap;
  if (role == "trade_count") return &trade_count;
  if (role == "adj_close") return &adj_close;
  if (role == "symbol") return &symbol;
  return nullptr;
}

bool BarColumns::Taken(size_t j) const {
  for (size_t c : {time, time_of_day, open, high, low, close, volume, tick_volume, vwap, trade_count,
                   adj_close, symbol}) {
    if (c == j) return true;
  }
  return false;
}

std::vector<NumberField> NumberFields(const BarColumns& c, const BarFormat& format) {
  std::vector<NumberField> out;
  for (NumberField f :
       {NumberField{c.open, &BarRow::open, "open", false}, NumberField{c.high, &BarRow::high, "high", false},
        NumberField{c.low, &BarRow::low, "low", false}, NumberField{c.close, &BarRow::close, "close", false},
        NumberField{c.volume, &BarRow::volume, "volume", false},
        NumberField{c.tick_volume, &BarRow::tick_volume, "tick volume", false},
        NumberField{c.vwap, &BarRow::vwap, "vwap", true},
        NumberField{c.trade_count, &BarRow::trade_count, "trade_count", true},
        NumberField{format.adjusted ? c.adj_close : kNoColumn, &BarRow::adj_close, "adjusted close",
                    false}}) {
    if (f.column != kNoColumn) out.push_back(f);
  }
  return out;
}

std::string ListNames(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

Status AssignColumns(const std::vector<std::string>& names, const BarFormat& format, BarColumns* out) {
  std::vector<std::string> matched;
  for (const std::string& n : names) matched.push_back(MatchName(n));
  // The user's names first: each must be there.
  std::set<std::string> given;
  for (const auto& [role, name] : format.columns) {
    size_t* col = out->Role(role);
    if (col == nullptr) return InvalidArgumentError("--bars-columns: unknown role '" + role + "'");
    auto it = std::find_if(names.begin(), names.end(), [&](const std::string& n) {
      return Lower(Unquote(n)) == Lower(name) || MatchName(n) == MatchName(name);
    });
    if (it == names.end()) {
      return InvalidArgumentError("--bars-columns " + role + "=" + name +
                                  ": no such column (its columns: " + ListNames(names) + ")");
    }
    *col = static_cast<size_t>(it - names.begin());
    given.insert(role == "date" ? "time" : role);
  }
  // Then the known names, each column taken once.
  for (const RoleNames& r : KnownNames()) {
    size_t* col = out->Role(r.role);
    if (*col != kNoColumn || given.count(r.role) != 0) continue;
    for (const char* want : r.names) {
      size_t found = kNoColumn;
      for (size_t j = 0; j < matched.size(); ++j) {
        if (matched[j] != want || out->Taken(j)) continue;
        if (found != kNoColumn) return InvalidArgumentError("column '" + names[j] + "' appears twice");
        found = j;
      }
      if (found != kNoColumn) {
        *col = found;
        break;
      }
    }
  }
  return Status::Ok();
}

Status CompleteColumns(const std::vector<std::string>& names, const BarFormat& format,
                       const std::string& what, BarColumns* c) {
  // Some vendors split the time of day into its own column: Date,Time,...
  if (c->time_of_day == kNoColumn && c->time != kNoColumn && MatchName(names[c->time]) == "date") {
    for (size_t j = 0; j < names.size(); ++j) {
      if (MatchName(names[j]) == "time" && j != c->time) c->time_of_day = j;
    }
  }
  struct Want {
    const char* name;
    size_t col;
  };
  for (Want w :
       {Want{"open", c->open}, Want{"high", c->high}, Want{"low", c->low}, Want{"close", c->close}}) {
    if (w.col == kNoColumn)
      return InvalidArgumentError(std::string("missing column '") + w.name + "' (" + what + ")");
  }
  if (c->volume == kNoColumn && c->tick_volume != kNoColumn) std::swap(c->volume, c->tick_volume);
  if (c->volume == kNoColumn) return InvalidArgumentError("missing column 'volume' (" + what + ")");
  if (format.adjusted && c->adj_close == kNoColumn) {
    return InvalidArgumentError(
        "--adjusted needs an adjusted close column (Adj Close; --bars-columns adj_close=NAME), and there is "
        "none (" +
        what + ")");
  }
  return Status::Ok();
}

const std::vector<std::string>& BarColumnRoles() {
  static const std::vector<std::string> kRoles = {"time", "date",        "time_of_day", "open",
                                                  "high", "low",         "close",       "volume",
                                                  "vwap", "trade_count", "adj_close",   "symbol"};
  return kRoles;
}

Status CheckBarFormat(const BarFormat& format) {
  if (!format.date_order.empty() && format.date_order != "mdy" && format.date_order != "dmy") {
    return InvalidArgumentError("--date-order: '" + format.date_order + "' is not mdy or dmy");
  }
  if (!format.epoch_unit.empty() && format.epoch_unit != "s" && format.epoch_unit != "ms" &&
      format.epoch_unit != "us" && format.epoch_unit != "ns") {
    return InvalidArgumentError("--epoch-unit: '" + format.epoch_unit + "' is not s, ms, us or ns");
  }
  for (const auto& [role, name] : format.columns) {
    const auto& roles = BarColumnRoles();
    if (std::find(roles.begin(), roles.end(), role) == roles.end()) {
      return InvalidArgumentError("--bars-columns: unknown role '" + role + "' (roles: " + ListNames(roles) +
                                  ")");
    }
    if (name.empty()) return InvalidArgumentError("--bars-columns: no column name for role '" + role + "'");
  }
  return Status::Ok();
}

}  // namespace evolve::engines
