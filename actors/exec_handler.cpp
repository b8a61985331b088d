// Exec handler behavior: start the process on the runner, keep the response
// promise, and deliver it when the runner posts the exit back to this actor.
#include "actors/exec_handler.hpp"

#include "runtime/exec/process_runner.hpp"
#include "runtime/json/cloudevent.hpp"
#include "runtime/template/template.hpp"

#include <caf/all.hpp>

#include <iostream>
#include <unordered_map>

namespace rouse {

namespace {

struct exec_handler_state {
  exec_handler_config cfg;
  uint64_t next_token = 0;
  std::unordered_map<uint64_t, caf::typed_response_promise<run_outcome>>
      pending;
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

run_outcome to_outcome(exec::process_result&& r) {
  run_outcome o;
  o.ok =
      !r.spawn_failed && !r.timed_out && r.term_signal == 0 && r.exit_code == 0;
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
        if (!missing.empty()) {
          std::string paths;
          for (const auto& m : missing)
            paths += (paths.empty() ? "" : ", ") + m;
          std::cerr << "rouse: run " << req.run_id
                    << ": the event has no value for template path(s) " << paths
                    << "; rendered as empty\n";
        }
        spec.cwd = st.cfg.cwd;
        spec.stdin_data = json::encode_cloudevent(req.ev);
        spec.timeout = st.cfg.timeout;
        spec.kill_grace = st.cfg.kill_grace;
        spec.max_output_bytes = st.cfg.output_cap_bytes;
        auto token = ++st.next_token;
        st.pending.emplace(token, rp);
        auto hdl = caf::actor_cast<exec_handler_actor>(self);
        st.cfg.runner->start(std::move(spec),
                             [hdl, token](exec::process_result result) {
                               caf::anon_send(hdl, exited_atom::value, token,
                                              to_outcome(std::move(result)));
                             });
        return rp;
      },
      [=](exited_atom, uint64_t token, run_outcome& outcome) {
        auto i = self->state.pending.find(token);
        if (i == self->state.pending.end())
          return;
        i->second.deliver(std::move(outcome));
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
  if (!cfg.api_url.empty())
    env.push_back("ROUSE_API=" + cfg.api_url);
  return env;
}

exec_handler_actor spawn_exec_handler(caf::actor_system& sys,
                                      exec_handler_config cfg) {
  return sys.spawn(exec_handler, std::move(cfg));
}

} // namespace rouse
