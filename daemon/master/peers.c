/* master.peers parsing (see peers.h). */
#include "daemon/master/peers.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static bool host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_';
}

static bool v6_char(char c)
{
	return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9') ||
	       c == ':' || c == '.';
}

/* Parses a decimal in [min, max] spanning exactly s[0..len). */
static int parse_dec(const char *s, size_t len, uint64_t min, uint64_t max, uint64_t *out)
{
	if (len == 0 || len > 19)
		return -EINVAL;
	uint64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (len > 1 && s[0] == '0')
		return -EINVAL; /* one spelling per number */
	if (v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Checks "host:port" in s[0..len); what names the part for messages. */
static int check_hostport(const char *s, size_t len, const char *what, char *err,
			  size_t errlen)
{
	const char *end = s + len, *colon;
	if (len && s[0] == '[') {
		const char *close = memchr(s, ']', len);
		if (!close || close == s + 1 || close + 1 >= end || close[1] != ':') {
			snprintf(err, errlen, "%s '%.*s': an IPv6 host is written [addr]:port",
				 what, (int)len, s);
			return -EINVAL;
		}
		for (const char *p = s + 1; p < close; p++) {
			if (!v6_char(*p)) {
				snprintf(err, errlen, "%s '%.*s': bad IPv6 address", what,
					 (int)len, s);
				return -EINVAL;
			}
		}
		colon = close + 1;
	} else {
		colon = NULL;
		for (const char *p = s; p < end; p++)
			if (*p == ':')
				colon = p;
		if (!colon) {
			snprintf(err, errlen, "%s '%.*s' lacks ':port'", what, (int)len, s);
			return -EINVAL;
		}
		if (colon == s || colon - s > PEERS_HOST_MAX) {
			snprintf(err, errlen, "%s '%.*s': the host is empty or too long", what,
				 (int)len, s);
			return -EINVAL;
		}
		for (const char *p = s; p < colon; p++) {
			if (!host_char(*p)) {
				snprintf(err, errlen,
					 "%s '%.*s': '%c' is not allowed in a host name (IPv6 "
					 "needs brackets)",
					 what, (int)len, s, *p);
				return -EINVAL;
			}
		}
	}
	uint64_t port;
	if (parse_dec(colon + 1, (size_t)(end - colon - 1), 1, 65535, &port)) {
		snprintf(err, errlen, "%s '%.*s': the port must be 1..65535", what, (int)len, s);
		return -EINVAL;
	}
	return 0;
}

int peers_parse_one(const char *item, struct peer *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	const char *at1 = strchr(item, '@');
	const char *at2 = at1 ? strchr(at1 + 1, '@') : NULL;
	if (!at1 || !at2 || strchr(at2 + 1, '@')) {
		snprintf(err, errlen, "expected ID@RAFT_HOST:RAFT_PORT@REST_HOST:REST_PORT");
		return -EINVAL;
	}
	if (parse_dec(item, (size_t)(at1 - item), 1, INT64_MAX, &out->id)) {
		snprintf(err, errlen, "the id '%.*s' must be a whole number from 1 to %lld",
			 (int)(at1 - item) > 32 ? 32 : (int)(at1 - item), item,
			 (long long)INT64_MAX);
		return -EINVAL;
	}
	const char *raft = at1 + 1;
	size_t raft_len = (size_t)(at2 - raft);
	int rc = check_hostport(raft, raft_len, "Raft address", err, errlen);
	if (rc)
		return rc;
	const char *rest = at2 + 1, *scheme = "http://";
	if (strncmp(rest, "http://", 7) == 0) {
		rest += 7;
	} else if (strncmp(rest, "https://", 8) == 0) {
		rest += 8;
		scheme = "https://";
	} else if (strstr(rest, "://")) {
		snprintf(err, errlen, "REST URL '%s': only http:// and https:// are allowed", rest);
		return -EINVAL;
	}
	size_t rest_len = strlen(rest);
	if (rest_len && rest[rest_len - 1] == '/')
		rest_len--; /* "http://h:1/" is the same base */
	rc = check_hostport(rest, rest_len, "REST address", err, errlen);
	if (rc)
		return rc;
	if (raft_len >= sizeof(out->raft_address) ||
	    strlen(scheme) + rest_len >= sizeof(out->rest_url)) {
		snprintf(err, errlen, "address too long");
		return -EINVAL;
	}
	snprintf(out->raft_address, sizeof(out->raft_address), "%.*s", (int)raft_len, raft);
	snprintf(out->rest_url, sizeof(out->rest_url), "%s%.*s", scheme, (int)rest_len, rest);
	return 0;
}

int peers_parse(char *const *items, size_t nitems, uint64_t self_id, struct peer *out,
		size_t *n, char *err, size_t errlen)
{
	*n = 0;
	if (nitems > PEERS_MAX) {
		snprintf(err, errlen, "master.peers: %zu masters, at most %d", nitems, PEERS_MAX);
		return -EINVAL;
	}
	bool self_found = false;
	for (size_t i = 0; i < nitems; i++) {
		char why[400];
		if (peers_parse_one(items[i], &out[i], why, sizeof(why))) {
			snprintf(err, errlen, "master.peers: item %zu '%.200s': %s", i + 1,
				 items[i], why);
			return -EINVAL;
		}
		for (size_t j = 0; j < i; j++) {
			if (out[j].id == out[i].id) {
				snprintf(err, errlen, "master.peers: id %llu appears twice",
					 (unsigned long long)out[i].id);
				return -EINVAL;
			}
		}
		if (out[i].id == self_id)
			self_found = true;
	}
	if (self_id && nitems && !self_found) {
		snprintf(err, errlen,
			 "master.peers does not list this master (master.id = %llu); every master "
			 "needs its own entry",
			 (unsigned long long)self_id);
		return -EINVAL;
	}
	*n = nitems;
	return 0;
}
