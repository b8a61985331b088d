// The seeded generator of random (pattern, event) pairs for the pattern
// machine's differential test: pools of strings, numbers, keys and CIDR
// blocks, events built as JSON trees, and patterns derived from those events
// that record which operators they use.
#pragma once

#include "messages/event.hpp"
#include "runtime/pattern/pattern.hpp"

#include "tests/runtime/pattern_machine_test_support.hpp"

#include <simdjson.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace rouse::machine_test {

inline const std::vector<std::string> string_pool = {"main",
                                                     "Main",
                                                     "MAIN",
                                                     "refs/heads/main",
                                                     "refs/heads/dev",
                                                     "refs/tags/v1.0",
                                                     "",
                                                     "héllo",
                                                     "HÉLLO",
                                                     "Héllo",
                                                     "日本語テキスト",
                                                     "emoji 🎉 party",
                                                     "a*b",
                                                     "a\\b",
                                                     "a\"q\"",
                                                     "10.0.0.1",
                                                     "10.0.1.7",
                                                     "192.168.1.20",
                                                     "::1",
                                                     "2001:db8::5",
                                                     "2001:db9::1",
                                                     "::ffff:10.0.0.1",
                                                     "x.png",
                                                     "dir/a.PNG",
                                                     "dir/b/c.png",
                                                     "alice",
                                                     "ALICE",
                                                     "300",
                                                     "true",
                                                     "null",
                                                     "order.created",
                                                     "Order.Created",
                                                     "tab\there",
                                                     "x"};

/// JSON spellings of numbers; several spell the same value.
inline const std::vector<std::string> number_pool = {"0",
                                                     "-0",
                                                     "-0.0",
                                                     "0.0",
                                                     "300",
                                                     "3e2",
                                                     "300.0",
                                                     "3E2",
                                                     "3.0e2",
                                                     "0.5",
                                                     "5e-1",
                                                     "-7",
                                                     "-7.0",
                                                     "1e3",
                                                     "1000",
                                                     "42",
                                                     "42.0",
                                                     "1.5",
                                                     "2.5E1",
                                                     "25",
                                                     "-1e9",
                                                     "9007199254740993",
                                                     "9007199254740992",
                                                     "123456789012",
                                                     "0.1",
                                                     "1e-7"};

inline const std::vector<std::string> key_pool = {
    "a",     "b",  "c",    "name", "ref", "n", "tags",
    "items", "ip", "user", "ü",    "x-y", "A", "z_1"};

inline const std::vector<std::string> attribute_pool = {
    "id",       "source", "type", "subject",     "time",        "tenant",
    "priority", "region", "data", "data_base64", "specversion", "dataschema"};

inline const std::vector<std::string> v4_blocks = {
    "10.0.0.0/8", "10.0.0.0/24", "10.0.1.0/24", "192.168.0.0/16",
    "0.0.0.0/0",  "10.0.0.1/32", "10.0.0.0/9",  "11.0.0.0/8"};

inline const std::vector<std::string> v6_blocks = {
    "::1/128",       "2001:db8::/32", "::/0",
    "2001:db8::/64", "2001:db9::/33", "::ffff:0:0/96"};

class generator {
public:
  explicit generator(uint64_t seed) : rng_(seed) {}

  /// In wild mode events may hold array elements without any leaf (invisible
  /// once flattened) and patterns may repeat names within one scope: inputs
  /// where flattened fields do not tell at which level an array sits.
  void set_wild(bool wild) { wild_ = wild; }

  std::size_t below(std::size_t n) {
    return std::uniform_int_distribution<std::size_t>{0, n - 1}(rng_);
  }
  bool chance(double p) { return std::bernoulli_distribution{p}(rng_); }
  template <class T>
  const T& pick(const std::vector<T>& v) {
    return v[below(v.size())];
  }

  // Events ---------------------------------------------------------------

  jvalue scalar() {
    jvalue v;
    switch (below(10)) {
    case 0:
    case 1:
    case 2:
    case 3: v.text = quote(pick(string_pool)); break;
    case 4:
    case 5:
    case 6: v.text = pick(number_pool); break;
    case 7: v.text = "true"; break;
    case 8: v.text = "false"; break;
    default: v.text = "null"; break;
    }
    return v;
  }

  /// A random value; inside an array every value has a leaf, because an
  /// element without one is invisible in flattened form.
  jvalue value(int depth, bool in_array) {
    for (;;) {
      jvalue v = any_value(depth, in_array);
      if (!in_array || wild_ || has_leaf(v))
        return v;
    }
  }

  jvalue any_value(int depth, bool in_array) {
    if (wild_ && in_array && chance(0.25)) {
      jvalue empty;
      empty.kind = chance(0.5) ? jvalue::object : jvalue::array;
      return empty;
    }
    std::size_t roll = below(10);
    if (depth >= 4 || roll < 5)
      return scalar();
    jvalue v;
    if (roll < 8) {
      v.kind = jvalue::object;
      std::vector<std::string> keys = key_pool;
      std::shuffle(keys.begin(), keys.end(), rng_);
      std::size_t n = below(5);
      for (std::size_t i = 0; i < n; ++i)
        v.members.emplace_back(keys[i], value(depth + 1, false));
      if (in_array && v.members.empty() && !wild_)
        v.members.emplace_back(keys[0], scalar());
      return v;
    }
    v.kind = jvalue::array;
    std::size_t n = below(4) + (in_array && !wild_ ? 1 : 0);
    for (std::size_t i = 0; i < n; ++i)
      v.items.push_back(value(depth + 1, true));
    return v;
  }

  /// Returns an event and its JSON tree (attributes, extensions and data as
  /// members of one object).
  std::pair<event, jvalue> make_event() {
    event ev;
    jvalue tree;
    tree.kind = jvalue::object;
    auto attr = [&](const char* name, std::string& dst, std::string v) {
      dst = v;
      jvalue s;
      s.text = quote(v);
      tree.members.emplace_back(name, s);
    };
    attr("id", ev.id, pick(std::vector<std::string>{"1", "2", "e-7"}));
    attr("source", ev.source, pick(string_pool) + "src");
    // Required attributes are never empty in a decoded event.
    attr("type", ev.type,
         chance(0.5) ? pick(string_pool) + "t" : "order.created");
    tree.members.emplace_back("specversion",
                              jvalue{jvalue::scalar, "\"1.0\"", {}, {}});
    if (chance(0.5))
      attr("subject", ev.subject, pick(string_pool) + "s");
    if (chance(0.2))
      attr("time", ev.time, "2026-11-21T09:00:00Z");
    for (const char* ext : {"tenant", "priority", "region"}) {
      if (!chance(0.3))
        continue;
      jvalue v = scalar();
      if (v.text == "null")
        v.text = "true";
      ev.extensions.push_back({ext, v.text});
      tree.members.emplace_back(ext, v);
    }
    std::size_t roll = below(10);
    if (roll < 7) {
      jvalue data;
      data.kind = jvalue::object;
      std::vector<std::string> keys = key_pool;
      std::shuffle(keys.begin(), keys.end(), rng_);
      std::size_t n = 1 + below(6);
      for (std::size_t i = 0; i < n; ++i)
        data.members.emplace_back(keys[i], value(1, false));
      write(data, ev.data);
      tree.members.emplace_back("data", data);
    } else if (roll < 9) {
      jvalue data = value(1, false);
      write(data, ev.data);
      if (ev.data == "null")
        ev.data.clear(); // "null" as stored data reads as "no data"
      else
        tree.members.emplace_back("data", data);
    } else {
      ev.data = chance(0.5) ? "aGVsbG8=" : "MTAuMC4wLjE=";
      ev.data_is_base64 = true;
      jvalue s;
      s.text = quote(ev.data);
      tree.members.emplace_back("data_base64", s);
    }
    return {ev, tree};
  }

  // Patterns
  // -------------------------------------------------------------------

  /// Returns a prefix of `s` that does not split a UTF-8 sequence.
  std::string cut_front(const std::string& s) {
    std::size_t k = below(s.size() + 1);
    while (k < s.size() && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80)
      ++k;
    return s.substr(0, k);
  }

  std::string cut_back(const std::string& s) {
    std::size_t k = below(s.size() + 1);
    while (k < s.size() && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80)
      ++k;
    return s.substr(k);
  }

  std::string flip_case(std::string s) {
    for (auto& c : s)
      if (chance(0.5) && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
        c = static_cast<char>(c ^ 0x20);
    return s;
  }

  /// Returns a wildcard glob for `s`: some runs replaced by *, literal * and
  /// \ escaped.
  std::string glob_of(const std::string& s) {
    std::string out;
    bool star = false;
    for (std::size_t i = 0; i < s.size(); ++i) {
      bool continuation = (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80;
      if (!continuation && chance(0.15)) {
        if (!star)
          out += '*';
        star = true;
        while (i + 1 < s.size() && chance(0.5))
          ++i;
        while (i + 1 < s.size()
               && (static_cast<unsigned char>(s[i + 1]) & 0xC0) == 0x80)
          ++i;
        continue;
      }
      star = false;
      if (s[i] == '*' || s[i] == '\\')
        out += '\\';
      out += s[i];
    }
    if (chance(0.2) && !star)
      out += '*';
    else if (chance(0.2) && (out.empty() || out[0] != '*'))
      out = "*" + out;
    return out;
  }

  /// Returns a string to derive conditions from: `hint`'s text if it is a
  /// string scalar, else one from the pool.
  std::string string_from(const jvalue* hint) {
    if (hint && hint->text.size() >= 2 && hint->text[0] == '"' && chance(0.8)) {
      simdjson::dom::parser parser;
      std::string_view s;
      if (parser.parse(hint->text).get_string().get(s) == simdjson::SUCCESS)
        return std::string{s};
    }
    return pick(string_pool);
  }

  double number_from(const jvalue* hint) {
    if (hint && chance(0.8)) {
      char* end = nullptr;
      double x = std::strtod(hint->text.c_str(), &end);
      if (end && *end == '\0' && !hint->text.empty())
        return x;
    }
    return std::strtod(pick(number_pool).c_str(), nullptr);
  }

  std::string number_text(double x) {
    for (const auto& s : number_pool)
      if (std::strtod(s.c_str(), nullptr) == x && chance(0.5))
        return s;
    char buf[40];
    std::snprintf(buf, sizeof(buf), "%.17g", x);
    return buf;
  }

  /// Returns one alternative of a leaf, derived from `hint` (one of the
  /// event's values at that place, may be null) and records its operator.
  std::string condition(const jvalue* hint, std::set<std::string>& ops) {
    if (wild_ && chance(0.2)) {
      ops.insert("exists false");
      return "{\"exists\":false}";
    }
    switch (below(17)) {
    case 0:
    case 1: {
      jvalue v = hint && chance(0.7) ? *hint : scalar();
      if (v.text[0] == '"')
        ops.insert("exact string");
      else if (v.text == "null")
        ops.insert("exact null");
      else if (v.text == "true" || v.text == "false")
        ops.insert("exact boolean");
      else {
        ops.insert("exact number");
        v.text = number_text(std::strtod(v.text.c_str(), nullptr));
      }
      return v.text;
    }
    case 2:
      ops.insert("prefix");
      return "{\"prefix\":" + quote(cut_front(string_from(hint))) + "}";
    case 3:
      ops.insert("suffix");
      return "{\"suffix\":" + quote(cut_back(string_from(hint))) + "}";
    case 4:
      ops.insert("equals-ignore-case");
      return "{\"equals-ignore-case\":" + quote(flip_case(string_from(hint)))
             + "}";
    case 5:
      ops.insert("prefix ignore case");
      return "{\"prefix\":{\"equals-ignore-case\":"
             + quote(flip_case(cut_front(string_from(hint)))) + "}}";
    case 6:
      ops.insert("suffix ignore case");
      return "{\"suffix\":{\"equals-ignore-case\":"
             + quote(flip_case(cut_back(string_from(hint)))) + "}}";
    case 7:
      ops.insert("wildcard");
      return "{\"wildcard\":" + quote(glob_of(string_from(hint))) + "}";
    case 8:
    case 9: {
      ops.insert("numeric");
      double x = number_from(hint);
      double d = chance(0.5) ? 0 : static_cast<double>(below(10));
      switch (below(6)) {
      case 0: return "{\"numeric\":[\"=\"," + number_text(x) + "]}";
      case 1: return "{\"numeric\":[\">\"," + number_text(x - d) + "]}";
      case 2: return "{\"numeric\":[\"<=\"," + number_text(x + d) + "]}";
      case 3:
        return "{\"numeric\":[\">=\"," + number_text(x - d) + ",\"<\","
               + number_text(x + d + 1) + "]}";
      case 4:
        return "{\"numeric\":[\"<\"," + number_text(x + d + 0.5) + ",\">\","
               + number_text(x - d - 0.5) + "]}";
      default: return "{\"numeric\":[\"<\"," + number_text(x - d) + "]}";
      }
    }
    case 10: {
      std::string s = string_from(hint);
      pattern::cidr_block ip;
      bool v6 = pattern::parse_ip(s, ip) ? ip.ipv6 : chance(0.5);
      ops.insert(v6 ? "cidr v6" : "cidr v4");
      std::string block = v6 ? pick(v6_blocks) : pick(v4_blocks);
      if (pattern::parse_ip(s, ip) && chance(0.6))
        block = s + "/" + std::to_string(below(v6 ? 129 : 33));
      return "{\"cidr\":" + quote(block) + "}";
    }
    case 11:
    case 12: {
      bool exists = chance(0.5);
      ops.insert(exists ? "exists true" : "exists false");
      return exists ? "{\"exists\":true}" : "{\"exists\":false}";
    }
    default: return anything_but(hint, ops);
    }
  }

  std::string anything_but(const jvalue* hint, std::set<std::string>& ops) {
    switch (below(6)) {
    case 0:
    case 1: {
      ops.insert("anything-but values");
      std::string list;
      std::size_t n = 1 + below(3);
      for (std::size_t i = 0; i < n; ++i) {
        jvalue v = hint && chance(0.5) ? *hint : scalar();
        list += (i ? "," : "") + v.text;
      }
      return chance(0.3) && n == 1 ? "{\"anything-but\":" + list + "}"
                                   : "{\"anything-but\":[" + list + "]}";
    }
    case 2:
      ops.insert("anything-but prefix");
      return "{\"anything-but\":{\"prefix\":"
             + quote(cut_front(string_from(hint))) + "}}";
    case 3:
      ops.insert("anything-but suffix");
      return "{\"anything-but\":{\"suffix\":"
             + quote(cut_back(string_from(hint))) + "}}";
    case 4:
      ops.insert("anything-but wildcard");
      if (chance(0.5))
        return "{\"anything-but\":{\"wildcard\":["
               + quote(glob_of(string_from(hint))) + ","
               + quote(glob_of(string_from(hint))) + "]}}";
      return "{\"anything-but\":{\"wildcard\":"
             + quote(glob_of(string_from(hint))) + "}}";
    default:
      ops.insert("anything-but equals-ignore-case");
      return "{\"anything-but\":{\"equals-ignore-case\":["
             + quote(flip_case(string_from(hint))) + "]}}";
    }
  }

  /// Returns a pattern object for the level where the event holds `here`
  /// (an object, or null when the event has nothing there). Outside wild
  /// mode names are unique within one conjunctive scope (a node, its $or
  /// alternatives and their sibling fields), since repeated names there make
  /// flattened arrays ambiguous. Names are added to `used`.
  std::string node(const jvalue* here, int depth, bool top,
                   std::set<std::string>& used, std::set<std::string>& ops) {
    std::vector<std::string> members;
    std::size_t n = below(3) + (top ? 1 : 0);
    for (std::size_t i = 0; i < n; ++i) {
      std::string name;
      const jvalue* child = nullptr;
      if (here && !here->members.empty() && chance(0.8)) {
        const auto& m = here->members[below(here->members.size())];
        name = m.first;
        child = &m.second;
      } else {
        name = top ? pick(attribute_pool) : pick(key_pool);
        if (here)
          for (const auto& m : here->members)
            if (m.first == name)
              child = &m.second;
      }
      if (used.count(name) && !(wild_ && chance(0.7)))
        continue;
      used.insert(name);
      std::vector<const jvalue*> objs;
      if (child)
        objects(*child, objs);
      bool nest = depth < 4 && (objs.empty() ? chance(0.1) : chance(0.8))
                  && !(top && name != "data" && chance(0.9));
      if (nest) {
        ops.insert("nested object");
        const jvalue* inner = objs.empty() ? nullptr : objs[below(objs.size())];
        if (child && child->kind == jvalue::array && !objs.empty())
          ops.insert("nested over an array");
        std::set<std::string> inner_used;
        members.push_back(quote(name) + ":"
                          + node(inner, depth + 1, false, inner_used, ops));
        continue;
      }
      std::vector<const jvalue*> values;
      if (child)
        leaves(*child, values);
      std::string leaf;
      std::size_t alts = 1 + below(3) / 2 + (chance(0.1) ? 1 : 0);
      for (std::size_t a = 0; a < alts; ++a) {
        const jvalue* hint =
            values.empty() ? nullptr : values[below(values.size())];
        leaf += (a ? "," : "") + condition(hint, ops);
      }
      members.push_back(quote(name) + ":[" + leaf + "]");
    }
    if (depth < 4 && chance(top ? 0.3 : 0.15)) {
      ops.insert(top ? "$or" : "nested $or");
      std::size_t alts = 2 + below(2);
      std::set<std::string> group_used;
      std::string group;
      for (std::size_t a = 0; a < alts; ++a) {
        std::set<std::string> alt_used = used;
        group += (a ? "," : "") + node(here, depth + 1, top, alt_used, ops);
        group_used.insert(alt_used.begin(), alt_used.end());
      }
      used.insert(group_used.begin(), group_used.end());
      members.push_back("\"$or\":[" + group + "]");
    }
    std::string out = "{";
    for (std::size_t i = 0; i < members.size(); ++i)
      out += (i ? "," : "") + members[i];
    return out + "}";
  }

  std::string make_pattern(const jvalue* event_tree,
                           std::set<std::string>& ops) {
    std::set<std::string> used;
    return node(event_tree, 0, true, used, ops);
  }

private:
  std::mt19937_64 rng_;
  bool wild_ = false;
};

} // namespace rouse::machine_test
