// rouse: the command-line entry point. Parses arguments with CLI11 and
// dispatches to the subcommands in commands.hpp.
#include "runtime/daemon/commands.hpp"

#include <CLI/CLI.hpp>

#include <iostream>

int main(int argc, char** argv) {
  using namespace rouse::cli;
  CLI::App app{
      "rouse: turns events (webhooks, schedules, messages, API calls) into "
      "durable runs of work.\nExit codes: 0 ok, 1 failure, 2 usage or "
      "config error."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "rouse 0.1.0");

  serve_args sa;
  auto* serve_cmd =
      app.add_subcommand("serve", "Run the rouse host: HTTP API, "
                                  "journal, routing and handlers");
  serve_cmd
      ->add_option("-c,--config", sa.config_path, "Configuration file (YAML)")
      ->required();
  serve_cmd->add_flag(
      "--bench-control", sa.bench_control,
      "Serve POST /api/_bench/accept (answers without journaling; "
      "the control of bench/ingest)");

  std::string check_path;
  auto* check_cmd = app.add_subcommand(
      "check",
      "Validate a configuration file and report every error with its line");
  check_cmd->add_option("-c,--config", check_path, "Configuration file (YAML)")
      ->required();

  std::string server_url;
  std::string client_config;
  auto add_client_options = [&](CLI::App* cmd) {
    cmd->add_option(
        "--server", server_url,
        "Server URL, e.g. http://127.0.0.1:7700 (default: $ROUSE_API, "
        "else the config's listen address, else 127.0.0.1:7700)");
    cmd->add_option(
        "-c,--config", client_config,
        "Configuration file to take the server address and token from");
  };

  emit_args ea;
  auto* emit_cmd =
      app.add_subcommand("emit", "Send one event to a running server");
  emit_cmd->add_option("--type", ea.type, "Event type, e.g. demo.hello")
      ->required();
  emit_cmd->add_option("--source", ea.source, "Event source (default: cli)");
  emit_cmd->add_option(
      "--id", ea.id,
      "Event id (default: generated). Sending the same (source, "
      "id) again is recognised as a duplicate");
  emit_cmd->add_option("--subject", ea.subject, "Event subject");
  emit_cmd->add_option("--data", ea.data,
                       "Payload: JSON text, or @FILE to read it from a file");
  emit_cmd->add_flag("--json", ea.json, "Print the server's JSON answer");
  add_client_options(emit_cmd);

  runs_args ra;
  auto* runs_cmd = app.add_subcommand("runs", "List runs, or show one run");
  runs_cmd->add_option("run_id", ra.run_id, "Show this run with its output");
  runs_cmd->add_option("--trigger", ra.trigger, "Only runs of this trigger");
  runs_cmd->add_option("--state", ra.state,
                       "Only runs in this state (pending, running, succeeded, "
                       "failed, retrying, dead, waiting, cancelled)");
  runs_cmd->add_option("--limit", ra.limit,
                       "At most this many runs (default 50)");
  runs_cmd->add_flag("--json", ra.json, "Print JSON");
  add_client_options(runs_cmd);
  auto* runs_wake = runs_cmd->add_subcommand(
      "wake", "Wake a waiting run now (it resumes with ROUSE_RESUME=wake)");
  auto* runs_cancel = runs_cmd->add_subcommand(
      "cancel", "Cancel a waiting, pending or retrying run");
  for (auto* sub : {runs_wake, runs_cancel}) {
    sub->add_option("run_id", ra.run_id, "Run id")->required();
    sub->add_flag("--json", ra.json, "Print the server's JSON answer");
    add_client_options(sub);
  }

  std::string pattern_path;
  std::string event_path;
  auto* match_cmd = app.add_subcommand(
      "match", "Dry-run an event pattern against an event (offline). Exit 0 "
               "match, 1 no match, 2 invalid pattern or event");
  match_cmd
      ->add_option("--pattern", pattern_path,
                   "JSON file with an event pattern (the `on:` language)")
      ->required();
  match_cmd
      ->add_option("--event", event_path,
                   "JSON file with a CloudEvent (structured mode)")
      ->required();

  cron_next_args cna;
  auto* cron_cmd = app.add_subcommand(
      "cron", "Cron schedules: preview fire times (offline, docs/cron.md)");
  cron_cmd->require_subcommand(1);
  auto* cron_next_cmd = cron_cmd->add_subcommand(
      "next", "Print the next fire times of a cron expression in a zone");
  cron_next_cmd->add_option(
      "expr", cna.expr,
      "Cron expression: 5 fields, 6 with seconds first, @daily ..., "
      "@every 1h30m (quote it)");
  cron_next_cmd->add_option("--tz", cna.timezone,
                            "IANA time zone of the fields (default UTC)");
  cron_next_cmd->add_option("--from", cna.from,
                            "Start after this ISO 8601 time, e.g. "
                            "2026-03-29T01:30:00+01:00 (default: now)");
  cron_next_cmd->add_option("--count", cna.count, "How many times (default 5)")
      ->check(CLI::Range(1, 10000));
  cron_next_cmd
      ->add_option("--repeated", cna.repeated,
                   "Local times a fall-back repeats: once (default) or twice")
      ->check(CLI::IsMember({"once", "twice"}));
  cron_next_cmd
      ->add_option("--skipped", cna.skipped,
                   "Local times a spring-forward skips: shift (default, fire "
                   "after the gap) or skip")
      ->check(CLI::IsMember({"shift", "skip"}));
  cron_next_cmd
      ->add_option("--batch", cna.batch_path,
                   "File of expr<TAB>zone<TAB>from<TAB>count lines")
      ->group("");

  triggers_args ta;
  auto* triggers_cmd = app.add_subcommand(
      "triggers", "List, add, remove, enable or disable triggers of a running "
                  "server (config triggers are read-only)");
  triggers_cmd->require_subcommand(1);
  auto* tr_ls = triggers_cmd->add_subcommand("ls", "List every trigger");
  auto* tr_show =
      triggers_cmd->add_subcommand("show", "Print one trigger as JSON");
  tr_show->add_option("name", ta.name, "Trigger name")->required();
  auto* tr_add = triggers_cmd->add_subcommand(
      "add", "Add a trigger from a JSON file (docs/api.md has the format)");
  tr_add->add_option("file", ta.file, "JSON file, or - for stdin")->required();
  tr_add->add_flag("--replace", ta.replace,
                   "Replace a trigger of the same name instead of failing");
  auto* tr_rm = triggers_cmd->add_subcommand("rm", "Remove a trigger");
  tr_rm->add_option("name", ta.name, "Trigger name")->required();
  auto* tr_enable = triggers_cmd->add_subcommand("enable", "Enable a trigger");
  tr_enable->add_option("name", ta.name, "Trigger name")->required();
  auto* tr_disable = triggers_cmd->add_subcommand(
      "disable", "Disable a trigger (it stays defined but matches nothing)");
  tr_disable->add_option("name", ta.name, "Trigger name")->required();
  auto* tr_resume = triggers_cmd->add_subcommand(
      "resume", "Start a trigger's budget over for the current window, so "
                "the runs it holds start");
  tr_resume->add_option("name", ta.name, "Trigger name")->required();
  tr_resume->add_option("--key", ta.key,
                        "Only this budget key (default: every key)");
  auto* tr_budget = triggers_cmd->add_subcommand(
      "budget", "Show what a trigger's budget keys spent in this window");
  tr_budget->add_option("name", ta.name, "Trigger name")->required();
  for (auto* sub : {tr_ls, tr_show, tr_add, tr_rm, tr_enable, tr_disable,
                    tr_resume, tr_budget}) {
    sub->add_flag("--json", ta.json, "Print the server's JSON answer");
    add_client_options(sub);
  }

  dlq_args da;
  auto* dlq_cmd = app.add_subcommand(
      "dlq", "The dead-letter queue: runs that failed all their attempts");
  dlq_cmd->require_subcommand(1);
  auto* dlq_ls = dlq_cmd->add_subcommand("ls", "List dead runs, newest first");
  dlq_ls->add_option("--limit", da.limit, "At most this many (default 50)");
  auto* dlq_show =
      dlq_cmd->add_subcommand("show", "Show one dead run with its output");
  dlq_show->add_option("run_id", da.run_id, "Run id")->required();
  auto* dlq_replay = dlq_cmd->add_subcommand(
      "replay", "Run a dead run again, as a new attempt chain");
  dlq_replay->add_option("run_id", da.run_id, "Run id")->required();
  auto* dlq_drop = dlq_cmd->add_subcommand(
      "drop", "Remove a run from the queue (it is kept as failed)");
  dlq_drop->add_option("run_id", da.run_id, "Run id")->required();
  for (auto* sub : {dlq_ls, dlq_show, dlq_replay, dlq_drop}) {
    sub->add_flag("--json", da.json, "Print JSON");
    add_client_options(sub);
  }

  wake_me_args wma;
  auto* wake_me_cmd = app.add_subcommand(
      "wake-me", "Inside a run: sleep for a while after this attempt exits 0, "
                 "then resume with ROUSE_RESUME=sleep (a control file's own "
                 "sleep or wait_for takes precedence)");
  wake_me_cmd->add_option("--in", wma.in, "How long to sleep, e.g. 5m")
      ->required();
  wake_me_cmd->add_option("--state", wma.state,
                          "JSON handed back on stdin when the run resumes");
  add_client_options(wake_me_cmd);

  timers_args tma;
  auto* timers_cmd = app.add_subcommand(
      "timers", "List the cron schedules with their next fire time and tick "
                "counts, or show one schedule's recent tick outcomes");
  timers_cmd->add_option("schedule", tma.id, "A cron source's name");
  timers_cmd->add_flag("--json", tma.json, "Print JSON");
  add_client_options(timers_cmd);

  explain_args xa;
  auto* explain_cmd = app.add_subcommand(
      "explain", "Show, per trigger, whether a stored event matched (or the "
                 "first field that failed) and what became of the match");
  explain_cmd->add_option("event_id", xa.event_id, "The event's id")
      ->required();
  explain_cmd->add_option("--source", xa.source,
                          "Only the event with this source");
  explain_cmd->add_flag("--json", xa.json, "Print JSON");
  add_client_options(explain_cmd);

  git_install_args gia;
  git_hook_args gha;
  auto* git_cmd = app.add_subcommand(
      "git", "Report local git activity (commits, merges, checkouts, "
             "rewrites, pushes) as events through git hooks (docs/git.md)");
  git_cmd->require_subcommand(1);
  auto* git_install = git_cmd->add_subcommand(
      "install-hooks",
      "Install hooks that report to a rouse server: post-commit, post-merge, "
      "post-checkout, post-rewrite in a work tree; post-receive, "
      "reference-transaction in a bare repository. Hooks already there keep "
      "running first");
  git_install->add_option("repo", gia.repo_path, "The repository's directory")
      ->required();
  git_install->add_option(
      "--repo-name", gia.repo_name,
      "Repository name in the events, e.g. octo/repo to match a forge's "
      "owner/name (default: the directory's name without .git)");
  git_install->add_flag("--uninstall", gia.uninstall,
                        "Remove rouse's hooks and restore the ones they ran");
  add_client_options(git_install);
  auto* git_hook_cmd = git_cmd->add_subcommand(
      "hook", "Report one hook run (what the installed hooks call)");
  git_hook_cmd->group("");
  git_hook_cmd->add_option("name", gha.hook, "The hook's name")->required();
  git_hook_cmd->add_option("args", gha.args, "The hook's arguments from git");
  git_hook_cmd->add_option("--repo-name", gha.repo_name,
                           "Repository name in the events");
  add_client_options(git_hook_cmd);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    auto code = app.exit(e);
    return code == 0 ? 0 : 2;
  }

  if (serve_cmd->parsed())
    return serve(sa);
  if (check_cmd->parsed())
    return check(check_path);
  if (match_cmd->parsed())
    return match(pattern_path, event_path);
  if (cron_next_cmd->parsed())
    return cron_next(cna);
  if (git_install->parsed())
    return git_install_hooks(server_url, client_config, gia);
  if (git_hook_cmd->parsed())
    return git_hook(server_url, client_config, gha);
  server_target target;
  if (!resolve_server(server_url, client_config, target))
    return 2;
  if (emit_cmd->parsed())
    return emit(target, ea);
  if (runs_wake->parsed() || runs_cancel->parsed()) {
    ra.action = runs_wake->parsed() ? "wake" : "cancel";
    return runs(target, ra);
  }
  if (runs_cmd->parsed())
    return runs(target, ra);
  if (explain_cmd->parsed())
    return explain(target, xa);
  if (timers_cmd->parsed())
    return timers(target, tma);
  if (wake_me_cmd->parsed())
    return wake_me(target, wma);
  for (auto* sub : {dlq_ls, dlq_show, dlq_replay, dlq_drop})
    if (sub->parsed()) {
      da.command = sub->get_name();
      return dlq(target, da);
    }
  for (auto* sub : {tr_ls, tr_show, tr_add, tr_rm, tr_enable, tr_disable,
                    tr_resume, tr_budget})
    if (sub->parsed()) {
      ta.command = sub->get_name();
      ta.has_key = tr_resume->count("--key") > 0;
      return triggers(target, ta);
    }
  return 2;
}
