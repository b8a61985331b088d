// The text rules of HTTP/1.1 messages that the server applies by hand: decoding
// a request-target into path and query (RFC 3986 percent-encoding, RFC 7230
// origin- and absolute-form) and checking header names and values before they
// are written. Beast-free, so tests can reach every edge directly.
#pragma once

#include "runtime/http/message.hpp"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rouse::http {

/// Appends the percent-decoded `in` to `out`, turning '+' into a space if
/// `plus_is_space`. Returns false for a malformed escape or a decoded NUL.
bool percent_decode(std::string_view in, bool plus_is_space, std::string& out);

/// Splits a request-target into the decoded path and query parameters (in
/// order, keys without '=' get an empty value, a fragment is dropped).
/// Returns false if it is malformed.
bool parse_target(std::string_view target, std::string& path,
                  std::vector<std::pair<std::string, std::string>>& query);

/// Returns true if `value` can go into a header without splitting it.
bool is_field_value(std::string_view value);

/// Returns true if a handler's extra header is well-formed and not one the
/// server sets itself.
bool is_extra_header_allowed(const header& h);

} // namespace rouse::http
