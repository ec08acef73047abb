-- wrk script for scripts/load-bench.sh: the reference voice-interaction requests over keep-alive connections.
--
-- Environment (read by every wrk thread, each of which runs this file in a Lua state of its own):
--   LOAD_MODE         "create": every request POSTs the reference create body.
--                     "mix":    create-then-PATCH: every created interaction's sysId is taken from the answer
--                               and the next request of the same wrk thread PATCHes it with the reference update
--                               body, so about half the requests are creates and half updates.
--                     "soak":   create, PATCH, then GET the interaction back: a third of each (scripts/soak.sh).
--   LOAD_CREATE_BODY  path of the POST body (docs/examples/create.json)
--   LOAD_UPDATE_BODY  path of the PATCH body (docs/examples/update.json)
--   LOAD_DELAY_MS     if > 0, each connection waits this long on average (uniformly from half to one and a
--                     half times it, so that connections do not move in lockstep) after a response before its
--                     next request: the paced run, latency at a chosen rate rather than at saturation
-- The URL given to wrk is the collection path (…/api/now/openframe/voice-interaction); Authorization comes
-- from wrk's -H.
--
-- done() prints one line, `RESULT key=value…`, that load-bench.sh reads; `FIRST_BAD …` follows when some
-- answer was not 2xx.

local function slurp(path)
  local f = assert(io.open(path, "rb"), "cannot open " .. tostring(path))
  local s = f:read("*a")
  f:close()
  return s
end

local mode = os.getenv("LOAD_MODE") or "create"
local create_body = slurp(os.getenv("LOAD_CREATE_BODY"))
local update_body = slurp(os.getenv("LOAD_UPDATE_BODY"))
local delay_ms = tonumber(os.getenv("LOAD_DELAY_MS") or "0") or 0

wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"

-- Per thread, read by done() through thread:get, so they must be globals.
non2xx = 0
creates = 0
patches = 0
first_bad = ""

-- sysIds this thread created and has not patched yet, oldest first.
local pending, head, tail = {}, 1, 0
-- In soak mode, sysIds patched and not read back yet, oldest first.
local unread, rhead, rtail = {}, 1, 0
reads = 0

-- wrk decides once, from whether the script defines delay(), whether to call it: define it only when pacing.
if delay_ms > 0 then
  function delay()
    return math.floor(delay_ms * (0.5 + math.random()) + 0.5)
  end
end

function request()
  if mode == "soak" and rhead <= rtail then
    local id = unread[rhead]
    unread[rhead] = nil
    rhead = rhead + 1
    return wrk.format("GET", wrk.path .. "/" .. id, nil, nil)
  end
  if (mode == "mix" or mode == "soak") and head <= tail then
    local id = pending[head]
    pending[head] = nil
    head = head + 1
    if mode == "soak" then
      rtail = rtail + 1
      unread[rtail] = id
    end
    return wrk.format("PATCH", wrk.path .. "/" .. id, nil, update_body)
  end
  return wrk.format("POST", wrk.path, nil, create_body)
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    if first_bad == "" then
      first_bad = status .. " " .. string.sub(body or "", 1, 300)
    end
    return
  end
  -- A create answers {"result":{"status":"SUCCESS","sysId":"…","number":"…"}}, an update without sysId; a
  -- read (soak mode) has a sysId but no status.
  if body and not string.find(body, '"status"%s*:%s*"SUCCESS"') then
    reads = reads + 1
    return
  end
  local id = body and string.match(body, '"sysId"%s*:%s*"(%x+)"')
  if id then
    creates = creates + 1
    if mode == "mix" or mode == "soak" then
      tail = tail + 1
      pending[tail] = id
    end
  else
    patches = patches + 1
  end
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_number", #threads)
end

function init(args)
  math.randomseed(os.time() * 100 + (thread_number or 0))
end

function done(summary, latency, requests)
  local bad, made, patched, read, first = 0, 0, 0, 0, ""
  for _, t in ipairs(threads) do
    bad = bad + t:get("non2xx")
    read = read + t:get("reads")
    made = made + t:get("creates")
    patched = patched + t:get("patches")
    if first == "" then
      first = t:get("first_bad")
    end
  end
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d non2xx=%d socket_errors=%d timeouts=%d creates=%d patches=%d " ..
    "p50_us=%d p99_us=%d p999_us=%d max_us=%d reads=%d\n",
    summary.requests, summary.duration, bad, e.connect + e.read + e.write, e.timeout, made, patched,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max, read))
  if first ~= "" then
    io.write("FIRST_BAD " .. string.gsub(first, "%s+", " ") .. "\n")
  end
end
