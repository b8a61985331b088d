// The reference matcher: a direct recursive walk over the pattern AST and the
// event's simdjson DOM.
#include "runtime/pattern/reference.hpp"

#include <simdjson.h>

#include <optional>

namespace rouse::pattern {

namespace {

namespace dom = simdjson::dom;

using maybe_element = std::optional<dom::element>;

bool match_node(const node& n, maybe_element context);

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

bool match_leaf(const field_rule& rule, maybe_element e) {
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
  return false;
}

/// Matches a nested pattern object against `e`: against each element of an
/// array (any one suffices, all of the sub-pattern in that one element),
/// against the fields of an object, and against "no fields" otherwise.
bool match_nested(const node& n, maybe_element e) {
  if (e && e->is<dom::array>()) {
    auto arr = e->get_array().value_unsafe();
    if (arr.size() == 0)
      return match_node(n, std::nullopt);
    for (auto child : arr)
      if (match_nested(n, child))
        return true;
    return false;
  }
  if (e && e->is<dom::object>())
    return match_node(n, e);
  return match_node(n, std::nullopt);
}

bool match_node(const node& n, maybe_element context) {
  for (const auto& rule : n.fields) {
    maybe_element child;
    if (context) {
      dom::element found;
      if (context->get_object()[rule.name].get(found) == simdjson::SUCCESS)
        child = found;
    }
    bool ok = rule.leaf ? match_leaf(rule, child)
                        : match_nested(rule.nested.front(), child);
    if (!ok)
      return false;
  }
  for (const auto& group : n.or_groups) {
    bool any = false;
    for (const auto& alt : group)
      if (match_node(alt, context)) {
        any = true;
        break;
      }
    if (!any)
      return false;
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
  return match_node(p.root, doc);
}

} // namespace rouse::pattern
