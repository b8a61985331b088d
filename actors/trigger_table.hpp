// The immutable table of triggers router shards and the dispatcher share: the
// compiled matcher plus, per trigger, its governor and handler. A change builds
// a new table and swaps it in whole (trigger_registry); a table is never
// mutated, so a routing decision sees one consistent set of triggers.
#pragma once

#include "messages/interfaces.hpp"
#include "runtime/match/matcher.hpp"

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace rouse::config {
struct trigger_config;
} // namespace rouse::config

namespace rouse::flow {
class key_templates;
} // namespace rouse::flow

namespace rouse {

/// One trigger as the pipeline sees it.
struct trigger_entry {
  std::string name;
  bool enabled = true;
  /// The trigger's pattern names rouse's run events (config::wants_run_events):
  /// only such triggers see events with source "rouse".
  bool run_events = false;
  governor_actor governor;
  handler_actor handler;
  /// The same actor as `handler` for exec handlers (it can stop a run's
  /// process); null for actor handlers.
  exec_handler_actor exec;
  /// Timeout for a handler's answer; exec handlers enforce their own on the
  /// process.
  std::chrono::milliseconds timeout{0};
  /// Where the trigger is defined: "config" (read-only) or "api".
  std::string origin;
  /// The definition as loaded; shared and immutable.
  std::shared_ptr<const config::trigger_config> def;
  /// The flow-control keys and priority router shards render into each run;
  /// null when the trigger has none.
  std::shared_ptr<const flow::key_templates> keys;
};

/// Rule i of `matcher` is `triggers[i]`.
struct trigger_table {
  std::shared_ptr<const match::matcher> matcher;
  std::vector<trigger_entry> triggers;
  /// Index into `triggers` by name.
  std::unordered_map<std::string, uint32_t> by_name;
  /// Some enabled trigger names rouse's run events.
  bool run_events = false;

  /// Returns the trigger called `name`, or null.
  const trigger_entry* find(const std::string& name) const {
    auto i = by_name.find(name);
    return i == by_name.end() ? nullptr : &triggers[i->second];
  }
};

using trigger_table_ptr = std::shared_ptr<const trigger_table>;

/// Holds the current trigger table. Thread safety: load() and store() from any
/// thread; a loaded table stays valid for as long as the caller holds it.
class trigger_registry {
public:
  trigger_table_ptr load() const {
    std::lock_guard<std::mutex> guard{mutex_};
    return current_;
  }

  void store(trigger_table_ptr table) {
    std::lock_guard<std::mutex> guard{mutex_};
    current_ = std::move(table);
  }

private:
  mutable std::mutex mutex_;
  trigger_table_ptr current_;
};

using trigger_registry_ptr = std::shared_ptr<trigger_registry>;

} // namespace rouse
