/*
 * s3:// driver: an S3-compatible bucket (optionally below a key prefix) as
 * an under-store, over libcurl with SigV4 (lib/sigv4.c).
 *
 * Directories are key prefixes; mkdir writes a zero-byte "dir/" marker.
 * Rename is CopyObject + DeleteObject per key (recursive for prefixes).
 * One keep-alive curl handle per instance, behind a mutex. Requests that
 * fail to connect, time out or get a 5xx are retried a bounded number of
 * times with exponential backoff, then reported as -EAGAIN.
 */
#include "ufs/ufs_int.h"

#include "lib/log.h"
#include "ufs/s3_int.h"
#include "lib/sigv4.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define S3_MIN_PART (5u * 1024 * 1024)
#define S3_DEFAULT_PART (8u * 1024 * 1024)
#define S3_MAX_PARTS 10000
#define S3_MAX_BODY (64u * 1024 * 1024) /* cap on collected (non-streamed) replies */
#define S3_POOL 16                          /* curl handles per mount */
#define S3_BODY_BUFFER (512u << 10)          /* curl's receive buffer for streamed bodies */
#define S3_BODY_LOWAT (256u << 10)           /* bytes a streamed body's socket gathers per wake-up */

/* The open sockets of one curl handle's connections (opened and closed
 * through on_open_socket/on_close_socket): with exactly one, it is the
 * one a transfer of that handle runs on. Used by one thread at a time
 * (the handle's). */
#define S3_SOCKS_MAX 4
struct s3_socks {
	curl_socket_t fd[S3_SOCKS_MAX];
	int n;
	bool lost; /* more than S3_SOCKS_MAX at once: not tracked any more */
};

struct s3 {
	char *scheme;     /* "http" or "https" */
	char *host;       /* endpoint host[:port] */
	char *bucket;
	char *prefix;     /* "" or "some/prefix/" */
	char *region;
	char *access_key;
	char *secret_key; /* never printed */
	bool path_style;
	uint64_t part_size;
	uint64_t retries;
	uint64_t retry_base_ms;
	uint64_t connect_timeout_ms;
	uint64_t timeout_ms;
	/* A pool of keep-alive handles, so requests of one mount run in
	 * parallel (cold reads of many blocks at once); a request waits only
	 * when all are busy. */
	CURL *curls[S3_POOL];
	bool busy[S3_POOL];
	struct s3_socks socks[S3_POOL]; /* the sockets of curls[i]'s connections */
	pthread_mutex_t lock;
	pthread_cond_t freed;
};

struct s3_req {
	const char *method;
	const char *key; /* full key; NULL: the bucket itself */
	const struct sigv4_kv *query;
	size_t nquery;
	const struct sigv4_kv *hdrs; /* extra headers, signed */
	size_t nhdrs;
	const void *body;
	size_t body_len;
	ufs_sink_fn sink; /* receives 2xx bodies when set */
	void *sink_arg;
};

_Static_assert(sizeof(((struct s3_head *)0)->etag) == UFS_FINGERPRINT_MAX,
	       "an ETag fits a fingerprint");

struct s3_resp {
	long status;
	char *body; /* collected reply (non-2xx, or no sink), NUL-terminated */
	size_t len, cap;
	struct s3_head head; /* ETag, lengths, Last-Modified (s3_int.h) */
	int sink_rc;
	bool sink_called;
	bool empty_range;
	bool oom;
};

static const char *const g_s3_opts[] = {
	"s3.endpoint",	 "s3.region",	    "s3.access_key",	     "s3.secret_key",
	"s3.path_style", "s3.part_size",    "s3.retries",	     "s3.retry_base_ms",
	"s3.connect_timeout_ms", "s3.timeout_ms", NULL,
};

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void resp_free(struct s3_resp *rs)
{
	free(rs->body);
	memset(rs, 0, sizeof(*rs));
}

struct write_ctx {
	CURL *curl;
	struct s3_resp *rs;
	const struct s3_req *rq;
	uint64_t body_got; /* body bytes given to the sink (this attempt) */
	int lowat;	   /* SO_RCVLOWAT set on the connection (0: untouched) */
	bool plain;	   /* http: every body byte left is still to come on the socket */
	struct s3_socks *socks; /* the handle's connections */
	curl_socket_t fd;	/* the connection's socket once a mark was set */
};

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	struct write_ctx *wc = arg;
	struct s3_resp *rs = wc->rs;
	size_t n = size * nmemb;
	if (n <= 2 && (n == 0 || data[0] == '\r' || data[0] == '\n')) { /* end of headers */
		long status = 0;
		curl_easy_getinfo(wc->curl, CURLINFO_RESPONSE_CODE, &status);
		/* s3rver answers a Range on an empty object with 206, Content-Length
		 * 1, Content-Range "bytes 0-0/0" and no body; stop waiting for it */
		if (status == 206 && rs->head.range_total == 0) {
			rs->status = status;
			rs->empty_range = true;
			return 0;
		}
		return n;
	}
	s3_head_line(&rs->head, data, n); /* a new response (after 100) starts afresh */
	return n;
}

/*
 * A streamed body arrives at the store's pace, often 64 KiB or less at a
 * time: each piece costs curl a poll or three and a recv, and the sink a
 * wake-up. The socket's receive low-water mark makes the kernel wake curl
 * only once S3_BODY_LOWAT bytes are in, never more than what is left of
 * the body (Content-Length): so it cannot wait for bytes that will not
 * come (a peer that closes early wakes the reader anyway: EOF), and it is
 * back at 1 when the body's last byte is in, before curl keeps the
 * connection for the next request. Plain http only: TLS may hold bytes
 * the socket no longer has. Best effort: a failed setsockopt only costs
 * the wake-ups.
 */
static void body_lowat(struct write_ctx *wc)
{
	if (!wc->plain)
		return;
	uint64_t total = wc->rs->head.content_length, left = 0;
	if (total > wc->body_got)
		left = total - wc->body_got;
	int want = left > S3_BODY_LOWAT ? (int)S3_BODY_LOWAT : left ? (int)left : 1;
	if (want == (wc->lowat ? wc->lowat : 1))
		return;
	curl_socket_t fd = wc->fd;
	if (fd == CURL_SOCKET_BAD) {
		/* curl 7.88 does not name a transfer's socket while it runs
		 * (CURLINFO_ACTIVESOCKET is the last finished one's) */
		if (wc->socks->n != 1 || wc->socks->lost)
			return;
		fd = wc->socks->fd[0];
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &want, sizeof(want)) == 0) {
		wc->lowat = want;
		wc->fd = fd;
	}
}

/* Every connection's socket is made here, to be tracked (body_lowat).
 * Its receive buffer stays autotuned (a fixed one would cap a long,
 * fast path's window); the kernel grows it to twice the mark when the
 * mark is set. */
static curl_socket_t on_open_socket(void *arg, curlsocktype purpose,
				    struct curl_sockaddr *addr)
{
	struct s3_socks *socks = arg;
	(void)purpose;
	curl_socket_t fd = socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
	if (fd == CURL_SOCKET_BAD)
		return fd;
	if (socks->n < S3_SOCKS_MAX)
		socks->fd[socks->n++] = fd;
	else
		socks->lost = true;
	return fd;
}

static int on_close_socket(void *arg, curl_socket_t fd)
{
	struct s3_socks *socks = arg;
	for (int i = 0; i < socks->n; i++) {
		if (socks->fd[i] == fd) {
			socks->fd[i] = socks->fd[--socks->n];
			break;
		}
	}
	return close(fd);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct write_ctx *wc = arg;
	struct s3_resp *rs = wc->rs;
	size_t n = size * nmemb;
	curl_easy_getinfo(wc->curl, CURLINFO_RESPONSE_CODE, &rs->status);
	if (wc->rq->sink && rs->status >= 200 && rs->status < 300) {
		rs->sink_called = true;
		rs->sink_rc = wc->rq->sink(wc->rq->sink_arg, data, n);
		if (rs->sink_rc)
			return 0;
		wc->body_got += n;
		body_lowat(wc);
		return n;
	}
	if (rs->len + n + 1 > rs->cap) {
		size_t cap = rs->cap ? rs->cap : 4096;
		while (cap < rs->len + n + 1)
			cap *= 2;
		char *grown = cap <= S3_MAX_BODY ? realloc(rs->body, cap) : NULL;
		if (!grown) {
			rs->oom = true;
			return 0;
		}
		rs->body = grown;
		rs->cap = cap;
	}
	memcpy(rs->body + rs->len, data, n);
	rs->len += n;
	rs->body[rs->len] = '\0';
	return n;
}

static bool retryable_curl(CURLcode cc)
{
	switch (cc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
		return true;
	default:
		return false;
	}
}

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Canonical URI and Host for a key (NULL: the bucket). Both malloc'd. */
static int s3_target(struct s3 *s, const char *key, char **uri, char **host)
{
	char *enc_key = NULL, *enc_bucket = NULL;
	int rc;
	if (key && (rc = sigv4_uri_encode(key, true, &enc_key)))
		return rc;
	if ((rc = sigv4_uri_encode(s->bucket, false, &enc_bucket))) {
		free(enc_key);
		return rc;
	}
	size_t n = strlen(s->host) + strlen(enc_bucket) + (enc_key ? strlen(enc_key) : 0) + 8;
	*uri = malloc(n);
	*host = malloc(n);
	if (!*uri || !*host) {
		free(*uri);
		free(*host);
		rc = -ENOMEM;
	} else if (s->path_style) {
		snprintf(*uri, n, "/%s%s%s", enc_bucket, enc_key ? "/" : "", enc_key ? enc_key : "");
		snprintf(*host, n, "%s", s->host);
	} else {
		snprintf(*uri, n, "/%s", enc_key ? enc_key : "");
		snprintf(*host, n, "%s.%s", s->bucket, s->host);
	}
	free(enc_key);
	free(enc_bucket);
	return rc;
}

static struct curl_slist *slist_add(struct curl_slist *l, bool *oom, const char *name,
				    const char *value)
{
	char line[2048];
	snprintf(line, sizeof(line), "%s: %s", name, value);
	struct curl_slist *n = curl_slist_append(l, line);
	if (!n) {
		*oom = true;
		return l;
	}
	return n;
}

static CURL *handle_get(struct s3 *s, int *slot)
{
	pthread_mutex_lock(&s->lock);
	for (;;) {
		for (int i = 0; i < S3_POOL; i++) {
			if (!s->busy[i]) {
				s->busy[i] = true;
				pthread_mutex_unlock(&s->lock);
				*slot = i;
				return s->curls[i];
			}
		}
		pthread_cond_wait(&s->freed, &s->lock);
	}
}

static void handle_put(struct s3 *s, int slot)
{
	pthread_mutex_lock(&s->lock);
	s->busy[slot] = false;
	pthread_cond_signal(&s->freed);
	pthread_mutex_unlock(&s->lock);
}

/* One attempt with handle c (the caller's, from the pool): sign now and
 * perform. */
static CURLcode s3_attempt(struct s3 *s, CURL *c, struct s3_socks *socks,
			   const struct s3_req *rq, const char *uri, const char *host,
			   const char *query, const char *payload_hash, struct s3_resp *rs, int *rc)
{
	char amz_date[17], url[8192];
	struct sigv4_kv hdrs[16];
	size_t nh = 0;
	char *auth = NULL;
	bool oom = false;
	struct curl_slist *list = NULL;

	sigv4_amz_date(time(NULL), amz_date);
	hdrs[nh++] = (struct sigv4_kv){ "host", host };
	hdrs[nh++] = (struct sigv4_kv){ "x-amz-content-sha256", payload_hash };
	hdrs[nh++] = (struct sigv4_kv){ "x-amz-date", amz_date };
	for (size_t i = 0; i < rq->nhdrs && nh < 16; i++)
		hdrs[nh++] = rq->hdrs[i];
	struct sigv4_request sreq = { rq->method, uri, rq->query, rq->nquery, hdrs, nh,
				      payload_hash };
	struct sigv4_key key = { s->access_key, s->secret_key, s->region, "s3" };
	if ((*rc = sigv4_authorization(&sreq, &key, amz_date, &auth)))
		return CURLE_OK;
	for (size_t i = 0; i < nh; i++)
		list = slist_add(list, &oom, hdrs[i].name, hdrs[i].value);
	list = slist_add(list, &oom, "Authorization", auth);
	OPENSSL_cleanse(auth, strlen(auth));
	free(auth);
	struct curl_slist *n = curl_slist_append(list, "Expect:");
	if (n)
		list = n;
	else
		oom = true;
	if (oom) {
		curl_slist_free_all(list);
		*rc = -ENOMEM;
		return CURLE_OK;
	}
	snprintf(url, sizeof(url), "%s://%s%s%s%s", s->scheme, host, uri, *query ? "?" : "", query);

	struct write_ctx wc = { .curl = c, .rs = rs, .rq = rq,
				.plain = strcmp(s->scheme, "http") == 0, .socks = socks,
				.fd = CURL_SOCKET_BAD };
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)s->connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)(s->timeout_ms / 1000 + 1));
	if (!rq->sink)
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)s->timeout_ms);
	else /* a block's body: fewer receive calls, polls and sink calls (the sink
	      * wakes a reader per call) than curl's default 16 KiB */
		curl_easy_setopt(c, CURLOPT_BUFFERSIZE, (long)S3_BODY_BUFFER);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, socks);
	curl_easy_setopt(c, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
	curl_easy_setopt(c, CURLOPT_CLOSESOCKETDATA, socks);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &wc);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &wc);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	if (strcmp(rq->method, "HEAD") == 0) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
		if (strcmp(rq->method, "PUT") == 0 || strcmp(rq->method, "POST") == 0) {
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
			curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
		}
	}
	CURLcode cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &rs->status);
	curl_slist_free_all(list);
	if (wc.lowat > 1) {
		/* A body cut short: a connection curl keeps must not keep the
		 * mark (one it closed may have left its fd number to another). */
		int one = 1;
		for (int i = 0; i < socks->n; i++)
			if (socks->fd[i] == wc.fd)
				setsockopt(wc.fd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof(one));
	}
	return cc;
}

/*
 * Sends one request with bounded retries. Returns 0 with *rs filled for any
 * HTTP status except a 5xx that outlived the retries (-EAGAIN); -EAGAIN
 * when the store could not be reached; the sink's own error if it aborted.
 * what/path name the operation in err. The caller frees rs (resp_free).
 */
static int s3_do(struct s3 *s, const struct s3_req *rq, struct s3_resp *rs, const char *what,
		 const char *path, char *err, size_t errlen)
{
	char *uri = NULL, *host = NULL, *query = NULL;
	char payload_hash[65];
	int rc = 0;
	memset(rs, 0, sizeof(*rs));
	if ((rc = s3_target(s, rq->key, &uri, &host)))
		return ufs_seterr(rc, err, errlen, "out of memory");
	if ((rc = sigv4_canonical_query(rq->query, rq->nquery, &query))) {
		rc = ufs_seterr(rc, err, errlen, "out of memory");
		goto out_free_target;
	}
	sigv4_sha256_hex(rq->body ? rq->body : "", rq->body_len, payload_hash);

	for (uint64_t attempt = 0;; attempt++) {
		resp_free(rs);
		s3_head_reset(&rs->head);
		int slot;
		CURL *c = handle_get(s, &slot);
		CURLcode cc = s3_attempt(s, c, &s->socks[slot], rq, uri, host, query, payload_hash,
					 rs, &rc);
		handle_put(s, slot);
		if (rc) {
			ufs_seterr(rc, err, errlen, "%s %s: cannot sign the request", what, path);
			break;
		}
		if (rs->sink_called && rs->sink_rc) {
			rc = ufs_seterr(rs->sink_rc, err, errlen, "%s %s: aborted by the receiver",
					what, path);
			break;
		}
		if (rs->oom) {
			rc = ufs_seterr(-ENOMEM, err, errlen, "%s %s: reply too large", what, path);
			break;
		}
		if (rs->empty_range)
			cc = CURLE_OK;
		bool transient = cc != CURLE_OK ? retryable_curl(cc) : rs->status >= 500;
		if (transient && !rs->sink_called && attempt < s->retries) {
			uint64_t backoff = s->retry_base_ms << (attempt < 10 ? attempt : 10);
			sleep_ms(backoff < 5000 ? backoff : 5000);
			continue;
		}
		if (cc != CURLE_OK) {
			rc = ufs_seterr(transient ? -EAGAIN : -EIO, err, errlen,
					"%s %s: s3://%s at %s unavailable: %s (after %" PRIu64
					" attempts)",
					what, path, s->bucket, s->host, curl_easy_strerror(cc),
					attempt + 1);
		} else if (rs->status >= 500) {
			rc = ufs_seterr(-EAGAIN, err, errlen,
					"%s %s: s3://%s answered HTTP %ld (after %" PRIu64
					" attempts)",
					what, path, s->bucket, rs->status, attempt + 1);
		}
		break;
	}
	free(query);
out_free_target:
	free(uri);
	free(host);
	return rc;
}

/* Maps a non-2xx reply to an error; 0 for 2xx. */
static int s3_status_err(struct s3 *s, const struct s3_resp *rs, const char *what,
			 const char *path, char *err, size_t errlen)
{
	if (rs->status >= 200 && rs->status < 300)
		return 0;
	char code[80] = "", msg[220] = "";
	s3_parse_error(rs->body, rs->len, code, sizeof(code), msg, sizeof(msg));
	int rc;
	switch (rs->status) {
	case 404:
		rc = -ENOENT;
		break;
	case 401:
	case 403:
		rc = -EACCES;
		break;
	case 400:
	case 411:
		rc = -EINVAL;
		break;
	case 409:
		rc = -EEXIST;
		break;
	case 429:
	case 503:
		rc = -EAGAIN;
		break;
	default:
		rc = rs->status >= 500 ? -EAGAIN : -EIO;
		break;
	}
	if (strcmp(code, "NoSuchBucket") == 0)
		return ufs_seterr(rc, err, errlen, "%s %s: bucket %s does not exist (NoSuchBucket)",
				  what, path, s->bucket);
	return ufs_seterr(rc, err, errlen, "%s %s: HTTP %ld%s%s%s%s", what, *path ? path : "/",
			  rs->status, *code ? " " : "", code, *msg ? ": " : "", msg);
}

static int parse_bool(const char *v, bool def, bool *out)
{
	if (!v) {
		*out = def;
		return 0;
	}
	if (!strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes"))
		*out = true;
	else if (!strcmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "no"))
		*out = false;
	else
		return -EINVAL;
	return 0;
}

static const char *opt_or_env(const struct ufs_opt *opts, size_t nopts, const char *key,
			      const char *env1, const char *env2)
{
	const char *v = ufs_opt_get(opts, nopts, key);
	if (!v && env1)
		v = getenv(env1);
	if ((!v || !*v) && env2)
		v = getenv(env2);
	return v && *v ? v : NULL;
}

static void s3_close(void *impl)
{
	struct s3 *s = impl;
	if (!s)
		return;
	for (int i = 0; i < S3_POOL; i++)
		if (s->curls[i])
			curl_easy_cleanup(s->curls[i]);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->freed);
	free(s->scheme);
	free(s->host);
	free(s->bucket);
	free(s->prefix);
	free(s->region);
	free(s->access_key);
	if (s->secret_key) {
		OPENSSL_cleanse(s->secret_key, strlen(s->secret_key));
		free(s->secret_key);
	}
	free(s);
}

/* Parses "s3://bucket[/prefix]" into s->bucket and s->prefix. */
static int s3_parse_uri(struct s3 *s, const char *uri, char *err, size_t errlen)
{
	const char *b = uri + strlen("s3://");
	const char *slash = strchr(b, '/');
	size_t blen = slash ? (size_t)(slash - b) : strlen(b);
	if (blen < 3 || blen > 63)
		return ufs_seterr(-EINVAL, err, errlen, "bad S3 bucket name in %s", uri);
	for (size_t i = 0; i < blen; i++)
		if (!(islower((unsigned char)b[i]) || isdigit((unsigned char)b[i]) || b[i] == '-' ||
		      b[i] == '.'))
			return ufs_seterr(-EINVAL, err, errlen, "bad S3 bucket name in %s", uri);
	char norm[UFS_PATH_MAX + 1];
	if (ufs_path_norm(slash ? slash : "", norm, sizeof(norm)))
		return ufs_seterr(-EINVAL, err, errlen, "bad key prefix in %s", uri);
	s->bucket = strndup(b, blen);
	s->prefix = malloc(strlen(norm) + 2);
	if (!s->bucket || !s->prefix)
		return ufs_seterr(-ENOMEM, err, errlen, "out of memory");
	snprintf(s->prefix, strlen(norm) + 2, "%s%s", norm, *norm ? "/" : "");
	return 0;
}

static int s3_parse_endpoint(struct s3 *s, const char *endpoint, char *err, size_t errlen)
{
	const char *sep = strstr(endpoint, "://");
	if (!sep || (strncmp(endpoint, "http", 4) != 0) ||
	    ((size_t)(sep - endpoint) != 4 && (size_t)(sep - endpoint) != 5) ||
	    ((size_t)(sep - endpoint) == 5 && endpoint[4] != 's'))
		return ufs_seterr(-EINVAL, err, errlen,
				  "s3.endpoint must be http://host[:port] or https://...: %s",
				  endpoint);
	const char *h = sep + 3;
	size_t hlen = strcspn(h, "/?#");
	if (hlen == 0 || (h[hlen] && strcmp(h + hlen, "/") != 0))
		return ufs_seterr(-EINVAL, err, errlen, "s3.endpoint must have no path: %s",
				  endpoint);
	s->scheme = strndup(endpoint, (size_t)(sep - endpoint));
	s->host = strndup(h, hlen);
	if (!s->scheme || !s->host)
		return ufs_seterr(-ENOMEM, err, errlen, "out of memory");
	/* the Host header omits default ports, as curl and botocore do */
	size_t n = strlen(s->host);
	if (!strcmp(s->scheme, "http") && n > 3 && !strcmp(s->host + n - 3, ":80"))
		s->host[n - 3] = '\0';
	if (!strcmp(s->scheme, "https") && n > 4 && !strcmp(s->host + n - 4, ":443"))
		s->host[n - 4] = '\0';
	return 0;
}

static int s3_open(const char *uri, const struct ufs_opt *opts, size_t nopts, void **impl,
		   char *err, size_t errlen)
{
	int rc = ufs_opt_check(opts, nopts, "s3.", g_s3_opts, err, errlen);
	if (rc)
		return rc;
	pthread_once(&g_curl_once, curl_init_once);
	struct s3 *s = calloc(1, sizeof(*s));
	if (!s)
		return ufs_seterr(-ENOMEM, err, errlen, "out of memory");
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->freed, NULL);
	if ((rc = s3_parse_uri(s, uri, err, errlen)))
		goto err_close;
	const char *region = opt_or_env(opts, nopts, "s3.region", "AWS_REGION", "AWS_DEFAULT_REGION");
	const char *endpoint = opt_or_env(opts, nopts, "s3.endpoint", "AWS_ENDPOINT_URL", NULL);
	const char *ak = opt_or_env(opts, nopts, "s3.access_key", "AWS_ACCESS_KEY_ID", NULL);
	const char *sk = opt_or_env(opts, nopts, "s3.secret_key", "AWS_SECRET_ACCESS_KEY", NULL);
	if (!ak || !sk) {
		rc = ufs_seterr(-EINVAL, err, errlen,
				"no S3 credentials: set s3.access_key and s3.secret_key (or "
				"AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)");
		goto err_close;
	}
	s->region = strdup(region ? region : "us-east-1");
	s->access_key = strdup(ak);
	s->secret_key = strdup(sk);
	if (!s->region || !s->access_key || !s->secret_key) {
		rc = ufs_seterr(-ENOMEM, err, errlen, "out of memory");
		goto err_close;
	}
	char aws[128];
	snprintf(aws, sizeof(aws), "https://s3.%s.amazonaws.com", s->region);
	if ((rc = s3_parse_endpoint(s, endpoint ? endpoint : aws, err, errlen)))
		goto err_close;
	if (parse_bool(ufs_opt_get(opts, nopts, "s3.path_style"), endpoint != NULL,
		       &s->path_style)) {
		rc = ufs_seterr(-EINVAL, err, errlen, "mount option s3.path_style: want 0 or 1");
		goto err_close;
	}
	if (!s->path_style && strchr(s->bucket, '.') && !strcmp(s->scheme, "https"))
		log_warn("ufs s3: bucket %s has dots; virtual-host TLS may fail, consider "
			 "s3.path_style=1",
			 s->bucket);
	if ((rc = ufs_opt_u64(opts, nopts, "s3.part_size", S3_DEFAULT_PART, &s->part_size, err,
			      errlen)) ||
	    (rc = ufs_opt_u64(opts, nopts, "s3.retries", 3, &s->retries, err, errlen)) ||
	    (rc = ufs_opt_u64(opts, nopts, "s3.retry_base_ms", 100, &s->retry_base_ms, err,
			      errlen)) ||
	    (rc = ufs_opt_u64(opts, nopts, "s3.connect_timeout_ms", 3000, &s->connect_timeout_ms,
			      err, errlen)) ||
	    (rc = ufs_opt_u64(opts, nopts, "s3.timeout_ms", 60000, &s->timeout_ms, err, errlen)))
		goto err_close;
	if (s->part_size < S3_MIN_PART || s->part_size > (5ull << 30)) {
		rc = ufs_seterr(-EINVAL, err, errlen,
				"mount option s3.part_size: want 5 MiB to 5 GiB, got %" PRIu64,
				s->part_size);
		goto err_close;
	}
	if (s->retries > 10 || s->connect_timeout_ms == 0 || s->timeout_ms == 0) {
		rc = ufs_seterr(-EINVAL, err, errlen,
				"s3.retries must be <= 10 and timeouts positive");
		goto err_close;
	}
	for (int i = 0; i < S3_POOL; i++) {
		if (!(s->curls[i] = curl_easy_init())) {
			rc = ufs_seterr(-ENOMEM, err, errlen, "curl_easy_init failed");
			goto err_close;
		}
	}
	*impl = s;
	return 0;

err_close:
	s3_close(s);
	return rc;
}

/* prefix + norm (+ "/" when dir). malloc'd or NULL. */
static char *s3_key(struct s3 *s, const char *norm, bool dir)
{
	size_t n = strlen(s->prefix) + strlen(norm) + 2;
	char *k = malloc(n);
	if (k)
		snprintf(k, n, "%s%s%s", s->prefix, norm, dir && *norm ? "/" : "");
	return k;
}

/*
 * One ListObjectsV2 page under key prefix pfx. delimiter may be NULL
 * (recursive). On success *out is owned by the caller.
 */
static int s3_list_page(struct s3 *s, const char *pfx, const char *delimiter,
			const char *token, size_t max_keys, struct s3_listing *out,
			const char *path, char *err, size_t errlen)
{
	char maxk[24];
	snprintf(maxk, sizeof(maxk), "%zu", max_keys);
	struct sigv4_kv q[5];
	size_t nq = 0;
	q[nq++] = (struct sigv4_kv){ "list-type", "2" };
	q[nq++] = (struct sigv4_kv){ "prefix", pfx };
	q[nq++] = (struct sigv4_kv){ "max-keys", maxk };
	if (delimiter)
		q[nq++] = (struct sigv4_kv){ "delimiter", delimiter };
	if (token)
		q[nq++] = (struct sigv4_kv){ "continuation-token", token };
	struct s3_req rq = { .method = "GET", .query = q, .nquery = nq };
	struct s3_resp rs;
	int rc = s3_do(s, &rq, &rs, "list", path, err, errlen);
	if (rc == 0 && (rc = s3_status_err(s, &rs, "list", path, err, errlen)) == 0) {
		char perr[160] = "";
		rc = s3_parse_listing(rs.body ? rs.body : "", rs.len, out, perr, sizeof(perr));
		if (rc)
			rc = ufs_seterr(-EIO, err, errlen, "list %s: bad reply from S3: %s", path,
					perr);
	}
	resp_free(&rs);
	return rc;
}

/* 1 if anything exists under dir key prefix pfx, 0 if not, <0 on error. */
static int s3_prefix_exists(struct s3 *s, const char *pfx, const char *path, char *err,
			    size_t errlen)
{
	struct s3_listing l = { 0 };
	int rc = s3_list_page(s, pfx, NULL, NULL, 1, &l, path, err, errlen);
	if (rc)
		return rc;
	rc = l.count > 0;
	s3_listing_free(&l);
	return rc;
}

static int s3_probe(void *impl, char *err, size_t errlen)
{
	struct s3 *s = impl;
	struct s3_listing l = { 0 };
	int rc = s3_list_page(s, s->prefix, "/", NULL, 1, &l, "/", err, errlen);
	s3_listing_free(&l);
	return rc;
}

static int s3_head(struct s3 *s, const char *key, struct s3_resp *rs, const char *path,
		   char *err, size_t errlen)
{
	struct s3_req rq = { .method = "HEAD", .key = key };
	return s3_do(s, &rq, rs, "stat", path, err, errlen);
}

static int s3_stat(void *impl, const char *path, struct ufs_stat *st, char *err, size_t errlen)
{
	struct s3 *s = impl;
	char norm[UFS_PATH_MAX + 1];
	if (ufs_path_norm(path, norm, sizeof(norm)))
		return ufs_seterr(-EINVAL, err, errlen, "invalid path: %s", path);
	memset(st, 0, sizeof(*st));
	if (!*norm) {
		st->is_dir = true;
		return 0;
	}
	char *key = s3_key(s, norm, false);
	char *dkey = s3_key(s, norm, true);
	struct s3_resp rs = { 0 };
	int rc;
	if (!key || !dkey) {
		rc = ufs_seterr(-ENOMEM, err, errlen, "out of memory");
		goto out_free;
	}
	if ((rc = s3_head(s, key, &rs, norm, err, errlen)))
		goto out_free;
	if (rs.status == 200) {
		st->length = rs.head.content_length;
		st->mtime_ms = rs.head.mtime_ms;
		snprintf(st->fingerprint, sizeof(st->fingerprint), "%s", rs.head.etag);
		goto out_free;
	}
	if (rs.status != 404) {
		rc = s3_status_err(s, &rs, "stat", norm, err, errlen);
		goto out_free;
	}
	rc = s3_prefix_exists(s, dkey, norm, err, errlen);
	if (rc == 1) {
		st->is_dir = true;
		rc = 0;
	} else if (rc == 0) {
		rc = ufs_seterr(-ENOENT, err, errlen, "stat %s: no such file or directory", norm);
	}
out_free:
	resp_free(&rs);
	free(key);
	free(dkey);
	return rc;
}

static int s3_list(void *impl, const char *path, const char *token, size_t max_keys,
		   struct ufs_list_page *page, char *err, size_t errlen)
{
	struct s3 *s = impl;
	char norm[UFS_PATH_MAX + 1];
	if (ufs_path_norm(path, norm, sizeof(norm)))
		return ufs_seterr(-EINVAL, err, errlen, "invalid path: %s", path);
	char *pfx = s3_key(s, norm, true);
	if (!pfx)
		return ufs_seterr(-ENOMEM, err, errlen, "out of memory");
	struct s3_listing l = { 0 };
	int rc = s3_list_page(s, pfx, "/", token, max_keys, &l, norm, err, errlen);
	if (rc)
		goto out_free_pfx;
	size_t plen = strlen(pfx);
	bool marker = false;
	page->entries = calloc(l.count ? l.count : 1, sizeof(*page->entries));
	if (!page->entries)
		goto err_oom;
	for (size_t i = 0; i < l.count; i++) {
		struct s3_obj *o = &l.objs[i];
		if (strncmp(o->key, pfx, plen) != 0)
			continue;
		const char *name = o->key + plen;
		size_t nlen = strlen(name);
		if (o->is_prefix && nlen)
			nlen--; /* drop the trailing '/' */
		if (nlen == 0) {
			marker = true;
			continue;
		}
		if (memchr(name, '/', nlen))
			continue; /* "a//b"-style keys the path model cannot name */
		struct ufs_entry *e = &page->entries[page->count];
		if (!(e->name = strndup(name, nlen)))
			goto err_oom;
		e->st.is_dir = o->is_prefix;
		if (!o->is_prefix) {
			e->st.length = o->size;
			e->st.mtime_ms = o->mtime_ms;
			snprintf(e->st.fingerprint, sizeof(e->st.fingerprint), "%s", o->etag);
		}
		page->count++;
	}
	ufs_entries_sort(page->entries, page->count);
	if (l.next_token) {
		page->next_token = l.next_token;
		l.next_token = NULL;
	}
	if (!token && *norm && l.count == 0 && !marker && !page->next_token)
		rc = ufs_seterr(-ENOENT, err, errlen, "list %s: no such directory", norm);
	goto out_free_listing;
err_oom:
	rc = ufs_seterr(-ENOMEM, err, errlen, "out of memory");
out_free_listing:
	s3_listing_free(&l);
out_free_pfx:
	free(pfx);
	return rc;
}

static int s3_read_stat(void *impl, const char *path, uint64_t off, uint64_t len,
			ufs_sink_fn sink, void *arg, struct ufs_stat *st, char *err,
			size_t errlen);

static int s3_read(void *impl, const char *path, uint64_t off, uint64_t len, ufs_sink_fn sink,
		   void *arg, char *err, size_t errlen)
{
	return s3_read_stat(impl, path, off, len, sink, arg, NULL, err, errlen);
}

/* Delivers exactly the asked range even if the server ignored Range. */
struct range_sink {
	struct s3_resp *rs;
	uint64_t skip; /* when the server sent 200 (whole object) */
	uint64_t left;
	ufs_sink_fn sink;
	void *arg;
	struct ufs_stat *st; /* filled before the first byte goes to sink */
	bool st_filled;
};

/* The object's metadata from a 200/206 reply's headers. */
static void stat_of_reply(const struct s3_resp *rs, struct ufs_stat *st)
{
	st->is_dir = false;
	st->length = rs->status == 200 ? rs->head.content_length : (uint64_t)rs->head.range_total;
	st->mtime_ms = rs->head.mtime_ms;
	snprintf(st->fingerprint, sizeof(st->fingerprint), "%s", rs->head.etag);
}

static int range_sink_fn(void *arg, const void *data, size_t len)
{
	struct range_sink *r = arg;
	const char *p = data;
	if (r->st && !r->st_filled) {
		/* The headers are all in before the body's first byte. */
		if (r->rs->status == 206 && r->rs->head.range_total < 0)
			return -EIO; /* no length: reported below */
		stat_of_reply(r->rs, r->st);
		r->st_filled = true;
	}
	if (r->rs->status == 200 && r->skip) {
		size_t drop = r->skip < len ? (size_t)r->skip : len;
		r->skip -= drop;
		p += drop;
		len -= drop;
	}
	if (len > r->left)
		len = (size_t)r->left;
	r->left -= len;
	return len ? r->sink(r->arg, p, len) : 0;
}

/*
 * st (may be NULL) gets the object's metadata from the GET's own headers:
 * the length from Content-Range's total (206) or Content-Length (200), the
 * ETag and Last-Modified as s3_stat reads them from a HEAD. Only a read
 * wholly past the end (416, which need not carry them) asks with a HEAD.
 */
static int s3_read_stat(void *impl, const char *path, uint64_t off, uint64_t len,
			ufs_sink_fn sink, void *arg, struct ufs_stat *st, char *err,
			size_t errlen)
{
	struct s3 *s = impl;
	char norm[UFS_PATH_MAX + 1];
	if (ufs_path_norm(path, norm, sizeof(norm)))
		return ufs_seterr(-EINVAL, err, errlen, "invalid path: %s", path);
	if (!*norm)
		return ufs_seterr(-EISDIR, err, errlen, "read /: is a directory");
	if (len == 0) {
		struct ufs_stat tmp, *sp = st ? st : &tmp;
		int rc = s3_stat(impl, norm, sp, err, errlen);
		if (rc == 0 && sp->is_dir)
			rc = ufs_seterr(-EISDIR, err, errlen, "read %s: is a directory", norm);
		return rc;
	}
	char *key = s3_key(s, norm, false);
	if (!key)
		return ufs_seterr(-ENOMEM, err, errlen, "out of memory");
	char range[64];
	bool to_eof = len == UFS_READ_TO_EOF || off + len < off;
	if (to_eof)
		snprintf(range, sizeof(range), "bytes=%" PRIu64 "-", off);
	else
		snprintf(range, sizeof(range), "bytes=%" PRIu64 "-%" PRIu64, off, off + len - 1);
	/* The whole object: a plain GET (s3rver, for one, takes ~3 ms longer to
	 * start a 4 MiB reply when asked for "bytes=0-"). */
	bool whole = off == 0 && to_eof;
	struct sigv4_kv hdr = { "range", range };
	struct s3_resp rs;
	struct range_sink rsink = { &rs, off, len, sink, arg, st, false };
	struct s3_req rq = { .method = "GET", .key = key, .hdrs = whole ? NULL : &hdr,
			     .nhdrs = whole ? 0 : 1, .sink = range_sink_fn, .sink_arg = &rsink };
	int rc = s3_do(s, &rq, &rs, "read", norm, err, errlen);
	if (rc)
		goto out_free;
	if (rs.status == 416) { /* the range starts at or past the end */
		rc = 0;
		if (st) {
			rc = s3_stat(impl, norm, st, err, errlen);
			if (rc == 0 && st->is_dir)
				rc = ufs_seterr(-EISDIR, err, errlen, "read %s: is a directory",
						norm);
		}
	} else if (rs.status == 200 || rs.status == 206) {
		if (st) {
			stat_of_reply(&rs, st);
			if (rs.status == 206 && rs.head.range_total < 0)
				rc = ufs_seterr(-EIO, err, errlen,
						"read %s: a partial reply without the object's "
						"length (Content-Range)",
						norm);
		}
	} else if (rs.status == 404) {
		char *dkey = s3_key(s, norm, true);
		rc = dkey ? s3_prefix_exists(s, dkey, norm, err, errlen) : -ENOMEM;
		free(dkey);
		if (rc == 1)
			rc = ufs_seterr(-EISDIR, err, errlen, "read %s: is a directory", norm);
		else if (rc == 0)
			rc = s3_status_err(s, &rs, "read", norm, err, errlen);
	} else {
		rc = s3_status_err(s, &rs, "read", norm, err, errlen);
	}
out_free:
	resp_free(&rs);
	free(key);
	return rc;
}

/* PUT of one whole object from memory. */
static int s3_put_object(struct s3 *s, const char *key, const void *data, size_t len,
			 const char *path, char *err, size_t errlen)
{
	struct sigv4_kv hdr = { "content-type", "application/octet-stream" };
	struct s3_req rq = { .method = "PUT", .key = key, .hdrs = &hdr, .nhdrs = 1,
			     .body = data, .body_len = len };
	struct s3_resp rs;
	int rc = s3_do(s, &rq, &rs, "write", path, err, errlen);
	if (rc == 0)
		rc = s3_status_err(s, &rs, "write", path, err, errlen);
	resp_free(&rs);
	return rc;
}

struct s3_writer {
	struct s3 *s;
	char *key;
	char path[UFS_PATH_MAX + 1];
	char *buf;
	size_t len, cap;
	char *upload_id;
	char (*etags)[UFS_FINGERPRINT_MAX + 2];
	size_t nparts;
};

static int s3_writer_open(void *impl, const char *path, void **wimpl, char *err, size_t errlen)
{
	struct s3 *s = impl;
	struct s3_writer *w = calloc(1, sizeof(*w));
	if (!w)
		return ufs_seterr(-ENOMEM, err, errlen, "out of memory");
	w->s = s;
	if (ufs_path_norm(path, w->path, sizeof(w->path)) || !*w->path) {
		free(w);
		return ufs_seterr(-EINVAL, err, errlen, "invalid file path: %s", path);
	}
	if (!(w->key = s3_key(s, w->path, false))) {
		free(w);
		return ufs_seterr(-ENOMEM, err, errlen, "out of memory");
	}
	*wimpl = w;
	return 0;
}

static int s3_upload_part(struct s3_writer *w, char *err, size_t errlen)
{
	struct s3 *s = w->s;
	struct s3_resp rs;
	int rc;
	if (!w->upload_id) {
		struct sigv4_kv q = { "uploads", "" };
		struct sigv4_kv hdr = { "content-type", "application/octet-stream" };
		struct s3_req rq = { .method = "POST", .key = w->key, .query = &q, .nquery = 1,
				     .hdrs = &hdr, .nhdrs = 1 };
		if ((rc = s3_do(s, &rq, &rs, "start multipart upload of", w->path, err, errlen)))
			return rc;
		if ((rc = s3_status_err(s, &rs, "start multipart upload of", w->path, err,
					errlen)) == 0 &&
		    (rc = s3_parse_upload_id(rs.body ? rs.body : "", rs.len, &w->upload_id)))
			rc = ufs_seterr(-EIO, err, errlen, "write %s: no UploadId in reply", w->path);
		resp_free(&rs);
		if (rc)
			return rc;
	}
	if (w->nparts >= S3_MAX_PARTS)
		return ufs_seterr(-EFBIG, err, errlen, "write %s: more than %d parts", w->path,
				  S3_MAX_PARTS);
	void *grown = realloc(w->etags, (w->nparts + 1) * sizeof(*w->etags));
	if (!grown)
		return ufs_seterr(-ENOMEM, err, errlen, "out of memory");
	w->etags = grown;
	char partno[16];
	snprintf(partno, sizeof(partno), "%zu", w->nparts + 1);
	struct sigv4_kv q[2] = { { "partNumber", partno }, { "uploadId", w->upload_id } };
	struct s3_req rq = { .method = "PUT", .key = w->key, .query = q, .nquery = 2,
			     .body = w->buf, .body_len = w->len };
	if ((rc = s3_do(s, &rq, &rs, "upload part of", w->path, err, errlen)))
		return rc;
	rc = s3_status_err(s, &rs, "upload part of", w->path, err, errlen);
	if (rc == 0 && !rs.head.etag_raw[0])
		rc = ufs_seterr(-EIO, err, errlen, "upload part of %s: no ETag in reply", w->path);
	if (rc == 0) {
		snprintf(w->etags[w->nparts], sizeof(w->etags[0]), "%s", rs.head.etag_raw);
		w->nparts++;
		w->len = 0;
	}
	resp_free(&rs);
	return rc;
}

static int s3_writer_write(void *wimpl, const void *data, size_t len, char *err, size_t errlen)
{
	struct s3_writer *w = wimpl;
	const char *p = data;
	while (len > 0) {
		if (w->len == w->cap) {
			if (w->cap == w->s->part_size) {
				int rc = s3_upload_part(w, err, errlen);
				if (rc)
					return rc;
			} else {
				size_t ncap = w->cap ? w->cap * 2 : 256 * 1024;
				if (ncap > w->s->part_size)
					ncap = (size_t)w->s->part_size;
				char *grown = realloc(w->buf, ncap);
				if (!grown)
					return ufs_seterr(-ENOMEM, err, errlen, "out of memory");
				w->buf = grown;
				w->cap = ncap;
			}
			continue;
		}
		size_t n = w->cap - w->len < len ? w->cap - w->len : len;
		memcpy(w->buf + w->len, p, n);
		w->len += n;
		p += n;
		len -= n;
	}
	return 0;
}

static void s3_writer_free(struct s3_writer *w, bool abort_upload)
{
	if (abort_upload && w->upload_id) {
		struct sigv4_kv q = { "uploadId", w->upload_id };
		struct s3_req rq = { .method = "DELETE", .key = w->key, .query = &q, .nquery = 1 };
		struct s3_resp rs;
		char err[256];
		if (s3_do(w->s, &rq, &rs, "abort upload of", w->path, err, sizeof(err)) == 0 &&
		    s3_status_err(w->s, &rs, "abort upload of", w->path, err, sizeof(err)) != 0)
			log_warn("ufs s3: %s", err);
		resp_free(&rs);
	}
	free(w->upload_id);
	free(w->etags);
	free(w->buf);
	free(w->key);
	free(w);
}

static int s3_complete(struct s3_writer *w, char *err, size_t errlen)
{
	size_t cap = 128 + w->nparts * (UFS_FINGERPRINT_MAX + 96);
	char *body = malloc(cap);
	if (!body)
		return ufs_seterr(-ENOMEM, err, errlen, "out of memory");
	size_t o = (size_t)snprintf(body, cap, "<CompleteMultipartUpload>");
	for (size_t i = 0; i < w->nparts; i++)
		o += (size_t)snprintf(body + o, cap - o,
				      "<Part><PartNumber>%zu</PartNumber><ETag>%s</ETag></Part>",
				      i + 1, w->etags[i]);
	o += (size_t)snprintf(body + o, cap - o, "</CompleteMultipartUpload>");
	struct sigv4_kv q = { "uploadId", w->upload_id };
	struct sigv4_kv hdr = { "content-type", "application/xml" };
	struct s3_req rq = { .method = "POST", .key = w->key, .query = &q, .nquery = 1,
			     .hdrs = &hdr, .nhdrs = 1, .body = body, .body_len = o };
	struct s3_resp rs;
	int rc = s3_do(w->s, &rq, &rs, "complete upload of", w->path, err, errlen);
	if (rc == 0)
		rc = s3_status_err(w->s, &rs, "complete upload of", w->path, err, errlen);
	char code[80], msg[220];
	/* S3 may answer 200 and still put an <Error> in the body */
	if (rc == 0 && s3_parse_error(rs.body, rs.len, code, sizeof(code), msg, sizeof(msg)))
		rc = ufs_seterr(-EIO, err, errlen, "complete upload of %s: %s: %s", w->path, code,
				msg);
	resp_free(&rs);
	free(body);
	return rc;
}

static int s3_writer_commit(void *wimpl, char *err, size_t errlen)
{
	struct s3_writer *w = wimpl;
	int rc;
	if (!w->upload_id) {
		rc = s3_put_object(w->s, w->key, w->buf, w->len, w->path, err, errlen);
		s3_writer_free(w, false);
		return rc;
	}
	if ((w->len > 0 && (rc = s3_upload_part(w, err, errlen))) ||
	    (rc = s3_complete(w, err, errlen))) {
		s3_writer_free(w, true);
		return rc;
	}
	s3_writer_free(w, false);
	return 0;
}

static void s3_writer_abort(void *wimpl)
{
	s3_writer_free(wimpl, true);
}

static int s3_delete_key(struct s3 *s, const char *key, const char *path, char *err,
			 size_t errlen)
{
	struct s3_req rq = { .method = "DELETE", .key = key };
	struct s3_resp rs;
	int rc = s3_do(s, &rq, &rs, "delete", path, err, errlen);
	if (rc == 0)
		rc = s3_status_err(s, &rs, "delete", path, err, errlen);
	resp_free(&rs);
	return rc;
}

struct key_list {
	char **keys;
	size_t count, cap;
};

static void key_list_free(struct key_list *kl)
{
	for (size_t i = 0; i < kl->count; i++)
		free(kl->keys[i]);
	free(kl->keys);
	memset(kl, 0, sizeof(*kl));
}

/* Every key under pfx (recursive), all pages. */
static int s3_collect_keys(struct s3 *s, const char *pfx, struct key_list *kl, const char *path,
			   char *err, size_t errlen)
{
	char *token = NULL;
	int rc = 0;
	do {
		struct s3_listing l = { 0 };
		rc = s3_list_page(s, pfx, NULL, token, 1000, &l, path, err, errlen);
		free(token);
		token = NULL;
		if (rc)
			break;
		for (size_t i = 0; i < l.count && rc == 0; i++) {
			if (kl->count == kl->cap) {
				size_t ncap = kl->cap ? kl->cap * 2 : 64;
				char **grown = realloc(kl->keys, ncap * sizeof(*grown));
				if (!grown) {
					rc = ufs_seterr(-ENOMEM, err, errlen, "out of memory");
					break;
				}
				kl->keys = grown;
				kl->cap = ncap;
			}
			kl->keys[kl->count++] = l.objs[i].key;
			l.objs[i].key = NULL;
		}
		token = l.next_token;
		l.next_token = NULL;
		s3_listing_free(&l);
	} while (rc == 0 && token);
	free(token);
	return rc;
}

static int s3_remove(void *impl, const char *path, bool recursive, char *err, size_t errlen)
{
	struct s3 *s = impl;
	char norm[UFS_PATH_MAX + 1];
	if (ufs_path_norm(path, norm, sizeof(norm)))
		return ufs_seterr(-EINVAL, err, errlen, "invalid path: %s", path);
	if (!*norm)
		return ufs_seterr(-EINVAL, err, errlen, "delete /: cannot delete the mount root");
	char *key = s3_key(s, norm, false), *dkey = s3_key(s, norm, true);
	struct key_list kl = { 0 };
	struct s3_resp rs = { 0 };
	int rc;
	if (!key || !dkey) {
		rc = ufs_seterr(-ENOMEM, err, errlen, "out of memory");
		goto out_free;
	}
	if ((rc = s3_head(s, key, &rs, norm, err, errlen)))
		goto out_free;
	if (rs.status == 200) {
		rc = s3_delete_key(s, key, norm, err, errlen);
		goto out_free;
	}
	if (rs.status != 404) {
		rc = s3_status_err(s, &rs, "delete", norm, err, errlen);
		goto out_free;
	}
	if ((rc = s3_collect_keys(s, dkey, &kl, norm, err, errlen)))
		goto out_free;
	if (kl.count == 0) {
		rc = ufs_seterr(-ENOENT, err, errlen, "delete %s: no such file or directory", norm);
		goto out_free;
	}
	if (!recursive && (kl.count > 1 || strcmp(kl.keys[0], dkey) != 0)) {
		rc = ufs_seterr(-ENOTEMPTY, err, errlen, "delete %s: directory not empty", norm);
		goto out_free;
	}
	for (size_t i = 0; i < kl.count && rc == 0; i++)
		rc = s3_delete_key(s, kl.keys[i], norm, err, errlen);
out_free:
	key_list_free(&kl);
	resp_free(&rs);
	free(key);
	free(dkey);
	return rc;
}

static int s3_mkdir(void *impl, const char *path, char *err, size_t errlen)
{
	struct s3 *s = impl;
	char norm[UFS_PATH_MAX + 1];
	struct ufs_stat st;
	if (ufs_path_norm(path, norm, sizeof(norm)))
		return ufs_seterr(-EINVAL, err, errlen, "invalid path: %s", path);
	int rc = s3_stat(impl, norm, &st, err, errlen);
	if (rc == 0)
		return ufs_seterr(-EEXIST, err, errlen, "mkdir %s: already exists",
				  *norm ? norm : "/");
	if (rc != -ENOENT)
		return rc;
	char *dkey = s3_key(s, norm, true);
	if (!dkey)
		return ufs_seterr(-ENOMEM, err, errlen, "out of memory");
	rc = s3_put_object(s, dkey, "", 0, norm, err, errlen);
	free(dkey);
	return rc;
}

/*
 * x-amz-copy-source percent-encoded as AWS wants it; when compat, with the
 * characters JavaScript's decodeURI leaves encoded kept raw instead (s3rver
 * decodes the header with decodeURI, so "%2B" would stay "%2B" there).
 */
static char *copy_source(struct s3 *s, const char *key, bool compat)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s->bucket) + 3 * strlen(key) + 3;
	char *out = malloc(n);
	if (!out)
		return NULL;
	size_t o = (size_t)snprintf(out, n, "/%s/", s->bucket);
	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		if (isalnum(*p) || strchr("-_.~/", *p) || (compat && strchr("+&=,;:@$", *p))) {
			out[o++] = (char)*p;
		} else {
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		}
	}
	out[o] = '\0';
	return out;
}

static int s3_copy_once(struct s3 *s, const char *src_key, const char *dst_key, bool compat,
			const char *path, char *err, size_t errlen)
{
	char *source = copy_source(s, src_key, compat);
	if (!source)
		return ufs_seterr(-ENOMEM, err, errlen, "out of memory");
	struct sigv4_kv hdr = { "x-amz-copy-source", source };
	struct s3_req rq = { .method = "PUT", .key = dst_key, .hdrs = &hdr, .nhdrs = 1 };
	struct s3_resp rs;
	int rc = s3_do(s, &rq, &rs, "copy", path, err, errlen);
	if (rc == 0)
		rc = s3_status_err(s, &rs, "copy", path, err, errlen);
	char code[80], msg[220];
	if (rc == 0 && s3_parse_error(rs.body, rs.len, code, sizeof(code), msg, sizeof(msg)))
		rc = ufs_seterr(-EIO, err, errlen, "copy %s: %s: %s", path, code, msg);
	resp_free(&rs);
	free(source);
	return rc;
}

/* Server-side copy of an object the caller knows exists. */
static int s3_copy(struct s3 *s, const char *src_key, const char *dst_key, const char *path,
		   char *err, size_t errlen)
{
	int rc = s3_copy_once(s, src_key, dst_key, false, path, err, errlen);
	if (rc == -ENOENT && strpbrk(src_key, "+&=,;:@$"))
		rc = s3_copy_once(s, src_key, dst_key, true, path, err, errlen);
	return rc;
}

static int s3_rename(void *impl, const char *src, const char *dst, char *err, size_t errlen)
{
	struct s3 *s = impl;
	char nsrc[UFS_PATH_MAX + 1], ndst[UFS_PATH_MAX + 1];
	struct ufs_stat st;
	if (ufs_path_norm(src, nsrc, sizeof(nsrc)) || ufs_path_norm(dst, ndst, sizeof(ndst)) ||
	    !*nsrc || !*ndst)
		return ufs_seterr(-EINVAL, err, errlen, "rename %s to %s: invalid path", src, dst);
	size_t slen = strlen(nsrc);
	if (strncmp(ndst, nsrc, slen) == 0 && (ndst[slen] == '/' || ndst[slen] == '\0'))
		return ufs_seterr(-EINVAL, err, errlen, "rename %s into itself", nsrc);
	int rc = s3_stat(impl, nsrc, &st, err, errlen);
	if (rc)
		return rc;
	struct ufs_stat dst_st;
	rc = s3_stat(impl, ndst, &dst_st, err, errlen);
	if (rc == 0)
		return ufs_seterr(-EEXIST, err, errlen, "rename to %s: already exists", ndst);
	if (rc != -ENOENT)
		return rc;
	rc = 0;
	if (!st.is_dir) {
		char *sk = s3_key(s, nsrc, false), *dk = s3_key(s, ndst, false);
		if (!sk || !dk)
			rc = ufs_seterr(-ENOMEM, err, errlen, "out of memory");
		if (rc == 0 && (rc = s3_copy(s, sk, dk, nsrc, err, errlen)) == 0)
			rc = s3_delete_key(s, sk, nsrc, err, errlen);
		free(sk);
		free(dk);
		return rc;
	}
	char *spfx = s3_key(s, nsrc, true), *dpfx = s3_key(s, ndst, true);
	struct key_list kl = { 0 };
	if (!spfx || !dpfx) {
		rc = ufs_seterr(-ENOMEM, err, errlen, "out of memory");
		goto out_free;
	}
	if ((rc = s3_collect_keys(s, spfx, &kl, nsrc, err, errlen)))
		goto out_free;
	size_t splen = strlen(spfx);
	/* copy everything first, delete after: a failure leaves both, never neither */
	for (size_t i = 0; i < kl.count && rc == 0; i++) {
		size_t n = strlen(dpfx) + strlen(kl.keys[i]) + 1;
		char *dk = malloc(n);
		if (!dk) {
			rc = ufs_seterr(-ENOMEM, err, errlen, "out of memory");
			break;
		}
		snprintf(dk, n, "%s%s", dpfx, kl.keys[i] + splen);
		rc = s3_copy(s, kl.keys[i], dk, nsrc, err, errlen);
		free(dk);
	}
	for (size_t i = 0; i < kl.count && rc == 0; i++)
		rc = s3_delete_key(s, kl.keys[i], nsrc, err, errlen);
out_free:
	key_list_free(&kl);
	free(spfx);
	free(dpfx);
	return rc;
}

const struct ufs_driver ufs_s3_driver = {
	.scheme = "s3",
	.open = s3_open,
	.close = s3_close,
	.probe = s3_probe,
	.stat = s3_stat,
	.list = s3_list,
	.read = s3_read,
	.writer_open = s3_writer_open,
	.writer_write = s3_writer_write,
	.writer_commit = s3_writer_commit,
	.writer_abort = s3_writer_abort,
	.remove = s3_remove,
	.mkdir = s3_mkdir,
	.rename = s3_rename,
	.read_stat = s3_read_stat,
};
