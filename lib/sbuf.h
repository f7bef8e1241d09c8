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
	bool borrowed; /* p is the caller's buffer (sbuf_on), not ours to free */
};

/*
 * Starts sb in the caller's buf (cap > 0 bytes, often on the stack): no
 * allocation until the text outgrows it, then it moves to the heap. Let it
 * go with sbuf_release (or hand it out with sbuf_finish, which copies a
 * borrowed buffer).
 */
static inline void sbuf_on(struct sbuf *sb, char *buf, size_t cap)
{
	*sb = (struct sbuf){ .p = buf, .cap = cap, .borrowed = true };
	buf[0] = '\0';
}

/* Frees what sb allocated (nothing while it is in a borrowed buffer). */
static inline void sbuf_release(struct sbuf *sb)
{
	if (!sb->borrowed)
		free(sb->p);
	sb->p = NULL;
}

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
		bool move = cap <= SBUF_SMALL || sb->borrowed;
		char *grown = move ? malloc(cap) : realloc(sb->p, cap);
		if (!grown) {
			sb->oom = true;
			return;
		}
		if (move && sb->p) {
			memcpy(grown, sb->p, sb->len + 1);
			if (!sb->borrowed)
				free(sb->p);
		}
		sb->p = grown;
		sb->cap = cap;
		sb->borrowed = false;
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
	if (!sb->oom && sb->borrowed) {
		char *own = malloc(sb->len + 1);
		if (own)
			memcpy(own, sb->p, sb->len + 1);
		else
			sb->oom = true;
		sb->p = own;
		sb->borrowed = false;
	}
	if (sb->oom) {
		sbuf_release(sb);
		return -ENOMEM;
	}
	*out = sb->p;
	if (outlen)
		*outlen = sb->len;
	return 0;
}

#endif
