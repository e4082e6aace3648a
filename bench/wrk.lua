-- wrk script for bench/run.py and bench/memory.py; the url given to wrk is <base><prefix>/wallets.
-- Configured by environment variables so that one script serves every target and endpoint:
--   BENCH_OP      create | get | topup; usage (2026-08-22): event (one POST /events), bulk
--                 (POST /events/bulk of 100), realtime (GET the wallet's real-time balance)
--   BENCH_KEY     x-api-key (each key is its own world)
--   BENCH_WALLET  wallet id for get and topup
--   BENCH_TAG     unique per wrk run, so customer ids and idempotency keys never repeat
--   BENCH_WORLDS  optional: a file of "key wallet_id" lines; then each request takes the next
--                 world round-robin (its key, and its wallet for get and topup) instead of
--                 BENCH_KEY and BENCH_WALLET; each thread starts at its own offset
local op = os.getenv("BENCH_OP") or "get"
local tag = os.getenv("BENCH_TAG") or tostring(os.time())
local keys = { os.getenv("BENCH_KEY") or "bench" }
local wallets = { os.getenv("BENCH_WALLET") or "" }
local worlds_file = os.getenv("BENCH_WORLDS")

local nthreads = 0
function setup(thread)
  nthreads = nthreads + 1
  thread:set("tid", nthreads)  -- each thread has its own Lua state; tid keeps their ids apart
end

local nworlds = 1
local next_world = 0  -- 0-based index of the world the next request takes

function init(args)
  if not worlds_file or worlds_file == "" then
    return
  end
  keys, wallets = {}, {}
  for line in io.lines(worlds_file) do
    local k, w = line:match("^(%S+)%s*(%S*)")
    if k then
      keys[#keys + 1] = k
      wallets[#wallets + 1] = w
    end
  end
  nworlds = #keys
  assert(nworlds > 0, "no worlds in " .. worlds_file)
  -- setup() runs before each thread's init(), so tid is set here; the golden-ratio step spreads
  -- the threads' starting worlds over the list whatever their number
  next_world = math.floor((tid - 1) * nworlds * 0.6180339887) % nworlds
end

local base = wrk.path  -- <prefix>/wallets
local root = base:sub(1, -9)  -- <prefix>
local counter = 0
local customer = os.getenv("BENCH_CUSTOMER") or "acme"
local event = '{"event_name":"api_call","external_customer_id":"' .. customer
  .. '","properties":{"tokens":"12","model":"m1"}}'
local bulk = '{"events":[' .. string.rep(event .. ",", 99) .. event .. ']}'

function request()
  counter = counter + 1
  local unique = tag .. "_" .. tid .. "_" .. counter
  local w = next_world + 1
  next_world = w % nworlds
  local key, wallet = keys[w], wallets[w]
  local headers = { ["x-api-key"] = key, ["Content-Type"] = "application/json" }
  if op == "event" then
    return wrk.format("POST", root .. "/events", headers, event)
  elseif op == "bulk" then
    return wrk.format("POST", root .. "/events/bulk", headers, bulk)
  elseif op == "realtime" then
    return wrk.format("GET", base .. "/" .. wallet .. "/balance/real-time", headers)
  elseif op == "create" then
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
