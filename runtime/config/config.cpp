// The loader's public entry points (config.hpp): load_file and load_string,
// which run the YAML loader of loader.hpp, and diagnostic::to_string.
#include "runtime/config/config.hpp"

#include "messages/errc.hpp"
#include "runtime/config/loader.hpp"

#include <filesystem>
#include <system_error>

namespace rouse::config {

namespace {

/// Config files larger than this are rejected before parsing.
constexpr uint64_t max_config_bytes = 4 * 1024 * 1024;

} // namespace

std::string diagnostic::to_string() const {
  if (line <= 0)
    return file + ": " + message;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": "
         + message;
}

load_result load_file(const std::string& path) {
  auto text = read_text_file(path, max_config_bytes);
  if (!text) {
    load_result result;
    result.errors.push_back(diagnostic{path, 0, 0, describe(text.error())});
    return result;
  }
  std::error_code ec;
  auto absolute = std::filesystem::absolute(path, ec);
  auto base_dir = ec ? std::filesystem::path{path}.parent_path()
                     : absolute.lexically_normal().parent_path();
  return load_string(*text, path, base_dir.string());
}

load_result load_string(const std::string& text, const std::string& file_name,
                        const std::string& base_dir) {
  return detail::loader{file_name, base_dir}.run(text);
}

} // namespace rouse::config
