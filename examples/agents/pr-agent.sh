#!/bin/sh
# An agent for a pull request (examples/github-pr-agent.yaml): gets the PR's URL
# as $1, PR_TITLE, PR_HEAD_SHA and PR_BASE_REF in the environment and the whole
# github.pull_request CloudEvent on stdin. With PR_AGENT set to a command (split
# into words, e.g. "my-review-agent --post-comments"), runs it with the URL as its
# last argument and the event on its stdin; its exit status is the run's.
set -eu
url=${1:?usage: pr-agent.sh PR_URL}
case $url in
  https://*/pull/[0-9]*) ;;
  *) echo "pr-agent: not a pull request URL: $url" >&2; exit 2 ;;
esac
event=$(cat)
echo "pull request: $url"
echo "title:        ${PR_TITLE:-}"
echo "head:         ${PR_HEAD_SHA:-} (into ${PR_BASE_REF:-?})"
if [ -z "${PR_AGENT:-}" ]; then
  echo "PR_AGENT is not set: nothing to run"
  exit 0
fi
# shellcheck disable=SC2086 # PR_AGENT is a command line on purpose
printf '%s\n' "$event" | $PR_AGENT "$url"
