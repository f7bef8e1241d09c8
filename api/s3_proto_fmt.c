/*
 * S3 Range headers, timestamps, ETags and continuation tokens
 * (api/s3_proto.h).
 */
#include "api/s3_proto.h"

#include "api/s3_proto_int.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---- Range ---- */

static bool parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	if (len == 0 || len > 19)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return true;
}

uint64_t s3_range_start(const char *header)
{
	if (!header || strncasecmp(header, "bytes=", 6) != 0)
		return 0;
	const char *p = header + 6;
	while (*p == ' ')
		p++;
	if (*p < '0' || *p > '9')
		return 0;
	uint64_t v = 0;
	for (; *p >= '0' && *p <= '9'; p++) {
		uint64_t digit = (uint64_t)(*p - '0');
		if (v > (UINT64_MAX - digit) / 10)
			return 0; /* overflows: s3_range_parse refuses it too */
		v = v * 10 + digit;
	}
	return v;
}

int s3_range_parse(const char *header, uint64_t size, bool *partial, uint64_t *first,
		   uint64_t *last)
{
	*partial = false;
	if (!header)
		return 0;
	while (*header == ' ' || *header == '\t')
		header++;
	if (strncasecmp(header, "bytes=", 6) != 0)
		return 0;
	const char *spec = header + 6;
	while (*spec == ' ')
		spec++;
	size_t speclen = strlen(spec);
	while (speclen && (spec[speclen - 1] == ' ' || spec[speclen - 1] == '\t'))
		speclen--;
	if (memchr(spec, ',', speclen))
		return 0; /* multi-range: the whole object, as S3 does */
	const char *dash = memchr(spec, '-', speclen);
	if (!dash)
		return 0;
	size_t alen = (size_t)(dash - spec), blen = speclen - alen - 1;
	uint64_t a, b;
	if (alen == 0) {
		if (!parse_u64(dash + 1, blen, &b))
			return 0;
		if (b == 0 || size == 0)
			return S3_ERR_INVALID_RANGE;
		*first = b >= size ? 0 : size - b;
		*last = size - 1;
		*partial = true;
		return 0;
	}
	if (!parse_u64(spec, alen, &a))
		return 0;
	if (blen == 0) {
		b = UINT64_MAX;
	} else if (!parse_u64(dash + 1, blen, &b) || b < a) {
		return 0;
	}
	if (a >= size)
		return S3_ERR_INVALID_RANGE;
	*first = a;
	*last = b >= size ? size - 1 : b;
	*partial = true;
	return 0;
}

/* ---- times ---- */

void s3_time_iso8601(int64_t t, char *out)
{
	struct tm tm;
	time_t tt = (time_t)t;
	if (!gmtime_r(&tt, &tm)) {
		strcpy(out, "1970-01-01T00:00:00.000Z");
		return;
	}
	strftime(out, 32, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
}

/* The civil date of day z since 1970-01-01 (H. Hinnant's algorithm). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static char *two(char *o, unsigned v)
{
	*o++ = (char)('0' + v / 10 % 10);
	*o++ = (char)('0' + v % 10);
	return o;
}

/* Without gmtime_r, which takes glibc's time zone lock: every hit's reply
 * formats a Last-Modified, in both S3 loops. */
void s3_time_http(int64_t t, char *out)
{
	static const char days[] = "ThuFriSatSunMonTueWed"; /* from 1970-01-01, a Thursday */
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	int64_t day = (t >= 0 ? t : t - 86399) / 86400, secs = t - day * 86400, y;
	unsigned m, d;
	civil_from_days(day, &y, &m, &d);
	if (y < 0 || y > 9999) {
		strcpy(out, "Thu, 01 Jan 1970 00:00:00 GMT");
		return;
	}
	int64_t wd = day % 7;
	char *o = out;
	memcpy(o, days + 3 * (wd < 0 ? wd + 7 : wd), 3);
	o += 3;
	*o++ = ',';
	*o++ = ' ';
	o = two(o, d);
	*o++ = ' ';
	memcpy(o, months + 3 * (m - 1), 3);
	o += 3;
	*o++ = ' ';
	o = two(o, (unsigned)(y / 100));
	o = two(o, (unsigned)(y % 100));
	*o++ = ' ';
	o = two(o, (unsigned)(secs / 3600));
	*o++ = ':';
	o = two(o, (unsigned)(secs / 60 % 60));
	*o++ = ':';
	o = two(o, (unsigned)(secs % 60));
	memcpy(o, " GMT", 5);
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static bool digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

int s3_time_parse(const char *s, int64_t *out)
{
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	int y, mo = 0, d, h, mi, se;
	size_t len = strlen(s);
	if (len == 16 && s[8] == 'T' && s[15] == 'Z') { /* 20130524T000000Z */
		if (!digits(s, 4, &y) || !digits(s + 4, 2, &mo) || !digits(s + 6, 2, &d) ||
		    !digits(s + 9, 2, &h) || !digits(s + 11, 2, &mi) || !digits(s + 13, 2, &se))
			return -EINVAL;
	} else if (len >= 20 && s[4] == '-' && s[7] == '-' && s[10] == 'T' && s[13] == ':' &&
		   s[16] == ':') { /* 2013-05-24T00:00:00[.000]Z */
		if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) ||
		    !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &se))
			return -EINVAL;
	} else if (len == 29 && s[3] == ',' && !strcmp(s + 25, " GMT")) {
		/* Fri, 24 May 2013 00:00:00 GMT */
		int m;
		for (m = 0; m < 12; m++)
			if (!strncmp(s + 8, months[m], 3))
				break;
		if (m == 12 || !digits(s + 5, 2, &d) || !digits(s + 12, 4, &y) ||
		    !digits(s + 17, 2, &h) || !digits(s + 20, 2, &mi) || !digits(s + 23, 2, &se))
			return -EINVAL;
		mo = m + 1;
	} else {
		return -EINVAL;
	}
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
		return -EINVAL;
	*out = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se;
	return 0;
}

void s3_etag_quote(const char *etag, char *out, size_t outlen)
{
	size_t len = strlen(etag);
	if (len >= 2 && etag[0] == '"' && etag[len - 1] == '"')
		snprintf(out, outlen, "%s", etag);
	else
		snprintf(out, outlen, "\"%s\"", etag);
}

void s3_etag_unquote(const char *in, char *out, size_t outlen)
{
	const char *s = in;
	size_t len = strlen(s);
	while (len && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len >= 12 && !strncmp(s, "&quot;", 6) && !strncmp(s + len - 6, "&quot;", 6)) {
		s += 6;
		len -= 12;
	} else if (len >= 2 && s[0] == '"' && s[len - 1] == '"') {
		s++;
		len -= 2;
	}
	snprintf(out, outlen, "%.*s", (int)len, s);
}

int s3_multipart_etag(const struct s3_part *parts, size_t n, char out[S3_ETAG_MAX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	int rc = -EINVAL;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx)
		return -ENOMEM;
	if (EVP_DigestInit_ex(ctx, EVP_md5(), NULL) != 1)
		goto out;
	for (size_t i = 0; i < n; i++) {
		unsigned char bin[16];
		const char *e = parts[i].etag;
		if (strlen(e) != 32)
			goto out;
		for (int j = 0; j < 16; j++) {
			int hi = s3_hexval(e[2 * j]), lo = s3_hexval(e[2 * j + 1]);
			if (hi < 0 || lo < 0)
				goto out;
			bin[j] = (unsigned char)(hi << 4 | lo);
		}
		EVP_DigestUpdate(ctx, bin, sizeof(bin));
	}
	if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1)
		goto out;
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	snprintf(out + 2 * mdlen, S3_ETAG_MAX - 2 * mdlen, "-%zu", n);
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

/* ---- continuation tokens: base64url, no padding ---- */

static const char g_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int s3_token_encode(const char *key, char **out)
{
	size_t len = strlen(key);
	char *t = malloc(len / 3 * 4 + 5);
	size_t o = 0;
	if (!t)
		return -ENOMEM;
	const unsigned char *s = (const unsigned char *)key;
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)s[i] << 16;
		if (i + 1 < len)
			v |= (unsigned)s[i + 1] << 8;
		if (i + 2 < len)
			v |= s[i + 2];
		t[o++] = g_b64[v >> 18 & 63];
		t[o++] = g_b64[v >> 12 & 63];
		if (i + 1 < len)
			t[o++] = g_b64[v >> 6 & 63];
		if (i + 2 < len)
			t[o++] = g_b64[v & 63];
	}
	t[o] = '\0';
	*out = t;
	return 0;
}

int s3_token_decode(const char *token, char **out)
{
	size_t len = strlen(token);
	if (len % 4 == 1 || len > 4 * S3_MAX_KEY)
		return -EINVAL;
	char *d = malloc(len / 4 * 3 + 3);
	size_t o = 0;
	unsigned acc = 0;
	int bits = 0;
	if (!d)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++) {
		const char *pos = memchr(g_b64, token[i], 64);
		if (!pos || !token[i]) {
			free(d);
			return -EINVAL;
		}
		acc = acc << 6 | (unsigned)(pos - g_b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			d[o++] = (char)(acc >> bits & 0xff);
		}
	}
	d[o] = '\0';
	if (strlen(d) != o) {
		free(d);
		return -EINVAL;
	}
	*out = d;
	return 0;
}
