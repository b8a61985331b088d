// The reference matcher: a direct recursive walk over the pattern AST and the
// event's simdjson DOM.
#include "runtime/pattern/reference.hpp"

#include <simdjson.h>

#include <cstdio>
#include <optional>
#include <string>

namespace rouse::pattern {

namespace {

namespace dom = simdjson::dom;

using maybe_element = std::optional<dom::element>;

/// Appends the scalar leaves of `e`: itself, or the leaves of its elements
/// for an array (recursively); objects have none.
void collect_leaves(dom::element e, std::vector<value>& out) {
  switch (e.type()) {
  case dom::element_type::OBJECT: return;
  case dom::element_type::ARRAY:
    for (auto child : dom::array{e.get_array().value_unsafe()})
      collect_leaves(child, out);
    return;
  case dom::element_type::STRING:
    out.push_back(
        {value_kind::string, std::string{e.get_string().value_unsafe()}, 0});
    return;
  case dom::element_type::BOOL:
    out.push_back({e.get_bool().value_unsafe() ? value_kind::true_value
                                               : value_kind::false_value,
                   {},
                   0});
    return;
  case dom::element_type::NULL_VALUE:
    out.push_back({value_kind::null, {}, 0});
    return;
  default:
    out.push_back({value_kind::number, {}, e.get_double().value_unsafe()});
    return;
  }
}

/// Records why a pattern did not match: the first field that failed. Null
/// when only the answer is wanted.
struct why {
  std::string text;
};

std::string describe_leaves(const std::vector<value>& leaves) {
  std::string out;
  for (size_t i = 0; i < leaves.size() && i < 3; ++i) {
    if (i > 0)
      out += ", ";
    const auto& v = leaves[i];
    switch (v.kind) {
    case value_kind::string: out += "\"" + v.text + "\""; break;
    case value_kind::number: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.17g", v.number);
      out += buf;
      break;
    }
    case value_kind::true_value: out += "true"; break;
    case value_kind::false_value: out += "false"; break;
    case value_kind::null: out += "null"; break;
    }
  }
  if (leaves.size() > 3)
    out += ", ... (" + std::to_string(leaves.size()) + " values)";
  return out;
}

bool match_node(const node& n, maybe_element context, const std::string& path,
                why* w);

bool match_leaf(const field_rule& rule, maybe_element e,
                const std::string& path, why* w) {
  std::vector<value> leaves;
  if (e)
    collect_leaves(*e, leaves);
  for (const auto& cond : rule.conditions) {
    if (cond.kind == op_kind::exists) {
      if (cond.exists != leaves.empty())
        return true;
      continue;
    }
    for (const auto& v : leaves)
      if (test_condition(cond, v))
        return true;
  }
  if (w != nullptr) {
    if (leaves.empty())
      w->text = path + ": the event has no value here";
    else
      w->text = path + ": " + describe_leaves(leaves) + " does not match";
  }
  return false;
}

/// Matches a nested pattern object against `e`: against each element of an
/// array (any one suffices, all of the sub-pattern in that one element),
/// against the fields of an object, and against "no fields" otherwise.
bool match_nested(const node& n, maybe_element e, const std::string& path,
                  why* w) {
  if (e && e->is<dom::array>()) {
    auto arr = e->get_array().value_unsafe();
    if (arr.size() == 0)
      return match_node(n, std::nullopt, path, w);
    bool first = true;
    for (auto child : arr) {
      // Explain with the first element; the others only answer.
      if (match_nested(n, child, path, first ? w : nullptr))
        return true;
      first = false;
    }
    if (w != nullptr && arr.size() > 1)
      w->text += " (nor in the other " + std::to_string(arr.size() - 1)
                 + " array elements)";
    return false;
  }
  if (e && e->is<dom::object>())
    return match_node(n, e, path, w);
  return match_node(n, std::nullopt, path, w);
}

bool match_node(const node& n, maybe_element context, const std::string& path,
                why* w) {
  for (const auto& rule : n.fields) {
    maybe_element child;
    if (context) {
      dom::element found;
      if (context->get_object()[rule.name].get(found) == simdjson::SUCCESS)
        child = found;
    }
    auto child_path = path.empty() ? rule.name : path + "." + rule.name;
    bool ok = rule.leaf
                  ? match_leaf(rule, child, child_path, w)
                  : match_nested(rule.nested.front(), child, child_path, w);
    if (!ok)
      return false;
  }
  for (const auto& group : n.or_groups) {
    bool any = false;
    why first_reason;
    bool first = true;
    for (const auto& alt : group) {
      if (match_node(alt, context, path,
                     w != nullptr && first ? &first_reason : nullptr)) {
        any = true;
        break;
      }
      first = false;
    }
    if (!any) {
      if (w != nullptr)
        w->text = "no $or alternative matches (the first fails at "
                  + first_reason.text + ")";
      return false;
    }
  }
  return true;
}

} // namespace

bool reference_match(const pattern& p, std::string_view event_json) {
  thread_local dom::parser parser;
  simdjson::padded_string padded{event_json};
  dom::element doc;
  if (parser.parse(padded).get(doc) != simdjson::SUCCESS
      || !doc.is<dom::object>())
    return false;
  return match_node(p.root, doc, "", nullptr);
}

std::optional<std::string> explain_mismatch(const pattern& p,
                                            std::string_view event_json) {
  thread_local dom::parser parser;
  simdjson::padded_string padded{event_json};
  dom::element doc;
  if (parser.parse(padded).get(doc) != simdjson::SUCCESS
      || !doc.is<dom::object>())
    return std::string{"the event is not a JSON object"};
  why w;
  if (match_node(p.root, doc, "", &w))
    return std::nullopt;
  return std::move(w.text);
}

} // namespace rouse::pattern
