// The YAML loader behind load_file and load_string (private: only
// runtime/config/*.cpp include it). It walks the yaml-cpp tree once, checks
// every key against the schema and collects every problem as a diagnostic;
// yaml-cpp's exceptions are caught in loader::run and never leave it. The
// walk is in loader.cpp, one section of the file per load_*.cpp.
#pragma once

#include "runtime/config/config.hpp"

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rouse::config::detail {

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
YAML::Mark value_mark(const field& f);

/// Returns `key` appended to the dotted `path`.
std::string join(const std::string& path, std::string_view key);

/// Returns how a value of the wrong type is named in messages.
std::string describe_type(const YAML::Node& node);

/// Returns the value of `key` in `entries`, nullptr if it is not there.
const field* find(const std::vector<entry>& entries, std::string_view key);

/// Walks one YAML document and collects diagnostics; one instance per load.
class loader {
public:
  loader(std::string file, std::string base_dir);

  /// Returns the config of the YAML `text`, or every problem found in it,
  /// sorted by line and column.
  load_result run(const std::string& text);

private:
  void walk(const std::string& text);

  // --- node (load_node.cpp) -------------------------------------------------

  void load_node(const field& f);

  // --- sources (load_sources.cpp) -------------------------------------------

  void load_sources(const field& f);

  // --- triggers (load_triggers.cpp) -----------------------------------------

  void load_triggers(const field& f);
  bool load_retry(const field& f, retry_policy& retry);
  bool load_concurrency(const field& f, trigger_config& trg);

  // --- the `on` pattern (load_pattern.cpp) ----------------------------------

  bool load_on(const field& f, trigger_config& trg);

  /// Writes the pattern object `f` as JSON to `out`. A scalar directly under
  /// a field is shorthand for a one-element list (`type: x` is
  /// `"type": ["x"]`); everything else converts literally. Records the mark
  /// of every field's key under its JSON path.
  void pattern_object(const field& f, std::string& out,
                      std::vector<std::pair<std::string, YAML::Mark>>& marks);

  // --- the handler (load_run.cpp) -------------------------------------------

  bool load_run(const field& f, run_config& run);
  void load_env(const field& f, run_config& run);

  // --- flow policies (load_flow.cpp) ----------------------------------------

  /// Loads the flow keys of the trigger map `trg` (entries `m`) into `flow`.
  bool load_flow(const field& trg, const std::vector<entry>& m,
                 flow_policy& flow);
  bool load_rate(const field& f, flow_policy::rate_policy& rate);
  bool load_debounce(const field& f, flow_policy::debounce_policy& debounce);
  bool load_batch(const field& f, flow_policy::batch_policy& batch);
  bool load_priority(const field& f, flow_policy::priority_policy& priority);

  /// Stores the scalar `f` in `value` if it is an integer (normalized) or a
  /// template with at least one reference.
  bool load_priority_value(const field& f, std::string& value);
  bool load_singleton(const field& f, flow_policy::singleton_policy& singleton);
  bool load_queue(const field& f, flow_policy::queue_policy& queue);
  bool load_circuit(const field& f, flow_policy::circuit_policy& circuit);
  bool load_budget(const field& f, flow_policy::budget_policy& budget);

  // --- maps (loader.cpp) ----------------------------------------------------

  bool expect_map(const field& f, std::string_view what);

  /// Returns the entries of the map `f` in file order, reporting keys that
  /// are not strings, repeated or (unless `any_key`) not in `allowed`; those
  /// entries are left out.
  std::vector<entry> read_map(const field& f, key_list allowed,
                              bool any_key = false);

  /// Returns the entries of a map keyed by source or trigger names,
  /// reporting and leaving out invalid names.
  std::vector<entry> read_named_map(const field& f);

  static std::string invalid_name_message(std::string_view name);

  /// Reports that `key` is missing from the map `f`; returns false.
  bool missing(const field& f, std::string_view key, std::string_view hint);

  // --- scalars (loader_scalars.cpp) -----------------------------------------

  std::optional<std::string> get_scalar(const field& f, std::string_view what);
  std::optional<std::string> get_string(const field& f);
  std::optional<std::string> get_nonempty_string(const field& f);
  std::optional<uint64_t> get_uint(const field& f, uint64_t min, uint64_t max);
  std::optional<bool> get_bool(const field& f);
  std::optional<std::chrono::milliseconds> get_duration(const field& f);
  std::optional<std::chrono::milliseconds>
  get_positive_duration(const field& f);

  /// Returns a flow policy's key: a non-empty string that parses as a
  /// template (a constant is one key for every event).
  std::optional<std::string> get_key(const field& f);

  /// Returns the index of the scalar `f` in `names`.
  std::optional<size_t> get_choice(const field& f,
                                   std::span<const std::string_view> names);
  std::optional<uint64_t> get_size(const field& f, uint64_t min,
                                   std::string_view min_text);
  std::optional<std::string> get_secret(const field& f);

  /// Returns the strings of the list `f` (or of the scalar `f` as a
  /// one-element list if `scalar_ok`); an empty list is an error.
  std::optional<std::vector<std::string>> get_string_list(const field& f,
                                                          bool scalar_ok);

  // --- diagnostics (loader.cpp) ---------------------------------------------

  void error(const YAML::Mark& mark, const std::string& path,
             std::string message);

  std::string file_;
  std::string base_dir_;
  config cfg_;
  std::vector<diagnostic> errors_;
};

} // namespace rouse::config::detail
