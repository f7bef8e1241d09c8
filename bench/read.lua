-- bench/read.lua: the wrk script of bench/read.sh. Configured by the
-- environment, so that every scenario runs the very same script:
--
--   READ_PATHS    file with one request path per line (/bench/big/o000000)
--   READ_THREADS  wrk's -t (each thread starts at its own slice of the list
--                 and cycles through all of it)
--   READ_RANGE    if set and > 0: send "Range: bytes=o-(o+READ_RANGE-1)" with
--                 o a random multiple of READ_RANGE within READ_SIZE
--   READ_SIZE     object size for READ_RANGE
--   READ_AMZDATE  if set: add the headers s3rver wants (x-amz-content-sha256,
--                 x-amz-date and an Authorization with access key S3RVER; it
--                 checks neither the signature nor more than the clock skew)
--
-- done() prints one machine-readable line:
--   RESULT requests=N duration_us=N bytes=N p50_us=N p99_us=N connect=N
--          read=N write=N status=N timeout=N

local counter = 0

function setup(thread)
	counter = counter + 1
	thread:set("id", counter)
end

local paths, i, range, size, headers

function init(args)
	paths = {}
	for line in io.lines(os.getenv("READ_PATHS")) do
		if #line > 0 then paths[#paths + 1] = line end
	end
	local nth = tonumber(os.getenv("READ_THREADS") or "1")
	i = math.floor(((id or 1) - 1) * #paths / nth)
	range = tonumber(os.getenv("READ_RANGE") or "0")
	size = tonumber(os.getenv("READ_SIZE") or "0")
	math.randomseed((id or 1) * 7919 + os.time())
	headers = {}
	local amz = os.getenv("READ_AMZDATE")
	if amz and #amz > 0 then
		headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD"
		headers["x-amz-date"] = amz
		headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=S3RVER/" .. amz:sub(1, 8) ..
			"/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, " ..
			"Signature=" .. string.rep("0", 64)
	end
end

function request()
	i = i % #paths + 1
	if range > 0 then
		local o = math.random(0, math.floor(size / range) - 1) * range
		headers["Range"] = string.format("bytes=%d-%d", o, o + range - 1)
	end
	return wrk.format("GET", paths[i], headers)
end

function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format(
		"RESULT requests=%d duration_us=%d bytes=%d p50_us=%d p99_us=%d connect=%d read=%d " ..
		"write=%d status=%d timeout=%d\n",
		summary.requests, summary.duration, summary.bytes, latency:percentile(50),
		latency:percentile(99), e.connect, e.read, e.write, e.status, e.timeout))
end
