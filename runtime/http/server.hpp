// The HTTP/1.1 server core: accepts connections, reads size-checked requests
// with Beast and hands each to one handler; the handler answers through a
// responder from any thread. Beast and Asio stay in server.cpp.
#pragma once

#include "messages/errc.hpp"
#include "runtime/http/message.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace rouse::http {

/// How a server listens and which limits protect it from its clients.
struct server_options {
  /// The IP address (or resolvable name) to bind. Default loopback only;
  /// "0.0.0.0" exposes the server to the network.
  std::string host = "127.0.0.1";
  /// The TCP port; 0 lets the OS pick one (read it back with server::port()).
  uint16_t port = 0;
  /// I/O threads running the one io_context. Default 1; more threads scale
  /// parsing and writing across cores but run the handler concurrently.
  unsigned threads = 1;
  /// Largest accepted request body in bytes. Default 1 MiB. A bigger body gets
  /// 413 with a JSON error, the connection is closed and the handler is not
  /// called; raising it raises the memory one request can pin.
  uint64_t max_body_bytes = 1 << 20;
  /// Largest accepted request line plus headers in bytes. Default 16 KiB; over
  /// it the client gets 431. Also bounds each connection's read buffer.
  uint32_t max_header_bytes = 16 * 1024;
  /// Time in which a whole request (headers and body) must arrive once its
  /// first byte did (for a new connection: once it was accepted). Default
  /// 10 s; slow clients (slowloris) are closed without a response. Lower
  /// frees stuck connections sooner but cuts off slow links.
  std::chrono::milliseconds read_timeout{10000};
  /// Time a keep-alive connection may sit idle between requests before it is
  /// closed. Default 60 s; lower frees connections sooner, higher saves
  /// clients reconnecting.
  std::chrono::milliseconds idle_timeout{60000};
  /// Connections open at once; one more is accepted and closed at once.
  /// Default 4096; keep it below the process's file descriptor limit.
  uint32_t max_connections = 4096;
  /// Time in which a response must be written out to the client. Default
  /// 10 s; a client that stops reading is closed after it.
  std::chrono::milliseconds write_timeout{10000};
};

/// A running HTTP/1.1 server with keep-alive and pipelining-safe ordering:
/// a connection reads its next request only after the previous response was
/// written.
///
/// Thread safety: port() and stop() may be called from any thread; called
/// from a handler, stop() cannot wait for the calling I/O thread and returns
/// while that handler finishes. Responders may be called from any thread, also
/// after stop() or after the server is destroyed (the response is then
/// dropped). Each connection's state is touched only on its strand; the hot
/// path takes no locks (a mutex guards only the set of open connections, on
/// connect and disconnect).
class server {
public:
  /// Binds, listens and starts the I/O threads. Returns errc::invalid_config
  /// for bad options or an address that cannot be bound, with text such as
  /// "listen 127.0.0.1:7700: Address already in use".
  static caf::expected<std::unique_ptr<server>> start(server_options opts,
                                                      handler h);

  /// Stops and joins (see stop()).
  ~server();

  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Returns the bound port.
  uint16_t port() const noexcept;

  /// Stops accepting, closes every connection and joins the I/O threads.
  /// Idempotent. Responses not written yet are dropped.
  void stop();

private:
  struct impl;

  explicit server(std::unique_ptr<impl> ptr);

  std::unique_ptr<impl> impl_;
};

/// Returns a response with `status` and the JSON body {"error":"<message>"}.
response error_response(int status, std::string_view message);

} // namespace rouse::http
