// A small blocking HTTP/1.1 client for the CLI and tests: one request per
// call on a new connection. Beast stays in client.cpp.
#pragma once

#include "messages/errc.hpp"
#include "runtime/http/message.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace rouse::http {

/// One request for fetch().
struct client_request {
  /// The method token, e.g. "GET".
  std::string method = "GET";
  /// The origin-form target, e.g. "/api/runs?state=failed".
  std::string target;
  std::string body;
  /// Sent as Content-Type when `body` is not empty.
  std::string content_type = "application/json";
  /// Extra headers; Host, User-Agent, Content-Length and Connection are set
  /// by fetch().
  std::vector<header> headers;
};

/// Sends `req` to `host`:`port` on a new connection and returns the response
/// (whatever its status), with every received header in `headers`.
/// `timeout` bounds connecting, writing and reading together (not name
/// resolution). Errors: errc::unreachable when the peer cannot be reached or
/// the exchange fails or times out ("cannot reach 127.0.0.1:7700: Connection
/// refused"); errc::invalid_input for a malformed request or response.
/// Thread-safe: each call uses its own io_context.
caf::expected<response>
fetch(const std::string& host, uint16_t port, const client_request& req,
      std::chrono::milliseconds timeout = std::chrono::milliseconds{10000});

} // namespace rouse::http
