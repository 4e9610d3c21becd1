-- wrk script: GET $BENCH_PATH with x-api-key: $BENCH_KEY (none when empty); prints one
-- RESULT line (requests/s, p50 and p99 in ms, answers other than 200).
local key = os.getenv("BENCH_KEY") or ""
local path = os.getenv("BENCH_PATH") or "/"
local non200 = 0

request = function()
  if key == "" then
    return wrk.format("GET", path)
  end
  return wrk.format("GET", path, { ["x-api-key"] = key })
end

response = function(status)
  if status ~= 200 then
    non200 = non200 + 1
  end
end

done = function(summary, latency)
  local secs = summary.duration / 1e6
  io.write(string.format("RESULT rps=%.0f p50_ms=%.3f p99_ms=%.3f non200=%d\n",
    summary.requests / secs, latency:percentile(50) / 1000, latency:percentile(99) / 1000, non200))
end
