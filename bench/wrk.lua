-- wrk script for bench/run.py and bench/memory.py; the url given to wrk is <base><prefix>/wallets.
-- Configured by environment variables so that one script serves every target and endpoint:
--   BENCH_OP      create | get | topup
--   BENCH_KEY     x-api-key (each key is its own world)
--   BENCH_WALLET  wallet id for get and topup
--   BENCH_TAG     unique per wrk run, so customer ids and idempotency keys never repeat
local op = os.getenv("BENCH_OP") or "get"
local key = os.getenv("BENCH_KEY") or "bench"
local wallet = os.getenv("BENCH_WALLET") or ""
local tag = os.getenv("BENCH_TAG") or tostring(os.time())

local nthreads = 0
function setup(thread)
  nthreads = nthreads + 1
  thread:set("tid", nthreads)  -- each thread has its own Lua state; tid keeps their ids apart
end

local base = wrk.path  -- <prefix>/wallets
local counter = 0

function request()
  counter = counter + 1
  local unique = tag .. "_" .. tid .. "_" .. counter
  local headers = { ["x-api-key"] = key, ["Content-Type"] = "application/json" }
  if op == "create" then
    -- a new customer per request: never trips the one-active-wallet-per-currency rule (409)
    return wrk.format("POST", base, headers,
      '{"customer_id":"cust_' .. unique .. '","currency":"usd","initial_credits_to_load":1}')
  elseif op == "topup" then
    return wrk.format("POST", base .. "/" .. wallet .. "/top-up", headers,
      '{"credits_to_add":1,"transaction_reason":"PURCHASED_CREDIT_DIRECT","idempotency_key":"'
      .. unique .. '"}')
  else
    return wrk.format("GET", base .. "/" .. wallet, headers)
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,'
    .. '"non_2xx":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.status, e.connect, e.read, e.write, e.timeout))
end
