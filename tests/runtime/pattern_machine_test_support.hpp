// Helpers shared by the pattern machine tests: running a machine into a list
// of pattern ids, and a tiny JSON tree that generated events are built from
// and written out of.
#pragma once

#include "messages/event.hpp"
#include "runtime/pattern/flatten.hpp"
#include "runtime/pattern/machine.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rouse::machine_test {

/// Returns the sorted ids of the patterns in `m` that match `fields`.
inline std::vector<uint32_t> run(const pattern::machine& m,
                                 const pattern::flat_event& fields) {
  std::vector<uint32_t> out;
  m.match(fields, out);
  return out;
}

/// Returns the sorted ids of the patterns in `m` that match `ev`.
inline std::vector<uint32_t> run(const pattern::machine& m, const event& ev) {
  std::vector<uint32_t> out;
  m.match(ev, out);
  return out;
}

// --- a tiny JSON tree for generated events -----------------------------------

/// A JSON value: a scalar's text, an object's members in order, or an
/// array's items.
struct jvalue {
  enum kind_t { scalar, object, array } kind = scalar;
  std::string text; // JSON text of a scalar
  std::vector<std::pair<std::string, jvalue>> members;
  std::vector<jvalue> items;
};

/// Returns `s` as a JSON string literal.
inline std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

/// Appends the JSON text of `v` to `out`.
inline void write(const jvalue& v, std::string& out) {
  switch (v.kind) {
  case jvalue::scalar: out += v.text; return;
  case jvalue::object: {
    out += '{';
    bool first = true;
    for (const auto& [k, m] : v.members) {
      if (!first)
        out += ',';
      first = false;
      out += quote(k);
      out += ':';
      write(m, out);
    }
    out += '}';
    return;
  }
  case jvalue::array: {
    out += '[';
    for (std::size_t i = 0; i < v.items.size(); ++i) {
      if (i > 0)
        out += ',';
      write(v.items[i], out);
    }
    out += ']';
    return;
  }
  }
}

/// Returns whether `v` holds a scalar anywhere inside.
inline bool has_leaf(const jvalue& v) {
  if (v.kind == jvalue::scalar)
    return true;
  for (const auto& [k, m] : v.members)
    if (has_leaf(m))
      return true;
  for (const auto& i : v.items)
    if (has_leaf(i))
      return true;
  return false;
}

/// Appends the scalars reachable from `v` through arrays (not objects), like
/// the reference matcher's leaf values.
inline void leaves(const jvalue& v, std::vector<const jvalue*>& out) {
  if (v.kind == jvalue::scalar)
    out.push_back(&v);
  else if (v.kind == jvalue::array)
    for (const auto& i : v.items)
      leaves(i, out);
}

/// Appends the objects reachable from `v` through arrays.
inline void objects(const jvalue& v, std::vector<const jvalue*>& out) {
  if (v.kind == jvalue::object)
    out.push_back(&v);
  else if (v.kind == jvalue::array)
    for (const auto& i : v.items)
      objects(i, out);
}

} // namespace rouse::machine_test
