-- wrk script for bench/voicenter_api.py: POST-JSON AddCall, a new target on every request.
-- Arguments after "--": the campaign code. Prints one RESULT line that the bench parses.
local threads = {}
local next_thread = 0

function setup(thread)
  thread:set("thread_number", next_thread)
  next_thread = next_thread + 1
  table.insert(threads, thread)
end

function init(args)
  code = args[1]
  sequence = 0
  errors = 0
end

function request()
  sequence = sequence + 1
  local body = string.format(
    '{"Campaign":"%s","Target":"05%d%07d","CustomerName":"John Doe","Priority":%d,'
      .. '"CustomData":{"var_LeadID":%d}}',
    code, thread_number, sequence % 10000000, sequence % 50, sequence)
  return wrk.format("POST", "/ForwardDialer/Dialer/AddCall",
    {["Content-Type"] = "application/json"}, body)
end

function response(status, headers, body)
  if status ~= 200 or not string.find(body, '"ErrorCode":0', 1, true) then
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
