-- bench/s3auth.lua: the wrk script of bench/s3auth.sh. Cycles through the
-- requests of S3AUTH_REQUESTS, one per line: PATH, or PATH<TAB>X-AMZ-DATE
-- <TAB>AUTHORIZATION for a SigV4-signed GET (signed by bench/s3auth.sh with
-- x-amz-content-sha256 = the empty payload's hash; valid for 15 minutes and
-- verified by the worker on every request). done() prints the same RESULT
-- line as bench/read.lua.
local counter = 0

function setup(thread)
	counter = counter + 1
	thread:set("id", counter)
end

local reqs, i

function init(args)
	reqs = {}
	local empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	for line in io.lines(os.getenv("S3AUTH_REQUESTS")) do
		local path, date, auth = line:match("^([^\t]+)\t([^\t]+)\t(.+)$")
		if path then
			reqs[#reqs + 1] = wrk.format("GET", path, { ["x-amz-date"] = date,
				["x-amz-content-sha256"] = empty, ["Authorization"] = auth })
		elseif #line > 0 then
			reqs[#reqs + 1] = wrk.format("GET", line, {})
		end
	end
	local nth = tonumber(os.getenv("S3AUTH_THREADS") or "1")
	i = math.floor(((id or 1) - 1) * #reqs / nth)
end

function request()
	i = i % #reqs + 1
	return reqs[i]
end

function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format(
		"RESULT requests=%d duration_us=%d bytes=%d p50_us=%d p99_us=%d connect=%d read=%d " ..
		"write=%d status=%d timeout=%d\n",
		summary.requests, summary.duration, summary.bytes, latency:percentile(50),
		latency:percentile(99), e.connect, e.read, e.write, e.status, e.timeout))
end
