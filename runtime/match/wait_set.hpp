// The event waits of waiting runs, keyed by run id, matched against each
// committed event without trying every wait: the waits sit in a few compiled
// pattern machines of doubling sizes (a log-structured merge: new waits gather
// in a short list, which becomes a small machine, and machines of similar
// size merge), so an event costs about log2(n / 16) machine walks plus at
// most 16 single-pattern matches, and each wait is compiled into a machine
// about log2(n / 16) times over its life.
#pragma once

#include "messages/event.hpp"
#include "runtime/match/matcher.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace rouse::match {

/// Not thread-safe: one owner (the dispatcher) adds, removes and matches.
class wait_set {
public:
  /// Adds the wait of run `id` for events matching `p`; false (and nothing
  /// changes) if `id` already waits.
  bool add(const std::string& id, std::shared_ptr<const pattern::pattern> p);

  /// Removes the wait of run `id`; false if it had none.
  bool remove(const std::string& id);

  bool contains(const std::string& id) const { return where_.count(id) > 0; }
  std::size_t size() const noexcept { return where_.size(); }
  bool empty() const noexcept { return where_.empty(); }

  /// Appends the id of every wait `ev` matches, each once, in no particular
  /// order.
  void match(const event& ev, std::vector<std::string>& out) const;

  /// Machines built so far (for tests and benchmarks).
  uint64_t builds() const noexcept { return builds_; }

  /// Machines now (for tests and benchmarks).
  std::size_t levels() const noexcept { return levels_.size(); }

private:
  /// One machine; rule i belongs to ids[i] ("" once removed).
  struct level {
    std::shared_ptr<const matcher> machine;
    std::vector<std::shared_ptr<const pattern::pattern>> patterns;
    std::vector<std::string> ids;
    std::size_t live = 0;
  };
  struct recent_wait {
    std::string id;
    std::shared_ptr<const pattern::pattern> pattern;
    std::shared_ptr<const matcher> single;
  };
  /// Where a wait is: levels_[level].ids[index], or recent_[index] when
  /// level is npos.
  struct place {
    std::size_t level = npos;
    std::size_t index = 0;
  };
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  /// Builds level `at` from the live waits of `from` (moved out), recording
  /// every wait's new place.
  void build(std::size_t at, std::vector<level*> from,
             std::vector<recent_wait>* recent);

  std::vector<level> levels_; // sizes roughly halve from first to last
  std::vector<recent_wait> recent_;
  std::unordered_map<std::string, place> where_;
  uint64_t builds_ = 0;
  mutable std::vector<uint32_t> hits_;
};

} // namespace rouse::match
