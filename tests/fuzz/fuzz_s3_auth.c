/*
 * libFuzzer target: Authorization header parsing and the whole SigV4
 * verification (api/s3_auth.c) on fuzzed headers and query strings.
 * Input: Authorization '\n' x-amz-date '\n' x-amz-content-sha256 '\n' path
 * '\n' query.
 */
#include "api/s3_auth.h"
#include "api/s3_proto.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *g_fields[5];

static const char *header(void *arg, const char *name)
{
	(void)arg;
	if (!strcasecmp(name, "authorization"))
		return g_fields[0];
	if (!strcasecmp(name, "x-amz-date"))
		return g_fields[1];
	if (!strcasecmp(name, "x-amz-content-sha256"))
		return g_fields[2];
	if (!strcasecmp(name, "host"))
		return "127.0.0.1:39999";
	return NULL;
}

static int lookup(void *arg, const char *ak, char *secret, size_t len)
{
	(void)arg;
	if (strcmp(ak, "AK"))
		return -ENOENT;
	snprintf(secret, len, "SK");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 8192)
		return 0;
	char *buf = malloc(size + 1);
	memcpy(buf, data, size);
	buf[size] = '\0';
	memset(g_fields, 0, sizeof(g_fields));
	char *p = buf;
	for (int i = 0; i < 5 && p; i++) {
		g_fields[i] = p;
		p = strchr(p, '\n');
		if (p)
			*p++ = '\0';
	}
	struct s3_auth_header h;
	char err[256];
	if (s3_auth_parse_header(g_fields[0], &h, err, sizeof(err)) == 0) {
		if (strlen(h.signature) != 64 || strlen(h.date) != 8 || !*h.signed_headers)
			__builtin_trap();
	}
	struct s3_auth_input in = { "GET", g_fields[3] ? g_fields[3] : "/", g_fields[4], header,
				    NULL, 1369353600 };
	struct s3_auth_result res;
	int rc = s3_auth_verify(&in, lookup, NULL, &res, err, sizeof(err));
	if (rc == 0 && res.mode == S3_AUTH_ANONYMOUS)
		__builtin_trap();
	s3_auth_result_wipe(&res);
	free(buf);
	return 0;
}
