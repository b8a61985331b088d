// Exec handler behavior: start the process on the runner, keep the response
// promise, and deliver it when the runner posts the exit back to this actor.
#include "actors/exec_handler.hpp"

#include "runtime/control/control.hpp"
#include "runtime/exec/process_runner.hpp"
#include "runtime/json/cloudevent.hpp"
#include "runtime/json/writer.hpp"
#include "runtime/template/template.hpp"

#include "messages/clock.hpp"

#include <caf/all.hpp>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <unistd.h>
#include <unordered_map>

namespace rouse {

namespace {

/// One process in flight: where to answer, and its control file.
struct in_flight {
  caf::typed_response_promise<run_outcome> promise;
  std::string control_path;
};

struct exec_handler_state {
  exec_handler_config cfg;
  uint64_t next_token = 0;
  std::unordered_map<uint64_t, in_flight> pending;
  static inline const char* name = "exec_handler";
};

using exec_pointer = exec_handler_actor::stateful_pointer<exec_handler_state>;

/// Renders the `{{path}}` templates in `text` (validated when the trigger was
/// loaded; text that does not parse is used as it is).
std::string render(const std::string& text, tmpl::event_lookup& lookup,
                   std::vector<std::string>& missing) {
  if (text.find("{{") == std::string::npos)
    return text;
  auto t = tmpl::text_template::parse(text);
  if (!t)
    return text;
  return t->render(lookup, missing);
}

/// Creates an empty control file for one attempt; empty path (and a logged
/// reason) if the temp directory is not writable.
std::string make_control_file(const std::string& run_id) {
  std::error_code ec;
  auto dir = std::filesystem::temp_directory_path(ec);
  if (ec)
    dir = "/tmp";
  std::string path = (dir / "rouse-control-XXXXXX").string();
  int fd = ::mkstemp(path.data());
  if (fd < 0) {
    std::cerr << "rouse: run " << run_id << ": cannot create a control file in "
              << dir.string() << ": " << std::strerror(errno)
              << "; ROUSE_CONTROL is not set\n";
    return {};
  }
  ::close(fd);
  return path;
}

/// Reads and removes the control file; applies it to `o` if the process
/// succeeded. A malformed file fails the run with the reason.
void read_control(const std::string& path, run_outcome& o) {
  if (path.empty())
    return;
  std::string text;
  {
    std::ifstream in{path, std::ios::binary};
    text.assign(std::istreambuf_iterator<char>{in},
                std::istreambuf_iterator<char>{});
  }
  std::error_code ec;
  std::filesystem::remove(path, ec);
  if (!o.ok)
    return;
  auto now = o.finished_ns > 0 ? o.finished_ns : wall_clock_ns();
  if (auto err = control::apply(text, now, o)) {
    o.ok = false;
    o.error = describe(err);
  }
}

/// The process's stdin: the event, or on resume `{event, state, wake}`.
std::string stdin_document(const run_request& req) {
  std::string ev;
  if (req.batch.empty()) {
    ev = json::encode_cloudevent(req.ev);
  } else {
    // A batch: the array of its events.
    ev = "[";
    for (const auto& one : req.batch) {
      if (ev.size() > 1)
        ev += ',';
      ev += json::encode_cloudevent(one);
    }
    ev += ']';
  }
  if (req.resume.empty())
    return ev;
  std::string doc = "{\"event\":" + ev + ",\"state\":";
  doc += req.state.empty() ? "null" : req.state;
  json::object_writer wake;
  wake.field("reason", req.resume);
  doc += ",\"wake\":";
  auto w = wake.finish();
  if (!req.wake_event.empty()) {
    w.pop_back();
    w += ",\"event\":" + json::encode_cloudevent(req.wake_event.front()) + "}";
  }
  doc += w;
  doc += "}";
  return doc;
}

run_outcome to_outcome(exec::process_result&& r) {
  run_outcome o;
  o.ok = !r.spawn_failed && !r.timed_out && !r.cancelled && r.term_signal == 0
         && r.exit_code == 0;
  o.cancelled = r.cancelled;
  o.exit_code = r.exit_code;
  o.term_signal = r.term_signal;
  o.timed_out = r.timed_out;
  o.error = std::move(r.error);
  if (o.error.empty() && !o.ok)
    o.error = r.term_signal != 0
                  ? "killed by signal " + std::to_string(r.term_signal)
                  : "exit " + std::to_string(r.exit_code);
  o.stdout_text = std::move(r.stdout_text);
  o.stderr_text = std::move(r.stderr_text);
  o.output_truncated = r.stdout_truncated || r.stderr_truncated;
  o.started_ns = r.started_ns;
  o.finished_ns = r.finished_ns;
  return o;
}

exec_handler_actor::behavior_type exec_handler(exec_pointer self,
                                               exec_handler_config cfg) {
  self->state.cfg = std::move(cfg);
  return {
      [=](run_atom,
          run_request& req) -> caf::typed_response_promise<run_outcome> {
        auto& st = self->state;
        auto rp = self->make_response_promise<run_outcome>();
        exec::process_spec spec;
        tmpl::event_lookup lookup{req.ev};
        std::vector<std::string> missing;
        for (const auto& arg : st.cfg.argv)
          spec.argv.push_back(render(arg, lookup, missing));
        spec.env = run_environment(st.cfg, req, &missing);
        auto control_path = make_control_file(req.run_id);
        if (!control_path.empty())
          spec.env.push_back("ROUSE_CONTROL=" + control_path);
        if (!missing.empty()) {
          std::string paths;
          for (const auto& m : missing)
            paths += (paths.empty() ? "" : ", ") + m;
          std::cerr << "rouse: run " << req.run_id
                    << ": the event has no value for template path(s) " << paths
                    << "; rendered as empty\n";
        }
        spec.cwd = st.cfg.cwd;
        spec.stdin_data = stdin_document(req);
        spec.timeout = st.cfg.timeout;
        spec.kill_grace = st.cfg.kill_grace;
        spec.max_output_bytes = st.cfg.output_cap_bytes;
        spec.tag = req.run_id;
        auto token = ++st.next_token;
        st.pending.emplace(token, in_flight{rp, std::move(control_path)});
        auto hdl = caf::actor_cast<exec_handler_actor>(self);
        st.cfg.runner->start(std::move(spec),
                             [hdl, token](exec::process_result result) {
                               caf::anon_send(hdl, exited_atom::value, token,
                                              to_outcome(std::move(result)));
                             });
        return rp;
      },
      [=](stop_atom, const std::string& run_id, std::string& reason) {
        // Sent by the dispatcher after its run request, so the runner has
        // the run by now: queued, running, or already completed (then this
        // does nothing and the outcome on its way is what happened).
        self->state.cfg.runner->cancel(run_id, std::move(reason));
      },
      [=](exited_atom, uint64_t token, run_outcome& outcome) {
        auto i = self->state.pending.find(token);
        if (i == self->state.pending.end())
          return;
        read_control(i->second.control_path, outcome);
        i->second.promise.deliver(std::move(outcome));
        self->state.pending.erase(i);
      },
  };
}

} // namespace

std::vector<std::string> run_environment(const exec_handler_config& cfg,
                                         const run_request& req,
                                         std::vector<std::string>* missing) {
  std::vector<std::string> env;
  env.reserve(cfg.env.size() + 8);
  tmpl::event_lookup lookup{req.ev};
  std::vector<std::string> ignored;
  for (const auto& [k, v] : cfg.env)
    env.push_back(k + "=" + render(v, lookup, missing ? *missing : ignored));
  env.push_back("ROUSE_RUN_ID=" + req.run_id);
  env.push_back("ROUSE_TRIGGER=" + req.trigger);
  env.push_back("ROUSE_EVENT_ID=" + req.ev.id);
  env.push_back("ROUSE_EVENT_TYPE=" + req.ev.type);
  env.push_back("ROUSE_EVENT_SOURCE=" + req.ev.source);
  env.push_back("ROUSE_EVENT_SEQ=" + std::to_string(req.ev.seq));
  env.push_back("ROUSE_ATTEMPT=" + std::to_string(req.attempt));
  if (!req.batch.empty())
    env.push_back("ROUSE_BATCH_SIZE=" + std::to_string(req.batch.size()));
  if (!req.resume.empty())
    env.push_back("ROUSE_RESUME=" + req.resume);
  if (!cfg.api_url.empty())
    env.push_back("ROUSE_API=" + cfg.api_url);
  if (cfg.tokens)
    env.push_back("ROUSE_RUN_TOKEN=" + cfg.tokens->issue(req.run_id));
  return env;
}

exec_handler_actor spawn_exec_handler(caf::actor_system& sys,
                                      exec_handler_config cfg) {
  return sys.spawn(exec_handler, std::move(cfg));
}

} // namespace rouse
