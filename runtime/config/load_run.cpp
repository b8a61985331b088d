// Loads a trigger's `run:` (run_config): the exec argv or actor name, cwd,
// environment and time limits, checking every template.
#include "runtime/config/loader.hpp"

#include "messages/errc.hpp"
#include "runtime/template/template.hpp"

namespace rouse::config::detail {

bool loader::load_run(const field& f, run_config& run) {
  if (!expect_map(f, "a map with exec or actor"))
    return false;
  auto errors_before = errors_.size();
  auto m =
      read_map(f, {"exec", "actor", "cwd", "env", "timeout", "kill_grace"});
  auto exec = find(m, "exec");
  auto actor = find(m, "actor");
  if (exec && actor)
    error(f.key_mark, f.path, "set exactly one of exec and actor, not both");
  else if (!exec && !actor)
    error(f.key_mark, f.path,
          "missing exec (an argv list) or actor (a registered actor "
          "name); set exactly one");
  if (exec) {
    if (exec->node.IsScalar())
      error(value_mark(*exec), exec->path,
            "expected a list (the argv; no shell is used), e.g. "
            "[./script.sh, arg], got "
                + describe_type(exec->node));
    else if (auto list = get_string_list(*exec, false))
      run.exec = std::move(*list);
    if (!run.exec.empty() && run.exec.front().empty())
      error(value_mark(*exec), exec->path + "[0]",
            "the program must not be empty");
    for (size_t i = 0; i < run.exec.size(); ++i)
      if (auto t = tmpl::text_template::parse(run.exec[i]); !t)
        error(value_mark(*exec), exec->path + "[" + std::to_string(i) + "]",
              describe(t.error()));
  }
  if (actor)
    if (auto s = get_nonempty_string(*actor))
      run.actor = std::move(*s);
  for (auto key : {"cwd", "env"})
    if (auto v = find(m, key); v && actor && !exec)
      error(v->key_mark, v->path, "applies only to exec, not to actor");
  if (auto v = find(m, "cwd"))
    if (auto s = get_nonempty_string(*v))
      run.cwd = resolve_path(base_dir_, *s);
  if (auto v = find(m, "env"))
    load_env(*v, run);
  if (auto v = find(m, "timeout"))
    if (auto d = get_duration(*v))
      run.timeout = *d;
  if (auto v = find(m, "kill_grace"))
    if (auto d = get_duration(*v))
      run.kill_grace = *d;
  return errors_.size() == errors_before;
}

void loader::load_env(const field& f, run_config& run) {
  if (!expect_map(f, "a map of variable name to string"))
    return;
  for (auto& e : read_map(f, {}, true)) {
    if (e.key.empty() || e.key.find('=') != std::string::npos) {
      error(e.value.key_mark, e.value.path,
            "invalid environment variable name " + quote(e.key));
      continue;
    }
    if (auto s = get_string(e.value)) {
      if (auto t = tmpl::text_template::parse(*s); !t)
        error(value_mark(e.value), e.value.path, describe(t.error()));
      run.env.emplace_back(e.key, std::move(*s));
    }
  }
}

} // namespace rouse::config::detail
