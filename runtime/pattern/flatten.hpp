// Flattens an event into sorted (path, value) fields, the input of the fast
// pattern machine: CloudEvent attributes and extensions at the top level, the
// payload under "data.", one field per leaf of every array.
#pragma once

#include "messages/event.hpp"
#include "runtime/pattern/pattern.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace rouse::pattern {

/// Where a field sits inside one event array: the array's id (unique within
/// one flatten() result) and the element's index. Lets a machine insist that
/// fields of one sub-pattern come from the same array element, as the
/// reference matcher does.
struct array_position {
  uint32_t array_id = 0;
  uint32_t index = 0;

  friend bool operator==(const array_position&,
                         const array_position&) = default;
};

/// A leaf's value as flattened: its kind, its text (the string itself, or the
/// JSON spelling of a number, `true`, `false` or `null`) and, for a number,
/// its value.
struct value_view {
  value_kind kind = value_kind::null;
  std::string_view text;
  double number = 0;
};

/// One leaf of a flattened event: its dotted path ("data.user.name"), value
/// and enclosing arrays (outermost first; empty outside arrays). Views into
/// the flat_event it came from.
struct field {
  std::string_view path;
  value_view val;
  std::span<const array_position> arrays;
};

class flattener;

/// The leaves of one event sorted by path, held in three buffers (one record
/// per leaf, the path and text bytes, the array positions) so that a
/// flattened event is a few contiguous blocks: three allocations, none when
/// a flat_event is reused.
class flat_event {
public:
  /// Iterates the fields in path order.
  class iterator {
  public:
    using iterator_category = std::input_iterator_tag;
    using value_type = field;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = field;

    iterator() = default;
    iterator(const flat_event* owner, std::size_t at) noexcept
        : owner_(owner), at_(at) {}
    field operator*() const noexcept { return (*owner_)[at_]; }
    iterator& operator++() noexcept {
      ++at_;
      return *this;
    }
    iterator operator++(int) noexcept {
      iterator before = *this;
      ++at_;
      return before;
    }
    friend bool operator==(const iterator&, const iterator&) = default;

  private:
    const flat_event* owner_ = nullptr;
    std::size_t at_ = 0;
  };

  /// Returns the number of fields.
  std::size_t size() const noexcept { return entries_.size(); }
  bool empty() const noexcept { return entries_.empty(); }

  /// Returns field `i` (i < size()), valid while this flat_event is unchanged.
  field operator[](std::size_t i) const noexcept {
    const entry& e = entries_[i];
    return {{bytes_.data() + e.path_begin, e.path_size},
            {e.kind, {bytes_.data() + e.text_begin, e.text_size}, e.number},
            {positions_.data() + e.pos_begin, e.depth}};
  }

  iterator begin() const noexcept { return {this, 0}; }
  iterator end() const noexcept { return {this, entries_.size()}; }

  /// Returns the heap bytes the buffers hold.
  std::size_t memory_bytes() const noexcept {
    return entries_.capacity() * sizeof(entry) + bytes_.capacity()
           + positions_.capacity() * sizeof(array_position);
  }

private:
  friend class flattener;

  /// One leaf: its path and text in bytes_, its arrays in positions_.
  struct entry {
    double number = 0;
    uint32_t path_begin = 0;
    uint32_t path_size = 0;
    uint32_t text_begin = 0;
    uint32_t text_size = 0;
    uint32_t pos_begin = 0;
    uint16_t depth = 0;
    value_kind kind = value_kind::null;
  };

  std::vector<entry> entries_;
  std::string bytes_;
  std::vector<array_position> positions_;
};

/// Replaces `out` with the leaves of `ev` sorted by path (stable: elements of
/// one array keep their order), reusing its buffers. Objects and empty arrays
/// produce no field; absent optional attributes produce none; base64 data is
/// the string field "data_base64"; a `data` that is not valid JSON produces
/// none.
void flatten(const event& ev, flat_event& out);

/// Returns the leaves of `ev` as flatten(ev, out) does.
flat_event flatten(const event& ev);

} // namespace rouse::pattern
