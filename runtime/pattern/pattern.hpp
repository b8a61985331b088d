// The compiled form of an EventBridge event pattern and its compiler, which
// validates the pattern and names the JSON path of every problem. Matching
// lives in reference.hpp (the naive matcher); semantics in docs/patterns.md.
#pragma once

#include <caf/expected.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rouse::pattern {

/// The JSON kind of a leaf value.
enum class value_kind : uint8_t {
  string,
  number,
  true_value,
  false_value,
  null
};

/// One JSON leaf value. `text` is the decoded string for strings and the JSON
/// text for the other kinds; `number` is set for numbers.
struct value {
  value_kind kind = value_kind::null;
  std::string text;
  double number = 0;
};

/// Returns true if `a` and `b` are equal: same kind, and equal strings or
/// numerically equal numbers (300 == 3e2 == 300.0).
bool equal(const value& a, const value& b) noexcept;

/// What a condition tests.
enum class op_kind : uint8_t {
  exact,              ///< the value equals `exact`
  prefix,             ///< a string starting with `text`
  suffix,             ///< a string ending with `text`
  equals_ignore_case, ///< a string equal to `text` under ASCII case folding
  prefix_ignore_case, ///< a string starting with `text`, ASCII case folded
  suffix_ignore_case, ///< a string ending with `text`, ASCII case folded
  wildcard,           ///< a string matching `glob`
  numeric,            ///< a number inside `range`
  cidr,               ///< a string holding an IP address inside `block`
  exists,             ///< the field has (`exists`) or has no leaf value
  anything_but,       ///< a leaf value matching none of `excluded`
};

/// A numeric interval; a missing bound is unbounded.
struct numeric_range {
  bool has_lower = false;
  bool lower_inclusive = false;
  double lower = 0;
  bool has_upper = false;
  bool upper_inclusive = false;
  double upper = 0;
};

/// An IPv4 or IPv6 network: the first `prefix_bits` bits of `address`.
struct cidr_block {
  bool ipv6 = false;
  std::array<uint8_t, 16> address{};
  int prefix_bits = 0;
};

/// One wildcard token: a literal byte, or `*` (any run of bytes).
struct glob_token {
  bool star = false;
  char byte = 0;
};

/// One alternative in a leaf's list: an exact value or an operator.
struct condition {
  op_kind kind = op_kind::exact;
  value exact;
  /// The operand of prefix, suffix and the ignore-case operators (already
  /// lower-cased for the ignore-case ones).
  std::string text;
  std::vector<glob_token> glob;
  numeric_range range;
  cidr_block block;
  bool exists = true;
  /// For anything-but: the conditions a value must all fail.
  std::vector<condition> excluded;
};

struct node;

/// A named field of a pattern object: either a leaf (a list of alternative
/// conditions) or a nested object (exactly one element in `nested`).
struct field_rule {
  std::string name;
  bool leaf = true;
  std::vector<condition> conditions;
  std::vector<node> nested;
};

/// A pattern object: every field rule must hold, and for every `$or` group
/// one of its alternatives must hold.
struct node {
  std::vector<field_rule> fields;
  std::vector<std::vector<node>> or_groups;
};

/// A compiled, validated pattern. Immutable after compile(); safe to share
/// between threads for reading.
struct pattern {
  node root;
};

/// Returns the compiled `json` pattern, or an `errc::invalid_input` error
/// whose text starts with the JSON path of the problem under `path_prefix`,
/// e.g. `on.data.size: numeric needs an operator and a number`.
caf::expected<pattern> compile(std::string_view json,
                               std::string_view path_prefix = "on");

/// Returns true if `cond` holds for the leaf value `v` (never for exists,
/// which depends on presence, not on one value).
bool test_condition(const condition& cond, const value& v) noexcept;

/// Returns the parsed IP address in `text` (no prefix length), or false.
bool parse_ip(std::string_view text, cidr_block& out) noexcept;

} // namespace rouse::pattern
