#!/bin/sh
# A handler: reads the CloudEvent from stdin and greets whoever it names.
# rouse describes the run in ROUSE_* variables (see docs/handlers.md).
event=$(cat)
name=$(printf '%s' "$event" | sed -n 's/.*"name":"\([^"]*\)".*/\1/p')
echo "hello, ${name:-world}! (run $ROUSE_RUN_ID, attempt $ROUSE_ATTEMPT, event $ROUSE_EVENT_ID)"
