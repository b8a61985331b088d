-- wrk script for bench/ingest: POSTs one ~1.5 KB structured CloudEvent per request, shaped
-- like a GitHub push webhook. Every request carries its own id (run tag, wrk thread, counter)
-- so the server stores each one instead of answering "duplicate".
--
-- Usage: wrk -t2 -c16 -d10s --latency -s post_event.lua http://127.0.0.1:PORT/api/events -- TAG
-- TAG (optional) must differ between wrk invocations against the same data dir, since the
-- counter restarts with every wrk process; run.sh passes one per invocation.

local next_thread = 0

-- Runs in wrk's main Lua state once per thread, before the threads start.
function setup(thread)
  thread:set("thread_id", next_thread)
  next_thread = next_thread + 1
end

local tag
local counter = 0
local headers = { ["Content-Type"] = "application/json" }

-- The body is split around the two per-request fields (the event id, and the delivery id
-- inside data) so building a request is a few concatenations.
local head = '{"specversion":"1.0","id":"'
local middle = '","source":"bench","type":"bench.event","subject":"refs/heads/main",'
  .. '"time":"2026-11-21T10:15:30Z","datacontenttype":"application/json",'
  .. '"data":{"delivery":"'
local tail = '","ref":"refs/heads/main",'
  .. '"before":"6113728f27ae82c7b1a177c8d03f9e96e0adf246",'
  .. '"after":"76ae82cbe4d8e1a2f0c2b4b5a21dd02a7ad6b0e1",'
  .. '"repository":{"id":186853002,"name":"rouse","full_name":"example-org/rouse",'
  .. '"private":false,"default_branch":"main",'
  .. '"html_url":"https://github.com/example-org/rouse",'
  .. '"owner":{"login":"example-org","id":21031067,"type":"Organization"}},'
  .. '"pusher":{"name":"ada","email":"ada@example.org"},'
  .. '"sender":{"login":"ada","id":583231,"type":"User"},'
  .. '"created":false,"deleted":false,"forced":false,'
  .. '"compare":"https://github.com/example-org/rouse/compare/6113728f27ae...76ae82cbe4d8",'
  .. '"commits":[{"id":"76ae82cbe4d8e1a2f0c2b4b5a21dd02a7ad6b0e1",'
  .. '"distinct":true,"message":"journal: share one fsync between concurrent appends\\n\\n'
  .. 'Requests that arrive while a commit is in flight join the next transaction.",'
  .. '"timestamp":"2026-11-21T10:15:28Z",'
  .. '"url":"https://github.com/example-org/rouse/commit/76ae82cbe4d8e1a2f0c2b4b5a21dd02a7ad6b0e1",'
  .. '"author":{"name":"Ada","email":"ada@example.org","username":"ada"},'
  .. '"committer":{"name":"Ada","email":"ada@example.org","username":"ada"},'
  .. '"added":["runtime/store/journal.cpp"],"removed":[],'
  .. '"modified":["runtime/store/journal.hpp","tests/runtime/journal_test.cpp",'
  .. '"bench/ingest/run.sh"]}],'
  .. '"head_commit":{"id":"76ae82cbe4d8e1a2f0c2b4b5a21dd02a7ad6b0e1",'
  .. '"timestamp":"2026-11-21T10:15:28Z"}}}'

-- Returns the request body for event `id`.
function event_body(id)
  return head .. id .. middle .. id .. tail
end

-- Runs in each thread's own Lua state, after setup() gave it thread_id.
function init(args)
  tag = (args[1] or string.format("%d-%d", os.time(), math.random(1, 1e9)))
    .. "-t" .. tostring(thread_id or 0)
end

function request()
  counter = counter + 1
  local id = tag .. "-" .. counter
  return wrk.format("POST", nil, headers, event_body(id))
end
