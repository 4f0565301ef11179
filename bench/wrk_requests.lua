-- wrk script for bench/load.py: sends the prepared requests in turn and counts GraphQL errors.
-- The requests file has one request per line: "<bearer token>\t<JSON body>".
-- Each wrk thread has its own Lua state; done() adds up the threads' counts.

local requests_file = os.getenv("SESSIONGRAPH_WRK_REQUESTS")
local requests = {}
local next_request = 0
graphql_errors = 0
first_error = ""

local threads = {}

function setup(thread)
  thread:set("thread_number", #threads)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(requests_file) do
    local token, body = line:match("^([^\t]*)\t(.*)$")
    table.insert(requests, wrk.format("POST", "/graphql",
      {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body))
  end
  -- Threads start at different places, so that no two send the same request at once.
  next_request = (thread_number or 0) * math.floor(#requests / 8)
end

function request()
  next_request = next_request + 1
  return requests[(next_request - 1) % #requests + 1]
end

function response(status, headers, body)
  -- A top-level error, or a payload's user error (bookSlot's SLOT_FULL, say).
  if status == 200 and body:find('"errors":%[{') then
    graphql_errors = graphql_errors + 1
    if first_error == "" then first_error = body:sub(1, 300):gsub('[\\"%c]', " ") end
  end
end

function done(summary, latency, requests)
  local errors, sample = 0, ""
  for _, thread in ipairs(threads) do
    errors = errors + thread:get("graphql_errors")
    if sample == "" then sample = thread:get("first_error") end
  end
  io.write(string.format(
    'WRK-JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, ' ..
    '"non_2xx": %d, "socket_errors": %d, "graphql_errors": %d, "first_error": "%s"}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95), latency:percentile(99),
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    errors, sample))
end
