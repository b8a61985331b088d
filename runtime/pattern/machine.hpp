// The fast pattern matcher: many compiled patterns behind per-path indexes, so
// that matching one flattened event costs about the same for 100 patterns as
// for 100,000. Semantics are the reference matcher's; see docs/patterns.md
// ("Matching machine") for the design and its costs.
#pragma once

#include "runtime/pattern/flatten.hpp"
#include "runtime/pattern/pattern.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace rouse::pattern {

/// An immutable matching machine compiled from many patterns.
///
/// match() looks up every event field whose path some pattern names in
/// per-path indexes (hash tables for exact and case-folded values, tries for
/// prefixes and suffixes, an interval index for numeric ranges, masked-address
/// tables for CIDR blocks). Each pattern is compiled into one contiguous
/// program (identical patterns share one) registered under an "anchor": the
/// most selective set of index keys of which at least one must hit for the
/// pattern to match. Programs whose anchor hits are candidates; those whose
/// required exact values the event lacks are dropped, the rest run over the
/// event fields, including array consistency (fields of one nested
/// sub-pattern must come from one array element). Patterns that can match
/// without any field (only `exists: false`, or `{}`) run for every event.
///
/// Thread safety: match() is const and may run on any number of threads at
/// once; it keeps its scratch space in thread-local storage. Invariants: the
/// indexes and the compiled patterns never change after build().
class machine {
public:
  /// Builds the machine; pattern i gets id i. Never fails (patterns are
  /// already validated). The patterns are copied into the machine's own form;
  /// `patterns` may be destroyed afterwards.
  static std::shared_ptr<const machine>
  build(const std::vector<pattern>& patterns);

  /// Appends to `out` the ids of all patterns matching the flattened event
  /// `fields` (as flatten() returns them, sorted by path), ascending, without
  /// duplicates. Flattened fields do not say at which level an array sits;
  /// docs/patterns.md lists the rare cases where this overload can differ from
  /// reference_match(). Allocates nothing once the calling thread's scratch
  /// space has grown to the machine's size.
  void match(const flat_event& fields, std::vector<uint32_t>& out) const;

  /// Appends to `out` the ids of all patterns matching `ev`, ascending,
  /// without duplicates, without flattening `ev`: the machine parses `data`
  /// (and extensions) itself and visits only the fields some pattern names,
  /// with the same path reading as flatten(). Unlike flattened fields, the
  /// walk sees at which level each array sits and how many elements it has,
  /// so this overload decides array cases exactly like reference_match()
  /// (what remains, dotted names and repeated keys, is in docs/patterns.md).
  /// Allocates nothing once the calling thread's scratch space has grown.
  void match(const event& ev, std::vector<uint32_t>& out) const;

  /// Returns the number of patterns.
  std::size_t size() const noexcept;

  /// Returns the approximate number of heap bytes the machine holds.
  std::size_t memory_bytes() const noexcept;

  /// Returns the number of distinct programs: identical patterns share one.
  std::size_t programs() const noexcept;

  /// Returns the number of patterns checked for every event because no index
  /// key can stand for them (e.g. `{}` or only `exists: false`).
  std::size_t unanchored() const noexcept;

  /// The machine's internal form; defined in machine_impl.hpp.
  struct impl;

  explicit machine(std::unique_ptr<impl> state);
  ~machine();
  machine(const machine&) = delete;
  machine& operator=(const machine&) = delete;

private:
  std::unique_ptr<impl> impl_;
};

} // namespace rouse::pattern
