// Parsers for the scalar values a config holds: durations, sizes, names, listen
// addresses and secret references. Each is usable on its own (the API and CLI
// validate the same values); the loader in config.hpp adds file and line.
#pragma once

#include <caf/expected.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace rouse::config {

/// The longest duration any config field accepts: 36500 days (100 years), so
/// every duration fits in nanoseconds and can be added to a clock's now().
inline constexpr std::chrono::milliseconds max_duration{36500LL * 86400 * 1000};

/// Returns `names` as a list for an error message: "a, b or c".
std::string one_of(std::span<const std::string_view> names);

/// Returns the duration written as `<digits><unit>` with unit one of
/// `ms|s|m|h|d` (e.g. "200ms", "90s", "24h", "1d"); bare digits are seconds.
/// Negative, fractional, empty or unit-less garbage ("5x", "-1s", "") and
/// values above `max_duration` are `errc::invalid_config`.
caf::expected<std::chrono::milliseconds> parse_duration(std::string_view text);

/// Returns the number written in `text` ("0.5", "100", "2e3") if it is finite,
/// greater than 0 and at most 1e15; otherwise nullopt. Used for costs.
std::optional<double> parse_positive_number(std::string_view text);

/// Returns the byte count written as `<digits><unit>` with unit one of
/// `B|KB|KiB|MB|MiB|GB|GiB` (KB = 1000, KiB = 1024); bare digits are bytes.
/// Units are case-sensitive. Garbage and values past 2^64-1 are
/// `errc::invalid_config`.
caf::expected<uint64_t> parse_size(std::string_view text);

/// Returns the value a secret reference points to: `env:NAME` is the
/// environment variable NAME (unset or empty is an error naming it);
/// `file:PATH` is the file's contents without trailing newlines (PATH relative
/// to `base_dir`; unreadable, empty or over 64 KiB is an error). Anything else
/// is rejected without echoing it, since it may be an inline secret.
caf::expected<std::string> resolve_secret(std::string_view spec,
                                          const std::string& base_dir);

/// Returns `text` in double quotes for a diagnostic, cut to 64 characters so a
/// stray paste of a large value does not flood the output.
std::string quote(std::string_view text);

/// Returns true if `name` is a valid source, trigger or node name:
/// 1 to 64 characters from `[A-Za-z0-9_.-]`.
bool is_valid_name(std::string_view name) noexcept;

/// A parsed `host:port`. IPv6 hosts are stored without brackets.
struct listen_address {
  std::string host;
  uint16_t port = 0;
};

/// Returns the address in `text`: `IPv4:port`, `[IPv6]:port` or
/// `localhost:port`, with port 0..65535 (0 lets the OS pick). Host names other
/// than localhost are rejected, since the listener binds to an address.
caf::expected<listen_address> parse_listen(std::string_view text);

/// Returns true if `host` (as stored by parse_listen) is a loopback address:
/// 127.0.0.0/8, ::1 or localhost.
bool is_loopback(std::string_view host) noexcept;

/// Returns `path` resolved against `base_dir`: absolute paths and an empty
/// `base_dir` leave it as written; the result is lexically normalized.
std::string resolve_path(const std::string& base_dir, std::string_view path);

/// Returns the contents of the file at `path`, or an error naming the path
/// and reason if it cannot be read, is a directory or exceeds `max_bytes`.
caf::expected<std::string> read_text_file(const std::string& path,
                                          uint64_t max_bytes);

} // namespace rouse::config
