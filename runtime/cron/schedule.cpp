// Maps the local wall times a cron expression matches to instants, one
// period of constant UTC offset at a time, applying the skipped/repeated
// hour policies at the transitions between periods.
#include "runtime/cron/schedule.hpp"

#include "runtime/cron/zone.hpp"

#include <algorithm>
#include <limits>

namespace rouse::cron {

namespace {

constexpr int64_t ns_per_s = 1000000000;

} // namespace

std::variant<schedule, std::string> schedule::parse(std::string_view expr,
                                                    const options& opts) {
  schedule out;
  out.zone_ = zone::locate(opts.timezone);
  if (out.zone_ == nullptr)
    return "unknown time zone \"" + opts.timezone + "\"";
  auto compiled = compile_expr(expr);
  if (auto* reason = std::get_if<std::string>(&compiled))
    return *reason;
  out.expr_ = std::get<compiled_expr>(compiled);
  out.text_ = std::string(expr);
  out.opts_ = opts;
  return out;
}

std::optional<int64_t> schedule::next(int64_t after_ns) const {
  if (is_interval()) {
    // Multiples of the interval since the epoch: stable across restarts and
    // independent of the zone.
    int64_t n = expr_.every.count();
    int64_t k = floor_div(after_ns, n) + 1;
    int64_t at = 0;
    if (__builtin_mul_overflow(k, n, &at))
      return std::nullopt;
    return at;
  }
  auto at_s = next_field_match(floor_div(after_ns, ns_per_s) + 1);
  if (!at_s || *at_s > std::numeric_limits<int64_t>::max() / ns_per_s)
    return std::nullopt;
  return *at_s * ns_per_s;
}

// Walks the zone's periods of constant offset from `from_s` (an instant, UTC
// seconds). Inside a period local time maps one-to-one to instants; only the
// period's first instant (a spring-forward gap just before it) and local
// times the previous period already covered (a fall-back overlap) need a
// policy.
std::optional<int64_t> schedule::next_field_match(int64_t from_s) const {
  const auto& f = expr_.fields;
  const bool every_hour = f.every_hour();
  const bool shift = opts_.skipped == skipped_hour::shift && !every_hour;
  const bool once = opts_.repeated == repeated_hour::once && !every_hour;
  const int64_t limit = from_s + search_window_s;
  int64_t t = from_s;
  while (t < limit) {
    const auto info = zone_->at(t);
    const int64_t off = info.offset;
    const int64_t begin = info.begin;
    const int64_t end = std::min(info.end, limit);
    const int64_t prev_off = zone_->at(begin - 1).offset;
    // Nonexistent local times [begin + prev_off, begin + off) fire at begin.
    if (t == begin && shift && prev_off < off
        && f.find(begin + prev_off, begin + off))
      return begin;
    int64_t local = t + off;
    // Local times before begin + prev_off also occurred in the previous
    // period; with `once` they fired there.
    if (once && prev_off > off)
      local = std::max(local, begin + prev_off);
    if (auto match = f.find(local, end + off))
      return *match - off;
    t = end;
  }
  return std::nullopt;
}

std::string schedule::format(int64_t at_ns) const {
  return format_iso8601(at_ns, *zone_);
}

} // namespace rouse::cron
