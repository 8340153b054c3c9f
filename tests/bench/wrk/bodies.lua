-- Sends `POST /` with a different body each time: the next line of a file of bodies (one
-- URL-encoded form per line), for requests that may be used only once (AssumeRoleWithSAML:
-- each assertion is redeemable once). Counts non-2xx answers like replay.lua, whose
-- setup(), response() and done() it reuses; done() also reports how often the file ran out
-- (`BENCH_WRAPPED N`: the file ran out N times and bodies were sent again, which a
-- one-time-use server must refuse: make the file longer).
--
-- Usage: wrk ... -s bodies.lua http://HOST:PORT/ -- /path/to/bodies.txt HOST:PORT

local here = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
dofile(here .. "replay.lua")

local replay_done = done

function init(args)
   bodies = io.open(args[1], "r")
   headers = { ["Host"] = args[2],
               ["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8" }
   non2xx = 0
   first_status = 0
   first_body = ""
   wrapped = 0
end

function request()
   local body = bodies:read("*l")
   if body == nil then
      wrapped = wrapped + 1
      bodies:seek("set", 0)
      body = bodies:read("*l")
   end
   return wrk.format("POST", "/", headers, body)
end

function done(summary, latency, requests)
   replay_done(summary, latency, requests)
   local total = 0
   for _, t in ipairs(threads_of_bodies or {}) do
      total = total + t:get("wrapped")
   end
   io.write(string.format("BENCH_WRAPPED %d\n", total))
end

local replay_setup = setup
threads_of_bodies = {}
function setup(thread)
   replay_setup(thread)
   table.insert(threads_of_bodies, thread)
end
