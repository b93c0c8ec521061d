-- wrk script: realistic batched beacons for POST /nudge/e.
-- Each request is one tag flush: a page view, a scroll, two clicks and a
-- hover, from one of 16384 visitors (few enough requests per visitor per
-- second to stay under the agent's per-visitor rate limit).  Requests are
-- built once in init() and cycled, so wrk spends its time sending.
local reqs = {}
local n = 16384
local i = 0

function init(args)
	local pages = {"/shop/", "/shop/category.html", "/shop/product/boots.html",
		"/shop/product/scarf.html", "/shop/cart.html"}
	for k = 1, n do
		local vid = string.format("%016x", (k * 2654435761 + (wrk.thread and 0 or 0)) % 0xffffffffffff + k * 20011)
		local page = pages[(k % #pages) + 1]
		local body = string.format(
			'{"visitor":"%s","events":[' ..
			'{"type":"pageview","page":"%s","referrer":"https://www.google.com/"},' ..
			'{"type":"scroll","page":"%s","scroll":0.62},' ..
			'{"type":"click","page":"%s","x":0.412,"y":0.288,"target":"#add-to-cart"},' ..
			'{"type":"click","page":"%s","x":0.5,"y":0.1,"target":"nav>a.home"},' ..
			'{"type":"hover","page":"%s","target":".price"}]}',
			vid, page, page, page, page, page)
		reqs[k] = wrk.format("POST", "/nudge/e",
			{["Content-Type"] = "text/plain;charset=UTF-8",
			 ["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"},
			body)
	end
	i = math.random(n) - 1
end

function request()
	i = (i % n) + 1
	return reqs[i]
end

done = function(summary, latency, requests)
	io.write(string.format("RESULT req_s=%.0f p50_ms=%.3f p99_ms=%.3f errors=%d non2xx=%d\n",
		summary.requests / (summary.duration / 1e6),
		latency:percentile(50) / 1000, latency:percentile(99) / 1000,
		summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
		summary.errors.status))
end
