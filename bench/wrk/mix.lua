-- The 93/7 library mix for wrk: the tasks of bench/locust/locustfile.py, picked by the same
-- weights (bench/locust/mix.py), from a generator that costs the machine a tenth of Locust's
-- CPU per request.
--
--   BENCH_WRK_DATA=data.lua wrk -t1 -c32 -d20s --timeout 10s -s bench/wrk/mix.lua URL
--
-- BENCH_WRK_DATA names a Lua file that bench/run.py writes: the task weights, book ids,
-- search terms, and tokens (the staff's, and patrons' with their ids) it logged in with
-- beforehand, so that no login happens while wrk measures. Where Locust has a user per
-- connection, here each patron task takes one of those patrons at random, and what the
-- answers say (a patron's open loans, a hold placed, the desk's list of active loans, a new
-- book) is kept per patron and for the desk. wrk does not say which request an answer is
-- for, so the requests whose answers are read carry an X-Request-ID naming their task and
-- patron, which the server echoes.
--
-- At the end it prints one JSON line: wrk's counts and latencies (µs), the requests sent by
-- kind (reads = GET, writes = POST) and the answers by outcome: ok (2xx), refused (409, a
-- business refusal: no copy available, renewal limit, duplicate hold) and errors (the rest).

local data = dofile(os.getenv("BENCH_WRK_DATA"))
local books = data.books
local cumulative, total = {}, 0
for _, task in ipairs(data.weights) do
  total = total + task[2]
  cumulative[#cumulative + 1] = { task[1], total }
end

counts = { reads = 0, writes = 0, ok = 0, refused = 0, errors = 0 } -- read back by done()
local loans, holds, active = {}, {}, {}
local serial = 0

local function pick(list)
  return list[math.random(#list)]
end

local function patron()
  local i = math.random(#data.patrons)
  return i, data.patrons[i]
end

local function tagged(headers, tag)
  serial = serial + 1
  headers["X-Request-ID"] = tag .. "-" .. serial
  return headers
end

local function staff()
  return { Authorization = data.staff }
end

local function json_headers(headers)
  headers["Content-Type"] = "application/json"
  return headers
end

local function random_hex(n)
  return string.format("%0" .. n .. "x", math.random(0, 16 ^ n - 1))
end

-- Each task gives a request (method, path, headers, body), or nothing when it cannot be done
-- now (no loan to renew yet): another task is picked.
local tasks = {
  browse_search = function()
    return "GET", "/books?q=" .. pick(data.terms), {}
  end,
  browse_book = function()
    return "GET", "/books/" .. pick(books), {}
  end,
  own_loans = function()
    local i, p = patron()
    return "GET", "/patrons/" .. p.id .. "/loans", tagged({ Authorization = p.auth }, "L" .. i)
  end,
  own_holds = function()
    local _, p = patron()
    return "GET", "/patrons/" .. p.id .. "/holds", { Authorization = p.auth }
  end,
  borrower_search = function()
    local _, p = patron()
    return "GET", "/books?q=" .. pick(data.terms), { Authorization = p.auth }
  end,
  borrower_book = function()
    local _, p = patron()
    return "GET", "/books/" .. pick(books), { Authorization = p.auth }
  end,
  borrow = function()
    local i, p = patron()
    local headers = json_headers(tagged({ Authorization = p.auth }, "B" .. i))
    return "POST", "/books/" .. pick(books) .. "/borrow", headers, '{"patron_id":"' .. p.id .. '"}'
  end,
  renew = function()
    local i, p = patron()
    if not loans[i] or #loans[i] == 0 then
      return nil
    end
    return "POST", "/loans/" .. pick(loans[i]) .. "/renew", { Authorization = p.auth }
  end,
  place_or_cancel_hold = function()
    local i, p = patron()
    if holds[i] then
      local hold = holds[i]
      holds[i] = nil
      return "POST", "/holds/" .. hold .. "/cancel", { Authorization = p.auth }
    end
    local headers = json_headers(tagged({ Authorization = p.auth }, "H" .. i))
    return "POST", "/books/" .. pick(books) .. "/holds", headers, '{"patron_id":"' .. p.id .. '"}'
  end,
  list_active_loans = function()
    local limit = pick({ "", "&limit=100", "&limit=200" })
    return "GET", "/loans?status=active" .. limit, tagged(staff(), "A")
  end,
  find_patron = function()
    return "GET", "/patrons?q=" .. pick(data.terms), staff()
  end,
  librarian_book = function()
    return "GET", "/books/" .. pick(books), staff()
  end,
  desk_return = function()
    if #active == 0 then
      return nil
    end
    return "POST", "/loans/" .. table.remove(active) .. "/return", staff()
  end,
  add_book = function()
    local body = '{"title":"Load Test ' .. random_hex(8) .. '","author":"wrk","copies":1}'
    return "POST", "/books", json_headers(tagged(staff(), "N")), body
  end,
  add_copy = function()
    return "POST", "/books/" .. pick(books) .. "/copies", json_headers(staff()), "{}"
  end,
  register_patron = function()
    local email = "walkin-" .. random_hex(8) .. random_hex(4) .. "@example.net"
    local body = '{"first_name":"Walk","last_name":"In","email":"' .. email .. '"}'
    return "POST", "/patrons", json_headers(staff()), body
  end,
}

local function next_task()
  local r = math.random() * total
  for _, task in ipairs(cumulative) do
    if r < task[2] then
      return task[1]
    end
  end
  return cumulative[#cumulative][1]
end

function init(args)
  math.randomseed(data.seed)
end

function request()
  while true do
    local method, path, headers, body = tasks[next_task()]()
    if method then
      if method == "GET" then
        counts.reads = counts.reads + 1
      else
        counts.writes = counts.writes + 1
      end
      return wrk.format(method, path, headers, body)
    end
  end
end

local LOAN = '"id":"([%x%-]+)","book_id"[^}]-"status":"(%a+)"'
local ID = '"id":"([%x%-]+)"'

local function shuffled(list)
  for i = #list, 2, -1 do
    local j = math.random(i)
    list[i], list[j] = list[j], list[i]
  end
  return list
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    counts.ok = counts.ok + 1
  elseif status == 409 then
    counts.refused = counts.refused + 1
    return
  else
    counts.errors = counts.errors + 1
    return
  end
  local tag = headers["x-request-id"]
  if not tag then
    return
  end
  local kind, who = tag:match("^(%a)(%d*)%-")
  local i = tonumber(who)
  if kind == "L" then
    local open = {}
    for id, state in body:gmatch(LOAN) do
      if state == "active" or state == "overdue" then
        open[#open + 1] = id
      end
    end
    loans[i] = open
  elseif kind == "B" then
    loans[i] = loans[i] or {}
    loans[i][#loans[i] + 1] = body:match(ID)
  elseif kind == "H" then
    holds[i] = body:match(ID)
  elseif kind == "A" then
    local ids = {}
    for id in body:gmatch(ID .. ',"book_id"') do
      ids[#ids + 1] = id
    end
    active = shuffled(ids)
  elseif kind == "N" then
    books[#books + 1] = body:match(ID)
  end
end

local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
end

function done(summary, latency, requests)
  local sum = { reads = 0, writes = 0, ok = 0, refused = 0, errors = 0 }
  for _, thread in ipairs(threads) do
    for key, value in pairs(thread:get("counts")) do
      sum[key] = sum[key] + value
    end
  end
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,'
      .. '"timeout":%d,"p50_us":%d,"p95_us":%d,"p99_us":%d,"reads":%d,"writes":%d,'
      .. '"ok":%d,"refused":%d,"errors":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    sum.reads, sum.writes, sum.ok, sum.refused, sum.errors
  ))
end
