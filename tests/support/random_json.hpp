// Seeded random JSON text for property and differential tests; each suite
// describes the shape it needs (its scalars, keys, depth and spacing).
#pragma once

#include <cstddef>
#include <random>
#include <span>
#include <string>

namespace rouse::test {

/// What random_json() generates. Every field is set by the suite: the shape
/// is part of what its seeded cases test.
struct random_json_shape {
  /// The leaves, each spelled as JSON text ("1e300", R"("a\"b")", "null").
  std::span<const char* const> scalars;
  /// The object keys, each spelled as the inside of a JSON string (escapes
  /// allowed; the same key may repeat within one object).
  std::span<const char* const> keys;
  /// The depth at which every value is a scalar.
  int max_depth;
  /// Objects and arrays hold fewer members than this (0 to bound - 1).
  std::size_t member_bound;
  /// Below this depth one object or array in four holds exactly one member,
  /// so that some values nest down to max_depth; 0 turns this off.
  int chain_below_depth;
  /// Whether spaces, tabs and newlines stand around brackets, commas and
  /// colons (what a parser must skip); otherwise the text is minified.
  bool spaced;
};

/// Returns random JSON text for a value at `depth`: a scalar one time in
/// three (always at max_depth), otherwise an object or an array.
inline std::string random_json(std::mt19937_64& rng,
                               const random_json_shape& shape, int depth = 0) {
  auto pick = [&](std::size_t n) {
    return static_cast<std::size_t>(rng() % n);
  };
  if (depth >= shape.max_depth || pick(3) == 0)
    return shape.scalars[pick(shape.scalars.size())];
  bool object = pick(2) == 0;
  std::string out;
  if (object)
    out += shape.spaced ? "{ " : "{";
  else
    out += shape.spaced ? "[\n" : "[";
  std::size_t n = depth < shape.chain_below_depth && pick(4) == 0
                      ? 1
                      : pick(shape.member_bound);
  for (std::size_t i = 0; i < n; ++i) {
    if (i)
      out += shape.spaced ? " , " : ",";
    if (object) {
      out += '"';
      out += shape.keys[pick(shape.keys.size())];
      out += shape.spaced ? "\" :\t" : "\":";
    }
    out += random_json(rng, shape, depth + 1);
  }
  out += object ? '}' : ']';
  return out;
}

} // namespace rouse::test
