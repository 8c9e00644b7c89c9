-- PUT /api/v1/articles/<key>/reactions/<kind>, each request from a distinct reader.
-- args: tokens file, token offset, thread count, article key
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")

local prefix = "/"
local kinds = {"like", "love", "insightful", "surprised", "sad", "angry"}
local counter = 0

function init(args)
  load_tokens(args[1], tonumber(args[2]), tonumber(args[3]))
  prefix = "/api/v1/articles/" .. args[4] .. "/reactions/"
end

function request()
  counter = counter + 1
  local headers = {["User-Agent"] = BROWSER_AGENT, ["X-Reader-Token"] = next_token()}
  return wrk.format("PUT", prefix .. kinds[(counter % #kinds) + 1], headers)
end
