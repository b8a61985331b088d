// Implements the scalar parsers of parse.hpp without exceptions: every failure
// becomes an errc::invalid_config error whose text names the offending value.
#include "runtime/config/parse.hpp"

#include "messages/errc.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <system_error>

namespace rouse::config {

namespace {

constexpr uint64_t max_secret_bytes = 64 * 1024;

bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

size_t count_digits(std::string_view text) noexcept {
  size_t n = 0;
  while (n < text.size() && is_digit(text[n]))
    ++n;
  return n;
}

/// Parses the leading `digits` characters of `text`; fails on overflow.
bool parse_digits(std::string_view text, size_t digits, uint64_t& out) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + digits, out);
  return ec == std::errc{} && ptr == text.data() + digits;
}

caf::error config_error(std::string what) {
  return make_error(errc::invalid_config, std::move(what));
}

std::string listen_hint() {
  return " (use host:port, e.g. 127.0.0.1:7700, [::1]:7700 or 0.0.0.0:7700)";
}

} // namespace

std::string quote(std::string_view text) {
  constexpr size_t max_len = 64;
  std::string out = "\"";
  out.append(text.substr(0, max_len));
  if (text.size() > max_len)
    out += "...";
  out += '"';
  return out;
}

caf::expected<std::chrono::milliseconds> parse_duration(std::string_view text) {
  auto invalid = [&] {
    return config_error("invalid duration " + quote(text)
                        + " (use e.g. 200ms, 5s, 15m, 1h, 1d)");
  };
  auto digits = count_digits(text);
  if (digits == 0)
    return invalid();
  auto unit = text.substr(digits);
  int64_t factor_ms = 0;
  if (unit.empty() || unit == "s")
    factor_ms = 1000;
  else if (unit == "ms")
    factor_ms = 1;
  else if (unit == "m")
    factor_ms = 60 * 1000;
  else if (unit == "h")
    factor_ms = 3600 * 1000;
  else if (unit == "d")
    factor_ms = 86400 * 1000;
  else
    return invalid();
  uint64_t value = 0;
  auto limit = static_cast<uint64_t>(max_duration.count() / factor_ms);
  if (!parse_digits(text, digits, value) || value > limit)
    return config_error("duration " + quote(text)
                        + " is too large (at most 36500d)");
  return std::chrono::milliseconds{static_cast<int64_t>(value) * factor_ms};
}

std::optional<double> parse_positive_number(std::string_view text) {
  // strtod wants a terminated string; costs are short.
  if (text.empty() || text.size() > 64 || std::isspace(uint8_t(text[0])))
    return std::nullopt;
  std::string copy{text};
  char* end = nullptr;
  double x = std::strtod(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size() || !std::isfinite(x) || !(x > 0)
      || x > 1e15)
    return std::nullopt;
  return x;
}

std::string one_of(std::span<const std::string_view> names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0)
      out += i + 1 == names.size() ? " or " : ", ";
    out += names[i];
  }
  return out;
}

caf::expected<uint64_t> parse_size(std::string_view text) {
  auto digits = count_digits(text);
  auto unit = text.substr(digits);
  uint64_t factor = 0;
  if (unit.empty() || unit == "B")
    factor = 1;
  else if (unit == "KB")
    factor = 1000;
  else if (unit == "KiB")
    factor = 1024;
  else if (unit == "MB")
    factor = 1000 * 1000;
  else if (unit == "MiB")
    factor = 1024 * 1024;
  else if (unit == "GB")
    factor = 1000 * 1000 * 1000;
  else if (unit == "GiB")
    factor = 1024 * 1024 * 1024;
  if (digits == 0 || factor == 0)
    return config_error("invalid size " + quote(text)
                        + " (use e.g. 512KiB, 1MiB, 1GB; KB = 1000 bytes, "
                          "KiB = 1024 bytes)");
  uint64_t value = 0;
  if (!parse_digits(text, digits, value)
      || value > std::numeric_limits<uint64_t>::max() / factor)
    return config_error("size " + quote(text) + " is too large");
  return value * factor;
}

caf::expected<std::string> resolve_secret(std::string_view spec,
                                          const std::string& base_dir) {
  if (spec.starts_with("env:")) {
    std::string name{spec.substr(4)};
    if (name.empty())
      return config_error("env: secret needs a variable name (env:NAME)");
    const char* value = std::getenv(name.c_str());
    if (value == nullptr)
      return config_error("environment variable " + name + " is not set");
    if (*value == '\0')
      return config_error("environment variable " + name + " is empty");
    return std::string{value};
  }
  if (spec.starts_with("file:")) {
    auto rel = spec.substr(5);
    if (rel.empty())
      return config_error("file: secret needs a path (file:PATH)");
    auto path = resolve_path(base_dir, rel);
    auto text = read_text_file(path, max_secret_bytes);
    if (!text)
      return config_error("secret file: " + describe(text.error()));
    while (!text->empty() && (text->back() == '\n' || text->back() == '\r'))
      text->pop_back();
    if (text->empty())
      return config_error("secret file " + quote(path) + " is empty");
    return std::move(*text);
  }
  return config_error("secrets are never inline: use env:NAME or file:PATH");
}

bool is_valid_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > 64)
    return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c)
              || c == '_' || c == '.' || c == '-';
    if (!ok)
      return false;
  }
  return true;
}

caf::expected<listen_address> parse_listen(std::string_view text) {
  auto invalid = [&](std::string_view why) {
    return config_error("invalid listen address " + quote(text) + ": "
                        + std::string{why} + listen_hint());
  };
  listen_address result;
  std::string_view port_text;
  if (text.starts_with("[")) {
    auto close = text.find(']');
    if (close == std::string_view::npos)
      return invalid("missing ']' after the IPv6 address");
    result.host = std::string{text.substr(1, close - 1)};
    auto rest = text.substr(close + 1);
    if (!rest.starts_with(":"))
      return invalid("missing ':port'");
    port_text = rest.substr(1);
    in6_addr addr6{};
    if (inet_pton(AF_INET6, result.host.c_str(), &addr6) != 1)
      return invalid("not an IPv6 address");
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos)
      return invalid("missing ':port'");
    result.host = std::string{text.substr(0, colon)};
    port_text = text.substr(colon + 1);
    if (result.host.find(':') != std::string::npos)
      return invalid("put IPv6 addresses in brackets");
    in_addr addr4{};
    if (result.host != "localhost"
        && inet_pton(AF_INET, result.host.c_str(), &addr4) != 1)
      return invalid("host must be an IPv4 address, [IPv6] or localhost");
  }
  uint64_t port = 0;
  auto digits = count_digits(port_text);
  if (digits == 0 || digits != port_text.size()
      || !parse_digits(port_text, digits, port) || port > 65535)
    return invalid("port must be a number from 0 to 65535");
  result.port = static_cast<uint16_t>(port);
  return result;
}

bool is_loopback(std::string_view host) noexcept {
  if (host == "localhost")
    return true;
  // inet_pton needs a NUL-terminated string; hosts longer than any address
  // are not addresses at all.
  char buf[INET6_ADDRSTRLEN + 1] = {};
  if (host.size() >= sizeof(buf))
    return false;
  std::memcpy(buf, host.data(), host.size());
  in_addr addr4{};
  if (inet_pton(AF_INET, buf, &addr4) == 1)
    return (ntohl(addr4.s_addr) >> 24) == 127;
  in6_addr addr6{};
  if (inet_pton(AF_INET6, buf, &addr6) == 1)
    return std::memcmp(&addr6, &in6addr_loopback, sizeof(addr6)) == 0;
  return false;
}

std::string resolve_path(const std::string& base_dir, std::string_view path) {
  std::filesystem::path p{path};
  if (p.is_absolute() || base_dir.empty())
    return p.lexically_normal().string();
  return (std::filesystem::path{base_dir} / p).lexically_normal().string();
}

caf::expected<std::string> read_text_file(const std::string& path,
                                          uint64_t max_bytes) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    return config_error("cannot read " + quote(path) + ": is a directory");
  errno = 0;
  std::ifstream in{path, std::ios::binary};
  if (!in) {
    auto reason =
        errno != 0 ? std::error_code{errno, std::generic_category()}.message()
                   : std::string{"cannot open"};
    return config_error("cannot read " + quote(path) + ": " + reason);
  }
  std::string out;
  char buf[4096];
  while (in.read(buf, sizeof(buf)) || in.gcount() > 0) {
    out.append(buf, static_cast<size_t>(in.gcount()));
    if (out.size() > max_bytes)
      return config_error(quote(path) + " is larger than "
                          + std::to_string(max_bytes) + " bytes");
  }
  if (in.bad())
    return config_error("cannot read " + quote(path) + ": I/O error");
  return out;
}

} // namespace rouse::config
