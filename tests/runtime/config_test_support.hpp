// Helpers shared by the config_test sources: loading YAML from a string,
// dumping diagnostics, checking a single error, a temporary directory with a
// file writer, and a scoped environment variable.
#pragma once

#include "messages/errc.hpp"
#include "runtime/config/config.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>

namespace rouse::config_test {

/// Returns the result of loading `yaml` as "rouse.yaml" from `base`.
inline rouse::config::load_result load(const std::string& yaml,
                                       const std::string& base = "/base") {
  return rouse::config::load_string(yaml, "rouse.yaml", base);
}

/// Returns all diagnostics, one per line, for failure messages.
inline std::string dump(const rouse::config::load_result& r) {
  std::string out;
  for (const auto& d : r.errors)
    out += d.to_string() + "\n";
  return out;
}

/// Checks that a JSON trigger with the extra `members` (e.g. `"rate": {}`) is
/// rejected as invalid input and returns the error's message.
inline std::string json_trigger_error(const std::string& members) {
  auto t = rouse::config::parse_trigger_json(
      R"({"name": "t", "on": {}, "run": {"exec": ["a"]}, )" + members + "}",
      "/base");
  REQUIRE_FALSE(t);
  CHECK(rouse::is(t.error(), rouse::errc::invalid_input));
  return rouse::describe(t.error());
}

/// A trigger that is valid on its own, for embedding in error cases.
inline constexpr const char* valid_trigger = "  t:\n"
                                             "    on: {type: x}\n"
                                             "    run: {exec: [a]}\n";

/// Checks that `yaml` yields exactly one error, at `line`, whose message
/// starts with `message`.
inline void check_one_error(const std::string& yaml, int line,
                            const std::string& message) {
  auto r = load(yaml);
  INFO("yaml:\n" << yaml << "diagnostics:\n" << dump(r));
  REQUIRE(r.errors.size() == 1);
  CHECK_FALSE(r.cfg.has_value());
  CHECK_FALSE(r.ok());
  CHECK(r.errors[0].file == "rouse.yaml");
  CHECK(r.errors[0].line == line);
  CHECK(r.errors[0].column >= 1);
  CHECK_THAT(r.errors[0].message, Catch::Matchers::StartsWith(message));
}

/// A rouse::test::temp_dir seen as a std::filesystem::path, with a helper
/// that writes files into it.
struct temp_dir {
  rouse::test::temp_dir owner;
  std::filesystem::path path{owner.path()};

  /// Writes `text` to the file `name` in the directory; returns its path.
  std::string write(const std::string& name, const std::string& text) const {
    auto file = path / name;
    std::ofstream{file, std::ios::binary} << text;
    return file.string();
  }
};

/// Sets an environment variable for the scope.
struct scoped_env {
  std::string name;

  scoped_env(std::string n, const char* value) : name(std::move(n)) {
    ::setenv(name.c_str(), value, 1);
  }

  ~scoped_env() { ::unsetenv(name.c_str()); }
};

} // namespace rouse::config_test
