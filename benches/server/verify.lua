-- wrk script: POST /v1/verify with a key drawn from KEYS_FILE (one key per line).
-- Bodies are built once per thread in init, so wrk measures the server, not Lua.
-- LOAD_MODE: verify (random key), exchange (random key, POST /v1/token), or warm
-- (verify every key in file order, then again: one pass loads the whole set, where
-- random draws leave e^-k of it unseen after k passes' worth of requests).
local bodies = {}
local n = 0
local path = os.getenv("KEYS_FILE")
local mode = os.getenv("LOAD_MODE") or "verify"

function init(args)
  for line in io.lines(path) do
    n = n + 1
    if mode ~= "exchange" then
      bodies[n] = '{"key":"' .. line .. '","required_scopes":["load:read"]}'
    else
      bodies[n] = line
    end
  end
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
end

local verify_headers = { ["Content-Type"] = "application/json" }

local next_key = 0

function request()
  local b
  if mode == "warm" then
    next_key = next_key % n + 1
    b = bodies[next_key]
  else
    b = bodies[math.random(n)]
  end
  if mode ~= "exchange" then
    return wrk.format("POST", "/v1/verify", verify_headers, b)
  end
  return wrk.format("POST", "/v1/token", { ["x-api-key"] = b }, nil)
end

local bad = 0
function response(status, headers, body)
  if status ~= 200 then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local non2xx = summary.errors.status
  io.write(string.format("RESULT rps=%.0f p50_ms=%.3f p99_ms=%.3f requests=%d non200=%d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests, non2xx))
end
