// Compiles EventBridge event patterns (simdjson DOM) into the pattern AST and
// tests single conditions against single leaf values.
#include "runtime/pattern/pattern.hpp"

#include "messages/errc.hpp"

#include <simdjson.h>

#include <arpa/inet.h>

#include <cstring>

namespace rouse::pattern {

namespace {

namespace dom = simdjson::dom;

std::string to_lower(std::string_view s) {
  std::string out{s};
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool starts_with(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}

bool ends_with(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}

bool glob_match(const std::vector<glob_token>& glob, std::string_view s) {
  size_t g = 0;
  size_t i = 0;
  size_t star_g = std::string_view::npos;
  size_t star_i = 0;
  while (i < s.size()) {
    if (g < glob.size() && !glob[g].star && glob[g].byte == s[i]) {
      ++g;
      ++i;
    } else if (g < glob.size() && glob[g].star) {
      star_g = g++;
      star_i = i;
    } else if (star_g != std::string_view::npos) {
      g = star_g + 1;
      i = ++star_i;
    } else {
      return false;
    }
  }
  while (g < glob.size() && glob[g].star)
    ++g;
  return g == glob.size();
}

bool in_block(const cidr_block& block, const cidr_block& ip) {
  if (block.ipv6 != ip.ipv6)
    return false;
  int bits = block.prefix_bits;
  for (size_t byte = 0; bits > 0; ++byte, bits -= 8) {
    uint8_t mask = bits >= 8 ? 0xFF : static_cast<uint8_t>(0xFF << (8 - bits));
    if ((block.address[byte] & mask) != (ip.address[byte] & mask))
      return false;
  }
  return true;
}

class compiler {
public:
  caf::error fail(const std::string& path, const std::string& what) {
    return make_error(errc::invalid_input, path + ": " + what);
  }

  caf::error compile_node(dom::object obj, const std::string& path, node& out) {
    for (auto [key, val] : obj) {
      std::string field_path = path + "." + std::string{key};
      if (key == "$or") {
        if (auto err = compile_or(val, field_path, out))
          return err;
        continue;
      }
      field_rule rule;
      rule.name = std::string{key};
      if (val.is<dom::object>()) {
        rule.leaf = false;
        rule.nested.emplace_back();
        if (auto err = compile_node(val.get_object().value_unsafe(), field_path,
                                    rule.nested.back()))
          return err;
      } else if (val.is<dom::array>()) {
        auto arr = val.get_array().value_unsafe();
        if (arr.size() == 0)
          return fail(field_path,
                      "a leaf needs at least one value or operator");
        for (auto element : arr) {
          rule.conditions.emplace_back();
          if (auto err = compile_condition(element, field_path,
                                           rule.conditions.back()))
            return err;
        }
      } else {
        return fail(field_path,
                    "a leaf must be an array of values or operators");
      }
      out.fields.push_back(std::move(rule));
    }
    return {};
  }

  caf::error compile_or(dom::element val, const std::string& path, node& out) {
    dom::array arr;
    if (val.get_array().get(arr) != simdjson::SUCCESS || arr.size() < 2)
      return fail(path, "$or needs an array of at least two pattern objects");
    std::vector<node> group;
    size_t index = 0;
    for (auto element : arr) {
      std::string alt_path = path + "[" + std::to_string(index++) + "]";
      dom::object obj;
      if (element.get_object().get(obj) != simdjson::SUCCESS)
        return fail(alt_path, "each $or alternative must be a pattern object");
      group.emplace_back();
      if (auto err = compile_node(obj, alt_path, group.back()))
        return err;
    }
    out.or_groups.push_back(std::move(group));
    return {};
  }

  static bool to_value(dom::element e, value& out) {
    switch (e.type()) {
    case dom::element_type::STRING:
      out.kind = value_kind::string;
      out.text = std::string{e.get_string().value_unsafe()};
      return true;
    case dom::element_type::INT64:
    case dom::element_type::UINT64:
    case dom::element_type::DOUBLE:
      out.kind = value_kind::number;
      out.text = simdjson::minify(e);
      out.number = e.get_double().value_unsafe();
      return true;
    case dom::element_type::BOOL:
      out.kind = e.get_bool().value_unsafe() ? value_kind::true_value
                                             : value_kind::false_value;
      out.text = out.kind == value_kind::true_value ? "true" : "false";
      return true;
    case dom::element_type::NULL_VALUE:
      out.kind = value_kind::null;
      out.text = "null";
      return true;
    default: return false;
    }
  }

  caf::error compile_condition(dom::element e, const std::string& path,
                               condition& out) {
    if (e.is<dom::array>())
      return fail(path, "a value list cannot contain an array");
    if (!e.is<dom::object>()) {
      out.kind = op_kind::exact;
      to_value(e, out.exact);
      return {};
    }
    auto obj = e.get_object().value_unsafe();
    if (obj.size() != 1)
      return fail(path, "an operator object must have exactly one key");
    auto [op, arg] = *obj.begin();
    if (op == "prefix" || op == "suffix")
      return compile_affix(op, arg, path, out);
    if (op == "equals-ignore-case") {
      std::string_view s;
      if (arg.get_string().get(s) != simdjson::SUCCESS)
        return fail(path, "equals-ignore-case needs a string");
      out.kind = op_kind::equals_ignore_case;
      out.text = to_lower(s);
      return {};
    }
    if (op == "wildcard")
      return compile_wildcard(arg, path, out);
    if (op == "numeric")
      return compile_numeric(arg, path, out);
    if (op == "exists") {
      bool b = false;
      if (arg.get_bool().get(b) != simdjson::SUCCESS)
        return fail(path, "exists needs true or false");
      out.kind = op_kind::exists;
      out.exists = b;
      return {};
    }
    if (op == "cidr")
      return compile_cidr(arg, path, out);
    if (op == "anything-but")
      return compile_anything_but(arg, path, out);
    return fail(path, "unknown operator \"" + std::string{op} + "\"");
  }

  caf::error compile_affix(std::string_view op, dom::element arg,
                           const std::string& path, condition& out) {
    bool is_prefix = op == "prefix";
    std::string_view s;
    if (arg.get_string().get(s) == simdjson::SUCCESS) {
      out.kind = is_prefix ? op_kind::prefix : op_kind::suffix;
      out.text = std::string{s};
      return {};
    }
    dom::object obj;
    if (arg.get_object().get(obj) == simdjson::SUCCESS && obj.size() == 1) {
      auto [inner, inner_arg] = *obj.begin();
      if (inner == "equals-ignore-case"
          && inner_arg.get_string().get(s) == simdjson::SUCCESS) {
        out.kind = is_prefix ? op_kind::prefix_ignore_case
                             : op_kind::suffix_ignore_case;
        out.text = to_lower(s);
        return {};
      }
    }
    return fail(path, std::string{op}
                          + " needs a string or {\"equals-ignore-case\": "
                            "string}");
  }

  caf::error compile_wildcard(dom::element arg, const std::string& path,
                              condition& out) {
    std::string_view s;
    if (arg.get_string().get(s) != simdjson::SUCCESS)
      return fail(path, "wildcard needs a string");
    out.kind = op_kind::wildcard;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '\\') {
        if (i + 1 == s.size() || (s[i + 1] != '*' && s[i + 1] != '\\'))
          return fail(path, "invalid escape in wildcard \"" + std::string{s}
                                + "\" (only \\* and \\\\)");
        out.glob.push_back({false, s[++i]});
      } else if (s[i] == '*') {
        if (!out.glob.empty() && out.glob.back().star)
          return fail(path,
                      "consecutive * in wildcard \"" + std::string{s} + "\"");
        out.glob.push_back({true, 0});
      } else {
        out.glob.push_back({false, s[i]});
      }
    }
    return {};
  }

  caf::error compile_numeric(dom::element arg, const std::string& path,
                             condition& out) {
    auto bad = [&] {
      return fail(path, "numeric needs an operator and a number");
    };
    dom::array arr;
    if (arg.get_array().get(arr) != simdjson::SUCCESS
        || (arr.size() != 2 && arr.size() != 4))
      return bad();
    out.kind = op_kind::numeric;
    auto& r = out.range;
    size_t n = arr.size();
    for (size_t i = 0; i < n; i += 2) {
      std::string_view op;
      double x = 0;
      if (arr.at(i).get_string().get(op) != simdjson::SUCCESS
          || arr.at(i + 1).get_double().get(x) != simdjson::SUCCESS)
        return bad();
      if (op == "=" && n == 2) {
        r = {true, true, x, true, true, x};
      } else if (op == ">" || op == ">=") {
        if (r.has_lower)
          return fail(path, "numeric has two lower bounds");
        r.has_lower = true;
        r.lower_inclusive = op == ">=";
        r.lower = x;
      } else if (op == "<" || op == "<=") {
        if (r.has_upper)
          return fail(path, "numeric has two upper bounds");
        r.has_upper = true;
        r.upper_inclusive = op == "<=";
        r.upper = x;
      } else {
        return fail(path, "numeric operator \"" + std::string{op}
                              + "\" is not one of = < <= > >= (\"=\" "
                                "stands alone)");
      }
    }
    if (r.has_lower && r.has_upper
        && (r.lower > r.upper
            || (r.lower == r.upper
                && !(r.lower_inclusive && r.upper_inclusive))))
      return fail(path, "numeric range is empty");
    return {};
  }

  caf::error compile_cidr(dom::element arg, const std::string& path,
                          condition& out) {
    std::string_view s;
    if (arg.get_string().get(s) != simdjson::SUCCESS)
      return fail(path, "cidr needs a string");
    auto invalid = [&] {
      return fail(path, "invalid CIDR \"" + std::string{s} + "\"");
    };
    auto slash = s.find('/');
    if (slash == std::string_view::npos || slash + 1 == s.size()
        || s.size() - slash > 4)
      return invalid();
    int bits = 0;
    for (char c : s.substr(slash + 1)) {
      if (c < '0' || c > '9')
        return invalid();
      bits = bits * 10 + (c - '0');
    }
    out.kind = op_kind::cidr;
    if (!parse_ip(s.substr(0, slash), out.block)
        || bits > (out.block.ipv6 ? 128 : 32))
      return invalid();
    out.block.prefix_bits = bits;
    return {};
  }

  caf::error compile_anything_but(dom::element arg, const std::string& path,
                                  condition& out) {
    out.kind = op_kind::anything_but;
    auto bad = [&] {
      return fail(path, "anything-but needs a value, a non-empty array of "
                        "values, or one of prefix, suffix, wildcard, "
                        "equals-ignore-case");
    };
    if (arg.is<dom::array>()) {
      auto arr = arg.get_array().value_unsafe();
      if (arr.size() == 0)
        return bad();
      for (auto element : arr) {
        condition c;
        if (!to_value(element, c.exact))
          return bad();
        out.excluded.push_back(std::move(c));
      }
      return {};
    }
    if (!arg.is<dom::object>()) {
      condition c;
      to_value(arg, c.exact);
      out.excluded.push_back(std::move(c));
      return {};
    }
    auto obj = arg.get_object().value_unsafe();
    if (obj.size() != 1)
      return bad();
    auto [op, inner] = *obj.begin();
    if (op != "prefix" && op != "suffix" && op != "wildcard"
        && op != "equals-ignore-case")
      return fail(path, "unknown operator \"" + std::string{op}
                            + "\" inside anything-but");
    // wildcard and equals-ignore-case also take an array of strings.
    std::vector<dom::element> operands;
    if (inner.is<dom::array>() && op != "prefix" && op != "suffix") {
      for (auto element : dom::array{inner.get_array().value_unsafe()})
        operands.push_back(element);
      if (operands.empty())
        return bad();
    } else {
      operands.push_back(inner);
    }
    for (auto operand : operands) {
      if (!operand.is_string())
        return fail(path,
                    "anything-but " + std::string{op} + " needs a string");
      condition c;
      if (auto err = op == "wildcard" ? compile_wildcard(operand, path, c)
                     : op == "equals-ignore-case"
                         ? compile_eic(operand, c)
                         : compile_affix(op, operand, path, c))
        return err;
      out.excluded.push_back(std::move(c));
    }
    return {};
  }

  static caf::error compile_eic(dom::element arg, condition& out) {
    out.kind = op_kind::equals_ignore_case;
    out.text = to_lower(arg.get_string().value_unsafe());
    return {};
  }
};

} // namespace

bool equal(const value& a, const value& b) noexcept {
  if (a.kind != b.kind)
    return false;
  if (a.kind == value_kind::number)
    return a.number == b.number;
  if (a.kind == value_kind::string)
    return a.text == b.text;
  return true;
}

bool parse_ip(std::string_view text, cidr_block& out) noexcept {
  char buf[64];
  if (text.empty() || text.size() >= sizeof(buf))
    return false;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  out.address.fill(0);
  if (inet_pton(AF_INET, buf, out.address.data()) == 1) {
    out.ipv6 = false;
    return true;
  }
  if (inet_pton(AF_INET6, buf, out.address.data()) == 1) {
    out.ipv6 = true;
    return true;
  }
  return false;
}

bool test_condition(const condition& cond, const value& v) noexcept {
  bool is_string = v.kind == value_kind::string;
  switch (cond.kind) {
  case op_kind::exact: return equal(cond.exact, v);
  case op_kind::prefix: return is_string && starts_with(v.text, cond.text);
  case op_kind::suffix: return is_string && ends_with(v.text, cond.text);
  case op_kind::equals_ignore_case:
    return is_string && to_lower(v.text) == cond.text;
  case op_kind::prefix_ignore_case:
    return is_string && starts_with(to_lower(v.text), cond.text);
  case op_kind::suffix_ignore_case:
    return is_string && ends_with(to_lower(v.text), cond.text);
  case op_kind::wildcard: return is_string && glob_match(cond.glob, v.text);
  case op_kind::numeric: {
    if (v.kind != value_kind::number)
      return false;
    const auto& r = cond.range;
    double x = v.number;
    if (r.has_lower && (r.lower_inclusive ? x < r.lower : x <= r.lower))
      return false;
    if (r.has_upper && (r.upper_inclusive ? x > r.upper : x >= r.upper))
      return false;
    return true;
  }
  case op_kind::cidr: {
    cidr_block ip;
    return is_string && parse_ip(v.text, ip) && in_block(cond.block, ip);
  }
  case op_kind::exists: return false;
  case op_kind::anything_but:
    for (const auto& c : cond.excluded)
      if (test_condition(c, v))
        return false;
    return true;
  }
  return false;
}

caf::expected<pattern> compile(std::string_view json,
                               std::string_view path_prefix) {
  thread_local dom::parser parser;
  std::string prefix{path_prefix};
  simdjson::padded_string padded{json};
  dom::element doc;
  if (auto code = parser.parse(padded).get(doc); code != simdjson::SUCCESS)
    return make_error(errc::invalid_input, prefix + ": invalid JSON: "
                                               + simdjson::error_message(code));
  dom::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS)
    return make_error(errc::invalid_input,
                      prefix + ": a pattern must be a JSON object");
  pattern result;
  compiler c;
  if (auto err = c.compile_node(obj, prefix, result.root))
    return err;
  return result;
}

} // namespace rouse::pattern
