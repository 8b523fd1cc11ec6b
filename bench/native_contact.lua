-- wrk script for bench/voicenter_api.py: the native contact create, a new number each request.
-- Arguments after "--": the campaign id and an API key. Prints one RESULT line for the bench.
local threads = {}
local next_thread = 0

function setup(thread)
  thread:set("thread_number", next_thread)
  next_thread = next_thread + 1
  table.insert(threads, thread)
end

function init(args)
  path = string.format("/api/v1/campaigns/%s/contacts", args[1])
  headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. args[2]}
  sequence = 0
  errors = 0
end

function request()
  sequence = sequence + 1
  local body = string.format(
    '{"phones":["05%d%07d"],"name":"John Doe","priority":%d,"custom_data":{"lead":%d}}',
    thread_number, sequence % 10000000, sequence % 50, sequence)
  return wrk.format("POST", path, headers, body)
end

function response(status, headers, body)
  if status ~= 201 then
    errors = errors + 1
  end
end

function done(summary, latency, requests)
  local failed = 0
  for _, thread in ipairs(threads) do
    failed = failed + thread:get("errors")
  end
  io.write(string.format("RESULT %d %d %d %d %d %d %d\n", summary.requests, failed,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max))
end
