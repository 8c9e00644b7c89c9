-- Ceiling: GET /rows/<random id> (one single-row SELECT by primary key).
-- args: row count
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")

local rows = 10000

function init(args)
  rows = tonumber(args[1])
  math.randomseed(os.time() + thread_index)
end

function request()
  return wrk.format("GET", "/rows/" .. math.random(1, rows))
end
