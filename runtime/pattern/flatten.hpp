// Flattens an event into sorted (path, value) fields, the input of the fast
// pattern machine: CloudEvent attributes and extensions at the top level, the
// payload under "data.", one field per leaf of every array.
#pragma once

#include "messages/event.hpp"
#include "runtime/pattern/pattern.hpp"

#include <cstdint>
#include <string>
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

/// One leaf of an event: its dotted path ("data.user.name") and value.
struct field {
  std::string path;
  value val;
  /// The arrays enclosing this leaf, outermost first; empty outside arrays.
  std::vector<array_position> arrays;
};

/// Returns the leaves of `ev` sorted by path (stable: elements of one array
/// keep their order). Objects and empty arrays produce no field; absent
/// optional attributes produce none; base64 data is the string field
/// "data_base64"; a `data` that is not valid JSON produces none.
std::vector<field> flatten(const event& ev);

} // namespace rouse::pattern
