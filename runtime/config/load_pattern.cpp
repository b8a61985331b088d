// Loads a trigger's `on:` event pattern: converts the YAML map to the JSON
// the pattern compiler reads and reports its errors at the key in the file.
#include "runtime/config/loader.hpp"

#include "messages/errc.hpp"
#include "runtime/json/writer.hpp"
#include "runtime/pattern/pattern.hpp"

namespace rouse::config::detail {

namespace {

bool is_json_number(std::string_view s) {
  size_t i = 0;
  auto digits = [&] {
    size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9')
      ++i;
    return i > start;
  };
  if (i < s.size() && s[i] == '-')
    ++i;
  if (i < s.size() && s[i] == '0')
    ++i;
  else if (!digits())
    return false;
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!digits())
      return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-'))
      ++i;
    if (!digits())
      return false;
  }
  return i == s.size();
}

/// Writes a scalar as JSON: a quoted scalar is a string; a plain one is
/// null, true, false or a number when it is spelled like one in JSON (or
/// YAML's `~`, `True`, `FALSE` ...), else a string.
void scalar(const YAML::Node& node, std::string& out) {
  const auto& s = node.Scalar();
  if (node.Tag() != "!") {
    if (s == "~" || s == "null" || s == "Null" || s == "NULL") {
      out += "null";
      return;
    }
    if (s == "true" || s == "True" || s == "TRUE") {
      out += "true";
      return;
    }
    if (s == "false" || s == "False" || s == "FALSE") {
      out += "false";
      return;
    }
    if (is_json_number(s)) {
      out += s;
      return;
    }
  }
  json::append_quoted(out, s);
}

/// Writes `node` as JSON; keys of maps are taken as strings.
void literal(const YAML::Node& node, std::string& out) {
  switch (node.Type()) {
  case YAML::NodeType::Map: {
    out += '{';
    bool first = true;
    for (auto kv : node) {
      if (!first)
        out += ',';
      first = false;
      json::append_quoted(out, kv.first.IsScalar() ? kv.first.Scalar() : "");
      out += ':';
      literal(kv.second, out);
    }
    out += '}';
    return;
  }
  case YAML::NodeType::Sequence: {
    out += '[';
    for (size_t i = 0; i < node.size(); ++i) {
      if (i > 0)
        out += ',';
      literal(node[i], out);
    }
    out += ']';
    return;
  }
  case YAML::NodeType::Scalar: scalar(node, out); return;
  case YAML::NodeType::Null:
  case YAML::NodeType::Undefined: out += "null"; return;
  }
}

} // namespace

bool loader::load_on(const field& f, trigger_config& trg) {
  if (!expect_map(f, "an event pattern, e.g. on: {type: [demo.hello]}"))
    return false;
  auto errors_before = errors_.size();
  std::vector<std::pair<std::string, YAML::Mark>> marks;
  std::string json;
  pattern_object(f, json, marks);
  if (errors_.size() != errors_before)
    return false;
  auto compiled = pattern::compile(json, f.path);
  if (!compiled) {
    // The compiler names the JSON path of the problem; report it at the
    // deepest key of the file on that path.
    auto text = describe(compiled.error());
    auto path = text.substr(0, text.find(": "));
    YAML::Mark mark = f.key_mark;
    size_t best = 0;
    for (const auto& [p, m] : marks)
      if (p.size() > best && path.compare(0, p.size(), p) == 0
          && (path.size() == p.size() || path[p.size()] == '.'
              || path[p.size()] == '[')) {
        best = p.size();
        mark = m;
      }
    error(mark, "", std::move(text));
    return false;
  }
  trg.on = std::move(json);
  trg.pattern = std::make_shared<const pattern::pattern>(std::move(*compiled));
  return true;
}

void loader::pattern_object(
    const field& f, std::string& out,
    std::vector<std::pair<std::string, YAML::Mark>>& marks) {
  out += '{';
  bool first = true;
  for (auto& e : read_map(f, {}, true)) {
    if (!first)
      out += ',';
    first = false;
    json::append_quoted(out, e.key);
    out += ':';
    marks.emplace_back(e.value.path, e.value.key_mark);
    const auto& v = e.value.node;
    if (e.key == "$or" && v.IsSequence()) {
      out += '[';
      for (size_t i = 0; i < v.size(); ++i) {
        if (i > 0)
          out += ',';
        field alt{v[i], e.value.path + "[" + std::to_string(i) + "]",
                  v[i].Mark().is_null() ? e.value.key_mark : v[i].Mark()};
        marks.emplace_back(alt.path, alt.key_mark);
        if (v[i].IsMap())
          pattern_object(alt, out, marks);
        else
          literal(v[i], out);
      }
      out += ']';
    } else if (v.IsMap()) {
      pattern_object(e.value, out, marks);
    } else if (v.IsScalar()) {
      out += '[';
      scalar(v, out);
      out += ']';
    } else {
      literal(v, out);
    }
  }
  out += '}';
}

} // namespace rouse::config::detail
