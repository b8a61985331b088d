// Implements the HTTP server core on Boost.Beast 1.74: one session per
// connection with the run / do_read / on_read / do_write / on_write / do_close
// vocabulary of Beast's advanced_server example (1.74: no message_generator),
// plus error_response() from server.hpp.
#include "runtime/http/server.hpp"

#include "runtime/http/wire.hpp"
#include "runtime/json/writer.hpp"

#include <utility> // Boost 1.74 Asio under C++20 needs it before Asio.

// GCC 12 at -O2 reports a false -Wmaybe-uninitialized inside Beast's parser
// (boost::optional in basic_parser::content_length_unchecked).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#pragma GCC diagnostic pop

#include <array>
#include <atomic>
#include <charconv>
#include <cstdio>
#include <exception>
#include <iterator>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_set>

namespace rouse::http {

namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

/// Bytes asked for by the read that waits for the next request on an idle
/// keep-alive connection: most requests arrive in one read of this size, and
/// it adds to max_header_bytes as the bound of a connection's read buffer.
constexpr std::size_t read_chunk_bytes = 16 * 1024;

/// After an error response or "Connection: close" the server stops sending and
/// keeps reading (and discarding) for at most this long before it closes, so a
/// client still sending a rejected body reads the response instead of getting
/// a TCP reset for the unread bytes (a "lingering close").
constexpr std::chrono::seconds linger_timeout{2};

/// The most bytes a lingering close discards, so a client cannot pin the
/// connection by streaming.
constexpr std::size_t linger_max_bytes = 8 * 1024 * 1024;

/// Pause before accepting again after accept failed (e.g. out of file
/// descriptors), so the acceptor does not spin on the error.
constexpr std::chrono::milliseconds accept_retry_delay{100};

/// Sent to a client that asked "Expect: 100-continue" before its body.
constexpr std::string_view continue_line = "HTTP/1.1 100 Continue\r\n\r\n";

std::string_view to_sv(beast::string_view s) {
  return {s.data(), s.size()};
}

template <class Int>
void append_number(std::string& out, Int x) {
  std::array<char, 24> buf{};
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), x);
  (void)ec;
  out.append(buf.data(), end);
}

std::string_view reason_phrase(int status) {
  auto code = bhttp::int_to_status(static_cast<unsigned>(status));
  if (code == bhttp::status::unknown)
    return "Unknown";
  return to_sv(bhttp::obsolete_reason(code));
}

class session;

/// State shared by the server, its sessions and their responders. It owns the
/// io_context, so it lives until the last session (which a responder may hold
/// past stop()) is gone and no socket outlives its io_context.
struct core {
  core(server_options o, handler h)
      : opts(std::move(o)), on_request(std::move(h)),
        ioc(static_cast<int>(opts.threads)), acceptor(net::make_strand(ioc)),
        accept_retry(acceptor.get_executor()) {}

  const server_options opts;
  const handler on_request;
  net::io_context ioc;
  /// Touched only on its strand once the I/O threads run.
  tcp::acceptor acceptor;
  net::steady_timer accept_retry;
  /// Open connections; only the acceptor strand increments it.
  std::atomic<uint32_t> connections{0};
  /// Set once by stop(), under sessions_mu.
  std::atomic<bool> stopping{false};
  /// Responders between checking `stopping` and posting; stop() waits for 0
  /// so nothing is posted onto an io_context whose threads are gone.
  std::atomic<uint32_t> posting{0};
  std::mutex sessions_mu;
  /// Every live session, so stop() can close them. Guarded by sessions_mu.
  std::unordered_set<session*> sessions;

  /// Registers `s`; returns false (and does not) once stopping.
  bool add(session* s) {
    std::lock_guard<std::mutex> guard{sessions_mu};
    if (stopping.load())
      return false;
    sessions.insert(s);
    return true;
  }

  void remove(session* s) {
    std::lock_guard<std::mutex> guard{sessions_mu};
    sessions.erase(s);
  }
};

/// One connection. Everything but respond() runs on the stream's strand.
class session : public std::enable_shared_from_this<session> {
public:
  session(std::shared_ptr<core> c, tcp::socket&& socket, std::string remote)
      : core_(std::move(c)), stream_(std::move(socket)),
        buffer_(core_->opts.max_header_bytes + read_chunk_bytes),
        remote_address_(std::move(remote)) {}

  ~session() {
    if (registered_)
      core_->remove(this);
    release_slot();
  }

  session(const session&) = delete;
  session& operator=(const session&) = delete;

  /// Registers with the core and starts reading; false once stopping.
  bool run() {
    if (!core_->add(this))
      return false;
    registered_ = true;
    net::dispatch(
        stream_.get_executor(),
        beast::bind_front_handler(&session::do_read, shared_from_this()));
    return true;
  }

  /// Posts the response for request `seq` onto the strand; from any thread.
  /// Reading the stream's executor there is safe: it never changes.
  void respond(uint64_t seq, response&& r) {
    auto& c = *core_;
    c.posting.fetch_add(1);
    struct leave {
      std::atomic<uint32_t>& n;
      ~leave() { n.fetch_sub(1); }
    } guard{c.posting};
    if (c.stopping.load())
      return;
    net::post(stream_.get_executor(),
              [self = shared_from_this(), seq, r = std::move(r)]() mutable {
                self->do_write(seq, std::move(r));
              });
  }

  /// Closes the connection on its strand; for stop().
  void close_soon() {
    net::post(stream_.get_executor(),
              [self = shared_from_this()] { self->do_close(); });
  }

private:
  void do_read() {
    if (closed_)
      return;
    parser_.emplace();
    parser_->header_limit(core_->opts.max_header_bytes);
    parser_->body_limit(core_->opts.max_body_bytes);
    if (buffer_.size() == 0 && !first_request_) {
      // Idle between requests: wait for the first byte under idle_timeout,
      // then the whole request must follow within read_timeout.
      stream_.expires_after(core_->opts.idle_timeout);
      stream_.async_read_some(
          buffer_.prepare(read_chunk_bytes),
          beast::bind_front_handler(&session::on_first_bytes,
                                    shared_from_this()));
      return;
    }
    first_request_ = false;
    do_read_header();
  }

  void on_first_bytes(error_code ec, std::size_t n) {
    if (ec)
      return do_close();
    buffer_.commit(n);
    do_read_header();
  }

  void do_read_header() {
    stream_.expires_after(core_->opts.read_timeout);
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             beast::bind_front_handler(&session::on_read_header,
                                                       shared_from_this()));
  }

  void on_read_header(error_code ec, std::size_t) {
    if (ec)
      return on_read_error(ec);
    if (parser_->is_done())
      return on_read({}, 0);
    const auto& msg = parser_->get();
    auto expect = msg.find(bhttp::field::expect);
    if (msg.version() >= 11 && expect != msg.end()
        && detail::iequals(to_sv(expect->value()), "100-continue")) {
      net::async_write(stream_,
                       net::buffer(continue_line.data(), continue_line.size()),
                       beast::bind_front_handler(&session::on_continue_written,
                                                 shared_from_this()));
      return;
    }
    do_read_body();
  }

  void on_continue_written(error_code ec, std::size_t) {
    if (ec)
      return do_close();
    do_read_body();
  }

  void do_read_body() {
    bhttp::async_read(
        stream_, buffer_, *parser_,
        beast::bind_front_handler(&session::on_read, shared_from_this()));
  }

  void on_read(error_code ec, std::size_t) {
    if (ec)
      return on_read_error(ec);
    if (core_->stopping.load(std::memory_order_relaxed))
      return do_close();
    auto& msg = parser_->get();
    keep_alive_ = msg.keep_alive();
    http10_ = msg.version() == 10;
    head_request_ = msg.method() == bhttp::verb::head;
    request req;
    req.method = to_sv(msg.method_string());
    req.target = to_sv(msg.target());
    if (!parse_target(req.target, req.path, req.query))
      return reject(400, "malformed request target");
    req.headers.reserve(
        static_cast<std::size_t>(std::distance(msg.begin(), msg.end())));
    for (const auto& field : msg)
      req.headers.push_back(header{std::string{to_sv(field.name_string())},
                                   std::string{to_sv(field.value())}});
    req.body = std::move(msg.body());
    req.remote_address = remote_address_;
    parser_.reset();
    awaiting_response_ = true;
    const uint64_t seq = ++seq_;
    try {
      core_->on_request(std::move(req),
                        [self = shared_from_this(), seq](response r) {
                          self->respond(seq, std::move(r));
                        });
    } catch (...) {
      do_write(seq, error_response(500, "request handler failed"));
    }
  }

  void on_read_error(error_code ec) {
    const auto& opts = core_->opts;
    if (ec == bhttp::error::body_limit)
      return reject(413, "request body exceeds "
                             + std::to_string(opts.max_body_bytes) + " bytes");
    if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow)
      return reject(431, "request header exceeds "
                             + std::to_string(opts.max_header_bytes)
                             + " bytes");
    if (ec == bhttp::error::end_of_stream
        || ec == bhttp::error::partial_message)
      return do_close();
    if (ec.category()
        == bhttp::make_error_code(bhttp::error::bad_target).category())
      return reject(400, "malformed request: " + ec.message());
    do_close(); // timeout, reset, aborted
  }

  /// Answers a request the handler never sees and closes afterwards.
  void reject(int status, std::string_view message) {
    parser_.reset();
    awaiting_response_ = false;
    ++seq_;
    keep_alive_ = false;
    head_request_ = false;
    write_response(error_response(status, message), false);
  }

  void do_write(uint64_t seq, response&& r) {
    if (closed_ || !awaiting_response_ || seq != seq_)
      return;
    awaiting_response_ = false;
    write_response(std::move(r),
                   keep_alive_
                       && !core_->stopping.load(std::memory_order_relaxed));
  }

  void write_response(response&& r, bool keep_alive) {
    if (r.status < 200 || r.status > 599)
      r = error_response(500, "request handler returned status "
                                  + std::to_string(r.status));
    const bool bodiless = r.status == 204 || r.status == 304;
    head_.clear();
    head_ += "HTTP/1.1 ";
    append_number(head_, r.status);
    head_ += ' ';
    head_ += reason_phrase(r.status);
    head_ += "\r\nServer: rouse\r\n";
    if (!bodiless) {
      if (!r.content_type.empty() && is_field_value(r.content_type)) {
        head_ += "Content-Type: ";
        head_ += r.content_type;
        head_ += "\r\n";
      }
      head_ += "Content-Length: ";
      append_number(head_, r.body.size());
      head_ += "\r\n";
    }
    for (const auto& h : r.headers) {
      if (!is_extra_header_allowed(h))
        continue;
      head_ += h.name;
      head_ += ": ";
      head_ += h.value;
      head_ += "\r\n";
    }
    if (!keep_alive)
      head_ += "Connection: close\r\n";
    else if (http10_)
      head_ += "Connection: keep-alive\r\n";
    head_ += "\r\n";
    close_after_write_ = !keep_alive;
    body_ = std::move(r.body);
    const bool send_body = !bodiless && !head_request_;
    std::array<net::const_buffer, 2> buffers{
        net::buffer(head_),
        net::buffer(body_.data(), send_body ? body_.size() : 0)};
    stream_.expires_after(core_->opts.write_timeout);
    net::async_write(
        stream_, buffers,
        beast::bind_front_handler(&session::on_write, shared_from_this()));
  }

  void on_write(error_code ec, std::size_t) {
    if (body_.capacity() > read_chunk_bytes)
      std::string{}.swap(body_);
    else
      body_.clear();
    if (ec)
      return do_close();
    if (close_after_write_)
      return do_shutdown();
    do_read();
  }

  /// Starts a lingering close: no more sending, discard input for a while.
  void do_shutdown() {
    error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec)
      return do_close();
    buffer_.clear();
    linger_bytes_ = 0;
    stream_.expires_after(linger_timeout);
    do_linger();
  }

  void do_linger() {
    stream_.async_read_some(
        buffer_.prepare(read_chunk_bytes),
        beast::bind_front_handler(&session::on_linger, shared_from_this()));
  }

  void on_linger(error_code ec, std::size_t n) {
    linger_bytes_ += n;
    if (ec || closed_ || linger_bytes_ > linger_max_bytes)
      return do_close();
    do_linger();
  }

  void do_close() {
    if (closed_)
      return;
    closed_ = true;
    stream_.close();
    release_slot();
  }

  void release_slot() {
    if (counted_) {
      counted_ = false;
      core_->connections.fetch_sub(1);
    }
  }

  std::shared_ptr<core> core_;
  beast::tcp_stream stream_;
  /// Reused for every request; bounded by max_header_bytes + read_chunk_bytes.
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  /// The serialized status line and headers; its capacity is reused.
  std::string head_;
  /// The body being written.
  std::string body_;
  std::string remote_address_;
  /// Numbers requests, so a late or second responder call is ignored.
  uint64_t seq_ = 0;
  std::size_t linger_bytes_ = 0;
  bool awaiting_response_ = false;
  bool keep_alive_ = false;
  bool http10_ = false;
  bool head_request_ = false;
  bool first_request_ = true;
  bool close_after_write_ = false;
  bool closed_ = false;
  bool registered_ = false;
  /// True while this session counts in core::connections.
  bool counted_ = true;
};

void do_accept(const std::shared_ptr<core>& c);

void on_accept(const std::shared_ptr<core>& c, error_code ec,
               tcp::socket socket) {
  if (ec == net::error::operation_aborted || c->stopping.load())
    return;
  if (ec) {
    c->accept_retry.expires_after(accept_retry_delay);
    c->accept_retry.async_wait([c](error_code wait_ec) {
      if (!wait_ec && !c->stopping.load())
        do_accept(c);
    });
    return;
  }
  if (c->connections.load() >= c->opts.max_connections) {
    socket.close(ec);
    return do_accept(c);
  }
  auto remote = socket.remote_endpoint(ec);
  if (ec) {
    // The peer is already gone.
    socket.close(ec);
    return do_accept(c);
  }
  socket.set_option(tcp::no_delay{true}, ec);
  c->connections.fetch_add(1);
  auto s = std::make_shared<session>(c, std::move(socket),
                                     remote.address().to_string());
  s->run();
  do_accept(c);
}

void do_accept(const std::shared_ptr<core>& c) {
  c->acceptor.async_accept(net::make_strand(c->ioc),
                           [c](error_code ec, tcp::socket socket) {
                             on_accept(c, ec, std::move(socket));
                           });
}

void run_io(core& c) {
  for (;;) {
    try {
      c.ioc.run();
      return;
    } catch (const std::exception& e) {
      // A completion handler threw (out of memory); unwinding released its
      // session, so keep serving the others.
      std::fprintf(stderr, "rouse http: I/O handler failed: %s\n", e.what());
    } catch (...) {
      std::fprintf(stderr, "rouse http: I/O handler failed\n");
    }
  }
}

caf::error listen_error(const std::string& where, const error_code& ec) {
  return make_error(errc::invalid_config,
                    "listen " + where + ": " + ec.message());
}

caf::error check(const server_options& opts, const handler& h) {
  auto bad = [](const char* what) {
    return make_error(errc::invalid_config,
                      std::string{"http server: "} + what);
  };
  if (!h)
    return bad("no request handler");
  if (opts.threads == 0)
    return bad("threads must be at least 1");
  if (opts.max_header_bytes == 0)
    return bad("max_header_bytes must be at least 1");
  if (opts.max_connections == 0)
    return bad("max_connections must be at least 1");
  using zero = std::chrono::milliseconds;
  if (opts.read_timeout <= zero{0} || opts.idle_timeout <= zero{0}
      || opts.write_timeout <= zero{0})
    return bad("timeouts must be positive");
  return {};
}

} // namespace

struct server::impl {
  std::shared_ptr<core> c;
  std::vector<std::thread> threads;
  uint16_t port = 0;
  std::mutex stop_mu;
  bool stopped = false; // guarded by stop_mu
};

server::server(std::unique_ptr<impl> ptr) : impl_(std::move(ptr)) {}

server::~server() {
  stop();
}

uint16_t server::port() const noexcept {
  return impl_->port;
}

caf::expected<std::unique_ptr<server>> server::start(server_options opts,
                                                     handler h) {
  if (auto err = check(opts, h))
    return err;
  const std::string where = opts.host + ":" + std::to_string(opts.port);
  try {
    auto c = std::make_shared<core>(std::move(opts), std::move(h));
    error_code ec;
    tcp::endpoint endpoint;
    auto address = net::ip::make_address(c->opts.host, ec);
    if (!ec) {
      endpoint = tcp::endpoint{address, c->opts.port};
    } else {
      tcp::resolver resolver{c->ioc};
      auto results =
          resolver.resolve(c->opts.host, std::to_string(c->opts.port),
                           tcp::resolver::passive, ec);
      if (ec)
        return listen_error(where, ec);
      if (results.empty())
        return make_error(errc::invalid_config,
                          "listen " + where + ": no address");
      endpoint = results.begin()->endpoint();
    }
    auto& acceptor = c->acceptor;
    acceptor.open(endpoint.protocol(), ec);
    if (!ec)
      acceptor.set_option(net::socket_base::reuse_address{true}, ec);
    if (!ec)
      acceptor.bind(endpoint, ec);
    if (!ec)
      acceptor.listen(net::socket_base::max_listen_connections, ec);
    if (ec)
      return listen_error(where, ec);
    auto bound = acceptor.local_endpoint(ec);
    if (ec)
      return listen_error(where, ec);
    auto ptr = std::make_unique<impl>();
    ptr->c = c;
    ptr->port = bound.port();
    std::unique_ptr<server> srv{new server{std::move(ptr)}};
    net::post(acceptor.get_executor(), [c] { do_accept(c); });
    for (unsigned i = 0; i < c->opts.threads; ++i)
      srv->impl_->threads.emplace_back([c] { run_io(*c); });
    return srv;
  } catch (const std::exception& e) {
    return make_error(errc::invalid_config,
                      "listen " + where + ": " + e.what());
  }
}

void server::stop() {
  std::lock_guard<std::mutex> guard{impl_->stop_mu};
  if (impl_->stopped)
    return;
  impl_->stopped = true;
  auto& c = impl_->c;
  // The io_context stops for good once its work count reaches zero; this guard
  // keeps it running until every close below is queued (the pending accept
  // alone does not: on_accept stops re-arming once `stopping` is set), or the
  // queued closes, and the sessions they hold, would never run nor be freed.
  auto work = net::make_work_guard(c->ioc);
  std::vector<std::shared_ptr<session>> live;
  {
    std::lock_guard<std::mutex> sessions_guard{c->sessions_mu};
    c->stopping.store(true);
    live.reserve(c->sessions.size());
    for (auto* s : c->sessions)
      if (auto ptr = s->weak_from_this().lock())
        live.push_back(std::move(ptr));
  }
  while (c->posting.load() != 0)
    std::this_thread::yield();
  for (auto& s : live)
    s->close_soon();
  net::post(c->acceptor.get_executor(), [c] {
    error_code ec;
    c->acceptor.close(ec);
    c->accept_retry.cancel();
  });
  live.clear();
  work.reset();
  // From a handler the calling I/O thread cannot join itself; it finishes on
  // its own and its reference keeps the core alive until then.
  for (auto& t : impl_->threads) {
    if (t.get_id() == std::this_thread::get_id())
      t.detach();
    else if (t.joinable())
      t.join();
  }
  impl_->threads.clear();
}

response error_response(int status, std::string_view message) {
  response r;
  r.status = status;
  r.body.reserve(message.size() + 16);
  r.body += "{\"error\":";
  r.body += json::quote(message);
  r.body += '}';
  return r;
}

} // namespace rouse::http
