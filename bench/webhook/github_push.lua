-- wrk script for bench/webhook: POSTs the same signed GitHub push delivery to every server.
--
-- Usage: wrk -t2 -c16 -d10s --latency -s github_push.lua http://127.0.0.1:PORT/hooks/github \
--          -- BODY_FILE SIGNATURE [TAG]
-- BODY_FILE is the exact body to send (payload.json, ~1.5 KB); SIGNATURE the value of
-- X-Hub-Signature-256 for it ("sha256=<hex HMAC-SHA256 of the body>"), computed once by run.sh:
-- GitHub's HMAC covers only the body, so one signature is valid for every request.
-- Each request carries its own X-GitHub-Delivery (TAG, wrk thread, counter): rouse uses the
-- delivery id as the event id, and with one fixed id every request after the first would be a
-- duplicate (200, nothing stored) and the benchmark would measure dedup, not ingest. TAG must
-- differ between wrk invocations against the same rouse data dir (the counter restarts with
-- every wrk process); run.sh passes one per invocation.

local next_thread = 0

-- Runs in wrk's main Lua state once per thread, before the threads start.
function setup(thread)
  thread:set("thread_id", next_thread)
  next_thread = next_thread + 1
end

local body
local tag
local counter = 0
local headers

-- Runs in each thread's own Lua state, after setup() gave it thread_id.
function init(args)
  local path, signature = args[1], args[2]
  if not path or not signature then
    error("github_push.lua: pass BODY_FILE SIGNATURE [TAG] after --")
  end
  local f = assert(io.open(path, "rb"))
  body = f:read("*a")
  f:close()
  tag = (args[3] or string.format("%d-%d", os.time(), math.random(1, 1e9)))
    .. "-t" .. tostring(thread_id or 0)
  headers = {
    ["Content-Type"] = "application/json",
    ["User-Agent"] = "GitHub-Hookshot/bench",
    ["X-GitHub-Event"] = "push",
    ["X-GitHub-Hook-ID"] = "292430182",
    ["X-Hub-Signature-256"] = signature,
  }
end

function request()
  counter = counter + 1
  headers["X-GitHub-Delivery"] = tag .. "-" .. counter
  return wrk.format("POST", nil, headers, body)
end
