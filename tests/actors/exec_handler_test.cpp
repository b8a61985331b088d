// Tests the exec handler actor: the run environment, the event on stdin,
// timeouts and the output cap, with real processes through the real process
// runner.
#include "actors/exec_handler.hpp"

#include "runtime/exec/process_runner.hpp"
#include "runtime/json/cloudevent.hpp"

#include <catch2/catch.hpp>

#include <caf/all.hpp>

#include <csignal>
#include <sstream>

using namespace rouse;

namespace {

struct fixture {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::shared_ptr<exec::process_runner> runner =
      std::make_shared<exec::process_runner>();

  fixture() {
    std::istringstream no_ini;
    cfg.parse(caf::actor_system_config::string_list{}, no_ini);
    cfg.set("scheduler.max-threads", 2);
    sys = std::make_unique<caf::actor_system>(cfg);
  }

  run_outcome run(exec_handler_config hc, run_request req) {
    hc.runner = runner;
    auto hdl = spawn_exec_handler(*sys, std::move(hc));
    run_outcome result;
    {
      caf::scoped_actor self{*sys};
      self->request(hdl, std::chrono::seconds{30}, run_atom::value,
                    std::move(req))
          .receive([&](run_outcome& o) { result = std::move(o); },
                   [&](caf::error& err) { FAIL(caf::to_string(err)); });
    }
    caf::anon_send_exit(hdl, caf::exit_reason::user_shutdown);
    return result;
  }
};

run_request make_request() {
  run_request req;
  req.run_id = "0000000000000007-hello";
  req.trigger = "hello";
  req.attempt = 2;
  req.ev.id = "ev-1";
  req.ev.source = "api";
  req.ev.type = "demo.hello";
  req.ev.seq = 7;
  req.ev.data = R"({"name":"Ada"})";
  return req;
}

} // namespace

TEST_CASE("exec_handler: the process sees the run in its environment",
          "[actors][exec_handler]") {
  fixture fx;
  exec_handler_config hc;
  hc.trigger = "hello";
  hc.argv = {"/bin/sh", "-c",
             "echo $ROUSE_RUN_ID $ROUSE_TRIGGER $ROUSE_EVENT_ID "
             "$ROUSE_EVENT_TYPE $ROUSE_EVENT_SOURCE $ROUSE_EVENT_SEQ "
             "$ROUSE_ATTEMPT $ROUSE_API $EXTRA"};
  hc.env = {{"EXTRA", "x=1"}};
  hc.api_url = "http://127.0.0.1:7700";
  auto out = fx.run(hc, make_request());
  CHECK(out.ok);
  CHECK(out.exit_code == 0);
  CHECK(out.stdout_text
        == "0000000000000007-hello hello ev-1 demo.hello api 7 2 "
           "http://127.0.0.1:7700 x=1\n");
}

TEST_CASE("exec_handler: the event arrives on stdin as a CloudEvent",
          "[actors][exec_handler]") {
  fixture fx;
  exec_handler_config hc;
  hc.argv = {"cat"};
  auto req = make_request();
  auto expected = json::encode_cloudevent(req.ev);
  auto out = fx.run(hc, std::move(req));
  CHECK(out.ok);
  CHECK(out.stdout_text == expected);
  auto back = json::decode_event(out.stdout_text);
  REQUIRE(back);
  CHECK(back->data == R"({"name":"Ada"})");
}

TEST_CASE("exec_handler: a non-zero exit is a failed outcome with stderr",
          "[actors][exec_handler]") {
  fixture fx;
  exec_handler_config hc;
  hc.argv = {"/bin/sh", "-c", "echo broken >&2; exit 3"};
  auto out = fx.run(hc, make_request());
  CHECK_FALSE(out.ok);
  CHECK(out.exit_code == 3);
  CHECK(out.stderr_text == "broken\n");
  CHECK(out.error == "exit 3");
}

TEST_CASE("exec_handler: a process over its timeout is killed",
          "[actors][exec_handler]") {
  fixture fx;
  exec_handler_config hc;
  hc.argv = {"sleep", "30"};
  hc.timeout = std::chrono::milliseconds{200};
  hc.kill_grace = std::chrono::milliseconds{200};
  auto out = fx.run(hc, make_request());
  CHECK_FALSE(out.ok);
  CHECK(out.timed_out);
  CHECK(out.term_signal == SIGTERM);
  CHECK(out.error.find("timeout") != std::string::npos);
}

TEST_CASE("exec_handler: captured output is capped", "[actors][exec_handler]") {
  fixture fx;
  exec_handler_config hc;
  hc.argv = {"/bin/sh", "-c", "head -c 100000 /dev/zero | tr '\\0' a"};
  hc.output_cap_bytes = 1000;
  auto out = fx.run(hc, make_request());
  CHECK(out.ok);
  CHECK(out.stdout_text.size() == 1000);
  CHECK(out.output_truncated);
}

TEST_CASE("exec_handler: a missing program is a failed outcome, not a crash",
          "[actors][exec_handler]") {
  fixture fx;
  exec_handler_config hc;
  hc.argv = {"/nonexistent/handler"};
  auto out = fx.run(hc, make_request());
  CHECK_FALSE(out.ok);
  CHECK(out.error.find("/nonexistent/handler") != std::string::npos);
}
