// Loads a config from YAML: walks the yaml-cpp tree once, checks every key
// against the schema and collects every problem as a diagnostic. yaml-cpp's
// exceptions are caught here and never leave this file.
#include "runtime/config/config.hpp"

#include "messages/errc.hpp"
#include "runtime/json/writer.hpp"
#include "runtime/pattern/pattern.hpp"
#include "runtime/template/template.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <initializer_list>
#include <limits>
#include <string_view>
#include <unordered_map>

namespace rouse::config {

namespace {

/// Config files larger than this are rejected before parsing.
constexpr uint64_t max_config_bytes = 4 * 1024 * 1024;

using key_list = std::initializer_list<std::string_view>;

/// A value in the tree, its dotted path, and where its key is: yaml-cpp marks
/// an empty value at the start of the next line and a block collection at its
/// first child, so problems with a whole value are reported at its key.
struct field {
  YAML::Node node;
  std::string path;
  YAML::Mark key_mark;
};

/// One key of a map, in file order.
struct entry {
  std::string key;
  field value;
};

/// Returns where to report a problem with the value of `f`.
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

/// Returns how a value of the wrong type is named in messages.
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

const field* find(const std::vector<entry>& entries, std::string_view key) {
  for (const auto& e : entries)
    if (e.key == key)
      return &e.value;
  return nullptr;
}

/// Walks one YAML document and collects diagnostics; one instance per load.
class loader {
public:
  loader(std::string file, std::string base_dir)
      : file_(std::move(file)), base_dir_(std::move(base_dir)) {}

  load_result run(const std::string& text) {
    try {
      walk(text);
    } catch (const YAML::Exception& e) {
      error(e.mark, "", "YAML error: " + e.msg);
    } catch (const std::exception& e) {
      error(YAML::Mark::null_mark(), "",
            std::string{"cannot load: "} + e.what());
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

private:
  void walk(const std::string& text) {
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

  // --- node -----------------------------------------------------------------

  void load_node(const field& f) {
    if (f.node.IsNull())
      return;
    if (!expect_map(f, "a map of node settings"))
      return;
    auto& node = cfg_.node;
    auto m =
        read_map(f, {"name", "data_dir", "listen", "api_token", "shards",
                     "durability", "dedup_window", "map_size", "max_mapped",
                     "max_body", "http_threads", "output_cap", "max_running",
                     "max_depth", "max_queued", "run_events"});
    if (auto v = find(m, "name"))
      if (auto s = get_string(*v)) {
        if (is_valid_name(*s))
          node.name = std::move(*s);
        else
          error(value_mark(*v), v->path, invalid_name_message(*s));
      }
    if (auto v = find(m, "data_dir"))
      if (auto s = get_string(*v))
        node.data_dir = resolve_path(base_dir_, *s);
    bool listen_ok = true;
    if (auto v = find(m, "listen")) {
      listen_ok = false;
      if (auto s = get_string(*v)) {
        if (auto addr = parse_listen(*s)) {
          node.listen_host = std::move(addr->host);
          node.listen_port = addr->port;
          listen_ok = true;
        } else {
          error(value_mark(*v), v->path, describe(addr.error()));
        }
      }
    }
    auto token = find(m, "api_token");
    if (token)
      if (auto s = get_secret(*token))
        node.api_token = std::move(*s);
    if (listen_ok && !token && !is_loopback(node.listen_host)) {
      auto listen = find(m, "listen");
      error(value_mark(*listen), join(f.path, "api_token"),
            "required when node.listen host " + quote(node.listen_host)
                + " is not a loopback address (127.0.0.0/8, ::1, localhost); "
                  "set api_token: env:NAME or file:PATH");
    }
    if (auto v = find(m, "shards"))
      if (auto n = get_uint(*v, 1, 64))
        node.shards = static_cast<uint32_t>(*n);
    if (auto v = find(m, "durability"))
      if (auto s = get_string(*v)) {
        if (*s == "fsync")
          node.durability = durability_mode::fsync;
        else if (*s == "os")
          node.durability = durability_mode::os;
        else
          error(value_mark(*v), v->path,
                "expected fsync or os, got " + quote(*s));
      }
    if (auto v = find(m, "dedup_window"))
      if (auto d = get_duration(*v)) {
        if (d->count() % 1000 == 0)
          node.dedup_window =
              std::chrono::duration_cast<std::chrono::seconds>(*d);
        else
          error(value_mark(*v), v->path,
                "must be a whole number of seconds, got "
                    + quote(v->node.Scalar()));
      }
    if (auto v = find(m, "map_size"))
      if (auto n = get_size(*v, 1024 * 1024, "1MiB"))
        node.map_size_bytes = *n;
    if (auto v = find(m, "max_mapped"))
      if (auto n = get_size(*v, 0, "0B"))
        node.max_mapped_bytes = *n;
    if (auto v = find(m, "max_body"))
      if (auto n = get_size(*v, 1, "1B"))
        node.max_body_bytes = *n;
    if (auto v = find(m, "http_threads"))
      if (auto n = get_uint(*v, 1, 16))
        node.http_threads = static_cast<uint32_t>(*n);
    if (auto v = find(m, "output_cap"))
      if (auto n = get_size(*v, 0, "0B"))
        node.output_cap_bytes = *n;
    if (auto v = find(m, "max_running"))
      if (auto n = get_uint(*v, 1, 256))
        node.max_running = static_cast<uint32_t>(*n);
    if (auto v = find(m, "max_depth"))
      if (auto n = get_uint(*v, 1, 1000))
        node.max_depth = static_cast<uint32_t>(*n);
    if (auto v = find(m, "run_events")) {
      bool b = false;
      if (v->node.IsScalar() && v->node.Scalar() == "auto")
        node.run_events = node_config::run_events_mode::automatic;
      else if (v->node.IsScalar() && YAML::convert<bool>::decode(v->node, b))
        node.run_events = b ? node_config::run_events_mode::always
                            : node_config::run_events_mode::never;
      else
        error(value_mark(*v), v->path,
              "expected auto, true or false, got " + describe_type(v->node));
    }
    if (auto v = find(m, "max_queued"))
      if (auto n = get_uint(*v, 1, 10'000'000))
        node.max_queued = static_cast<uint32_t>(*n);
  }

  // --- sources --------------------------------------------------------------

  void load_sources(const field& f) {
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

  // --- triggers -------------------------------------------------------------

  void load_triggers(const field& f) {
    if (f.node.IsNull())
      return;
    if (!expect_map(f, "a map of trigger name to trigger"))
      return;
    for (auto& [name, value] : read_named_map(f)) {
      trigger_config trg;
      trg.name = name;
      trg.line = value.key_mark.line + 1;
      if (!expect_map(value, "a map with on and run"))
        continue;
      auto m =
          read_map(value, {"on", "run", "concurrency", "rate", "debounce",
                           "batch", "priority", "singleton", "queue", "circuit",
                           "budget", "retry", "enabled", "ignore_self"});
      bool ok = true;
      if (auto on = find(m, "on"))
        ok &= load_on(*on, trg);
      else
        ok = missing(value, "on", "the events to match, e.g. on: {type: x}");
      if (auto run = find(m, "run"))
        ok &= load_run(*run, trg.run);
      else
        ok = missing(value, "run", "what to run, e.g. run: {exec: [cmd]}");
      if (auto v = find(m, "concurrency"))
        ok &= load_concurrency(*v, trg);
      ok &= load_flow(value, m, trg.flow);
      if (auto v = find(m, "retry"))
        ok &= load_retry(*v, trg.retry);
      if (auto v = find(m, "enabled")) {
        if (auto b = get_bool(*v))
          trg.enabled = *b;
        else
          ok = false;
      }
      if (auto v = find(m, "ignore_self")) {
        if (auto b = get_bool(*v))
          trg.ignore_self = *b;
        else
          ok = false;
      }
      if (ok)
        cfg_.triggers.push_back(std::move(trg));
    }
  }

  bool load_on(const field& f, trigger_config& trg) {
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
    trg.pattern =
        std::make_shared<const pattern::pattern>(std::move(*compiled));
    return true;
  }

  /// Writes the pattern object `f` as JSON to `out`. A scalar directly under
  /// a field is shorthand for a one-element list (`type: x` is
  /// `"type": ["x"]`); everything else converts literally. Records the mark
  /// of every field's key under its JSON path.
  void pattern_object(const field& f, std::string& out,
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

  /// Writes `node` as JSON; keys of maps are taken as strings.
  static void literal(const YAML::Node& node, std::string& out) {
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

  /// Writes a scalar as JSON: a quoted scalar is a string; a plain one is
  /// null, true, false or a number when it is spelled like one in JSON (or
  /// YAML's `~`, `True`, `FALSE` ...), else a string.
  static void scalar(const YAML::Node& node, std::string& out) {
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

  static bool is_json_number(std::string_view s) {
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

  bool load_run(const field& f, run_config& run) {
    if (!expect_map(f, "a map with exec or actor"))
      return false;
    auto errors_before = errors_.size();
    auto m =
        read_map(f, {"exec", "actor", "cwd", "env", "timeout", "kill_grace"});
    auto exec = find(m, "exec");
    auto actor = find(m, "actor");
    if (exec && actor)
      error(f.key_mark, f.path, "set exactly one of exec and actor, not both");
    else if (!exec && !actor)
      error(f.key_mark, f.path,
            "missing exec (an argv list) or actor (a registered actor "
            "name); set exactly one");
    if (exec) {
      if (exec->node.IsScalar())
        error(value_mark(*exec), exec->path,
              "expected a list (the argv; no shell is used), e.g. "
              "[./script.sh, arg], got "
                  + describe_type(exec->node));
      else if (auto list = get_string_list(*exec, false))
        run.exec = std::move(*list);
      if (!run.exec.empty() && run.exec.front().empty())
        error(value_mark(*exec), exec->path + "[0]",
              "the program must not be empty");
      for (size_t i = 0; i < run.exec.size(); ++i)
        if (auto t = tmpl::text_template::parse(run.exec[i]); !t)
          error(value_mark(*exec), exec->path + "[" + std::to_string(i) + "]",
                describe(t.error()));
    }
    if (actor)
      if (auto s = get_nonempty_string(*actor))
        run.actor = std::move(*s);
    for (auto key : {"cwd", "env"})
      if (auto v = find(m, key); v && actor && !exec)
        error(v->key_mark, v->path, "applies only to exec, not to actor");
    if (auto v = find(m, "cwd"))
      if (auto s = get_nonempty_string(*v))
        run.cwd = resolve_path(base_dir_, *s);
    if (auto v = find(m, "env"))
      load_env(*v, run);
    if (auto v = find(m, "timeout"))
      if (auto d = get_duration(*v))
        run.timeout = *d;
    if (auto v = find(m, "kill_grace"))
      if (auto d = get_duration(*v))
        run.kill_grace = *d;
    return errors_.size() == errors_before;
  }

  void load_env(const field& f, run_config& run) {
    if (!expect_map(f, "a map of variable name to string"))
      return;
    for (auto& e : read_map(f, {}, true)) {
      if (e.key.empty() || e.key.find('=') != std::string::npos) {
        error(e.value.key_mark, e.value.path,
              "invalid environment variable name " + quote(e.key));
        continue;
      }
      if (auto s = get_string(e.value)) {
        if (auto t = tmpl::text_template::parse(*s); !t)
          error(value_mark(e.value), e.value.path, describe(t.error()));
        run.env.emplace_back(e.key, std::move(*s));
      }
    }
  }

  bool load_retry(const field& f, retry_policy& retry) {
    if (!expect_map(f, "a map with attempts, backoff, max_backoff, jitter"))
      return false;
    auto errors_before = errors_.size();
    auto m = read_map(f, {"attempts", "backoff", "max_backoff", "jitter"});
    if (auto v = find(m, "attempts"))
      if (auto n = get_uint(*v, 1, 100))
        retry.attempts = static_cast<uint32_t>(*n);
    if (auto v = find(m, "backoff"))
      if (auto d = get_duration(*v))
        retry.backoff = *d;
    if (auto v = find(m, "max_backoff"))
      if (auto d = get_duration(*v))
        retry.max_backoff = *d;
    if (auto v = find(m, "jitter"))
      if (auto s = get_scalar(*v, "a number from 0 to 1")) {
        char* end = nullptr;
        double x = std::strtod(s->c_str(), &end);
        if (s->empty() || *end != '\0' || !(x >= 0 && x <= 1))
          error(value_mark(*v), v->path,
                "expected a number from 0 to 1, got " + quote(*s));
        else
          retry.jitter = x;
      }
    return errors_.size() == errors_before;
  }

  bool load_concurrency(const field& f, trigger_config& trg) {
    constexpr uint64_t max = std::numeric_limits<uint32_t>::max();
    if (f.node.IsMap()) {
      auto errors_before = errors_.size();
      auto m = read_map(f, {"limit", "key"});
      auto limit = find(m, "limit");
      std::optional<uint64_t> n;
      if (limit)
        n = get_uint(*limit, 0, max);
      else
        missing(f, "limit", "the number of runs allowed at once");
      if (n)
        trg.concurrency = static_cast<uint32_t>(*n);
      if (auto v = find(m, "key"))
        if (auto s = get_key(*v)) {
          trg.flow.concurrency_key = std::move(*s);
          if (n == 0u)
            error(value_mark(*limit), limit->path,
                  "a key needs a limit of at least 1");
        }
      return errors_.size() == errors_before;
    }
    if (!f.node.IsScalar()) {
      error(value_mark(f), f.path,
            "expected an integer or {limit: N}, got " + describe_type(f.node));
      return false;
    }
    auto n = get_uint(f, 0, max);
    if (n)
      trg.concurrency = static_cast<uint32_t>(*n);
    return n.has_value();
  }

  // --- flow policies --------------------------------------------------------

  /// Loads the flow keys of the trigger map `trg` (entries `m`) into `flow`.
  bool load_flow(const field& trg, const std::vector<entry>& m,
                 flow_policy& flow) {
    bool ok = true;
    if (auto v = find(m, "rate"))
      ok &= load_rate(*v, flow.rate);
    auto debounce = find(m, "debounce");
    if (debounce)
      ok &= load_debounce(*debounce, flow.debounce);
    auto batch = find(m, "batch");
    if (batch)
      ok &= load_batch(*batch, flow.batch);
    if (auto v = find(m, "priority"))
      ok &= load_priority(*v, flow.priority);
    if (auto v = find(m, "singleton"))
      ok &= load_singleton(*v, flow.singleton);
    if (auto v = find(m, "queue"))
      ok &= load_queue(*v, flow.queue);
    if (auto v = find(m, "circuit"))
      ok &= load_circuit(*v, flow.circuit);
    if (auto v = find(m, "budget"))
      ok &= load_budget(*v, flow.budget);
    if (debounce && batch) {
      auto before = [](const YAML::Mark& a, const YAML::Mark& b) {
        return std::pair{a.line, a.column} < std::pair{b.line, b.column};
      };
      const auto& second = before(debounce->key_mark, batch->key_mark)
                               ? batch->key_mark
                               : debounce->key_mark;
      error(second, trg.path, "debounce and batch cannot be combined");
      ok = false;
    }
    return ok;
  }

  bool load_rate(const field& f, flow_policy::rate_policy& rate) {
    if (!expect_map(f, "a map with limit, per, key, mode"))
      return false;
    auto errors_before = errors_.size();
    auto m = read_map(f, {"limit", "per", "key", "mode"});
    if (auto v = find(m, "limit")) {
      if (auto n = get_uint(*v, 1, 1'000'000))
        rate.limit = static_cast<uint32_t>(*n);
    } else {
      missing(f, "limit", "the runs started per `per`, e.g. {limit: 10}");
    }
    if (auto v = find(m, "per"))
      if (auto d = get_positive_duration(*v))
        rate.per = *d;
    if (auto v = find(m, "key"))
      if (auto s = get_key(*v))
        rate.key = std::move(*s);
    if (auto v = find(m, "mode"))
      if (auto i = get_choice(*v, {"delay", "drop"}))
        rate.mode = static_cast<flow_policy::rate_policy::mode_t>(*i);
    return errors_.size() == errors_before;
  }

  bool load_debounce(const field& f, flow_policy::debounce_policy& debounce) {
    if (!expect_map(f, "a map with period, max_wait, key"))
      return false;
    auto errors_before = errors_.size();
    auto m = read_map(f, {"period", "max_wait", "key"});
    if (auto v = find(m, "period")) {
      if (auto d = get_positive_duration(*v))
        debounce.period = *d;
    } else {
      missing(f, "period", "the quiet time that ends a burst, e.g. 5s");
    }
    if (auto v = find(m, "max_wait"))
      if (auto d = get_duration(*v)) {
        if (d->count() != 0 && debounce.period.count() != 0
            && *d < debounce.period)
          error(value_mark(*v), v->path,
                "must be 0 (no cap) or at least the period ("
                    + format_duration(debounce.period) + "), got "
                    + quote(v->node.Scalar()));
        else
          debounce.max_wait = *d;
      }
    if (auto v = find(m, "key"))
      if (auto s = get_key(*v))
        debounce.key = std::move(*s);
    return errors_.size() == errors_before;
  }

  bool load_batch(const field& f, flow_policy::batch_policy& batch) {
    if (!expect_map(f, "a map with max_size, max_wait, key"))
      return false;
    auto errors_before = errors_.size();
    auto m = read_map(f, {"max_size", "max_wait", "key"});
    if (auto v = find(m, "max_size")) {
      if (auto n = get_uint(*v, 1, 10'000))
        batch.max_size = static_cast<uint32_t>(*n);
    } else {
      missing(f, "max_size", "the most events one run receives, e.g. 100");
    }
    if (auto v = find(m, "max_wait")) {
      if (auto d = get_positive_duration(*v))
        batch.max_wait = *d;
    } else {
      missing(f, "max_wait", "how long a batch may wait to fill, e.g. 10s");
    }
    if (auto v = find(m, "key"))
      if (auto s = get_key(*v))
        batch.key = std::move(*s);
    return errors_.size() == errors_before;
  }

  bool load_priority(const field& f, flow_policy::priority_policy& priority) {
    constexpr std::string_view what =
        "an integer, a \"{{path}}\" template or {value, aging}";
    if (f.node.IsScalar())
      return load_priority_value(f, priority.value);
    if (!f.node.IsMap()) {
      error(value_mark(f), f.path,
            "expected " + std::string{what} + ", got " + describe_type(f.node));
      return false;
    }
    if (f.node.size() == 1 && (*f.node.begin()).first.IsMap()) {
      error(value_mark(f), f.path,
            "expected " + std::string{what}
                + ", got a map (quote templates: \"{{...}}\")");
      return false;
    }
    auto errors_before = errors_.size();
    auto m = read_map(f, {"value", "aging"});
    if (auto v = find(m, "value")) {
      if (v->node.IsScalar())
        load_priority_value(*v, priority.value);
      else
        get_scalar(*v, "an integer or a \"{{path}}\" template");
    } else {
      missing(f, "value", "an integer or a \"{{path}}\" template");
    }
    if (auto v = find(m, "aging"))
      if (auto d = get_positive_duration(*v))
        priority.aging = *d;
    return errors_.size() == errors_before;
  }

  /// Stores the scalar `f` in `value` if it is an integer (normalized) or a
  /// template with at least one reference.
  bool load_priority_value(const field& f, std::string& value) {
    const auto& s = f.node.Scalar();
    int64_t n = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (!s.empty() && ec == std::errc{} && ptr == s.data() + s.size()) {
      value = std::to_string(n);
      return true;
    }
    auto t = tmpl::text_template::parse(s);
    if (!t) {
      error(value_mark(f), f.path, describe(t.error()));
      return false;
    }
    if (!t->has_references()) {
      error(value_mark(f), f.path,
            "expected an integer or a \"{{path}}\" template, got " + quote(s));
      return false;
    }
    value = s;
    return true;
  }

  bool load_singleton(const field& f,
                      flow_policy::singleton_policy& singleton) {
    bool b = false;
    if (f.node.IsScalar() && YAML::convert<bool>::decode(f.node, b)) {
      singleton.enabled = b;
      return true;
    }
    if (!f.node.IsMap()) {
      error(value_mark(f), f.path,
            "expected true, false or {key, mode}, got "
                + describe_type(f.node));
      return false;
    }
    auto errors_before = errors_.size();
    singleton.enabled = true;
    auto m = read_map(f, {"key", "mode"});
    if (auto v = find(m, "key"))
      if (auto s = get_key(*v))
        singleton.key = std::move(*s);
    if (auto v = find(m, "mode"))
      if (auto i = get_choice(*v, {"skip", "cancel"}))
        singleton.mode = static_cast<flow_policy::singleton_policy::mode_t>(*i);
    return errors_.size() == errors_before;
  }

  bool load_queue(const field& f, flow_policy::queue_policy& queue) {
    if (!expect_map(f, "a map with max, on_full"))
      return false;
    auto errors_before = errors_.size();
    auto m = read_map(f, {"max", "on_full"});
    if (auto v = find(m, "max")) {
      if (auto n = get_uint(*v, 1, 10'000'000))
        queue.max = static_cast<uint32_t>(*n);
    } else {
      missing(f, "max", "the most runs waiting, e.g. 1000");
    }
    if (auto v = find(m, "on_full"))
      if (auto i = get_choice(*v, {"reject", "drop_oldest", "latest_wins"}))
        queue.on_full = static_cast<flow_policy::queue_policy::on_full_t>(*i);
    return errors_.size() == errors_before;
  }

  bool load_circuit(const field& f, flow_policy::circuit_policy& circuit) {
    if (!expect_map(f, "a map with failures, cool_off, mode"))
      return false;
    auto errors_before = errors_.size();
    auto m = read_map(f, {"failures", "cool_off", "mode"});
    if (auto v = find(m, "failures")) {
      if (auto n = get_uint(*v, 1, 1000))
        circuit.failures = static_cast<uint32_t>(*n);
    } else {
      missing(f, "failures", "consecutive failed runs that open it, e.g. 5");
    }
    if (auto v = find(m, "cool_off"))
      if (auto d = get_positive_duration(*v))
        circuit.cool_off = *d;
    if (auto v = find(m, "mode"))
      if (auto i = get_choice(*v, {"queue", "dlq"}))
        circuit.mode = static_cast<flow_policy::circuit_policy::mode_t>(*i);
    return errors_.size() == errors_before;
  }

  bool load_budget(const field& f, flow_policy::budget_policy& budget) {
    if (!expect_map(f, "a map with runs, cost, per, key"))
      return false;
    auto errors_before = errors_.size();
    auto m = read_map(f, {"runs", "cost", "per", "key"});
    if (auto v = find(m, "runs"))
      if (auto n = get_uint(*v, 1, 1'000'000'000))
        budget.runs = *n;
    if (auto v = find(m, "cost"))
      if (auto s = get_scalar(*v, "a number greater than 0")) {
        auto x = parse_positive_number(*s);
        if (!x)
          error(value_mark(*v), v->path,
                "expected a number greater than 0, got " + quote(*s));
        else
          budget.cost = *x;
      }
    if (!find(m, "runs") && !find(m, "cost"))
      missing(f, "runs",
              "runs and/or cost: what the trigger may spend per window, e.g. "
              "{runs: 100, per: 1d}");
    if (auto v = find(m, "per")) {
      if (auto d = get_positive_duration(*v))
        budget.per = *d;
    } else {
      missing(f, "per", "the window the budget is for, e.g. 1d");
    }
    if (auto v = find(m, "key"))
      if (auto s = get_key(*v))
        budget.key = std::move(*s);
    return errors_.size() == errors_before;
  }

  // --- maps -----------------------------------------------------------------

  bool expect_map(const field& f, std::string_view what) {
    if (f.node.IsMap())
      return true;
    error(value_mark(f), f.path,
          "expected " + std::string{what} + ", got " + describe_type(f.node));
    return false;
  }

  /// Returns the entries of the map `f` in file order, reporting keys that
  /// are not strings, repeated or (unless `any_key`) not in `allowed`; those
  /// entries are left out.
  std::vector<entry> read_map(const field& f, key_list allowed,
                              bool any_key = false) {
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

  /// Returns the entries of a map keyed by source or trigger names,
  /// reporting and leaving out invalid names.
  std::vector<entry> read_named_map(const field& f) {
    auto entries = read_map(f, {}, true);
    std::erase_if(entries, [this](const entry& e) {
      if (is_valid_name(e.key))
        return false;
      error(e.value.key_mark, e.value.path, invalid_name_message(e.key));
      return true;
    });
    return entries;
  }

  static std::string invalid_name_message(std::string_view name) {
    return "invalid name " + quote(name)
           + " (use 1 to 64 letters, digits, '_', '.' or '-')";
  }

  /// Reports that `key` is missing from the map `f`; returns false.
  bool missing(const field& f, std::string_view key, std::string_view hint) {
    error(f.key_mark, f.path,
          "missing required key " + quote(key) + " (" + std::string{hint}
              + ")");
    return false;
  }

  // --- scalars --------------------------------------------------------------

  std::optional<std::string> get_scalar(const field& f, std::string_view what) {
    if (f.node.IsScalar())
      return f.node.Scalar();
    std::string msg =
        "expected " + std::string{what} + ", got " + describe_type(f.node);
    if (f.node.IsMap() && f.node.size() == 1 && (*f.node.begin()).first.IsMap())
      msg += " (quote templates: \"{{...}}\")";
    error(value_mark(f), f.path, std::move(msg));
    return std::nullopt;
  }

  std::optional<std::string> get_string(const field& f) {
    return get_scalar(f, "a string");
  }

  std::optional<std::string> get_nonempty_string(const field& f) {
    auto s = get_scalar(f, "a non-empty string");
    if (s && s->empty()) {
      error(value_mark(f), f.path, "expected a non-empty string");
      return std::nullopt;
    }
    return s;
  }

  std::optional<uint64_t> get_uint(const field& f, uint64_t min, uint64_t max) {
    auto range =
        "an integer from " + std::to_string(min) + " to " + std::to_string(max);
    auto s = get_scalar(f, range);
    if (!s)
      return std::nullopt;
    uint64_t value = 0;
    auto [ptr, ec] = std::from_chars(s->data(), s->data() + s->size(), value);
    if (s->empty() || ec != std::errc{} || ptr != s->data() + s->size()
        || value < min || value > max) {
      error(value_mark(f), f.path, "expected " + range + ", got " + quote(*s));
      return std::nullopt;
    }
    return value;
  }

  std::optional<bool> get_bool(const field& f) {
    bool value = false;
    if (f.node.IsScalar() && YAML::convert<bool>::decode(f.node, value))
      return value;
    error(value_mark(f), f.path,
          "expected true or false, got " + describe_type(f.node));
    return std::nullopt;
  }

  std::optional<std::chrono::milliseconds> get_duration(const field& f) {
    auto s = get_scalar(f, "a duration (e.g. 200ms, 5s, 15m, 1h, 1d)");
    if (!s)
      return std::nullopt;
    auto d = parse_duration(*s);
    if (!d) {
      error(value_mark(f), f.path, describe(d.error()));
      return std::nullopt;
    }
    return *d;
  }

  std::optional<std::chrono::milliseconds>
  get_positive_duration(const field& f) {
    auto d = get_duration(f);
    if (d && d->count() == 0) {
      error(value_mark(f), f.path,
            "must be greater than 0, got " + quote(f.node.Scalar()));
      return std::nullopt;
    }
    return d;
  }

  /// Returns a flow policy's key: a non-empty string that parses as a
  /// template (a constant is one key for every event).
  std::optional<std::string> get_key(const field& f) {
    auto s = get_nonempty_string(f);
    if (!s)
      return std::nullopt;
    if (auto t = tmpl::text_template::parse(*s); !t) {
      error(value_mark(f), f.path, describe(t.error()));
      return std::nullopt;
    }
    return s;
  }

  /// Returns the index of the scalar `f` in `names`.
  std::optional<size_t> get_choice(const field& f, key_list names) {
    std::string expected;
    size_t i = 0;
    for (auto name : names) {
      if (i > 0)
        expected += i + 1 == names.size() ? " or " : ", ";
      expected += name;
      ++i;
    }
    auto s = get_scalar(f, expected);
    if (!s)
      return std::nullopt;
    auto it = std::find(names.begin(), names.end(), *s);
    if (it == names.end()) {
      error(value_mark(f), f.path,
            "expected " + expected + ", got " + quote(*s));
      return std::nullopt;
    }
    return static_cast<size_t>(it - names.begin());
  }

  std::optional<uint64_t> get_size(const field& f, uint64_t min,
                                   std::string_view min_text) {
    auto s = get_scalar(f, "a size (e.g. 64KiB, 1MiB, 1GiB)");
    if (!s)
      return std::nullopt;
    auto n = parse_size(*s);
    if (!n) {
      error(value_mark(f), f.path, describe(n.error()));
      return std::nullopt;
    }
    if (*n < min) {
      error(value_mark(f), f.path,
            "must be at least " + std::string{min_text} + ", got " + quote(*s));
      return std::nullopt;
    }
    return *n;
  }

  std::optional<std::string> get_secret(const field& f) {
    auto s = get_scalar(f, "a secret reference (env:NAME or file:PATH)");
    if (!s)
      return std::nullopt;
    auto value = resolve_secret(*s, base_dir_);
    if (!value) {
      error(value_mark(f), f.path, describe(value.error()));
      return std::nullopt;
    }
    return std::move(*value);
  }

  /// Returns the strings of the list `f` (or of the scalar `f` as a
  /// one-element list if `scalar_ok`); an empty list is an error.
  std::optional<std::vector<std::string>> get_string_list(const field& f,
                                                          bool scalar_ok) {
    if (scalar_ok && f.node.IsScalar())
      return std::vector<std::string>{f.node.Scalar()};
    if (!f.node.IsSequence()) {
      error(value_mark(f), f.path,
            "expected a list of strings, got " + describe_type(f.node));
      return std::nullopt;
    }
    if (f.node.size() == 0) {
      error(value_mark(f), f.path, "expected a non-empty list of strings");
      return std::nullopt;
    }
    std::vector<std::string> result;
    bool ok = true;
    size_t index = 0;
    for (const auto& item : f.node) {
      auto mark =
          item.IsNull() || item.Mark().is_null() ? f.key_mark : item.Mark();
      field element{item, f.path + "[" + std::to_string(index++) + "]", mark};
      if (auto s = get_string(element))
        result.push_back(std::move(*s));
      else
        ok = false;
    }
    if (!ok)
      return std::nullopt;
    return result;
  }

  // --- diagnostics ----------------------------------------------------------

  void error(const YAML::Mark& mark, const std::string& path,
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

  std::string file_;
  std::string base_dir_;
  config cfg_;
  std::vector<diagnostic> errors_;
};

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
  return loader{file_name, base_dir}.run(text);
}

} // namespace rouse::config
