-- wrk script for benches/run: keep-alive GETs spread round-robin over
-- HIT_IDS warmed campaign ids (HIT_FIRST_ID, HIT_FIRST_ID+1, ...; the path is
-- HIT_PATH .. id .. HIT_SUFFIX), and one
-- JSON line of results on stdout when done.
local first = tonumber(os.getenv("HIT_FIRST_ID") or "1")
local n = tonumber(os.getenv("HIT_IDS") or "100")
local prefix = os.getenv("HIT_PATH") or "/api/v1.0/campaigns/"
-- After the id, e.g. "/contacts?status=queue" for a list route.
local suffix = os.getenv("HIT_SUFFIX") or ""
local reqs = {}
local i = 0

function init(args)
  for k = 0, n - 1 do
    reqs[k + 1] = wrk.format("GET", prefix .. tostring(first + k) .. suffix)
  end
end

function request()
  i = i % n + 1
  return reqs[i]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d,"mean":%.1f}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean))
end
