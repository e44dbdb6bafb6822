-- wrk script for bench/service_bench.py: every request asks GET /me/offers with the next
-- helper's token (tokens file given after --), and the summary prints p50/p95/p99 in ms.
local tokens = {}
local counter = 0

function init(args)
  for line in io.lines(args[1]) do
    tokens[#tokens + 1] = line
  end
end

function request()
  counter = counter + 1
  local token = tokens[(counter % #tokens) + 1]
  return wrk.format("GET", "/me/offers", { ["Authorization"] = "Bearer " .. token })
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  io.write(string.format(
    "WRK requests=%d seconds=%.1f rps=%.0f errors=%d p50=%.1f p95=%.1f p99=%.1f max=%.1f\n",
    summary.requests, seconds, summary.requests / seconds,
    summary.errors.status + summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end
