#include "lib/httpc.h"

#include "lib/err.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct httpc {
	CURL *curl;
	pthread_mutex_t lock;
	struct httpc_opts opts;
	char *ca_file;
	char *extra_header;
	char *client_cert, *client_key;
};

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* *out = a copy of s, or NULL for NULL/""; false on OOM. */
static bool opt_dup(const char *s, char **out)
{
	*out = NULL;
	if (!s || !*s)
		return true;
	*out = strdup(s);
	return *out != NULL;
}

/* Server verification and, with mutual TLS, our certificate. */
static void set_tls(CURL *c, const struct httpc_opts *o)
{
	if (o->ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, o->ca_file);
	if (o->insecure_tls) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (o->client_cert && o->client_key) {
		curl_easy_setopt(c, CURLOPT_SSLCERT, o->client_cert);
		curl_easy_setopt(c, CURLOPT_SSLKEY, o->client_key);
	}
}

struct httpc *httpc_new(const struct httpc_opts *opts)
{
	pthread_once(&g_curl_once, curl_init_once);
	struct httpc *hc = calloc(1, sizeof(*hc));
	if (!hc)
		return NULL;
	if (opts)
		hc->opts = *opts;
	if (!opt_dup(opts ? opts->ca_file : NULL, &hc->ca_file) ||
	    !opt_dup(opts ? opts->extra_header : NULL, &hc->extra_header) ||
	    !opt_dup(opts ? opts->client_cert : NULL, &hc->client_cert) ||
	    !opt_dup(opts ? opts->client_key : NULL, &hc->client_key))
		goto err_free_strings;
	hc->opts.ca_file = hc->ca_file;
	hc->opts.extra_header = hc->extra_header;
	hc->opts.client_cert = hc->client_cert;
	hc->opts.client_key = hc->client_key;
	if (hc->opts.timeout_ms <= 0)
		hc->opts.timeout_ms = 30000;
	if (hc->opts.connect_timeout_ms <= 0)
		hc->opts.connect_timeout_ms = 5000;
	hc->curl = curl_easy_init();
	if (!hc->curl)
		goto err_free_strings;
	pthread_mutex_init(&hc->lock, NULL);
	return hc;

err_free_strings:
	free(hc->ca_file);
	free(hc->extra_header);
	free(hc->client_cert);
	free(hc->client_key);
	free(hc);
	return NULL;
}

void httpc_free(struct httpc *hc)
{
	if (!hc)
		return;
	curl_easy_cleanup(hc->curl);
	free(hc->ca_file);
	free(hc->extra_header);
	free(hc->client_cert);
	free(hc->client_key);
	pthread_mutex_destroy(&hc->lock);
	free(hc);
}

void httpc_resp_free(struct httpc_resp *resp)
{
	free(resp->body);
	resp->body = NULL;
	resp->len = 0;
	free(resp->location);
	resp->location = NULL;
}

/* Where a redirect points; curl owns its string until the next request. */
static int take_location(CURL *c, struct httpc_resp *resp)
{
	char *loc = NULL;
	resp->location = NULL;
	if (resp->status < 300 || resp->status > 399 ||
	    curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &loc) != CURLE_OK || !loc)
		return 0;
	resp->location = strdup(loc);
	return resp->location ? 0 : -ENOMEM;
}

struct sink {
	char *buf;
	size_t len, cap;
	int oom;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct sink *s = userdata;
	size_t n = size * nmemb;
	if (s->len + n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		while (cap < s->len + n + 1)
			cap *= 2;
		char *grown = realloc(s->buf, cap);
		if (!grown) {
			s->oom = 1;
			return 0;
		}
		s->buf = grown;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, data, n);
	s->len += n;
	s->buf[s->len] = '\0';
	return n;
}

int httpc_request(struct httpc *hc, const char *method, const char *url,
		  const char *content_type, const void *body, size_t len,
		  struct httpc_resp *resp, char *err, size_t errlen)
{
	struct sink sink = { 0 };
	struct curl_slist *headers = NULL;
	char ctype[128];
	int rc = 0;

	pthread_mutex_lock(&hc->lock);
	CURL *c = hc->curl;
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)hc->opts.timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)hc->opts.connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	set_tls(c, &hc->opts);
	if (body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
		/* POSTFIELDS switches to POST; keep the method asked for. */
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	}
	if (content_type) {
		snprintf(ctype, sizeof(ctype), "Content-Type: %s", content_type);
		headers = curl_slist_append(headers, ctype);
	}
	headers = curl_slist_append(headers, "Expect:");
	if (hc->opts.extra_header)
		headers = curl_slist_append(headers, hc->opts.extra_header);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);

	CURLcode cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		snprintf(err, errlen, "%s %s: %s", method, url,
			 sink.oom ? "out of memory" : curl_easy_strerror(cc));
		rc = sink.oom ? -ENOMEM : ST_EPEER;
		free(sink.buf);
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	if (!sink.buf) {
		sink.buf = calloc(1, 1);
		if (!sink.buf) {
			rc = -ENOMEM;
			goto out;
		}
	}
	resp->body = sink.buf;
	resp->len = sink.len;
	rc = take_location(c, resp);
	if (rc)
		httpc_resp_free(resp);
out:
	curl_slist_free_all(headers);
	pthread_mutex_unlock(&hc->lock);
	return rc;
}

int httpc_json_reply(struct httpc *hc, const char *method, const char *url, const cJSON *req,
		     struct httpc_json_reply *r, char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	char *body = NULL;
	if (req) {
		body = cJSON_PrintUnformatted(req);
		if (!body)
			return -ENOMEM;
	}
	struct httpc_resp resp = { 0 };
	int rc = httpc_request(hc, method, url, body ? "application/json" : NULL, body,
			       body ? strlen(body) : 0, &resp, err, errlen);
	free(body);
	if (rc)
		return rc;
	r->status = resp.status;
	r->location = resp.location;
	resp.location = NULL;
	r->json = resp.len ? cJSON_ParseWithLength(resp.body, resp.len) : NULL;
	r->not_json = resp.len && !r->json;
	if (resp.status < 200 || resp.status > 299) {
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(r->json, "error");
		const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "message");
		snprintf(err, errlen, "%s %s: HTTP %ld: %s", method, url, resp.status,
			 cJSON_IsString(msg) ? msg->valuestring : "no error message");
	} else if (r->not_json) {
		snprintf(err, errlen, "%s %s: reply is not JSON", method, url);
	}
	httpc_resp_free(&resp);
	return 0;
}

void httpc_json_reply_free(struct httpc_json_reply *r)
{
	cJSON_Delete(r->json);
	free(r->location);
	memset(r, 0, sizeof(*r));
}

int httpc_json_reply_take(struct httpc_json_reply *r, cJSON **out, long *status)
{
	int rc = 0;
	if (status)
		*status = r->status;
	if (r->status < 200 || r->status > 299)
		rc = ST_EHTTP;
	else if (r->not_json)
		rc = ST_EPROTO;
	if (rc == 0 && out) {
		*out = r->json;
		r->json = NULL;
	}
	httpc_json_reply_free(r);
	return rc;
}

int httpc_json(struct httpc *hc, const char *method, const char *url, const cJSON *req,
	       cJSON **out, long *status, char *err, size_t errlen)
{
	struct httpc_json_reply r;
	int rc = httpc_json_reply(hc, method, url, req, &r, err, errlen);
	return rc ? rc : httpc_json_reply_take(&r, out, status);
}

char *httpc_escape(const char *s)
{
	pthread_once(&g_curl_once, curl_init_once);
	char *e = curl_easy_escape(NULL, s, 0);
	if (!e)
		return NULL;
	char *copy = strdup(e);
	curl_free(e);
	return copy;
}

char *httpc_path_query(const char *route, const char *path, const char *extra)
{
	char *e = httpc_escape(path);
	if (!e)
		return NULL;
	size_t len = strlen(route) + strlen(e) + (extra ? strlen(extra) : 0) + 8;
	char *out = malloc(len);
	if (out)
		snprintf(out, len, "%s?path=%s%s", route, e, extra ? extra : "");
	free(e);
	return out;
}

struct stream_sink {
	FILE *out;
	struct sink err_body;
	long status;
	CURL *curl;
};

static size_t on_stream_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct stream_sink *s = userdata;
	if (!s->status)
		curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &s->status);
	if (s->out && s->status >= 200 && s->status <= 299)
		return fwrite(data, 1, size * nmemb, s->out);
	return on_body(data, size, nmemb, &s->err_body);
}

static size_t on_stream_read(char *buf, size_t size, size_t nitems, void *userdata)
{
	size_t n = fread(buf, 1, size * nitems, userdata);
	if (n == 0 && ferror((FILE *)userdata))
		return CURL_READFUNC_ABORT;
	return n;
}

int httpc_stream(struct httpc *hc, const char *method, const char *url, FILE *in,
		 int64_t size, FILE *out, struct httpc_resp *resp, char *err, size_t errlen)
{
	pthread_mutex_lock(&hc->lock);
	CURL *c = hc->curl;
	struct stream_sink sink = { .out = out, .curl = c };
	struct curl_slist *headers = curl_slist_append(NULL, "Expect:");
	if (hc->opts.extra_header)
		headers = curl_slist_append(headers, hc->opts.extra_header);
	int rc = 0;
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	/* No overall timeout for bulk data; a stalled peer still times out. */
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)hc->opts.connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)(hc->opts.timeout_ms / 1000 + 1));
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_stream_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
	set_tls(c, &hc->opts);
	if (in) {
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, on_stream_read);
		curl_easy_setopt(c, CURLOPT_READDATA, in);
		if (size >= 0)
			curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)size);
		headers = curl_slist_append(headers, "Content-Type: application/octet-stream");
	}
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	CURLcode cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		snprintf(err, errlen, "%s %s: %s", method, url, curl_easy_strerror(cc));
		rc = ST_EPEER;
		free(sink.err_body.buf);
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	resp->body = sink.err_body.buf ? sink.err_body.buf : calloc(1, 1);
	resp->len = sink.err_body.len;
	rc = resp->body ? take_location(c, resp) : -ENOMEM;
out:
	curl_slist_free_all(headers);
	pthread_mutex_unlock(&hc->lock);
	return rc;
}
