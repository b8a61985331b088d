// The machine's internal form (private: only runtime/pattern/*.cpp include
// it): the compiled pattern form, from the builder's structs to the program
// layout match() runs, the per-path indexes, and machine::impl, which holds
// them all. Built in machine_build.cpp and machine_index.cpp, read by
// machine_match.cpp.
#pragma once

#include "runtime/pattern/machine.hpp"
#include "runtime/pattern/machine_tables.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace rouse::pattern::detail {

// --- compiled pattern form ---------------------------------------------------
//
// The builder first compiles patterns into the struct form below (mnode,
// mrule, mgroup, mcond), picks anchors on it, then lays out each distinct
// pattern as one program: a run of 32-bit words, so that checking a candidate
// touches a few adjacent cache lines. Program layout:
//
//   node:   size, flags (1 = holds without fields), rule count, group count,
//           ref count, level size (length of the node's path), refs (leaf
//           path ids below the node), rules, groups
//   rule:   rule_leaf, size, path id, condition count, conditions
//           rule_nested, size, node
//   group:  alternative count, size, alternative nodes
//   cond:   kind | value kind << 8, size, payload: string (length, bytes),
//           number (2 words), glob (token count, 2 bytes per token: star
//           flag, byte), range (flags, lower, upper), block (ipv6, bits,
//           16 bytes), anything-but (count, excluded conditions)

enum class test_kind : uint8_t {
  exact,
  prefix,
  suffix,
  equals_ignore_case,
  prefix_ignore_case,
  suffix_ignore_case,
  wildcard,
  numeric,
  cidr,
  exists_true,
  exists_false,
  anything_but,
};

enum node_word : uint32_t {
  node_size,
  node_flags,
  node_rules,
  node_groups,
  node_refs,
  node_level,
  node_header
};

enum rule_word : uint32_t { rule_leaf, rule_nested };

/// One condition. `a` and `b` index the builder's arenas by kind: text
/// (offset, length) in `chars`, glob tokens (offset, length) in `globs`, an
/// index into `numbers`, `ranges` or `blocks`, or the excluded conditions
/// (begin, end) in `conds`.
struct mcond {
  test_kind kind = test_kind::exact;
  value_kind vkind = value_kind::null;
  uint32_t a = 0;
  uint32_t b = 0;
};

/// A field rule: a leaf over `path` with conditions [cond_begin, cond_end), or
/// a nested object whose node is `child`.
struct mrule {
  uint32_t path = none;
  uint32_t cond_begin = 0;
  uint32_t cond_end = 0;
  uint32_t child = none;
};

/// A pattern object: rules [rule_begin, rule_end) and $or groups
/// [group_begin, group_end). For a root or the node of a nested rule,
/// refs[ref_begin, ref_end) lists the leaf paths below it, used to tell
/// whether the event holds an array there, and `level_size` is the length
/// of its path.
struct mnode {
  uint32_t rule_begin = 0;
  uint32_t rule_end = 0;
  uint32_t group_begin = 0;
  uint32_t group_end = 0;
  uint32_t ref_begin = 0;
  uint32_t ref_end = 0;
  uint32_t level_size = 0;
  /// True if the node holds where the event has no field below it.
  bool matches_empty = false;
};

/// One $or group: alternative nodes alts[alt_begin, alt_end).
struct mgroup {
  uint32_t alt_begin = 0;
  uint32_t alt_end = 0;
};

/// Up to three bits of the event signature (see matcher) that every event
/// matching a program sets: one per leaf the program requires with a single
/// exact value.
struct required_bits {
  uint8_t count = 0;
  uint8_t bits[3] = {0, 0, 0};
};

/// One entry of a posting list: a program (its offset in the code) and its
/// required bits, side by side so that the signature check costs no extra
/// memory access.
struct posting {
  uint32_t code = 0;
  required_bits required;
};

/// One node of a path-compressed trie: the edge label leading to it (in
/// `head` if it fits, else trie_labels[label_begin, + label_size)), its
/// postings [post_begin, post_end), and `child_count` children, sorted by the
/// first byte of their labels: nodes first_child, first_child + 1, ...,
/// whose first bytes are trie_bytes[child_begin, + child_count).
struct trie_node {
  uint32_t label_begin = 0;
  uint32_t label_size = 0;
  uint32_t post_begin = 0;
  uint32_t post_end = 0;
  uint32_t child_begin = 0;
  uint32_t child_count = 0;
  uint32_t first_child = 0;
  char head[8] = {};

  const char* label(const std::string& labels) const noexcept {
    return label_size <= sizeof(head) ? head : labels.data() + label_begin;
  }
};

/// Numeric ranges of one path sorted by lower bound, with a max-upper segment
/// tree over them so a stabbing query costs O(log n + hits).
struct numeric_index {
  std::vector<numeric_range> ranges;
  std::vector<double> lower; // -inf when unbounded
  std::vector<posting> postings;
  std::vector<double> tree; // max upper bound per segment; +inf unbounded
  std::size_t leaves = 0;
};

enum trie_kind : uint8_t {
  trie_prefix,
  trie_suffix,
  trie_prefix_ic,
  trie_suffix_ic,
  trie_kinds
};

struct cidr_len {
  bool ipv6 = false;
  uint8_t bits = 0;
};

/// What is indexed for one path.
struct path_index {
  uint32_t presence_begin = 0;
  uint32_t presence_end = 0;
  uint32_t trie[trie_kinds] = {none, none, none, none};
  uint32_t numeric = none;
  uint32_t cidr_begin = 0;
  uint32_t cidr_end = 0;
  bool exact = false;
  bool folded = false;
  /// Exact values here feed the event signature.
  bool signature = false;
};

/// The context attributes flatten() emits, in the order of attribute_leaf.
inline constexpr const char* attribute_names[8] = {
    "id",   "source",          "type",      "specversion", "subject",
    "time", "datacontenttype", "dataschema"};

} // namespace rouse::pattern::detail

namespace rouse::pattern {

struct machine::impl {
  std::size_t patterns = 0;
  std::vector<std::string> paths; // sorted; a leaf's path id is its position
  std::vector<detail::path_index> indexes;
  /// The programs, one per distinct pattern, each: the number of patterns it
  /// stands for, their ids (ascending), then its root node. Postings name a
  /// program by its offset here.
  std::vector<uint32_t> code;
  std::size_t programs = 0;
  /// Programs that can match without any field: checked for every event.
  std::vector<detail::posting> always;
  std::size_t unanchored = 0; // patterns in `always` programs
  /// Posting lists of program ids.
  std::vector<detail::posting> postings;
  detail::key_table table;
  std::vector<detail::trie_node> trie_nodes;
  std::vector<uint8_t> trie_bytes;
  std::string trie_labels;
  std::vector<detail::numeric_index> numerics;
  std::vector<detail::cidr_len> cidr_lens;
  /// Every leaf path and every prefix of one (at a '.'), for looking up event
  /// paths.
  detail::path_table prefixes;
  /// The leaf path ids of the context attributes (in attribute_names order)
  /// and of data_base64, or none.
  uint32_t attribute_leaf[8] = {detail::none, detail::none, detail::none,
                                detail::none, detail::none, detail::none,
                                detail::none, detail::none};
  uint32_t base64_leaf = detail::none;
  /// What "data" is: a leaf path, a prefix of longer ones, both or neither.
  const detail::path_table::slot* data_entry = nullptr;
};

} // namespace rouse::pattern
