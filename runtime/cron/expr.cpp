// Parses cron expressions into field bitsets and finds matching local times
// by skipping whole months, days, hours and minutes that cannot match.
#include "runtime/cron/expr.hpp"

#include <array>
#include <bit>
#include <cctype>
#include <limits>
#include <vector>

namespace rouse::cron {

namespace {

struct field_spec {
  const char* name;
  int min;
  int max;
  /// Three-letter names for values min, min+1, ... (month and day of week).
  const char* const* names;
  int name_count;
  /// Accepts `?` as `*` (day of month, day of week).
  bool question;
};

constexpr const char* month_names[] = {"jan", "feb", "mar", "apr",
                                       "may", "jun", "jul", "aug",
                                       "sep", "oct", "nov", "dec"};
constexpr const char* day_names[] = {"sun", "mon", "tue", "wed",
                                     "thu", "fri", "sat"};

constexpr field_spec second_spec{"second", 0, 59, nullptr, 0, false};
constexpr field_spec minute_spec{"minute", 0, 59, nullptr, 0, false};
constexpr field_spec hour_spec{"hour", 0, 23, nullptr, 0, false};
constexpr field_spec dom_spec{"day-of-month", 1, 31, nullptr, 0, true};
constexpr field_spec month_spec{"month", 1, 12, month_names, 12, false};
constexpr field_spec dow_spec{"day-of-week", 0, 7, day_names, 7, true};

std::string quoted(std::string_view s) {
  std::string out = "\"";
  out.append(s);
  out += '"';
  return out;
}

std::string lower(std::string_view s) {
  std::string out;
  for (char c : s)
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

/// One value of a field, and whether it was written as the name SUN.
struct value_token {
  int value = 0;
  bool is_sunday_name = false;
};

/// Reads a number or name at `pos` of `elem`; returns a reason on failure.
std::variant<value_token, std::string>
read_value(const field_spec& spec, std::string_view elem, size_t& pos) {
  std::string prefix = std::string(spec.name) + " field: ";
  size_t start = pos;
  if (pos < elem.size()
      && std::isdigit(static_cast<unsigned char>(elem[pos]))) {
    int64_t v = 0;
    while (pos < elem.size()
           && std::isdigit(static_cast<unsigned char>(elem[pos]))) {
      if (v < 1000000)
        v = v * 10 + (elem[pos] - '0');
      ++pos;
    }
    if (v < spec.min || v > spec.max)
      return prefix + std::string(elem.substr(start, pos - start))
             + " is out of range " + std::to_string(spec.min) + "-"
             + std::to_string(spec.max);
    return value_token{static_cast<int>(v), false};
  }
  if (pos < elem.size()
      && std::isalpha(static_cast<unsigned char>(elem[pos]))) {
    while (pos < elem.size()
           && std::isalpha(static_cast<unsigned char>(elem[pos])))
      ++pos;
    auto word = elem.substr(start, pos - start);
    if (spec.names == nullptr)
      return prefix + "unexpected " + quoted(word) + " in " + quoted(elem);
    auto name = lower(word);
    for (int i = 0; i < spec.name_count; ++i)
      if (name == spec.names[i])
        return value_token{spec.min + i, spec.names == day_names && i == 0};
    return prefix + "unknown name " + quoted(word) + " in " + quoted(elem);
  }
  if (pos >= elem.size())
    return prefix + "missing value in " + quoted(elem);
  return prefix + "unexpected " + quoted(elem.substr(pos)) + " in "
         + quoted(elem);
}

/// Parses one comma-separated element (`*`, `a`, `a-b`, each with an
/// optional `/step`) into `bits`.
std::optional<std::string>
parse_element(const field_spec& spec, std::string_view elem, uint64_t& bits) {
  std::string prefix = std::string(spec.name) + " field: ";
  if (elem.empty())
    return prefix + "empty list element";
  size_t pos = 0;
  int low = spec.min;
  int high = spec.max;
  bool single = false;
  if (elem[0] == '*' || elem[0] == '?') {
    if (elem[0] == '?' && !spec.question)
      return prefix + "unexpected \"?\" in " + quoted(elem);
    pos = 1;
    if (elem[0] == '?' && elem.size() > 1)
      return prefix + "unexpected " + quoted(elem.substr(1)) + " after \"?\"";
  } else {
    auto first = read_value(spec, elem, pos);
    if (auto* reason = std::get_if<std::string>(&first))
      return *reason;
    low = high = std::get<value_token>(first).value;
    single = true;
    if (pos < elem.size() && elem[pos] == '-') {
      ++pos;
      auto second = read_value(spec, elem, pos);
      if (auto* reason = std::get_if<std::string>(&second))
        return *reason;
      auto tok = std::get<value_token>(second);
      high = tok.value;
      single = false;
      // "FRI-SUN": Sunday as the end of a range means 7.
      if (tok.is_sunday_name && low > 0)
        high = 7;
      if (low > high)
        return prefix + "range " + std::string(elem.substr(0, pos))
               + " is inverted";
    }
  }
  int step = 1;
  if (pos < elem.size() && elem[pos] == '/') {
    ++pos;
    size_t start = pos;
    int64_t v = 0;
    while (pos < elem.size()
           && std::isdigit(static_cast<unsigned char>(elem[pos]))) {
      if (v < 1000000)
        v = v * 10 + (elem[pos] - '0');
      ++pos;
    }
    if (pos == start)
      return prefix + "missing step number after \"/\" in " + quoted(elem);
    // A step beyond the range is allowed (as in Vixie cron): "*/90" in the
    // minute field is minute 0.
    if (v < 1)
      return prefix + "step must be at least 1, got "
             + std::string(elem.substr(start, pos - start));
    step = static_cast<int>(v);
    // "a/n" means "a-max/n".
    if (single)
      high = spec.max;
  }
  if (pos < elem.size())
    return prefix + "unexpected " + quoted(elem.substr(pos)) + " in "
           + quoted(elem);
  for (int v = low; v <= high; v += step)
    bits |= uint64_t{1} << v;
  return std::nullopt;
}

/// Parses a whole field (a comma-separated list) into `bits`.
std::optional<std::string> parse_field(const field_spec& spec,
                                       std::string_view text, uint64_t& bits,
                                       bool& star) {
  bits = 0;
  star = !text.empty() && (text[0] == '*' || text[0] == '?');
  size_t start = 0;
  while (true) {
    size_t comma = text.find(',', start);
    auto elem = text.substr(start, comma == std::string_view::npos
                                       ? std::string_view::npos
                                       : comma - start);
    if (auto reason = parse_element(spec, elem, bits))
      return reason;
    if (comma == std::string_view::npos)
      break;
    start = comma + 1;
  }
  return std::nullopt;
}

std::vector<std::string_view> split_fields(std::string_view expr) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < expr.size()) {
    while (i < expr.size() && std::isspace(static_cast<unsigned char>(expr[i])))
      ++i;
    size_t start = i;
    while (i < expr.size()
           && !std::isspace(static_cast<unsigned char>(expr[i])))
      ++i;
    if (i > start)
      out.push_back(expr.substr(start, i - start));
  }
  return out;
}

/// Returns the lowest set bit of `mask` at or above `from`, or -1.
int next_bit(uint64_t mask, unsigned from) {
  if (from >= 64)
    return -1;
  uint64_t rest = mask >> from;
  if (rest == 0)
    return -1;
  return static_cast<int>(from) + std::countr_zero(rest);
}

} // namespace

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = floor_div(y, 400);
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

civil_date civil_from_days(int64_t z) {
  z += 719468;
  const int64_t era = floor_div(z, 146097);
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400;
  return {y + (m <= 2), m, d};
}

unsigned days_in_month(int64_t y, unsigned m) {
  static constexpr std::array<unsigned, 13> days{0,  31, 28, 31, 30, 31, 30,
                                                 31, 31, 30, 31, 30, 31};
  if (m == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
    return 29;
  return days[m];
}

bool field_set::day_matches(int64_t y, unsigned m, unsigned d) const {
  bool dom = (days >> d) & 1;
  int64_t wd = (days_from_civil(y, m, d) + 4) % 7; // 1970-01-01 was a Thursday
  if (wd < 0)
    wd += 7;
  bool dow = (weekdays >> wd) & 1;
  if (dom_star || dow_star)
    return dom && dow;
  return dom || dow;
}

std::optional<int64_t> field_set::find(int64_t from, int64_t to) const {
  int64_t day = floor_div(from, 86400);
  int64_t sod = from - day * 86400;
  auto date = civil_from_days(day);
  int64_t y = date.year;
  unsigned mo = date.month;
  unsigned d = date.day;
  int h = static_cast<int>(sod / 3600);
  int mi = static_cast<int>(sod / 60 % 60);
  int s = static_cast<int>(sod % 60);
  auto next_day = [&] {
    h = mi = s = 0;
    if (++d > days_in_month(y, mo)) {
      d = 1;
      if (++mo > 12) {
        mo = 1;
        ++y;
      }
    }
  };
  while (true) {
    int64_t at = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
    if (at >= to)
      return std::nullopt;
    if (!((months >> mo) & 1)) {
      int m2 = next_bit(months, mo + 1);
      if (m2 < 0 || m2 > 12) {
        ++y;
        m2 = next_bit(months, 1);
      }
      mo = static_cast<unsigned>(m2);
      d = 1;
      h = mi = s = 0;
      continue;
    }
    if (!day_matches(y, mo, d)) {
      next_day();
      continue;
    }
    int h2 = next_bit(hours, static_cast<unsigned>(h));
    if (h2 < 0) {
      next_day();
      continue;
    }
    if (h2 != h) {
      h = h2;
      mi = s = 0;
    }
    int mi2 = next_bit(minutes, static_cast<unsigned>(mi));
    if (mi2 < 0) {
      mi = s = 0;
      if (++h == 24)
        next_day();
      continue;
    }
    if (mi2 != mi) {
      mi = mi2;
      s = 0;
    }
    int s2 = next_bit(seconds, static_cast<unsigned>(s));
    if (s2 < 0) {
      s = 0;
      if (++mi == 60) {
        mi = 0;
        if (++h == 24)
          next_day();
      }
      continue;
    }
    s = s2;
    at = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
    if (at >= to)
      return std::nullopt;
    return at;
  }
}

std::variant<std::chrono::nanoseconds, std::string>
parse_duration(std::string_view text) {
  auto invalid = [&] {
    return "@every: invalid duration " + quoted(text)
           + " (a sequence of numbers with units h, m, s, ms, us, ns, e.g. "
             "1h30m)";
  };
  if (text.empty())
    return invalid();
  // Integer arithmetic: whole and fractional parts are scaled separately so
  // "1.5h" is exact.
  constexpr int64_t max_ns = std::numeric_limits<int64_t>::max();
  int64_t total = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t start = pos;
    int64_t whole = 0;
    bool overflow = false;
    while (pos < text.size()
           && std::isdigit(static_cast<unsigned char>(text[pos]))) {
      if (whole > (max_ns - 9) / 10)
        overflow = true;
      else
        whole = whole * 10 + (text[pos] - '0');
      ++pos;
    }
    int64_t frac = 0;
    int64_t frac_scale = 1;
    if (pos < text.size() && text[pos] == '.') {
      ++pos;
      while (pos < text.size()
             && std::isdigit(static_cast<unsigned char>(text[pos]))) {
        // Six fractional digits at most count: frac * unit_ns stays below
        // 2^63 for every unit.
        if (frac_scale < 1000000) {
          frac = frac * 10 + (text[pos] - '0');
          frac_scale *= 10;
        }
        ++pos;
      }
    }
    if (pos == start || (pos == start + 1 && text[start] == '.'))
      return invalid();
    size_t unit_start = pos;
    while (pos < text.size()
           && !std::isdigit(static_cast<unsigned char>(text[pos]))
           && text[pos] != '.')
      ++pos;
    auto unit = text.substr(unit_start, pos - unit_start);
    int64_t unit_ns = 0;
    if (unit == "h")
      unit_ns = 3600000000000;
    else if (unit == "m")
      unit_ns = 60000000000;
    else if (unit == "s")
      unit_ns = 1000000000;
    else if (unit == "ms")
      unit_ns = 1000000;
    else if (unit == "us" || unit == "\xc2\xb5s" || unit == "\xce\xbcs")
      unit_ns = 1000;
    else if (unit == "ns")
      unit_ns = 1;
    else
      return invalid();
    int64_t part = 0;
    if (overflow || __builtin_mul_overflow(whole, unit_ns, &part)
        || __builtin_add_overflow(total, part, &total))
      return "@every: duration " + quoted(text) + " is too large";
    int64_t frac_ns = frac * unit_ns / frac_scale;
    if (__builtin_add_overflow(total, frac_ns, &total))
      return "@every: duration " + quoted(text) + " is too large";
  }
  return std::chrono::nanoseconds{total};
}

std::variant<compiled_expr, std::string> compile_expr(std::string_view expr) {
  auto fields = split_fields(expr);
  if (fields.empty())
    return std::string("empty expression");
  compiled_expr out;
  if (fields[0][0] == '@') {
    auto name = lower(fields[0]);
    if (name == "@every") {
      if (fields.size() < 2)
        return std::string("@every: missing duration, e.g. @every 1h30m");
      if (fields.size() > 2)
        return "@every: unexpected " + quoted(fields[2])
               + " after the duration";
      auto d = parse_duration(fields[1]);
      if (auto* reason = std::get_if<std::string>(&d))
        return *reason;
      auto ns = std::get<std::chrono::nanoseconds>(d);
      if (ns < std::chrono::seconds{1})
        return "@every " + std::string(fields[1])
               + ": interval must be at least 1s";
      out.every = ns;
      return out;
    }
    static constexpr std::pair<const char*, const char*> macros[] = {
        {"@yearly", "0 0 1 1 *"},  {"@annually", "0 0 1 1 *"},
        {"@monthly", "0 0 1 * *"}, {"@weekly", "0 0 * * 0"},
        {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
        {"@hourly", "0 * * * *"},
    };
    for (auto& [macro, expansion] : macros) {
      if (name != macro)
        continue;
      if (fields.size() > 1)
        return std::string(fields[0]) + " takes no fields, got "
               + quoted(fields[1]);
      return compile_expr(expansion);
    }
    return "unknown macro " + quoted(fields[0])
           + " (use @yearly, @annually, @monthly, @weekly, @daily, "
             "@midnight, @hourly or @every)";
  }
  if (fields.size() != 5 && fields.size() != 6)
    return "expected 5 fields (minute hour day-of-month month day-of-week) or "
           "6 (second first), got "
           + std::to_string(fields.size());
  size_t i = 0;
  bool star = false;
  auto& f = out.fields;
  if (fields.size() == 6) {
    if (auto reason = parse_field(second_spec, fields[i++], f.seconds, star))
      return *reason;
  }
  uint64_t bits = 0;
  if (auto reason = parse_field(minute_spec, fields[i++], f.minutes, star))
    return *reason;
  if (auto reason = parse_field(hour_spec, fields[i++], bits, star))
    return *reason;
  f.hours = static_cast<uint32_t>(bits);
  if (auto reason = parse_field(dom_spec, fields[i++], bits, f.dom_star))
    return *reason;
  f.days = static_cast<uint32_t>(bits);
  if (auto reason = parse_field(month_spec, fields[i++], bits, star))
    return *reason;
  f.months = static_cast<uint16_t>(bits);
  if (auto reason = parse_field(dow_spec, fields[i++], bits, f.dow_star))
    return *reason;
  if (bits & (uint64_t{1} << 7))
    bits = (bits | 1) & 0x7f;
  f.weekdays = static_cast<uint8_t>(bits);
  return out;
}

} // namespace rouse::cron
