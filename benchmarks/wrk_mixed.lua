-- wrk script for benchmarks/wrk_load.py: sends the requests listed in a file, in order, round and round, and counts
-- the statuses. Each line of the file: METHOD, PATH, CONTENT-TYPE ("-" for none) and the body in hex ("-" for none),
-- separated by single spaces.
--   wrk -t2 -c64 -d60s --latency -s benchmarks/wrk_mixed.lua http://127.0.0.1:PORT -- REQUESTS_FILE [THREADS]
-- With THREADS (wrk's -t), each thread starts its own share of the list, so that no request is sent twice before
-- the list has gone round once (benchmarks/http_ceiling.py's run of distinct requests).

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

local function unhex(text)
  return (text:gsub("..", function(pair) return string.char(tonumber(pair, 16)) end))
end

function init(args)
  requests = {}
  statuses = {}
  for line in io.lines(args[1]) do
    local method, path, content_type, body = line:match("^(%S+) (%S+) (%S+) (%S+)$")
    local headers = {}
    if content_type ~= "-" then headers["Content-Type"] = content_type end
    if body == "-" then body = nil else body = unhex(body) end
    table.insert(requests, wrk.format(method, path, headers, body))
  end
  -- each thread starts at another place in the list
  if args[2] then
    position = id * math.floor(#requests / tonumber(args[2]))
  else
    position = id * 97 % #requests
  end
end

function request()
  position = position % #requests + 1
  return requests[position]
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      total[status] = (total[status] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(total) do table.insert(parts, string.format('"%d": %d', status, count)) end
  io.write(string.format('STATUSES {%s}\n', table.concat(parts, ", ")))
  io.write(string.format("P50_US %d\nP99_US %d\n", latency:percentile(50), latency:percentile(99)))
  io.write(string.format("ERRORS connect %d read %d write %d timeout %d status %d\n", summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout, summary.errors.status))
end
