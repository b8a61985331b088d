// Time zones for cron: date's periods up to the zone file's last transition,
// the footer's POSIX TZ rule after it.
#include "runtime/cron/zone.hpp"

#include "runtime/cron/expr.hpp"

#include <date/tz.h>

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <utility>

namespace rouse::cron {

namespace {

constexpr int64_t far_past = std::numeric_limits<int64_t>::min() / 4;
constexpr int64_t far_future = std::numeric_limits<int64_t>::max() / 4;

class rule_parser {
public:
  explicit rule_parser(std::string_view s) : s_(s) {}

  bool done() const { return pos_ == s_.size(); }
  bool eat(char c) {
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool at(char c) const { return pos_ < s_.size() && s_[pos_] == c; }

  // A zone abbreviation: three or more letters, or <...> (letters, digits,
  // + and -).
  bool name() {
    if (eat('<')) {
      auto start = pos_;
      while (pos_ < s_.size() && s_[pos_] != '>')
        ++pos_;
      return pos_ - start >= 3 && eat('>');
    }
    auto start = pos_;
    while (pos_ < s_.size()
           && ((s_[pos_] >= 'A' && s_[pos_] <= 'Z')
               || (s_[pos_] >= 'a' && s_[pos_] <= 'z')))
      ++pos_;
    return pos_ - start >= 3;
  }

  bool number(unsigned max_digits, int64_t& out) {
    auto start = pos_;
    out = 0;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9'
           && pos_ - start < max_digits)
      out = out * 10 + (s_[pos_++] - '0');
    return pos_ > start;
  }

  // [+-]hh[:mm[:ss]], hours up to 167 (rule times may exceed 24 h).
  bool duration(int64_t& out) {
    int64_t sign = 1;
    if (eat('-'))
      sign = -1;
    else
      eat('+');
    int64_t h = 0, m = 0, sec = 0;
    if (!number(3, h) || h > 167)
      return false;
    if (eat(':') && (!number(2, m) || m > 59))
      return false;
    if (eat(':') && (!number(2, sec) || sec > 59))
      return false;
    out = sign * (h * 3600 + m * 60 + sec);
    return true;
  }

  bool when(posix_rule::when& w) {
    int64_t a = 0, b = 0, c = 0;
    if (eat('M')) {
      if (!number(2, a) || !eat('.') || !number(1, b) || !eat('.')
          || !number(1, c) || a < 1 || a > 12 || b < 1 || b > 5 || c > 6)
        return false;
      w.kind = posix_rule::when::month_week_day;
      w.month = static_cast<unsigned>(a);
      w.week = static_cast<unsigned>(b);
      w.weekday = static_cast<unsigned>(c);
    } else if (eat('J')) {
      if (!number(3, a) || a < 1 || a > 365)
        return false;
      w.kind = posix_rule::when::julian_no_leap;
      w.day = static_cast<unsigned>(a);
    } else {
      if (!number(3, a) || a > 365)
        return false;
      w.kind = posix_rule::when::julian;
      w.day = static_cast<unsigned>(a);
    }
    w.time_s = 7200;
    if (eat('/'))
      return duration(w.time_s);
    return true;
  }

private:
  std::string_view s_;
  std::size_t pos_ = 0;
};

bool is_leap(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

unsigned month_days(int64_t y, unsigned m) {
  static constexpr unsigned days[] = {31, 28, 31, 30, 31, 30,
                                      31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

// Local seconds (since the epoch, as if UTC) at which `w` happens in year y.
int64_t local_instant(const posix_rule::when& w, int64_t y) {
  int64_t day = 0;
  switch (w.kind) {
  case posix_rule::when::month_week_day: {
    int64_t first = days_from_civil(y, w.month, 1);
    // 1970-01-01 was a Thursday (4); weekdays count from Sunday (0).
    auto first_wd = static_cast<unsigned>(((first % 7) + 7 + 4) % 7);
    unsigned d = 1 + (w.weekday + 7 - first_wd) % 7 + 7 * (w.week - 1);
    while (d > month_days(y, w.month))
      d -= 7;
    day = first + d - 1;
    break;
  }
  case posix_rule::when::julian_no_leap:
    // Day 60 is always March 1.
    day = days_from_civil(y, 1, 1) + w.day - 1
          + (is_leap(y) && w.day >= 60 ? 1 : 0);
    break;
  case posix_rule::when::julian: day = days_from_civil(y, 1, 1) + w.day; break;
  }
  return day * 86400 + w.time_s;
}

// The footer of a TZif version 2+ file: the POSIX TZ string on its last line.
std::optional<std::string> read_footer(const std::string& name) {
  if (name.empty() || name.find("..") != std::string::npos || name[0] == '/')
    return std::nullopt;
  const char* dir = std::getenv("TZDIR");
  std::string path =
      std::string{dir != nullptr && *dir != '\0' ? dir : "/usr/share/zoneinfo"}
      + "/" + name;
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return std::nullopt;
  std::string bytes{std::istreambuf_iterator<char>{in},
                    std::istreambuf_iterator<char>{}};
  if (bytes.size() < 6 || bytes.compare(0, 4, "TZif") != 0 || bytes[4] < '2'
      || bytes.back() != '\n')
    return std::nullopt;
  auto start = bytes.rfind('\n', bytes.size() - 2);
  if (start == std::string::npos)
    return std::nullopt;
  return bytes.substr(start + 1, bytes.size() - start - 2);
}

} // namespace

std::optional<posix_rule> posix_rule::parse(std::string_view text) {
  rule_parser p{text};
  posix_rule r;
  int64_t west = 0;
  if (!p.name() || !p.duration(west))
    return std::nullopt;
  r.std_offset = -west;
  if (p.done())
    return r;
  if (!p.name())
    return std::nullopt;
  r.has_dst = true;
  r.dst_offset = r.std_offset + 3600;
  if (!p.at(',') && !p.done()) {
    if (!p.duration(west))
      return std::nullopt;
    r.dst_offset = -west;
  }
  if (p.done()) {
    // No rule: the US rule POSIX implementations assume.
    r.start = {posix_rule::when::month_week_day, 3, 2, 0, 0, 7200};
    r.end = {posix_rule::when::month_week_day, 11, 1, 0, 0, 7200};
    return r;
  }
  if (!p.eat(',') || !p.when(r.start) || !p.eat(',') || !p.when(r.end)
      || !p.done())
    return std::nullopt;
  return r;
}

zone_period period_of(const posix_rule& rule, int64_t at_s) {
  if (!rule.has_dst)
    return {far_past, far_future, rule.std_offset};
  // The transitions of the years around at_s: DST starts at its local time
  // in standard time and ends at its local time in DST.
  struct change {
    int64_t at;
    int64_t offset_after;
  };
  change changes[6];
  int n = 0;
  const int64_t year =
      civil_from_days(floor_div(at_s + rule.std_offset, 86400)).year;
  for (int64_t y = year - 1; y <= year + 1; ++y) {
    changes[n++] = {local_instant(rule.start, y) - rule.std_offset,
                    rule.dst_offset};
    changes[n++] = {local_instant(rule.end, y) - rule.dst_offset,
                    rule.std_offset};
  }
  // Six items: an insertion sort (std::sort here trips GCC 12's
  // -Warray-bounds on its unrolled threshold).
  for (int i = 1; i < n; ++i)
    for (int j = i; j > 0 && changes[j].at < changes[j - 1].at; --j)
      std::swap(changes[j], changes[j - 1]);
  zone_period p{far_past, far_future, 0};
  int last = -1;
  for (int i = 0; i < n; ++i)
    if (changes[i].at <= at_s)
      last = i;
  if (last >= 0) {
    p.begin = changes[last].at;
    p.offset = changes[last].offset_after;
  } else {
    p.offset = changes[0].offset_after == rule.dst_offset ? rule.std_offset
                                                          : rule.dst_offset;
  }
  if (last + 1 < n)
    p.end = changes[last + 1].at;
  return p;
}

const zone* zone::locate(const std::string& name) {
  static std::mutex mtx;
  static std::map<std::string, std::unique_ptr<zone>> zones;
  std::lock_guard<std::mutex> guard{mtx};
  if (auto i = zones.find(name); i != zones.end())
    return i->second.get();
  const date::time_zone* tz = nullptr;
  try {
    tz = date::locate_zone(name);
  } catch (const std::exception&) {
    return nullptr;
  }
  std::unique_ptr<zone> z{new zone};
  z->name_ = name;
  z->tz_ = tz;
  // date reports the period after the last listed transition as lasting
  // forever; from its start on, the footer's rule takes over (it agrees
  // with that last transition, which the zone compiler derived from it).
  auto last =
      tz->get_info(date::sys_seconds{std::chrono::seconds{far_future / 2}});
  if (auto footer = read_footer(name))
    if (auto rule = posix_rule::parse(*footer); rule && rule->has_dst) {
      z->rule_ = *rule;
      z->rule_from_ = last.begin.time_since_epoch().count();
    }
  return zones.emplace(name, std::move(z)).first->second.get();
}

zone_period zone::at(int64_t at_s) const {
  if (rule_ && at_s >= rule_from_) {
    auto p = period_of(*rule_, at_s);
    p.begin = std::max(p.begin, rule_from_);
    return p;
  }
  auto info = tz_->get_info(date::sys_seconds{std::chrono::seconds{at_s}});
  zone_period p{info.begin.time_since_epoch().count(),
                info.end.time_since_epoch().count(), info.offset.count()};
  if (rule_)
    p.end = std::min(p.end, rule_from_);
  return p;
}

int64_t zone::from_local(int64_t local_s) const {
  // Offsets are within a day of UTC: walk the periods that cover a day on
  // either side and take the earliest instant whose period shows local_s.
  auto p = at(local_s - 2 * 86400);
  std::optional<zone_period> prev;
  while (p.begin <= local_s + 2 * 86400) {
    const int64_t utc = local_s - p.offset;
    if (utc >= p.begin && utc < p.end)
      return utc;
    // A gap: local times from the transition at the old offset up to it at
    // the new one never happen; they map to the transition.
    if (prev && prev->offset < p.offset && local_s >= p.begin + prev->offset
        && local_s < p.begin + p.offset)
      return p.begin;
    if (p.end >= far_future)
      break;
    prev = p;
    p = at(p.end);
  }
  return local_s - p.offset;
}

} // namespace rouse::cron
