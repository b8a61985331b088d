// The HTTP request and response as rouse code sees them: plain structs that own
// their bytes, with no Beast types, so handlers and the CLI need no Beast
// headers. The server (server.cpp) and the client (client.cpp) convert from and
// to Beast.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rouse::http {

/// One header field; the name keeps the case the peer sent.
struct header {
  std::string name;
  std::string value;
};

/// A complete, size-checked request as the server hands it to a handler.
struct request {
  /// The method token as sent, e.g. "GET", "POST".
  std::string method;
  /// The raw request-target, e.g. "/api/runs?state=failed".
  std::string target;
  /// The percent-decoded path part of `target`, e.g. "/api/runs".
  std::string path;
  /// The decoded query parameters in order ('+' decodes to a space); a
  /// parameter without '=' has an empty value.
  std::vector<std::pair<std::string, std::string>> query;
  /// Every header field in the order received.
  std::vector<header> headers;
  /// The body, already de-chunked.
  std::string body;
  /// The peer's IP address as text, e.g. "127.0.0.1".
  std::string remote_address;

  /// Returns the value of the first header named `name` (ASCII
  /// case-insensitive), or nullptr.
  const std::string* find_header(std::string_view name) const;

  /// Returns the value of the first query parameter named `name` (exact
  /// match), or nullptr.
  const std::string* find_query(std::string_view name) const;
};

/// A response a handler produces, or the client returns.
struct response {
  /// The status code; the server answers 500 for codes outside 200-599.
  int status = 200;
  /// The Content-Type; empty sends none.
  std::string content_type = "application/json";
  std::string body;
  /// Extra headers (e.g. Retry-After). The server writes Server, Content-Type,
  /// Content-Length and Connection itself and drops those names (and
  /// Transfer-Encoding) here, as well as fields whose name is not a token or
  /// whose value holds CR, LF or NUL. In a response returned by fetch() this
  /// holds every header received.
  std::vector<header> headers;
};

/// Sends the response for one request. May be called from any thread, once;
/// later calls are ignored. Cheap to copy. Dropping every copy without calling
/// it closes the connection.
using responder = std::function<void(response)>;

/// Called on an I/O thread for every complete, size-checked request; with
/// several I/O threads, concurrently. Must not block: hand work off and call
/// the responder later. If it throws, the client gets a 500.
using handler = std::function<void(request&&, responder)>;

namespace detail {

/// Returns true if `a` equals `b` ignoring ASCII case.
inline bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size())
    return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto x = static_cast<unsigned char>(a[i]);
    auto y = static_cast<unsigned char>(b[i]);
    if (x >= 'A' && x <= 'Z')
      x = static_cast<unsigned char>(x + ('a' - 'A'));
    if (y >= 'A' && y <= 'Z')
      y = static_cast<unsigned char>(y + ('a' - 'A'));
    if (x != y)
      return false;
  }
  return true;
}

} // namespace detail

inline const std::string* request::find_header(std::string_view name) const {
  for (const auto& h : headers)
    if (detail::iequals(h.name, name))
      return &h.value;
  return nullptr;
}

inline const std::string* request::find_query(std::string_view name) const {
  for (const auto& [key, value] : query)
    if (key == name)
      return &value;
  return nullptr;
}

} // namespace rouse::http
