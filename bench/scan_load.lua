-- wrk script of bench/scan.py: POST /v1/scans with a random bottle from the list the benchmark wrote
-- (SCAN_BENCH_URLS: "url<TAB>region<TAB>city" lines), as a consumer's phone would, with the geo proxy's region
-- and city headers; or GET /health (SCAN_BENCH_ROUTE=health), the static ceiling on the same stack.
-- Answers outside 2xx are counted per thread and reported by done() in one JSON line, with the latency
-- percentiles in microseconds.

local route = os.getenv("SCAN_BENCH_ROUTE") or "scan"
local threads = {}
local counter = 0

function setup(thread)
   counter = counter + 1
   thread:set("number", counter)
   table.insert(threads, thread)
end

local urls, regions, cities = {}, {}, {}

function init(args)
   non2xx = 0
   math.randomseed(os.time() * 1000 + number)
   if route == "scan" then
      for line in io.lines(os.getenv("SCAN_BENCH_URLS")) do
         local url, region, city = line:match("^([^\t]+)\t([^\t]*)\t([^\t]*)$")
         urls[#urls + 1], regions[#regions + 1], cities[#cities + 1] = url, region, city
      end
   end
end

function request()
   if route == "health" then
      return wrk.format("GET", "/health")
   end
   local i = math.random(#urls)
   -- A device id per phone: a few hundred thousand phones scan the list, so a bottle is rarely scanned
   -- twice by the same one.
   local body = '{"url":"' .. urls[i] .. '","device":"phone-' .. math.random(1, 500000) .. '"}'
   local headers = {["Content-Type"] = "application/json", ["x-scan-region"] = regions[i],
                    ["x-scan-city"] = cities[i]}
   return wrk.format("POST", "/v1/scans", headers, body)
end

function response(status, headers, body)
   if status < 200 or status > 299 then
      non2xx = non2xx + 1
   end
end

function done(summary, latency, requests)
   local bad = 0
   for _, thread in ipairs(threads) do
      bad = bad + thread:get("non2xx")
   end
   local e = summary.errors
   io.write(string.format('SCAN_BENCH {"requests": %d, "duration_us": %d, "non2xx": %d, "connect": %d, ' ..
                          '"read": %d, "write": %d, "timeout": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
                          '"max_us": %d, "mean_us": %.1f}\n',
                          summary.requests, summary.duration, bad, e.connect, e.read, e.write, e.timeout,
                          latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
                          latency.mean))
end
