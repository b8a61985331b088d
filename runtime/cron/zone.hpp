// An IANA time zone for cron: the periods of constant UTC offset from the tz
// database (Howard Hinnant's date library), continued past the zone file's
// last listed transition with the POSIX TZ rule in the file's footer (e.g.
// "CET-1CEST,M3.5.0,M10.5.0/3"). date 3.0.1 ignores that footer, so without
// it every zone keeps its last offset forever after 2037.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace date {
class time_zone;
} // namespace date

namespace rouse::cron {

/// A POSIX TZ rule ("std offset [dst [offset] [,start[/time],end[/time]]]").
/// Offsets here are seconds east of UTC (POSIX writes them west: "CET-1" is
/// +3600).
struct posix_rule {
  /// When DST starts or ends: month/week/weekday (`Mm.w.d`), a day of the
  /// year 1..365 never counting February 29 (`Jn`), or 0..365 counting it
  /// (`n`); at `time_s` local time (may be negative or past 24 h).
  struct when {
    enum kind_t : uint8_t {
      month_week_day,
      julian_no_leap,
      julian
    } kind = month_week_day;
    unsigned month = 0, week = 0, weekday = 0; // Mm.w.d
    unsigned day = 0;                          // Jn or n
    int64_t time_s = 7200;
  };
  int64_t std_offset = 0;
  bool has_dst = false;
  int64_t dst_offset = 0;
  when start, end;

  /// Parses a footer such as "EST5EDT,M3.2.0,M11.1.0"; nothing if malformed.
  static std::optional<posix_rule> parse(std::string_view text);
};

/// A period of constant offset: [begin, end) in UTC seconds.
struct zone_period {
  int64_t begin = 0;
  int64_t end = 0;
  int64_t offset = 0; // seconds east of UTC
};

/// The period of `rule` containing `at_s` (UTC seconds).
zone_period period_of(const posix_rule& rule, int64_t at_s);

/// A time zone by IANA name. Immutable; shared by every schedule of the zone.
class zone {
public:
  /// The zone named `name`, or null if the tz database has none. Zones are
  /// loaded once per process and live as long as it.
  static const zone* locate(const std::string& name);

  /// The period of constant offset containing `at_s` (UTC seconds).
  zone_period at(int64_t at_s) const;

  /// The UTC seconds of local time `local_s`: a repeated local time maps to
  /// its first occurrence, a skipped one to the instant the gap ends.
  int64_t from_local(int64_t local_s) const;

  const std::string& name() const noexcept { return name_; }

private:
  zone() = default;

  std::string name_;
  const date::time_zone* tz_ = nullptr;
  /// From this instant on (the zone file's last transition), rule_ decides.
  std::optional<posix_rule> rule_;
  int64_t rule_from_ = 0;
};

} // namespace rouse::cron
