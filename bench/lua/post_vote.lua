-- POST /api/v1/comments/<id>/vote {"value": 1}, each request from a distinct reader
-- (so every request inserts a vote and moves the counters).
-- args: tokens file, token offset, thread count, comment id
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")

local path = "/"
local body = '{"value": 1}'

function init(args)
  load_tokens(args[1], tonumber(args[2]), tonumber(args[3]))
  path = "/api/v1/comments/" .. args[4] .. "/vote"
end

function request()
  local headers = {
    ["User-Agent"] = BROWSER_AGENT,
    ["X-Reader-Token"] = next_token(),
    ["Content-Type"] = "application/json",
  }
  return wrk.format("POST", path, headers, body)
end
