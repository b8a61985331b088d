// ISO 8601 text for instants: parsing (with or without offset) and
// formatting as local time with offset in a zone.
#include "runtime/cron/schedule.hpp"

#include "runtime/cron/zone.hpp"

#include <cctype>
#include <cstdio>

namespace rouse::cron {

namespace {

constexpr int64_t ns_per_s = 1000000000;

/// Reads exactly `digits` decimal digits at `pos`.
bool read_digits(std::string_view s, size_t& pos, int digits, int& out) {
  if (pos + static_cast<size_t>(digits) > s.size())
    return false;
  out = 0;
  for (int i = 0; i < digits; ++i) {
    char c = s[pos + static_cast<size_t>(i)];
    if (!std::isdigit(static_cast<unsigned char>(c)))
      return false;
    out = out * 10 + (c - '0');
  }
  pos += static_cast<size_t>(digits);
  return true;
}

bool read_char(std::string_view s, size_t& pos, char c) {
  if (pos < s.size() && s[pos] == c) {
    ++pos;
    return true;
  }
  return false;
}

} // namespace

std::optional<int64_t> parse_iso8601(std::string_view text,
                                     const std::string& zone) {
  size_t pos = 0;
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  int64_t frac_ns = 0;
  if (!read_digits(text, pos, 4, year) || !read_char(text, pos, '-')
      || !read_digits(text, pos, 2, month) || !read_char(text, pos, '-')
      || !read_digits(text, pos, 2, day))
    return std::nullopt;
  if (month < 1 || month > 12 || day < 1
      || static_cast<unsigned>(day) > days_in_month(year, month))
    return std::nullopt;
  if (pos < text.size()) {
    char sep = text[pos++];
    if (sep != 'T' && sep != 't' && sep != ' ')
      return std::nullopt;
    if (!read_digits(text, pos, 2, hour) || !read_char(text, pos, ':')
        || !read_digits(text, pos, 2, minute))
      return std::nullopt;
    if (read_char(text, pos, ':')) {
      if (!read_digits(text, pos, 2, second))
        return std::nullopt;
      if (read_char(text, pos, '.') || read_char(text, pos, ',')) {
        int64_t scale = ns_per_s;
        size_t start = pos;
        while (pos < text.size()
               && std::isdigit(static_cast<unsigned char>(text[pos]))) {
          if (pos - start == 9)
            return std::nullopt;
          scale /= 10;
          frac_ns += (text[pos] - '0') * scale;
          ++pos;
        }
        if (pos == start)
          return std::nullopt;
      }
    }
    if (hour > 23 || minute > 59 || second > 59)
      return std::nullopt;
  }
  int64_t local_s = days_from_civil(year, static_cast<unsigned>(month),
                                    static_cast<unsigned>(day))
                        * 86400
                    + hour * 3600 + minute * 60 + second;
  if (pos == text.size()) {
    const auto* z = zone::locate(zone);
    if (z == nullptr)
      return std::nullopt;
    return z->from_local(local_s) * ns_per_s + frac_ns;
  }
  int64_t offset_s = 0;
  if (text[pos] == 'Z' || text[pos] == 'z') {
    ++pos;
  } else if (text[pos] == '+' || text[pos] == '-') {
    int sign = text[pos++] == '-' ? -1 : 1;
    int oh = 0, om = 0;
    if (!read_digits(text, pos, 2, oh))
      return std::nullopt;
    if (pos < text.size()) {
      read_char(text, pos, ':');
      if (!read_digits(text, pos, 2, om))
        return std::nullopt;
    }
    if (oh > 23 || om > 59)
      return std::nullopt;
    offset_s = sign * (oh * 3600 + om * 60);
  } else {
    return std::nullopt;
  }
  if (pos != text.size())
    return std::nullopt;
  return (local_s - offset_s) * ns_per_s + frac_ns;
}

std::string format_iso8601(int64_t at_ns, const zone& z) {
  int64_t at_s = floor_div(at_ns, ns_per_s);
  int64_t frac = at_ns - at_s * ns_per_s;
  int64_t off = z.at(at_s).offset;
  int64_t local = at_s + off;
  int64_t day = floor_div(local, 86400);
  int64_t sod = local - day * 86400;
  auto c = civil_from_days(day);
  char buf[64];
  int n = std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02d:%02d:%02d",
                        static_cast<long long>(c.year), c.month, c.day,
                        static_cast<int>(sod / 3600),
                        static_cast<int>(sod / 60 % 60),
                        static_cast<int>(sod % 60));
  std::string out(buf, static_cast<size_t>(n));
  if (frac != 0) {
    std::snprintf(buf, sizeof buf, ".%09lld", static_cast<long long>(frac));
    std::string digits(buf);
    while (digits.back() == '0')
      digits.pop_back();
    out += digits;
  }
  char sign = off < 0 ? '-' : '+';
  int64_t a = off < 0 ? -off : off;
  if (a % 60 != 0)
    n = std::snprintf(buf, sizeof buf, "%c%02d:%02d:%02d", sign,
                      static_cast<int>(a / 3600), static_cast<int>(a / 60 % 60),
                      static_cast<int>(a % 60));
  else
    n = std::snprintf(buf, sizeof buf, "%c%02d:%02d", sign,
                      static_cast<int>(a / 3600),
                      static_cast<int>(a / 60 % 60));
  out.append(buf, static_cast<size_t>(n));
  return out;
}

} // namespace rouse::cron
