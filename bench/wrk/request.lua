-- request.lua -- the one wrk script of the benchmark. It shapes every request
-- from the environment (so one script serves every scenario and every
-- system) and, when wrk is done, prints one JSON line with what bench/run
-- records. It never inspects response bodies: correctness of each scenario
-- is checked once with curl before the load starts; under load, wrk counts
-- every non-2xx/3xx status as an error and bench/run rejects a run with any.
--
-- Env:
--   BENCH_METHOD   GET (default) or POST
--   BENCH_BODY     request body (POST), already form-encoded
--   BENCH_AUTH     value of the Authorization header, if any
--                  (Basic client credentials, or Bearer <access token>)
--   BENCH_ADDRS    "host:port,host:port,..." (optional): thread i sends to
--                  address i, as a load balancer spreads connections over
--                  instances (run wrk with one thread per address)
--   BENCH_RATE     requests per second to send at, in all (wrk's one
--                  thread, every connection); unset: as fast as possible
--
-- Pacing (BENCH_RATE): wrk2 is not in Debian, so this script paces wrk
-- itself. Request i of the run is due at start + i/RATE; wrk asks
-- delay() before each request and waits that long (wrk counts whole
-- milliseconds, so requests leave in per-millisecond batches, at the
-- right average rate). A server slower than RATE gets requests back to
-- back, as many as it can take. Latency is wrk's: from sending a request
-- to its answer, so time a request spent due but not yet sent (all
-- connections busy) is not counted -- the "coordinated omission" wrk2
-- corrects. At 50% and 90% of the peak rate connections are mostly idle,
-- so little goes uncounted.

local method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY")
local auth = os.getenv("BENCH_AUTH")
local rate = tonumber(os.getenv("BENCH_RATE") or "")

wrk.method = method
if auth and auth ~= "" then
  wrk.headers["Authorization"] = auth
end
if method == "POST" then
  wrk.body = body or ""
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end

local addrs_env = os.getenv("BENCH_ADDRS")
local addrs = nil
local next_thread = 0

-- wrk calls setup once per thread, in one Lua state, before any request.
function setup(thread)
  if not addrs_env or addrs_env == "" then
    return
  end
  if not addrs then
    addrs = {}
    for hp in string.gmatch(addrs_env, "[^,]+") do
      local host, port = hp:match("^(.*):(%d+)$")
      addrs[#addrs + 1] = wrk.lookup(host, port)[1]
    end
  end
  thread.addr = addrs[next_thread % #addrs + 1]
  next_thread = next_thread + 1
end

if rate and rate > 0 then
  local ffi = require("ffi")
  ffi.cdef[[
    typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
    int clock_gettime(int clk, bench_timespec *tp);
  ]]
  local ts = ffi.new("bench_timespec")
  local function now_ms()
    ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
    return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
  end
  local interval = 1000 / rate
  local due = nil
  function delay()
    local now = now_ms()
    if due == nil then due = now end
    -- A server that fell behind is not sent a burst to catch up later.
    if due < now - 100 then due = now - 100 end
    local wait = due - now
    due = due + interval
    if wait <= 0 then return 0 end
    return math.floor(wait)
  end
end

-- One JSON line, prefixed so bench/run can find it among wrk's own output.
-- Latencies are in microseconds; duration in microseconds.
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\n',
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout))
end
