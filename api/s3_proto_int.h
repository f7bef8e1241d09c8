#ifndef STRATA_API_S3_PROTO_INT_H
#define STRATA_API_S3_PROTO_INT_H

/* Private to api/s3_*.c: a growable byte buffer whose OOM sticks, so a
 * builder checks once at the end. */

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct s3_sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static inline void s3_sb_addn(struct s3_sbuf *sb, const char *s, size_t n)
{
	if (sb->oom)
		return;
	if (sb->len + n + 1 > sb->cap) {
		size_t cap = sb->cap ? sb->cap : 512;
		while (cap < sb->len + n + 1)
			cap *= 2;
		char *grown = realloc(sb->p, cap);
		if (!grown) {
			sb->oom = true;
			return;
		}
		sb->p = grown;
		sb->cap = cap;
	}
	memcpy(sb->p + sb->len, s, n);
	sb->len += n;
	sb->p[sb->len] = '\0';
}

static inline void s3_sb_add(struct s3_sbuf *sb, const char *s)
{
	s3_sb_addn(sb, s, strlen(s));
}

/* Hands the buffer to *out (and its length to *outlen when non-NULL), or
 * frees it and returns -ENOMEM. */
static inline int s3_sb_finish(struct s3_sbuf *sb, char **out, size_t *outlen)
{
	if (!sb->oom && !sb->p)
		s3_sb_addn(sb, "", 0);
	if (sb->oom) {
		free(sb->p);
		sb->p = NULL;
		return -ENOMEM;
	}
	*out = sb->p;
	if (outlen)
		*outlen = sb->len;
	return 0;
}

/* Value of a hex digit, -1 for anything else. */
static inline int s3_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif
