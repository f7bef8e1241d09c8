#ifndef STRATA_LIB_SBUF_H
#define STRATA_LIB_SBUF_H

/*
 * A growable, always NUL-terminated byte buffer for building strings
 * (canonical requests, XML documents). An allocation failure sticks, so a
 * builder appends freely and checks once, in sbuf_finish. Start from
 * `struct sbuf sb = { 0 };`.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Up to this capacity a buffer grows by malloc + copy + free (below). */
#define SBUF_SMALL 1024

struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static inline void sbuf_addn(struct sbuf *sb, const char *s, size_t n)
{
	if (sb->oom)
		return;
	if (sb->len + n + 1 > sb->cap) {
		size_t cap = sb->cap ? sb->cap : 256;
		while (cap < sb->len + n + 1)
			cap *= 2;
		/* Small buffers move with malloc + free, which glibc serves from
		 * the thread's cache; realloc takes the arena's lock, and the S3
		 * server's event loops build a canonical request per signed GET. */
		char *grown = cap <= SBUF_SMALL ? malloc(cap) : realloc(sb->p, cap);
		if (!grown) {
			sb->oom = true;
			return;
		}
		if (cap <= SBUF_SMALL && sb->p) {
			memcpy(grown, sb->p, sb->len + 1);
			free(sb->p);
		}
		sb->p = grown;
		sb->cap = cap;
	}
	memcpy(sb->p + sb->len, s, n);
	sb->len += n;
	sb->p[sb->len] = '\0';
}

static inline void sbuf_add(struct sbuf *sb, const char *s)
{
	sbuf_addn(sb, s, strlen(s));
}

/* Hands the buffer (owned by the caller from now on) to *out and its length
 * to *outlen (may be NULL); after an allocation failure frees it and
 * returns -ENOMEM. */
static inline int sbuf_finish(struct sbuf *sb, char **out, size_t *outlen)
{
	if (!sb->oom && !sb->p)
		sbuf_addn(sb, "", 0);
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

#endif
