#!/bin/sh
# A handler for the git events of examples/git-hooks.yaml: prints one line per
# event. Arguments: KIND REPO REF SHA; the whole CloudEvent is on stdin and
# rouse describes the run in ROUSE_* variables (docs/handlers.md).
set -eu
kind=${1:?usage: git-event.sh KIND REPO REF SHA}
repo=${2:-} ref=${3:-} sha=${4:-}
cat > /dev/null
short=$(printf '%.12s' "$sha")
case $kind in
  commit)
    subject=$(printf '%s\n' "${GIT_EVENT_MESSAGE:-}" | head -n 1)
    echo "$repo: committed $short on ${ref#refs/heads/}: $subject" ;;
  merge) echo "$repo: merged into ${ref#refs/heads/} at $short" ;;
  push) echo "$repo: ${GIT_EVENT_PUSHER:-someone} pushed ${ref#refs/heads/} to $short" ;;
  *) echo "$repo: $kind $ref $short" ;;
esac
