-- wrk script: ~1 KB eventsinfo deliveries, each body unique (a repeated body would be a cheap
-- duplicate, not a delivery), across wrk runs too: the ids start from the run's start time, so a
-- measured run does not post the warm-up's bodies again. Authorization comes from the environment
-- (ESR_BENCH_AUTH).
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local counter = 0
-- Seconds since the epoch, modulo 10^6, times 10^9: ids stay below 2^53 (Lua numbers are doubles),
-- and runs started a second or more apart never share one, with up to 9 wrk threads (tid * 10^8)
-- and 10^8 requests a thread; the base comes round again after 11.6 days.
local run_base = (os.time() % 1000000) * 1000000000
local padding = string.rep("x", 560)
-- The vendor sends attendance as a range ("100-500"); ESR_BENCH_ATTENDEE replaces it for a receiver
-- that only takes a number (the peer stores it in an integer column and answers 500 otherwise).
local attendee = os.getenv("ESR_BENCH_ATTENDEE") or '"100-500"'
local template = '{"eventId": %d, "eventName": "Benchmark concert %d", "category": "1", "subCategory": "7", ' ..
  '"description": "%s", "startDate": "2026-10-02", "endDate": "2026-10-03", "estimatedAttendee": ' .. attendee .. ', ' ..
  '"venue": "Wilson Center", "address": "703 N 3rd St", "city": "Wilmington", "state": "North Carolina", ' ..
  '"zip": "28401", "country": "United States", "region": "North_America", "lat": "34.2423", ' ..
  '"lng": "-77.9476", "eventStatusCode": 1}'
local headers = { ["Authorization"] = os.getenv("ESR_BENCH_AUTH"), ["Content-Type"] = "application/json" }

function request()
  counter = counter + 1
  local id = run_base + tid * 100000000 + counter
  return wrk.format("POST", "/", headers, string.format(template, id, id, padding))
end
