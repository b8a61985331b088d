// The fields match() gathers from an event, their exact-value keys, and the
// per-thread scratch space that holds them between calls (private: only
// runtime/pattern/*.cpp include it).
#pragma once

#include "runtime/pattern/machine_impl.hpp"

#include <simdjson.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace rouse::pattern::detail {

/// A field as the matcher sees it: a leaf path the machine knows, its value,
/// and its enclosing array positions positions[pos_begin, pos_begin + depth).
/// `text` views the caller's field, the event, or the parsed document.
struct ifield {
  uint32_t path = none;
  uint32_t seq = 0; // position when gathered, to keep the order in a path
  value_kind kind = value_kind::null;
  uint32_t pos_begin = 0;
  uint32_t depth = 0;
  double number = 0;
  std::string_view text;
};

/// The exact-value key of a field.
struct exact_key {
  explicit exact_key(const ifield& v) : number(canonical(v.number)) {
    switch (v.kind) {
    case value_kind::string:
      tag = tag_string;
      bytes = v.text.data();
      size = v.text.size();
      break;
    case value_kind::number:
      tag = tag_number;
      bytes = reinterpret_cast<const char*>(&number);
      size = sizeof(number);
      break;
    case value_kind::true_value: tag = tag_true; break;
    case value_kind::false_value: tag = tag_false; break;
    case value_kind::null: tag = tag_null; break;
    }
  }
  exact_key(const exact_key&) = delete;
  exact_key& operator=(const exact_key&) = delete;

  double number;
  char tag = tag_null;
  const char* bytes = "";
  std::size_t size = 0;
};

/// Fields of one path: in[begin, end), at most `depth` arrays deep.
struct path_fields {
  uint32_t begin = 0;
  uint32_t end = 0;
  uint32_t depth = 0;
};

/// What the event walker knows of one array: the length of the path where it
/// sits and its number of elements.
struct array_info {
  std::size_t level_size = 0;
  std::size_t size = 0;
};

/// Per-thread scratch space, reused across calls and machines, so that match()
/// allocates nothing once it has grown. Entries of `path_epoch` are current
/// only when equal to `epoch`.
struct scratch {
  uint32_t epoch = 0;
  uint64_t signature[4] = {0, 0, 0, 0}; // bits of the event's exact values
  std::vector<uint32_t> path_epoch;     // by path: fields present in this call
  std::vector<path_fields> paths;       // by path
  std::vector<ifield> in;               // grouped by path
  std::vector<array_position> positions;
  std::vector<array_position> stack; // the walker's enclosing arrays
  std::vector<array_info> arrays;    // by the walker's array id
  std::vector<posting> candidates;
  /// Queued exact lookups: the key's hash and its field, then the posting
  /// range found.
  struct lookup {
    uint64_t hash;
    uint32_t field;
    uint32_t post_begin;
    uint32_t post_end;
  };
  std::vector<lookup> lookups;
  std::vector<uint32_t> matched;
  std::vector<array_position> context;
  std::vector<uint32_t> indices;
  std::string folded;
  std::string reversed;
  std::string path;
  std::string padded;
  std::vector<std::unique_ptr<std::string>> owned; // extension strings
  std::size_t owned_used = 0;
  simdjson::dom::parser data_parser;
  simdjson::dom::parser extension_parser;

  void begin(std::size_t path_count) {
    if (path_epoch.size() < path_count) {
      path_epoch.resize(path_count, 0);
      paths.resize(path_count);
    }
    if (++epoch == 0) {
      std::fill(path_epoch.begin(), path_epoch.end(), 0);
      epoch = 1;
    }
    std::fill(std::begin(signature), std::end(signature), 0);
    in.clear();
    positions.clear();
    stack.clear();
    arrays.clear();
    candidates.clear();
    lookups.clear();
    matched.clear();
    context.clear();
    indices.clear();
    owned_used = 0;
  }
};

} // namespace rouse::pattern::detail
