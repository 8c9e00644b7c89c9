-- POST /api/v1/articles/<key>/comments: a Markdown comment with a link, a unique body
-- per request (so the duplicate rule never answers 409), from distinct readers.
-- args: tokens file, token offset, thread count, article key
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")

local path = "/"
local counter = 0
local run = 0

function init(args)
  load_tokens(args[1], tonumber(args[2]), tonumber(args[3]))
  path = "/api/v1/articles/" .. args[4] .. "/comments"
  run = tonumber(args[2])
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"body": "Comment %d-%d-%d. I read the **whole piece** twice and the part about the '
      .. '[budget figures](https://example.org/budget/%d) still puzzles me: where does the '
      .. 'extra 3%% come from?\\n\\n> the ministry declined to comment\\n\\nThat says a lot.", '
      .. '"author_name": "Reader %d"}',
    run, thread_index, counter, counter, counter % 500)
  local headers = {
    ["Content-Type"] = "application/json",
    ["User-Agent"] = BROWSER_AGENT,
    ["X-Reader-Token"] = next_token(),
  }
  return wrk.format("POST", path, headers, body)
end
