// Private to runtime/config/trigger_json*.cpp: the readers of JSON values
// that the trigger parser and the flow-policy parser share. Each returns an
// error naming the JSON path of the problem.
#pragma once

#include "runtime/config/config.hpp"

#include <simdjson.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

namespace rouse::config::json_detail {

using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

/// An `errc::invalid_input` error "PATH: WHAT".
caf::error fail(std::string_view path, const std::string& what);

/// "an array", "a string", "a number" ...: how a message names `e`'s type.
std::string type_name(element e);

/// Fails on the first member of `obj` whose key is not in `allowed`.
caf::error expect_keys(object obj, std::string_view path,
                       std::initializer_list<std::string_view> allowed);

caf::expected<std::string> get_string(element e, const std::string& path);

/// A duration: whole seconds as a number, or a string such as "15m".
caf::expected<std::chrono::milliseconds> get_duration(element e,
                                                      const std::string& path);

/// Returns how `e` is named in a message: a number as written, a string
/// quoted, anything else by its type.
std::string describe_value(element e);

/// The object `e`; `what` says which members it is expected to have.
caf::expected<object> get_object(element e, const std::string& path,
                                 std::string_view what);

/// An integer from `min` to `max`.
caf::expected<uint64_t> get_uint(element e, const std::string& path,
                                 uint64_t min, uint64_t max);

caf::expected<std::chrono::milliseconds>
get_positive_duration(element e, const std::string& path);

/// Returns a flow policy's key: a non-empty string that parses as a template.
caf::expected<std::string> get_key(element e, const std::string& path);

/// Returns the index of the string `e` in `names`.
caf::expected<size_t> get_choice(element e, const std::string& path,
                                 std::span<const std::string_view> names);

/// "PARENT.KEY: missing (HINT)".
caf::error missing_member(std::string_view parent, std::string_view key,
                          std::string_view hint);

/// Sets `out` from the optional member `key` of `obj` with `get`; a member
/// that fails leaves its error.
template <class T, class Get>
caf::error read_member(object obj, std::string_view parent,
                       std::string_view key, T& out, Get get) {
  element x;
  if (obj[key].get(x) != simdjson::SUCCESS)
    return {};
  auto value = get(x, std::string{parent} + "." + std::string{key});
  if (!value)
    return std::move(value.error());
  out = static_cast<T>(std::move(*value));
  return {};
}

/// Reads `concurrency` (a limit, or {limit, key}) of the trigger `trg`.
caf::error parse_concurrency(element v, trigger_config& trg);

/// Reads the flow policies among the members of the trigger object `obj`.
caf::error parse_flow(object obj, flow_policy& flow);

} // namespace rouse::config::json_detail
