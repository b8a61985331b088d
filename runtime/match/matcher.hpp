// The matching interface router shards use to decide which triggers an event
// fires, and the first implementation: exact lists of sources and types. The
// full EventBridge pattern language (issue 3) replaces exact_matcher behind the
// same interface.
#pragma once

#include "messages/event.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace rouse::match {

/// What a trigger matches on. An empty list matches anything.
struct exact_rule {
  std::vector<std::string> sources;
  std::vector<std::string> types;
};

/// An immutable set of compiled rules. Thread safety: match() is const and may
/// be called from any number of threads at once.
class matcher {
public:
  virtual ~matcher() = default;

  /// Appends to `out` the index of every rule that matches `ev`, in rule order.
  virtual void match(const event& ev, std::vector<uint32_t>& out) const = 0;

  /// Returns the number of rules.
  virtual std::size_t size() const noexcept = 0;
};

/// Returns a matcher for exact source and type lists; rule i is trigger i.
std::shared_ptr<const matcher>
make_exact_matcher(std::vector<exact_rule> rules);

} // namespace rouse::match
