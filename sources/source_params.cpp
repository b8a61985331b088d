// Source parameter diagnostics shared by every source kind.
#include "sources/source_params.hpp"

#include "messages/errc.hpp"
#include "runtime/config/parse.hpp"

namespace rouse::sources {

void param_reader::error(std::string_view key, const std::string& message) {
  int line = src.line;
  auto top = key.substr(0, key.find('.'));
  for (const auto& [k, l] : src.param_lines)
    if (k == top)
      line = l;
  config::diagnostic d;
  d.file = cfg.file;
  d.line = line;
  d.column = 1;
  d.message = "sources." + src.name
              + (key.empty() ? std::string{} : "." + std::string{key}) + ": "
              + message;
  errors.push_back(std::move(d));
}

std::optional<std::string> param_reader::scalar(const YAML::Node& n,
                                                std::string_view key) {
  if (n.IsScalar())
    return n.Scalar();
  error(key, "expected a string");
  return std::nullopt;
}

std::optional<std::chrono::nanoseconds>
param_reader::duration(const YAML::Node& n, std::string_view key) {
  auto s = scalar(n, key);
  if (!s)
    return std::nullopt;
  auto d = config::parse_duration(*s);
  if (!d) {
    error(key, describe(d.error()));
    return std::nullopt;
  }
  return std::chrono::duration_cast<std::chrono::nanoseconds>(*d);
}

} // namespace rouse::sources
