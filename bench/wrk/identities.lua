-- wrk script used for every scenario (so the load generator does the same
-- work everywhere): GET $WRK_PATH with "X-User: u<N>", N going round robin
-- over 0 … $IDS-1 from a random start per thread. Plain Caddy, the
-- hand-written proxy and nginx ignore the header; the gateway takes the
-- identity from it. At the end it prints one JSON line with the figures.

local ids = tonumber(os.getenv("IDS") or "1")
local path = os.getenv("WRK_PATH") or "/1/user/-/profile.json"
local counter = 0
local tid_next = 0

function setup(thread)
  thread:set("tid", tid_next)
  tid_next = tid_next + 1
end

function init(args)
  math.randomseed(os.time() + (tid or 0) * 7919)
  counter = math.random(0, ids - 1)
end

function request()
  local n = counter
  counter = counter + 1
  if counter >= ids then counter = 0 end
  return wrk.format("GET", path, { ["X-User"] = "u" .. n })
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,' ..
    '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout))
end
