// Cron schedules: parses cron expressions (5 or 6 fields, macros, @every) and
// computes fire times in an IANA time zone with a stated policy for local
// times that a DST change skips or repeats (docs/cron.md). Actor-free; the
// cron source actor is a timer around schedule::next().
#pragma once

#include "runtime/cron/expr.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace rouse::cron {

class zone;

/// What a schedule does with a local time that occurs twice (the hour a
/// fall-back repeats).
enum class repeated_hour {
  /// Fires only at the first occurrence (the one before the change).
  once,
  /// Fires at both occurrences.
  twice,
};

/// What a schedule does with a local time that does not exist (the hour a
/// spring-forward skips).
enum class skipped_hour {
  /// Fires once at the first instant after the gap; every matching local time
  /// of one gap collapses into that one fire.
  shift,
  /// Does not fire them.
  skip,
};

/// How a schedule maps its fields to instants. Schedules whose hour field
/// matches every hour ignore both policies: skipped times never fire and
/// repeated times fire twice (docs/cron.md, "every-hour schedules").
struct options {
  /// IANA zone whose local wall time the fields match, e.g. "Europe/Berlin".
  /// Default "UTC" (no DST, both policies are moot). An unknown zone is a
  /// parse error.
  std::string timezone = "UTC";
  /// Local times a fall-back repeats. Default once: a daily job runs once a
  /// day; twice suits jobs that must run at every occurrence of a wall time.
  repeated_hour repeated = repeated_hour::once;
  /// Local times a spring-forward skips. Default shift: a daily 02:30 job
  /// still runs that day, at 03:00; skip drops it for that day.
  skipped_hour skipped = skipped_hour::shift;
};

/// A compiled cron expression bound to a time zone. Immutable after parse;
/// every member is const, so concurrent next() calls from several threads
/// are safe. Cheap to copy: field bitsets, a zone pointer into the process's
/// tz database (lives until exit) and the expression text.
class schedule {
public:
  /// Returns the schedule for `expr` in `opts.timezone`, or a one-line reason
  /// naming the bad field or token, e.g. "minute field: 61 is out of range
  /// 0-59" or "unknown time zone \"Europe/Berln\"".
  static std::variant<schedule, std::string> parse(std::string_view expr,
                                                   const options& opts = {});

  /// Returns the first fire time strictly after `after_ns` (UTC nanoseconds
  /// since the Unix epoch), or nothing if there is none within 10 years
  /// (e.g. "0 0 30 2 *"). Fire times of field schedules are whole seconds.
  std::optional<int64_t> next(int64_t after_ns) const;

  /// Returns `at_ns` as local time in the schedule's zone, ISO 8601 with the
  /// offset, e.g. "2026-03-29T03:00:00+02:00" ("+00:00" for UTC); fractional
  /// seconds only if non-zero.
  std::string format(int64_t at_ns) const;

  /// Returns the expression as given to parse().
  const std::string& text() const { return text_; }

  /// Returns the options given to parse().
  const options& opts() const { return opts_; }

  /// Returns true for `@every <duration>` schedules.
  bool is_interval() const { return expr_.every.count() > 0; }

  /// Returns the interval of an `@every` schedule (zero for others).
  std::chrono::nanoseconds interval() const { return expr_.every; }

private:
  schedule() = default;

  std::optional<int64_t> next_field_match(int64_t after_s) const;

  std::string text_;
  options opts_;
  compiled_expr expr_;
  const zone* zone_ = nullptr;
};

/// How far schedule::next() looks ahead, in seconds (10 years): far enough
/// for February 29 across 2100, short enough to answer in microseconds.
inline constexpr int64_t search_window_s = int64_t{3653} * 86400;

/// Returns the UTC nanoseconds since the Unix epoch of an ISO 8601 time:
/// "2026-03-29T01:30:00+01:00", "2026-03-29T01:30:00Z",
/// "2026-03-29T01:30:00.5Z"; a time without offset ("2026-03-29T01:30:00",
/// also "2026-03-29T01:30" and "2026-03-29") is local time in `zone` (a
/// repeated time means its first occurrence, a skipped one the instant after
/// the gap). Returns nothing if `text` is malformed or `zone` unknown.
std::optional<int64_t> parse_iso8601(std::string_view text,
                                     const std::string& zone = "UTC");

/// Returns `at_ns` as ISO 8601 local time with offset in `zone`, as
/// schedule::format() does.
std::string format_iso8601(int64_t at_ns, const zone& z);

} // namespace rouse::cron
