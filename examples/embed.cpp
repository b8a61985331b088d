// Shows how a C++ program embeds rouse: it starts a host from a config given in
// code, registers its own handler actor for a trigger (`run: {actor:
// greeter}`), emits an event, and waits for the run to succeed. Run:
// ./build/examples/embed   (uses a temporary data directory; exits 0 on
// success)
#include "actors/host.hpp"
#include "runtime/config/config.hpp"
#include "runtime/store/store.hpp"

#include <caf/all.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <iostream>
#include <sstream>
#include <thread>

namespace {

// A handler actor: answers each run request with an outcome. Any C++ work fits
// here. (It takes an argument on purpose: in CAF 0.17.6, spawning a function
// actor with no arguments binds a reference to a null pointer inside CAF's
// headers, which UBSan reports.)
rouse::handler_actor::behavior_type greeter(rouse::handler_actor::pointer,
                                            std::string greeting) {
  return {
      [greeting](rouse::run_atom, const rouse::run_request& req) {
        rouse::run_outcome out;
        out.ok = true;
        out.exit_code = 0;
        out.stdout_text = greeting + " from C++ for event " + req.ev.id
                          + " (attempt " + std::to_string(req.attempt) + ")\n";
        return out;
      },
  };
}

} // namespace

int main() {
  auto dir = std::filesystem::temp_directory_path()
             / ("rouse-embed-" + std::to_string(::getpid()));
  std::ostringstream yaml;
  yaml << "node: { data_dir: " << dir.string()
       << ", listen: 127.0.0.1:0, durability: os }\n"
       << "triggers:\n"
       << "  greet:\n"
       << "    on: { type: [demo.greet] }\n"
       << "    run: { actor: greeter }\n";
  auto loaded = rouse::config::load_string(yaml.str(), "embed.yaml", "");
  if (!loaded.ok()) {
    for (const auto& d : loaded.errors)
      std::cerr << d.to_string() << "\n";
    return 2;
  }

  caf::actor_system_config sys_cfg;
  std::istringstream no_ini;
  sys_cfg.parse(caf::actor_system_config::string_list{}, no_ini);
  int rc = 1;
  {
    caf::actor_system sys{sys_cfg};
    auto handler = sys.spawn(greeter, std::string{"hello"});
    rouse::host_options opts;
    opts.cfg = std::move(*loaded.cfg);
    opts.actor_handlers.emplace_back("greeter", handler);
    auto h = rouse::host::start(sys, std::move(opts));
    if (!h) {
      std::cerr << "embed: " << rouse::describe(h.error()) << "\n";
      caf::anon_send_exit(handler, caf::exit_reason::user_shutdown);
      return 1;
    }
    rouse::event ev;
    ev.id = "embed-1";
    ev.source = "embed-example";
    ev.type = "demo.greet";
    std::promise<bool> stored;
    (*h)->emit({ev}, [&](auto result) { stored.set_value(bool(result)); });
    if (stored.get_future().get()) {
      // The run id is derived from the event's seq (1 in a fresh store) and
      // trigger.
      auto run_id = rouse::make_run_id(1, "greet");
      auto deadline =
          std::chrono::steady_clock::now() + std::chrono::seconds{10};
      while (std::chrono::steady_clock::now() < deadline) {
        auto run = (*h)->db().get_run(run_id);
        if (run && *run && rouse::is_terminal((*run)->current())) {
          std::cout << "run " << run_id << ": "
                    << rouse::to_string((*run)->current()) << "\n"
                    << (*run)->stdout_text;
          rc = (*run)->current() == rouse::run_state::succeeded ? 0 : 1;
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds{20});
      }
    }
    (*h)->stop();
    caf::anon_send_exit(handler, caf::exit_reason::user_shutdown);
  }
  std::filesystem::remove_all(dir);
  if (rc != 0)
    std::cerr << "embed: the run did not succeed\n";
  return rc;
}
