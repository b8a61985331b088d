// Loads `sources:`: each source's name and kind, with its other keys kept as
// YAML text for the source kind to validate.
#include "runtime/config/loader.hpp"

namespace rouse::config::detail {

void loader::load_sources(const field& f) {
  if (f.node.IsNull())
    return;
  if (!expect_map(f, "a map of source name to source"))
    return;
  for (auto& [name, value] : read_named_map(f)) {
    source_config src;
    src.name = name;
    src.line = value.key_mark.line + 1;
    if (!expect_map(value, "a map with a kind"))
      continue;
    auto m = read_map(value, {}, true);
    auto kind = find(m, "kind");
    if (!kind) {
      error(value.key_mark, value.path, "missing required key \"kind\"");
      continue;
    }
    if (auto s = get_nonempty_string(*kind))
      src.kind = std::move(*s);
    else
      continue;
    YAML::Emitter out;
    out << YAML::BeginMap;
    for (const auto& e : m)
      if (e.key != "kind") {
        out << YAML::Key << e.key << YAML::Value << e.value.node;
        src.param_lines.emplace_back(e.key, e.value.key_mark.line + 1);
      }
    out << YAML::EndMap;
    if (!out.good()) {
      error(value.key_mark, value.path,
            "cannot keep parameters: " + out.GetLastError());
      continue;
    }
    src.params_yaml = out.c_str();
    cfg_.sources.push_back(std::move(src));
  }
}

} // namespace rouse::config::detail
