-- GET one fixed URL (the one given to wrk); only counts statuses.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")
