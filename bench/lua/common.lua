-- Shared by every scenario script (each loads it with dofile).
-- Counts response statuses per thread; the main thread prints them as one line the
-- driver parses:  BENCH_STATUS {"200": 1234, "409": 2}, then the latency distribution:
-- BENCH_LATENCY 1890:3,1902:1,...
local threads = {}

BROWSER_AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
statuses = {}
thread_index = 0

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local merged = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      merged[status] = (merged[status] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(merged) do
    parts[#parts + 1] = string.format('"%d": %d', status, count)
  end
  io.write("BENCH_STATUS {" .. table.concat(parts, ", ") .. "}\n")
  -- The whole latency distribution (µs:requests), so the driver can read the
  -- percentiles of several runs taken together.
  local latencies = {}
  for i = 1, #latency do
    local value, count = latency(i)
    latencies[#latencies + 1] = string.format("%d:%d", value, count)
  end
  io.write("BENCH_LATENCY " .. table.concat(latencies, ",") .. "\n")
end

function read_lines(path)
  local lines = {}
  for line in io.lines(path) do
    lines[#lines + 1] = line
  end
  return lines
end

-- Reader tokens minted by the driver, one per line. Thread t of n takes tokens
-- offset + t, offset + t + n, ... so no two requests of a run share a reader
-- (the driver moves the offset past every request already sent).
tokens = {}
local token_cursor = 0
local token_stride = 1

function load_tokens(path, offset, thread_count)
  tokens = read_lines(path)
  token_stride = thread_count
  token_cursor = offset + thread_index
end

function next_token()
  local token = tokens[(token_cursor % #tokens) + 1]
  token_cursor = token_cursor + token_stride
  return token
end
