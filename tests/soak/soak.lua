-- SPDX-License-Identifier: MIT
-- soak.lua: wrk script for tests/soak/soak.sh. Cycles through the URLs in the file named by
-- SOAK_URLS (one path per line; each thread starts at another offset) and counts answers by
-- status class; done() prints one "soak-status" line that soak.sh reads.
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  urls = {}
  for line in io.lines(os.getenv("SOAK_URLS")) do
    if #line > 0 then table.insert(urls, line) end
  end
  i = (id * 7) % #urls
  c2, c3, c4, c5, other = 0, 0, 0, 0, 0
  bad = {}
end

function request()
  i = i % #urls + 1
  last = urls[i]
  return wrk.format("GET", last)
end

function response(status, headers, body)
  if status >= 200 and status < 300 then c2 = c2 + 1
  elseif status < 400 then c3 = c3 + 1
  elseif status < 500 then
    c4 = c4 + 1
    bad[last] = status
  elseif status < 600 then
    c5 = c5 + 1
    bad[last] = status
  else other = other + 1 end
end

function done(summary, latency, requests)
  local t2, t3, t4, t5, t0 = 0, 0, 0, 0, 0
  local seen = {}
  for _, t in ipairs(threads) do
    t2 = t2 + t:get("c2"); t3 = t3 + t:get("c3"); t4 = t4 + t:get("c4")
    t5 = t5 + t:get("c5"); t0 = t0 + t:get("other")
    for u, s in pairs(t:get("bad")) do seen[u] = s end
  end
  local e = summary.errors
  io.write(string.format("soak-status 2xx=%d 3xx=%d 4xx=%d 5xx=%d other=%d connect=%d read=%d " ..
    "write=%d timeout=%d status_errors=%d requests=%d p50_ms=%.1f p99_ms=%.1f\n", t2, t3, t4, t5,
    t0, e.connect, e.read, e.write, e.timeout, e.status, summary.requests,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
  for u, s in pairs(seen) do io.write(string.format("soak-bad %d %s\n", s, u)) end
end
