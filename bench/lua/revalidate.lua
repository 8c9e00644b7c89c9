-- GET one fixed URL as a polling browser does: each connection keeps the last ETag it saw
-- and sends it back as If-None-Match, so an unchanged resource is answered with 304.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")

local etag = nil
local count_status = response

function request()
  if etag then
    return wrk.format("GET", nil, { ["If-None-Match"] = etag })
  end
  return wrk.format("GET")
end

function response(status, headers, body)
  etag = headers["ETag"] or headers["etag"] or etag
  count_status(status, headers, body)
end
