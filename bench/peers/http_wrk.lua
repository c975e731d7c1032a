-- http_wrk.lua - wrk cycles through the benchmark's URL list (the server's
-- ceiling: bench/run-http.sh). wrk -s http_wrk.lua BASE -- PATHS_FILE,
-- one path (/m0/index.html) a line.
local paths = {}
local i = 0

function init(args)
    for line in io.lines(args[1]) do
        if #line > 0 then paths[#paths + 1] = line end
    end
end

function request()
    i = i % #paths + 1
    return wrk.format("GET", paths[i])
end
