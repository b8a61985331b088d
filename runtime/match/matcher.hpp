// The matching interface router shards use to decide which triggers an event
// fires: the compiled `on` patterns of every trigger, behind one immutable
// object that all shards share.
#pragma once

#include "messages/event.hpp"

#include <cstdint>
#include <memory>
#include <vector>

namespace rouse::pattern {
struct pattern;
} // namespace rouse::pattern

namespace rouse::match {

/// An immutable set of compiled rules. Thread safety: match() is const and may
/// be called from any number of threads at once.
class matcher {
public:
  virtual ~matcher() = default;

  /// Appends to `out` the index of every rule that matches `ev`, ascending.
  virtual void match(const event& ev, std::vector<uint32_t>& out) const = 0;

  /// Returns the number of rules.
  virtual std::size_t size() const noexcept = 0;
};

/// Returns a matcher for EventBridge patterns; rule i is `patterns[i]`, which
/// must not be null.
std::shared_ptr<const matcher> make_pattern_matcher(
    std::vector<std::shared_ptr<const pattern::pattern>> patterns);

} // namespace rouse::match
