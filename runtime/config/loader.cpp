// The loader's frame: runs the walk of one YAML document (catching yaml-cpp's
// exceptions), dispatches the top-level sections, reads maps with their key
// checks and records diagnostics. The sections are in the load_*.cpp files.
#include "runtime/config/loader.hpp"

#include <algorithm>
#include <unordered_map>

namespace rouse::config::detail {

namespace {

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min(
          {row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string unknown_key_message(std::string_view key, key_list allowed) {
  std::string_view best;
  size_t best_distance = 3;
  for (auto candidate : allowed) {
    auto d = edit_distance(key, candidate);
    if (d < best_distance) {
      best = candidate;
      best_distance = d;
    }
  }
  if (!best.empty())
    return "unknown key (did you mean " + quote(best) + "?)";
  std::string out = "unknown key (expected one of: ";
  bool first = true;
  for (auto candidate : allowed) {
    if (!first)
      out += ", ";
    out += candidate;
    first = false;
  }
  return out + ")";
}

} // namespace

YAML::Mark value_mark(const field& f) {
  if (f.node.IsScalar() && !f.node.Mark().is_null())
    return f.node.Mark();
  return f.key_mark;
}

std::string join(const std::string& path, std::string_view key) {
  if (path.empty())
    return std::string{key};
  return path + "." + std::string{key};
}

std::string describe_type(const YAML::Node& node) {
  switch (node.Type()) {
  case YAML::NodeType::Null: return "an empty value";
  case YAML::NodeType::Scalar: return "the scalar " + quote(node.Scalar());
  case YAML::NodeType::Sequence: return "a list";
  case YAML::NodeType::Map: return "a map";
  case YAML::NodeType::Undefined: break;
  }
  return "nothing";
}

const field* find(const std::vector<entry>& entries, std::string_view key) {
  for (const auto& e : entries)
    if (e.key == key)
      return &e.value;
  return nullptr;
}

loader::loader(std::string file, std::string base_dir)
    : file_(std::move(file)), base_dir_(std::move(base_dir)) {}

load_result loader::run(const std::string& text) {
  try {
    walk(text);
  } catch (const YAML::Exception& e) {
    error(e.mark, "", "YAML error: " + e.msg);
  } catch (const std::exception& e) {
    error(YAML::Mark::null_mark(), "", std::string{"cannot load: "} + e.what());
  }
  load_result result;
  std::stable_sort(
      errors_.begin(), errors_.end(),
      [](const diagnostic& a, const diagnostic& b) {
        return std::pair{a.line, a.column} < std::pair{b.line, b.column};
      });
  result.errors = std::move(errors_);
  if (result.errors.empty())
    result.cfg = std::move(cfg_);
  return result;
}

void loader::walk(const std::string& text) {
  cfg_.file = file_;
  cfg_.base_dir = base_dir_;
  cfg_.node.data_dir = resolve_path(base_dir_, "./.rouse");
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    error(e.mark, "", "YAML syntax error: " + e.msg);
    return;
  }
  if (docs.size() > 1)
    error(docs[1].Mark(), "",
          "more than one YAML document; a config is one document");
  if (docs.empty() || docs[0].IsNull())
    return;
  field root{docs[0], "", YAML::Mark{}};
  if (!root.node.IsMap()) {
    error(root.key_mark, "",
          "expected a map with node, sources and triggers, got "
              + describe_type(root.node));
    return;
  }
  auto top = read_map(root, {"node", "sources", "triggers"});
  if (auto f = find(top, "node"))
    load_node(*f);
  if (auto f = find(top, "sources"))
    load_sources(*f);
  if (auto f = find(top, "triggers"))
    load_triggers(*f);
}

// --- maps -----------------------------------------------------------------

bool loader::expect_map(const field& f, std::string_view what) {
  if (f.node.IsMap())
    return true;
  error(value_mark(f), f.path,
        "expected " + std::string{what} + ", got " + describe_type(f.node));
  return false;
}

std::vector<entry> loader::read_map(const field& f, key_list allowed,
                                    bool any_key) {
  std::vector<entry> result;
  std::unordered_map<std::string, int> first_line;
  // Copies on purpose: the iterator's operator-> returns a proxy, so a
  // reference to it->first dangles at the end of the statement.
  for (auto kv : f.node) {
    YAML::Node key = kv.first;
    YAML::Mark key_mark = key.Mark().is_null() ? f.key_mark : key.Mark();
    if (!key.IsScalar()) {
      error(key_mark, f.path,
            "keys must be strings, got " + describe_type(key));
      continue;
    }
    std::string name = key.Scalar();
    auto path = join(f.path, name);
    auto [pos, inserted] = first_line.emplace(name, key_mark.line + 1);
    if (!inserted) {
      error(key_mark, path,
            "duplicate key (first at line " + std::to_string(pos->second)
                + ")");
      continue;
    }
    if (!any_key
        && std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      error(key_mark, path, unknown_key_message(name, allowed));
      continue;
    }
    result.push_back(entry{name, field{kv.second, path, key_mark}});
  }
  return result;
}

std::vector<entry> loader::read_named_map(const field& f) {
  auto entries = read_map(f, {}, true);
  std::erase_if(entries, [this](const entry& e) {
    if (is_valid_name(e.key))
      return false;
    error(e.value.key_mark, e.value.path, invalid_name_message(e.key));
    return true;
  });
  return entries;
}

std::string loader::invalid_name_message(std::string_view name) {
  return "invalid name " + quote(name)
         + " (use 1 to 64 letters, digits, '_', '.' or '-')";
}

bool loader::missing(const field& f, std::string_view key,
                     std::string_view hint) {
  error(f.key_mark, f.path,
        "missing required key " + quote(key) + " (" + std::string{hint} + ")");
  return false;
}

// --- diagnostics ----------------------------------------------------------

void loader::error(const YAML::Mark& mark, const std::string& path,
                   std::string message) {
  diagnostic d;
  d.file = file_;
  if (!mark.is_null() && mark.line >= 0) {
    d.line = mark.line + 1;
    d.column = mark.column + 1;
  }
  d.message = path.empty() ? std::move(message) : path + ": " + message;
  errors_.push_back(std::move(d));
}

} // namespace rouse::config::detail
