-- POST /api/v1/articles/<key>/views, each request from a distinct reader (token).
-- args: tokens file, token offset, thread count, article key
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")

local path = "/"

function init(args)
  load_tokens(args[1], tonumber(args[2]), tonumber(args[3]))
  path = "/api/v1/articles/" .. args[4] .. "/views"
end

function request()
  local headers = {["User-Agent"] = BROWSER_AGENT, ["X-Reader-Token"] = next_token()}
  return wrk.format("POST", path, headers)
end
