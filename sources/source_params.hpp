// Reading a source's parameters (the YAML under its key, kept by the config
// loader): every source kind reports problems the same way, as
// `file:line:1: sources.<name>.<key>: <reason>` at the line of the top-level
// parameter the key is under.
#pragma once

#include "runtime/config/config.hpp"

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rouse::sources {

/// Collects the problems of one source's parameters into `errors`.
struct param_reader {
  const config::config& cfg;
  const config::source_config& src;
  std::vector<config::diagnostic>& errors;

  /// Records `message` for `key` (a dotted path such as "dst.repeated"; empty
  /// for the source as a whole).
  void error(std::string_view key, const std::string& message);

  /// Returns the scalar `n`, or records "expected a string" for `key`.
  std::optional<std::string> scalar(const YAML::Node& n, std::string_view key);

  /// Returns the duration `n` ("5m", "90s"), or records why it is not one.
  std::optional<std::chrono::nanoseconds> duration(const YAML::Node& n,
                                                   std::string_view key);
};

} // namespace rouse::sources
