// The loader's scalar readers: each returns a value of one type (string,
// integer in a range, duration, size, secret, choice, list) or reports at the
// value why it is not one.
#include "runtime/config/loader.hpp"

#include "messages/errc.hpp"
#include "runtime/template/template.hpp"

#include <algorithm>
#include <charconv>

namespace rouse::config::detail {

std::optional<std::string> loader::get_scalar(const field& f,
                                              std::string_view what) {
  if (f.node.IsScalar())
    return f.node.Scalar();
  std::string msg =
      "expected " + std::string{what} + ", got " + describe_type(f.node);
  if (f.node.IsMap() && f.node.size() == 1 && (*f.node.begin()).first.IsMap())
    msg += " (quote templates: \"{{...}}\")";
  error(value_mark(f), f.path, std::move(msg));
  return std::nullopt;
}

std::optional<std::string> loader::get_string(const field& f) {
  return get_scalar(f, "a string");
}

std::optional<std::string> loader::get_nonempty_string(const field& f) {
  auto s = get_scalar(f, "a non-empty string");
  if (s && s->empty()) {
    error(value_mark(f), f.path, "expected a non-empty string");
    return std::nullopt;
  }
  return s;
}

std::optional<uint64_t> loader::get_uint(const field& f, uint64_t min,
                                         uint64_t max) {
  auto range =
      "an integer from " + std::to_string(min) + " to " + std::to_string(max);
  auto s = get_scalar(f, range);
  if (!s)
    return std::nullopt;
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(s->data(), s->data() + s->size(), value);
  if (s->empty() || ec != std::errc{} || ptr != s->data() + s->size()
      || value < min || value > max) {
    error(value_mark(f), f.path, "expected " + range + ", got " + quote(*s));
    return std::nullopt;
  }
  return value;
}

std::optional<bool> loader::get_bool(const field& f) {
  bool value = false;
  if (f.node.IsScalar() && YAML::convert<bool>::decode(f.node, value))
    return value;
  error(value_mark(f), f.path,
        "expected true or false, got " + describe_type(f.node));
  return std::nullopt;
}

std::optional<std::chrono::milliseconds> loader::get_duration(const field& f) {
  auto s = get_scalar(f, "a duration (e.g. 200ms, 5s, 15m, 1h, 1d)");
  if (!s)
    return std::nullopt;
  auto d = parse_duration(*s);
  if (!d) {
    error(value_mark(f), f.path, describe(d.error()));
    return std::nullopt;
  }
  return *d;
}

std::optional<std::chrono::milliseconds>
loader::get_positive_duration(const field& f) {
  auto d = get_duration(f);
  if (d && d->count() == 0) {
    error(value_mark(f), f.path,
          "must be greater than 0, got " + quote(f.node.Scalar()));
    return std::nullopt;
  }
  return d;
}

std::optional<std::string> loader::get_key(const field& f) {
  auto s = get_nonempty_string(f);
  if (!s)
    return std::nullopt;
  if (auto t = tmpl::text_template::parse(*s); !t) {
    error(value_mark(f), f.path, describe(t.error()));
    return std::nullopt;
  }
  return s;
}

std::optional<size_t>
loader::get_choice(const field& f, std::span<const std::string_view> names) {
  auto expected = one_of(names);
  auto s = get_scalar(f, expected);
  if (!s)
    return std::nullopt;
  auto it = std::find(names.begin(), names.end(), *s);
  if (it == names.end()) {
    error(value_mark(f), f.path, "expected " + expected + ", got " + quote(*s));
    return std::nullopt;
  }
  return static_cast<size_t>(it - names.begin());
}

std::optional<uint64_t> loader::get_size(const field& f, uint64_t min,
                                         std::string_view min_text) {
  auto s = get_scalar(f, "a size (e.g. 64KiB, 1MiB, 1GiB)");
  if (!s)
    return std::nullopt;
  auto n = parse_size(*s);
  if (!n) {
    error(value_mark(f), f.path, describe(n.error()));
    return std::nullopt;
  }
  if (*n < min) {
    error(value_mark(f), f.path,
          "must be at least " + std::string{min_text} + ", got " + quote(*s));
    return std::nullopt;
  }
  return *n;
}

std::optional<std::string> loader::get_secret(const field& f) {
  auto s = get_scalar(f, "a secret reference (env:NAME or file:PATH)");
  if (!s)
    return std::nullopt;
  auto value = resolve_secret(*s, base_dir_);
  if (!value) {
    error(value_mark(f), f.path, describe(value.error()));
    return std::nullopt;
  }
  return std::move(*value);
}

std::optional<std::vector<std::string>>
loader::get_string_list(const field& f, bool scalar_ok) {
  if (scalar_ok && f.node.IsScalar())
    return std::vector<std::string>{f.node.Scalar()};
  if (!f.node.IsSequence()) {
    error(value_mark(f), f.path,
          "expected a list of strings, got " + describe_type(f.node));
    return std::nullopt;
  }
  if (f.node.size() == 0) {
    error(value_mark(f), f.path, "expected a non-empty list of strings");
    return std::nullopt;
  }
  std::vector<std::string> result;
  bool ok = true;
  size_t index = 0;
  for (const auto& item : f.node) {
    auto mark =
        item.IsNull() || item.Mark().is_null() ? f.key_mark : item.Mark();
    field element{item, f.path + "[" + std::to_string(index++) + "]", mark};
    if (auto s = get_string(element))
      result.push_back(std::move(*s));
    else
      ok = false;
  }
  if (!ok)
    return std::nullopt;
  return result;
}

} // namespace rouse::config::detail
