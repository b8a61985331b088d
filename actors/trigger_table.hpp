// The immutable table of triggers router shards and the dispatcher share: the
// compiled matcher plus, per trigger, its governor and handler. Swapped as a
// whole, never mutated.
#pragma once

#include "messages/interfaces.hpp"
#include "runtime/match/matcher.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace rouse {

/// One trigger as the pipeline sees it.
struct trigger_entry {
  std::string name;
  bool enabled = true;
  governor_actor governor;
  handler_actor handler;
  /// Timeout for a handler's answer; exec handlers enforce their own on the
  /// process.
  std::chrono::milliseconds timeout{0};
};

/// Rule i of `matcher` is `triggers[i]`.
struct trigger_table {
  std::shared_ptr<const match::matcher> matcher;
  std::vector<trigger_entry> triggers;
};

using trigger_table_ptr = std::shared_ptr<const trigger_table>;

} // namespace rouse
