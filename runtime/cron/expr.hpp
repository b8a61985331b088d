// The zone-free half of a cron schedule: parses an expression into field
// bitsets (or an @every interval) and finds the next matching local wall
// time. schedule.hpp maps local times to instants.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace rouse::cron {

/// The values each field matches, one bit per value. Invariant: every field
/// has at least one bit; weekdays uses bits 0-6 (Sunday = 0, a 7 in the
/// expression sets bit 0).
struct field_set {
  uint64_t seconds = 1;  ///< bits 0-59
  uint64_t minutes = 0;  ///< bits 0-59
  uint32_t hours = 0;    ///< bits 0-23
  uint32_t days = 0;     ///< bits 1-31 (day of month)
  uint16_t months = 0;   ///< bits 1-12
  uint8_t weekdays = 0;  ///< bits 0-6
  bool dom_star = false; ///< day-of-month field starts with `*` or `?`
  bool dow_star = false; ///< day-of-week field starts with `*` or `?`

  /// Returns true if the hour field matches all 24 hours (`*`, `*/1`,
  /// `0-23`): such schedules measure elapsed time and ignore DST policies.
  bool every_hour() const { return hours == (uint32_t{1} << 24) - 1; }

  /// Returns true if the day matches: with both day fields restricted
  /// (neither starts with `*`), either may match (Vixie cron); otherwise
  /// both must.
  bool day_matches(int64_t y, unsigned m, unsigned d) const;

  /// Returns the first local time (seconds since 1970-01-01T00:00:00 local)
  /// in [from, to) whose fields all match, or nothing.
  std::optional<int64_t> find(int64_t from, int64_t to) const;
};

/// A parsed expression: field bitsets, or an @every interval.
struct compiled_expr {
  field_set fields;
  /// The @every interval; zero for field schedules.
  std::chrono::nanoseconds every{0};
};

/// Returns the compiled `expr`, or a one-line reason naming the bad field
/// and token.
std::variant<compiled_expr, std::string> compile_expr(std::string_view expr);

/// Returns a Go-like duration ("90s", "1h30m", "1.5h") in nanoseconds, or a
/// reason.
std::variant<std::chrono::nanoseconds, std::string>
parse_duration(std::string_view text);

/// Calendar helpers on proleptic Gregorian dates (days since 1970-01-01).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d);
struct civil_date {
  int64_t year;
  unsigned month, day;
};
civil_date civil_from_days(int64_t days);
unsigned days_in_month(int64_t y, unsigned m);
/// Returns the floor of a / b for b > 0.
inline int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

} // namespace rouse::cron
