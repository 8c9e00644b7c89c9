-- GET /api/v1/counts for n consecutive listing articles starting at a random one,
-- as a listing page asks for its teasers.  args: n, key prefix, listing size
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")

local n, prefix, size = 20, "bench-list-", 10000

function init(args)
  n, prefix, size = tonumber(args[1]), args[2], tonumber(args[3])
  math.randomseed(os.time() + thread_index)
end

function request()
  local first = math.random(0, size - n)
  local parts = {}
  for index = first, first + n - 1 do
    parts[#parts + 1] = string.format("articles=%s%05d", prefix, index)
  end
  return wrk.format("GET", "/api/v1/counts?" .. table.concat(parts, "&"))
end
