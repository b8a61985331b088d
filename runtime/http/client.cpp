// Implements fetch(): one HTTP/1.1 exchange on a new connection with Beast,
// driven by a private io_context so the whole exchange has one deadline.
#include "runtime/http/client.hpp"

#include <utility> // Boost 1.74 Asio under C++20 needs it before Asio.

// GCC 12 at -O2 reports a false -Wmaybe-uninitialized inside Beast's parser
// (boost::optional in basic_parser::content_length_unchecked).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#pragma GCC diagnostic pop

#include <exception>
#include <string_view>

namespace rouse::http {

namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

/// Largest response body fetch() accepts: the CLI prints whole responses, so
/// anything bigger is a server bug, not data.
constexpr uint64_t max_response_body_bytes = 64 * 1024 * 1024;

/// Largest response status line plus headers fetch() accepts.
constexpr uint32_t max_response_header_bytes = 64 * 1024;

std::string_view to_sv(beast::string_view s) {
  return {s.data(), s.size()};
}

bool is_token(std::string_view s) {
  if (s.empty())
    return false;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                 || (c >= '0' && c <= '9');
    if (!alnum
        && std::string_view{"!#$%&'*+-.^_`|~"}.find(ch)
               == std::string_view::npos)
      return false;
  }
  return true;
}

/// Returns true if `s` holds a control character (or also a space, if
/// `space_too`), which would break the request line or a header.
bool has_ctl(std::string_view s, bool space_too) {
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7F || (space_too && c == ' '))
      return true;
  }
  return false;
}

caf::error check(const client_request& req, const std::string& where) {
  auto bad = [&](std::string what) {
    return make_error(errc::invalid_input,
                      "request to " + where + ": " + std::move(what));
  };
  if (!is_token(req.method))
    return bad("bad method \"" + req.method + "\"");
  if (req.target.empty() || has_ctl(req.target, true))
    return bad("bad target \"" + req.target + "\"");
  if (has_ctl(req.content_type, false))
    return bad("bad content type");
  for (const auto& h : req.headers)
    if (!is_token(h.name) || has_ctl(h.value, false))
      return bad("bad header \"" + h.name + "\"");
  return {};
}

response to_response(bhttp::response<bhttp::string_body>&& msg) {
  response r;
  r.status = static_cast<int>(msg.result_int());
  auto ct = msg.find(bhttp::field::content_type);
  r.content_type =
      ct == msg.end() ? std::string{} : std::string{to_sv(ct->value())};
  for (const auto& field : msg)
    r.headers.push_back(header{std::string{to_sv(field.name_string())},
                               std::string{to_sv(field.value())}});
  r.body = std::move(msg.body());
  return r;
}

} // namespace

caf::expected<response> fetch(const std::string& host, uint16_t port,
                              const client_request& req,
                              std::chrono::milliseconds timeout) {
  const std::string where =
      (host.find(':') == std::string::npos ? host : "[" + host + "]") + ":"
      + std::to_string(port);
  if (auto err = check(req, where))
    return err;
  const std::string after = " after " + std::to_string(timeout.count()) + " ms";
  try {
    net::io_context ioc{1};
    error_code ec;
    std::vector<tcp::endpoint> endpoints;
    auto address = net::ip::make_address(host, ec);
    if (!ec) {
      endpoints.emplace_back(address, port);
    } else {
      tcp::resolver resolver{ioc};
      auto results = resolver.resolve(host, std::to_string(port), ec);
      if (ec)
        return make_error(errc::unreachable,
                          "cannot resolve " + where + ": " + ec.message());
      for (const auto& entry : results)
        endpoints.push_back(entry.endpoint());
    }

    bhttp::request<bhttp::string_body> out;
    out.method_string(req.method);
    out.target(req.target);
    out.version(11);
    out.set(bhttp::field::host, where);
    out.set(bhttp::field::user_agent, "rouse");
    if (!req.body.empty() && !req.content_type.empty())
      out.set(bhttp::field::content_type, req.content_type);
    for (const auto& h : req.headers)
      out.insert(h.name, h.value);
    out.keep_alive(false);
    out.body() = req.body;
    out.prepare_payload();

    beast::tcp_stream stream{ioc};
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(max_response_body_bytes);
    parser.header_limit(max_response_header_bytes);
    if (req.method == "HEAD")
      parser.skip(true);

    // Write and read concurrently: a server may answer (413, 431) before it
    // has read the whole request, and that answer is what the caller wants.
    error_code connect_ec;
    error_code write_ec;
    error_code read_ec;
    bool write_done = false;
    stream.expires_after(timeout);
    stream.async_connect(endpoints, [&](error_code ec2, const tcp::endpoint&) {
      if (ec2) {
        connect_ec = ec2;
        return;
      }
      bhttp::async_write(stream, out, [&](error_code ec3, std::size_t) {
        write_ec = ec3;
        write_done = true;
      });
      bhttp::async_read(stream, buffer, parser,
                        [&](error_code ec3, std::size_t) {
                          read_ec = ec3;
                          if (!write_done)
                            stream.close();
                        });
    });
    ioc.run();

    if (connect_ec == beast::error::timeout)
      return make_error(errc::unreachable,
                        "cannot reach " + where + ": timed out" + after);
    if (connect_ec)
      return make_error(errc::unreachable,
                        "cannot reach " + where + ": " + connect_ec.message());
    if (!read_ec)
      return to_response(parser.release());
    if (read_ec == beast::error::timeout)
      return make_error(errc::unreachable,
                        "request to " + where + " timed out" + after);
    const auto& http_category =
        bhttp::make_error_code(bhttp::error::bad_target).category();
    if (read_ec.category() == http_category
        && read_ec != bhttp::error::end_of_stream
        && read_ec != bhttp::error::partial_message)
      return make_error(errc::invalid_input, "bad response from " + where + ": "
                                                 + read_ec.message());
    const auto& cause = write_ec && write_ec != net::error::operation_aborted
                            ? write_ec
                            : read_ec;
    return make_error(errc::unreachable,
                      "request to " + where + " failed: " + cause.message());
  } catch (const std::exception& e) {
    return make_error(errc::invalid_input,
                      "request to " + where + ": " + e.what());
  }
}

} // namespace rouse::http
