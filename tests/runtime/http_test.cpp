// Tests the HTTP server core and the blocking client over real sockets on
// 127.0.0.1 with OS-assigned ports: parsing, limits, timeouts, keep-alive,
// pipelining, asynchronous responders and shutdown.
#include "runtime/http/client.hpp"
#include "runtime/http/server.hpp"
#include "runtime/http/wire.hpp"
#include "runtime/json/writer.hpp"

#include <utility> // Boost 1.74 Asio under C++20 needs it before Asio.

// GCC 12 at -O2 reports a false -Wmaybe-uninitialized inside Beast's parser
// (boost::optional in basic_parser::content_length_unchecked).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#pragma GCC diagnostic pop

#include <catch2/catch.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

using namespace rouse;
using namespace rouse::http;
using namespace std::chrono_literals;
using namespace std::string_literals;

namespace {

namespace net = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

const std::string loopback = "127.0.0.1";

std::unique_ptr<server> must_start(server_options opts, handler h) {
  auto result = server::start(std::move(opts), std::move(h));
  if (!result)
    FAIL("server::start failed: " << describe(result.error()));
  return std::move(*result);
}

/// Responds at once with "<method> <path>" and counts calls.
struct counting_handler {
  std::shared_ptr<std::atomic<int>> calls =
      std::make_shared<std::atomic<int>>();
  void operator()(request&& req, responder respond) const {
    ++*calls;
    response res;
    res.content_type = "text/plain";
    res.body = req.method + " " + req.path;
    respond(std::move(res));
  }
};

/// Threads started by handlers, joined at the end of a test.
struct thread_bag {
  std::mutex mu;
  std::vector<std::thread> threads;
  template <class F>
  void spawn(F f) {
    std::lock_guard<std::mutex> guard{mu};
    threads.emplace_back(std::move(f));
  }
  ~thread_bag() {
    std::lock_guard<std::mutex> guard{mu};
    for (auto& t : threads)
      t.join();
  }
};

struct raw_result {
  std::string data;
  /// The server closed (or reset) the connection within the limit.
  bool closed = false;
  std::chrono::milliseconds elapsed{0};
};

/// Sends `bytes` on a new connection and collects what comes back until the
/// server closes the connection or `limit` passes.
raw_result raw_exchange(uint16_t port, const std::string& bytes,
                        std::chrono::milliseconds limit = 5000ms) {
  net::io_context ioc;
  tcp::socket socket{ioc};
  socket.connect({net::ip::make_address(loopback), port});
  if (!bytes.empty())
    net::write(socket, net::buffer(bytes));
  raw_result out;
  auto start = std::chrono::steady_clock::now();
  std::array<char, 4096> buf{};
  std::function<void()> read_more = [&] {
    socket.async_read_some(net::buffer(buf),
                           [&](boost::system::error_code ec, std::size_t n) {
                             out.data.append(buf.data(), n);
                             if (ec) {
                               out.closed = true;
                               return;
                             }
                             read_more();
                           });
  };
  read_more();
  ioc.run_for(limit);
  out.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  return out;
}

bool starts_with(const std::string& s, std::string_view prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

const std::string* find(const std::vector<header>& headers,
                        std::string_view name) {
  for (const auto& h : headers)
    if (detail::iequals(h.name, name))
      return &h.value;
  return nullptr;
}

} // namespace

TEST_CASE("http: GET and POST round-trip with headers, query and decoded path",
          "[runtime][http]") {
  auto srv = must_start({}, [](request&& req, responder respond) {
    response res;
    res.status = req.method == "POST" ? 201 : 200;
    res.content_type = "text/plain";
    const auto* token = req.find_header("x-TOKEN");
    const auto* state = req.find_query("state");
    res.body = req.method + "|" + req.path + "|" + (token ? *token : "-") + "|"
               + (state ? *state : "-") + "|" + req.body + "|"
               + req.remote_address + "|" + std::to_string(req.query.size());
    for (const auto& [key, value] : req.query)
      res.body += "|" + key + "=" + value;
    res.headers.push_back({"X-Reply", "yes"});
    res.headers.push_back({"Bad\nName", "dropped"});
    res.headers.push_back({"Content-Length", "999"});
    respond(std::move(res));
  });

  SECTION("GET") {
    client_request req;
    req.target = "/api/runs%2Fx/a%20b?state=fail%20ed&x=1+2&flag&&state=two";
    req.headers.push_back({"X-Token", "secret"});
    auto res = fetch(loopback, srv->port(), req);
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(res->content_type == "text/plain");
    CHECK(res->body
          == "GET|/api/runs/x/a b|secret|fail ed||127.0.0.1|4"
             "|state=fail ed|x=1 2|flag=|state=two");
    REQUIRE(find(res->headers, "x-reply"));
    CHECK(*find(res->headers, "x-reply") == "yes");
    REQUIRE(find(res->headers, "server"));
    CHECK(*find(res->headers, "server") == "rouse");
    CHECK(*find(res->headers, "content-length")
          == std::to_string(res->body.size()));
  }
  SECTION("POST") {
    client_request req;
    req.method = "POST";
    req.target = "/hooks/github";
    req.body = R"({"ref":"main"})";
    auto res = fetch(loopback, srv->port(), req);
    REQUIRE(res);
    CHECK(res->status == 201);
    CHECK(res->body == R"(POST|/hooks/github|-|-|{"ref":"main"}|127.0.0.1|0)");
  }
  SECTION("malformed percent-encoding is a 400") {
    auto out =
        raw_exchange(srv->port(), "GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(starts_with(out.data, "HTTP/1.1 400"));
    CHECK(out.closed);
  }
}

TEST_CASE("http: a responder called later from another thread answers",
          "[runtime][http]") {
  thread_bag bag;
  server_options opts;
  opts.threads = 2;
  auto srv = must_start(opts, [&bag](request&& req, responder respond) {
    bag.spawn([respond, body = std::move(req.body)]() mutable {
      std::this_thread::sleep_for(20ms);
      response res;
      res.body = "later:" + body;
      respond(std::move(res));
    });
  });
  std::vector<std::future<caf::expected<response>>> results;
  for (int i = 0; i < 8; ++i)
    results.push_back(std::async(std::launch::async, [&srv, i] {
      client_request req;
      req.method = "POST";
      req.target = "/x";
      req.body = std::to_string(i);
      return fetch(loopback, srv->port(), req);
    }));
  for (int i = 0; i < 8; ++i) {
    auto res = results[static_cast<std::size_t>(i)].get();
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(res->body == "later:" + std::to_string(i));
  }
}

TEST_CASE("http: a handler that throws yields a 500", "[runtime][http]") {
  auto srv = must_start(
      {}, [](request&&, responder) { throw std::runtime_error("boom"); });
  client_request req;
  req.target = "/";
  auto res = fetch(loopback, srv->port(), req);
  REQUIRE(res);
  CHECK(res->status == 500);
  CHECK(res->body == R"({"error":"request handler failed"})");
}

TEST_CASE("http: an over-limit body gets 413 and never reaches the handler",
          "[runtime][http]") {
  counting_handler h;
  server_options opts;
  opts.max_body_bytes = 1024;
  auto srv = must_start(opts, h);
  client_request req;
  req.method = "POST";
  req.target = "/hooks/x";

  SECTION("just over the limit") {
    req.body.assign(1025, 'a');
    auto res = fetch(loopback, srv->port(), req);
    REQUIRE(res);
    CHECK(res->status == 413);
    CHECK(res->content_type == "application/json");
    CHECK(res->body == R"({"error":"request body exceeds 1024 bytes"})");
    REQUIRE(find(res->headers, "connection"));
    CHECK(*find(res->headers, "connection") == "close");
  }
  SECTION("far over the limit") {
    req.body.assign(4 << 20, 'a');
    auto res = fetch(loopback, srv->port(), req);
    REQUIRE(res);
    CHECK(res->status == 413);
  }
  SECTION("announced by Content-Length alone") {
    auto out = raw_exchange(srv->port(), "POST /x HTTP/1.1\r\nHost: x\r\n"
                                         "Content-Length: 100000000\r\n\r\n");
    CHECK(starts_with(out.data, "HTTP/1.1 413"));
    CHECK(out.closed);
  }
  SECTION("chunked") {
    auto out = raw_exchange(srv->port(),
                            "POST /x HTTP/1.1\r\nHost: x\r\n"
                            "Transfer-Encoding: chunked\r\n\r\n800\r\n"
                                + std::string(0x800, 'b') + "\r\n0\r\n\r\n");
    CHECK(starts_with(out.data, "HTTP/1.1 413"));
    CHECK(out.closed);
  }
  SECTION("at the limit is fine") {
    req.body.assign(1024, 'a');
    auto res = fetch(loopback, srv->port(), req);
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(*h.calls == 1);
    return;
  }
  CHECK(*h.calls == 0);
}

TEST_CASE("http: huge headers get 431", "[runtime][http]") {
  counting_handler h;
  server_options opts;
  opts.max_header_bytes = 16 * 1024;
  auto srv = must_start(opts, h);
  client_request req;
  req.target = "/";
  req.headers.push_back({"X-Big", std::string(32 * 1024, 'h')});
  auto res = fetch(loopback, srv->port(), req);
  REQUIRE(res);
  CHECK(res->status == 431);
  CHECK(res->body == R"({"error":"request header exceeds 16384 bytes"})");
  CHECK(*h.calls == 0);
}

TEST_CASE("http: garbage bytes get 400 and never crash the server",
          "[runtime][http]") {
  counting_handler h;
  server_options opts;
  opts.read_timeout = 300ms;
  auto srv = must_start(opts, h);

  SECTION("a non-HTTP request") {
    auto out = raw_exchange(srv->port(), "\x01\x02\x03 garbage\r\n\r\n");
    CHECK(starts_with(out.data, "HTTP/1.1 400"));
    CHECK(out.data.find(R"({"error":"malformed request: )")
          != std::string::npos);
    CHECK(out.closed);
    CHECK(*h.calls == 0);
  }
  SECTION("random bytes") {
    std::mt19937 rng{42};
    std::uniform_int_distribution<int> byte{0, 255};
    std::uniform_int_distribution<int> length{1, 200};
    for (int i = 0; i < 100; ++i) {
      std::string junk;
      junk.resize(static_cast<std::size_t>(length(rng)));
      for (auto& c : junk)
        c = static_cast<char>(byte(rng));
      junk += "\r\n\r\n";
      auto out = raw_exchange(srv->port(), junk);
      CHECK(out.closed);
    }
    client_request req;
    req.target = "/still-up";
    auto res = fetch(loopback, srv->port(), req);
    REQUIRE(res);
    CHECK(res->body == "GET /still-up");
  }
}

TEST_CASE("http: keep-alive serves several requests on one connection",
          "[runtime][http]") {
  thread_bag bag;
  auto srv = must_start({}, [&bag](request&& req, responder respond) {
    // The first request answers late from another thread, and twice: the
    // second call must be ignored, not sent as the next request's response.
    if (req.path == "/slow") {
      bag.spawn([respond] {
        std::this_thread::sleep_for(50ms);
        response res;
        res.body = "slow";
        respond(res);
        res.body = "duplicate";
        respond(res);
      });
      return;
    }
    response res;
    res.body = req.path;
    respond(std::move(res));
  });
  net::io_context ioc;
  tcp::socket socket{ioc};
  socket.connect({net::ip::make_address(loopback), srv->port()});
  boost::beast::flat_buffer buffer;

  SECTION("one after the other") {
    for (std::string path : {"/slow", "/a", "/b", "/c"}) {
      bhttp::request<bhttp::string_body> req{bhttp::verb::get, path, 11};
      req.set(bhttp::field::host, "x");
      bhttp::write(socket, req);
      bhttp::response<bhttp::string_body> res;
      bhttp::read(socket, buffer, res);
      CHECK(res.result_int() == 200);
      CHECK(res.keep_alive());
      CHECK(res.body() == (path == "/slow" ? "slow" : path));
    }
  }
  SECTION("pipelined in one write") {
    std::string batch;
    for (const char* path : {"/slow", "/a", "/b"})
      batch += std::string{"GET "} + path + " HTTP/1.1\r\nHost: x\r\n\r\n";
    net::write(socket, net::buffer(batch));
    for (std::string expected : {"slow", "/a", "/b"}) {
      bhttp::response<bhttp::string_body> res;
      bhttp::read(socket, buffer, res);
      CHECK(res.body() == expected);
    }
  }
  SECTION("HTTP/1.0 with keep-alive") {
    for (int i = 0; i < 3; ++i) {
      bhttp::request<bhttp::string_body> req{bhttp::verb::get, "/ten", 10};
      req.keep_alive(true);
      bhttp::write(socket, req);
      bhttp::response<bhttp::string_body> res;
      bhttp::read(socket, buffer, res);
      CHECK(res.keep_alive());
      CHECK(res.body() == "/ten");
    }
  }
}

TEST_CASE("http: Expect 100-continue gets an interim response",
          "[runtime][http]") {
  counting_handler h;
  auto srv = must_start({}, h);
  net::io_context ioc;
  tcp::socket socket{ioc};
  socket.connect({net::ip::make_address(loopback), srv->port()});
  net::write(socket, net::buffer(std::string{
                         "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                         "Expect: 100-continue\r\n\r\n"}));
  std::string interim(25, '\0');
  net::read(socket, net::buffer(interim));
  CHECK(interim == "HTTP/1.1 100 Continue\r\n\r\n");
  net::write(socket, net::buffer(std::string{"hello"}));
  boost::beast::flat_buffer buffer;
  bhttp::response<bhttp::string_body> res;
  bhttp::read(socket, buffer, res);
  CHECK(res.result_int() == 200);
  CHECK(res.body() == "POST /up");
}

TEST_CASE("http: stop from inside a handler does not deadlock",
          "[runtime][http]") {
  std::promise<server*> self;
  auto srv_future = self.get_future().share();
  auto srv = must_start({}, [srv_future](request&&, responder respond) {
    respond(response{});
    srv_future.get()->stop();
  });
  self.set_value(srv.get());
  client_request req;
  req.target = "/";
  auto res = fetch(loopback, srv->port(), req, 5000ms);
  (void)res; // answered or dropped, depending on which ran first
  srv->stop();
  CHECK(!fetch(loopback, srv->port(), req, 2000ms));
}

TEST_CASE("http: Connection close and 204 are honoured", "[runtime][http]") {
  auto srv = must_start({}, [](request&& req, responder respond) {
    response res;
    if (req.path == "/empty")
      res.status = 204;
    res.body = "ignored for 204";
    respond(std::move(res));
  });
  auto out = raw_exchange(
      srv->port(),
      "GET /empty HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  CHECK(out.closed);
  CHECK(starts_with(out.data, "HTTP/1.1 204 No Content\r\n"));
  CHECK(out.data.find("Content-Length") == std::string::npos);
  CHECK(out.data.find("Connection: close\r\n") != std::string::npos);
  CHECK(out.data.find("\r\n\r\n") + 4 == out.data.size());
}

TEST_CASE("http: a slow client is disconnected after the read timeout",
          "[runtime][http]") {
  counting_handler h;
  server_options opts;
  opts.read_timeout = 300ms;
  auto srv = must_start(opts, h);

  SECTION("half the headers, then nothing") {
    auto out =
        raw_exchange(srv->port(), "GET / HTTP/1.1\r\nHost: x\r\n", 10000ms);
    CHECK(out.closed);
    CHECK(out.data.empty());
    CHECK(out.elapsed >= 200ms);
  }
  SECTION("connects and sends nothing") {
    auto out = raw_exchange(srv->port(), "", 10000ms);
    CHECK(out.closed);
    CHECK(out.data.empty());
  }
  CHECK(*h.calls == 0);
}

TEST_CASE("http: an idle keep-alive connection is closed after the idle "
          "timeout",
          "[runtime][http]") {
  counting_handler h;
  server_options opts;
  opts.idle_timeout = 300ms;
  auto srv = must_start(opts, h);
  auto out =
      raw_exchange(srv->port(), "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", 10000ms);
  CHECK(out.closed);
  CHECK(starts_with(out.data, "HTTP/1.1 200 OK\r\n"));
  CHECK(out.data.find("\r\n\r\nGET /a") + 10 == out.data.size());
  CHECK(*h.calls == 1);
}

TEST_CASE("http: connections over max_connections are closed at once",
          "[runtime][http]") {
  counting_handler h;
  server_options opts;
  opts.max_connections = 1;
  auto srv = must_start(opts, h);
  client_request req;
  req.target = "/";
  {
    net::io_context ioc;
    tcp::socket first{ioc};
    first.connect({net::ip::make_address(loopback), srv->port()});
    // The server counts `first` once it has accepted it; until then a fetch
    // may still slip in, so wait until one is refused.
    bool refused = false;
    for (int i = 0; i < 100 && !refused; ++i) {
      refused = !fetch(loopback, srv->port(), req, 2000ms);
      if (!refused)
        std::this_thread::sleep_for(10ms);
    }
    CHECK(refused);
  }
  bool served = false;
  for (int i = 0; i < 100 && !served; ++i) {
    served = static_cast<bool>(fetch(loopback, srv->port(), req, 2000ms));
    if (!served)
      std::this_thread::sleep_for(10ms);
  }
  CHECK(served);
}

TEST_CASE("http: start fails when the port is in use", "[runtime][http]") {
  counting_handler h;
  auto first = must_start({}, h);
  server_options opts;
  opts.port = first->port();
  auto second = server::start(opts, h);
  REQUIRE(!second);
  CHECK(is(second.error(), errc::invalid_config));
  CHECK(describe(second.error())
        == "listen 127.0.0.1:" + std::to_string(first->port())
               + ": Address already in use");

  SECTION("bad options are rejected too") {
    server_options bad;
    bad.host = "not an address";
    CHECK(!server::start(bad, h));
    bad = {};
    bad.threads = 0;
    auto result = server::start(bad, h);
    REQUIRE(!result);
    CHECK(describe(result.error())
          == "http server: threads must be at least 1");
  }
}

TEST_CASE("http: stop is idempotent, closes connections and joins",
          "[runtime][http]") {
  std::promise<responder> parked;
  std::atomic<bool> parked_once{false};
  auto srv = must_start({}, [&](request&&, responder respond) {
    if (!parked_once.exchange(true))
      parked.set_value(std::move(respond));
  });
  const auto port = srv->port();

  net::io_context ioc;
  tcp::socket idle{ioc};
  idle.connect({net::ip::make_address(loopback), port});

  auto pending = std::async(std::launch::async, [port] {
    client_request req;
    req.target = "/never-answered";
    return fetch(loopback, port, req, 10000ms);
  });
  auto respond = parked.get_future().get();

  srv->stop();
  srv->stop();

  auto result = pending.get();
  CHECK(!result);
  std::array<char, 16> buf{};
  boost::system::error_code ec;
  idle.read_some(net::buffer(buf), ec);
  CHECK(ec);

  // A responder outliving the connection and stop() is harmless.
  respond(response{});
  respond = nullptr;

  client_request req;
  req.target = "/";
  CHECK(!fetch(loopback, port, req, 2000ms));
  srv.reset();
}

TEST_CASE("http: fetch to a closed port is unreachable", "[runtime][http]") {
  uint16_t port = 0;
  {
    auto srv = must_start({}, counting_handler{});
    port = srv->port();
  }
  client_request req;
  req.target = "/";
  auto res = fetch(loopback, port, req);
  REQUIRE(!res);
  CHECK(is(res.error(), errc::unreachable));
  CHECK(describe(res.error())
        == "cannot reach 127.0.0.1:" + std::to_string(port)
               + ": Connection refused");
}

TEST_CASE("http: fetch rejects a malformed request", "[runtime][http]") {
  client_request req;
  req.method = "GE T";
  req.target = "/";
  auto res = fetch(loopback, 1, req);
  REQUIRE(!res);
  CHECK(is(res.error(), errc::invalid_input));
}

TEST_CASE("http: json_quote escapes and error_response wraps",
          "[runtime][http]") {
  CHECK(json::quote("plain") == R"("plain")");
  CHECK(json::quote("a\"b\\c\n\t\x01") == R"("a\"b\\c\n\t\u0001")");
  CHECK(json::quote("caf\xc3\xa9") == "\"caf\xc3\xa9\"");
  CHECK(json::quote("bad\xff\xc3") == R"("bad\ufffd\ufffd")");
  CHECK(json::quote("\xed\xa0\x80") == R"("\ufffd\ufffd\ufffd")");
  auto res = error_response(404, "no run \"7\"");
  CHECK(res.status == 404);
  CHECK(res.content_type == "application/json");
  CHECK(res.body == R"({"error":"no run \"7\""})");
}

TEST_CASE("http: percent_decode decodes escapes and rejects bad ones",
          "[runtime][http]") {
  auto decode = [](std::string_view in, bool plus) {
    std::string out = ">";
    bool ok = percent_decode(in, plus, out);
    return std::make_pair(ok, out);
  };
  CHECK(decode("a%20b%2fc%2F", false) == std::make_pair(true, ">a b/c/"s));
  CHECK(decode("a+b", false) == std::make_pair(true, ">a+b"s));
  CHECK(decode("a+b", true) == std::make_pair(true, ">a b"s));
  CHECK(decode("caf%C3%A9", false) == std::make_pair(true, ">caf\xc3\xa9"s));
  CHECK(decode("", false) == std::make_pair(true, ">"s));
  for (auto bad : {"%", "%4", "a%", "%zz", "%4g", "%00", "x%00y", "%+1", "%-1",
                   "% 1", "%0x1"}) {
    CAPTURE(bad);
    CHECK_FALSE(decode(bad, false).first);
  }
}

TEST_CASE("http: parse_target splits path and query", "[runtime][http]") {
  using query_t = std::vector<std::pair<std::string, std::string>>;
  std::string path;
  query_t query;
  auto parse = [&](std::string_view target) {
    path.clear();
    query.clear();
    return parse_target(target, path, query);
  };
  REQUIRE(parse("/a%2Fb/c?x=1&y=&z&&q=a+b%26c#frag=1"));
  CHECK(path == "/a/b/c");
  CHECK(query == query_t{{"x", "1"}, {"y", ""}, {"z", ""}, {"q", "a b&c"}});
  REQUIRE(parse("/p+q"));
  CHECK(path == "/p+q");
  CHECK(query.empty());
  REQUIRE(parse("*"));
  CHECK(path == "*");
  REQUIRE(parse("http://127.0.0.1:8080/api/runs?state=failed"));
  CHECK(path == "/api/runs");
  CHECK(query == query_t{{"state", "failed"}});
  REQUIRE(parse("http://127.0.0.1"));
  CHECK(path == "/");
  REQUIRE(parse("http://127.0.0.1?a=1"));
  CHECK(path == "/");
  CHECK(query == query_t{{"a", "1"}});
  REQUIRE(parse("/?"));
  CHECK(path == "/");
  CHECK(query.empty());
  for (auto bad :
       {"", "api/runs", "/%zz", "/a%00", "/?a=%", "/?%=1", "ftp:/x"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse(bad));
  }
}

TEST_CASE("http: extra headers are checked before they are written",
          "[runtime][http]") {
  CHECK(is_field_value("text/plain; charset=utf-8"));
  CHECK(is_field_value(""));
  CHECK_FALSE(is_field_value("a\r\nSet-Cookie: x"));
  CHECK_FALSE(is_field_value("a\nb"));
  CHECK_FALSE(is_field_value(std::string_view{"a\0b", 3}));
  CHECK(is_extra_header_allowed({"Retry-After", "5"}));
  CHECK(is_extra_header_allowed({"X-Rouse-Run~1", "r1"}));
  CHECK_FALSE(is_extra_header_allowed({"", "x"}));
  CHECK_FALSE(is_extra_header_allowed({"Bad Name", "x"}));
  CHECK_FALSE(is_extra_header_allowed({"X:y", "x"}));
  CHECK_FALSE(is_extra_header_allowed({"Location", "/a\r\nX: 1"}));
  for (auto own : {"Server", "content-length", "CONTENT-TYPE", "Connection",
                   "Transfer-Encoding"}) {
    CAPTURE(own);
    CHECK_FALSE(is_extra_header_allowed({own, "x"}));
  }
}
