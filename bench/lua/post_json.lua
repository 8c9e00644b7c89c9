-- Ceiling: POST a small JSON object to the given path (fixed JSON, or one insert).
-- args: path
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")

local path = "/"
local counter = 0
local headers = {["Content-Type"] = "application/json"}

function init(args)
  path = args[1]
end

function request()
  counter = counter + 1
  local body = string.format('{"key": "event-%d-%d", "value": %d}', thread_index, counter, counter)
  return wrk.format("POST", path, headers, body)
end
