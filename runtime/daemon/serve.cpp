// `rouse serve` and `rouse check`: load the config, start the host in an actor
// system, wait for SIGINT/SIGTERM, stop cleanly.
#include "runtime/daemon/commands.hpp"

#include "actors/host.hpp"
#include "runtime/config/config.hpp"
#include "sources/cron/cron_config.hpp"
#include "sources/webhook/webhook_source.hpp"

#include <caf/all.hpp>

#include <csignal>
#include <iostream>
#include <pthread.h>
#include <sstream>
#include <sys/resource.h>

namespace rouse::cli {

namespace {

bool load(const std::string& path, config::config& out) {
  auto result = config::load_file(path);
  for (const auto& d : result.errors)
    std::cerr << d.to_string() << "\n";
  if (!result.ok())
    return false;
  // Source parameters are validated by their kind.
  std::vector<config::diagnostic> errors;
  sources::webhook::load_webhook_sources(*result.cfg, errors);
  sources::cron::load_cron_sources(*result.cfg, errors);
  for (const auto& d : errors)
    std::cerr << d.to_string() << "\n";
  if (!errors.empty())
    return false;
  out = std::move(*result.cfg);
  return true;
}

// Each handler process holds up to 4 descriptors here; lift the soft limit so
// the default limits of the process runner are reachable.
void raise_fd_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

} // namespace

int check(const std::string& config_path) {
  config::config cfg;
  if (!load(config_path, cfg))
    return 2;
  std::cout << config_path << ": ok (" << cfg.sources.size() << " source(s), "
            << cfg.triggers.size() << " trigger(s))\n";
  return 0;
}

int serve(const serve_args& args) {
  config::config cfg;
  if (!load(args.config_path, cfg))
    return 2;
  raise_fd_limit();
  // Block the stop signals in every thread (threads inherit the mask), then
  // wait for them here.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  caf::actor_system_config sys_cfg;
  // rouse parses its own arguments: hide argv and caf-application.ini from CAF.
  std::istringstream no_ini;
  sys_cfg.parse(caf::actor_system_config::string_list{}, no_ini);
  sys_cfg.set("scheduler.max-threads", 2);
  // One shared queue instead of work stealing: stealing workers poll between
  // messages and took 15-20 % of the ingest rate on 2 cores (bench/README.md).
  sys_cfg.set("scheduler.policy", caf::atom("sharing"));
  sys_cfg.set("logger.verbosity", caf::atom("quiet"));
  int rc = 0;
  {
    caf::actor_system sys{sys_cfg};
    host_options opts;
    opts.cfg = std::move(cfg);
    opts.bench_control = args.bench_control;
    auto h = host::start(sys, std::move(opts));
    if (!h) {
      std::cerr << "rouse: " << describe(h.error()) << "\n";
      return is(h.error(), errc::invalid_config) ? 2 : 1;
    }
    int sig = 0;
    sigwait(&stop_signals, &sig);
    std::cerr << "rouse: " << (sig == SIGINT ? "SIGINT" : "SIGTERM")
              << ", stopping\n";
    (*h)->stop();
    h->reset();
  }
  return rc;
}

} // namespace rouse::cli
