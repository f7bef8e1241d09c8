#include "ufs/ufs.h"

#include "ufs/ufs_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ufs {
	const struct ufs_driver *drv;
	void *impl;
};

struct ufs_writer {
	const struct ufs_driver *drv;
	void *wimpl;
};

static const struct ufs_driver *const g_drivers[] = { &ufs_local_driver, &ufs_s3_driver };

int ufs_seterr(int rc, char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

int ufs_path_norm(const char *in, char *out, size_t outlen)
{
	size_t o = 0;
	const char *p = in ? in : "";

	while (*p == '/')
		p++;
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t clen = slash ? (size_t)(slash - p) : strlen(p);
		if (clen == 0 || (clen == 1 && p[0] == '.') ||
		    (clen == 2 && p[0] == '.' && p[1] == '.'))
			return -EINVAL;
		if (o + (o ? 1 : 0) + clen + 1 > outlen || o + clen > UFS_PATH_MAX)
			return -EINVAL;
		if (o)
			out[o++] = '/';
		memcpy(out + o, p, clen);
		o += clen;
		p += clen;
		if (*p == '/') {
			p++;
			if (*p == '\0')
				break; /* one trailing slash is fine */
		}
	}
	if (outlen == 0)
		return -EINVAL;
	out[o] = '\0';
	return 0;
}

const char *ufs_opt_get(const struct ufs_opt *opts, size_t nopts, const char *key)
{
	const char *val = NULL;
	for (size_t i = 0; i < nopts; i++)
		if (opts[i].key && strcmp(opts[i].key, key) == 0)
			val = opts[i].value;
	return val;
}

int ufs_opt_check(const struct ufs_opt *opts, size_t nopts, const char *prefix,
		  const char *const *known, char *err, size_t errlen)
{
	size_t plen = strlen(prefix);
	for (size_t i = 0; i < nopts; i++) {
		if (!opts[i].key || strncmp(opts[i].key, prefix, plen) != 0)
			continue;
		bool found = false;
		for (const char *const *k = known; *k; k++)
			if (strcmp(*k, opts[i].key) == 0)
				found = true;
		if (!found)
			return ufs_seterr(-EINVAL, err, errlen, "unknown mount option %s",
					  opts[i].key);
		if (!opts[i].value)
			return ufs_seterr(-EINVAL, err, errlen, "mount option %s has no value",
					  opts[i].key);
	}
	return 0;
}

int ufs_opt_u64(const struct ufs_opt *opts, size_t nopts, const char *key, uint64_t def,
		uint64_t *out, char *err, size_t errlen)
{
	const char *val = ufs_opt_get(opts, nopts, key);
	if (!val) {
		*out = def;
		return 0;
	}
	char *end = NULL;
	errno = 0;
	unsigned long long v = strtoull(val, &end, 10);
	if (errno || end == val || *end || val[0] == '-')
		return ufs_seterr(-EINVAL, err, errlen, "mount option %s: not a number: %s", key,
				  val);
	*out = v;
	return 0;
}

static int entry_cmp(const void *a, const void *b)
{
	const struct ufs_entry *ea = a, *eb = b;
	return strcmp(ea->name, eb->name);
}

void ufs_entries_sort(struct ufs_entry *entries, size_t count)
{
	if (count > 1)
		qsort(entries, count, sizeof(*entries), entry_cmp);
}

int ufs_open_driver(const struct ufs_driver *drv, const char *uri, const struct ufs_opt *opts,
		    size_t nopts, struct ufs **out, char *err, size_t errlen)
{
	struct ufs *ufs = calloc(1, sizeof(*ufs));
	if (!ufs)
		return ufs_seterr(-ENOMEM, err, errlen, "out of memory");
	ufs->drv = drv;
	int rc = drv->open(uri, opts, nopts, &ufs->impl, err, errlen);
	if (rc) {
		free(ufs);
		return rc;
	}
	*out = ufs;
	return 0;
}

int ufs_open(const char *uri, const struct ufs_opt *opts, size_t nopts, struct ufs **out,
	     char *err, size_t errlen)
{
	const char *colon = uri ? strstr(uri, "://") : NULL;
	if (!colon)
		return ufs_seterr(-EINVAL, err, errlen, "UFS URI without scheme: %s",
				  uri ? uri : "(null)");
	size_t slen = (size_t)(colon - uri);
	for (size_t i = 0; i < sizeof(g_drivers) / sizeof(g_drivers[0]); i++) {
		const char *scheme = g_drivers[i]->scheme;
		if (strlen(scheme) == slen && strncmp(uri, scheme, slen) == 0)
			return ufs_open_driver(g_drivers[i], uri, opts, nopts, out, err, errlen);
	}
	return ufs_seterr(-EINVAL, err, errlen, "no UFS driver for scheme %.*s", (int)slen, uri);
}

void ufs_close(struct ufs *ufs)
{
	if (!ufs)
		return;
	ufs->drv->close(ufs->impl);
	free(ufs);
}

const char *ufs_scheme(const struct ufs *ufs)
{
	return ufs->drv->scheme;
}

int ufs_probe(struct ufs *ufs, char *err, size_t errlen)
{
	return ufs->drv->probe(ufs->impl, err, errlen);
}

int ufs_stat(struct ufs *ufs, const char *path, struct ufs_stat *st, char *err, size_t errlen)
{
	memset(st, 0, sizeof(*st));
	return ufs->drv->stat(ufs->impl, path, st, err, errlen);
}

int ufs_list(struct ufs *ufs, const char *path, const char *token, size_t max_keys,
	     struct ufs_list_page *page, char *err, size_t errlen)
{
	memset(page, 0, sizeof(*page));
	if (max_keys == 0)
		max_keys = UFS_LIST_DEFAULT;
	if (token && !*token)
		token = NULL;
	int rc = ufs->drv->list(ufs->impl, path, token, max_keys, page, err, errlen);
	if (rc)
		ufs_list_page_free(page);
	return rc;
}

void ufs_list_page_free(struct ufs_list_page *page)
{
	if (!page)
		return;
	for (size_t i = 0; i < page->count; i++)
		free(page->entries[i].name);
	free(page->entries);
	free(page->next_token);
	memset(page, 0, sizeof(*page));
}

int ufs_read(struct ufs *ufs, const char *path, uint64_t off, uint64_t len, ufs_sink_fn sink,
	     void *arg, char *err, size_t errlen)
{
	return ufs->drv->read(ufs->impl, path, off, len, sink, arg, err, errlen);
}

int ufs_read_stat(struct ufs *ufs, const char *path, uint64_t off, uint64_t len,
		  ufs_sink_fn sink, void *arg, struct ufs_stat *st, char *err, size_t errlen)
{
	memset(st, 0, sizeof(*st));
	if (ufs->drv->read_stat)
		return ufs->drv->read_stat(ufs->impl, path, off, len, sink, arg, st, err, errlen);
	/* A driver without one (test fakes): two calls, not atomic. */
	int rc = ufs->drv->stat(ufs->impl, path, st, err, errlen);
	if (!rc && st->is_dir)
		rc = ufs_seterr(-EISDIR, err, errlen, "read %s: is a directory", path);
	if (!rc)
		rc = ufs->drv->read(ufs->impl, path, off, len, sink, arg, err, errlen);
	return rc;
}

struct buf_sink {
	char *buf;
	size_t cap, len;
};

static int buf_sink_fn(void *arg, const void *data, size_t len)
{
	struct buf_sink *bs = arg;
	if (len > bs->cap - bs->len)
		return -EIO; /* the store sent more than the range asked for */
	memcpy(bs->buf + bs->len, data, len);
	bs->len += len;
	return 0;
}

int ufs_read_buf(struct ufs *ufs, const char *path, uint64_t off, void *buf, size_t len,
		 size_t *nread, char *err, size_t errlen)
{
	struct buf_sink bs = { .buf = buf, .cap = len };
	*nread = 0;
	int rc = ufs_read(ufs, path, off, len, buf_sink_fn, &bs, err, errlen);
	if (rc == 0)
		*nread = bs.len;
	return rc;
}

int ufs_writer_open(struct ufs *ufs, const char *path, struct ufs_writer **out, char *err,
		    size_t errlen)
{
	struct ufs_writer *w = calloc(1, sizeof(*w));
	if (!w)
		return ufs_seterr(-ENOMEM, err, errlen, "out of memory");
	w->drv = ufs->drv;
	int rc = ufs->drv->writer_open(ufs->impl, path, &w->wimpl, err, errlen);
	if (rc) {
		free(w);
		return rc;
	}
	*out = w;
	return 0;
}

int ufs_writer_write(struct ufs_writer *w, const void *data, size_t len, char *err,
		     size_t errlen)
{
	if (len == 0)
		return 0;
	return w->drv->writer_write(w->wimpl, data, len, err, errlen);
}

int ufs_writer_commit(struct ufs_writer *w, char *err, size_t errlen)
{
	int rc = w->drv->writer_commit(w->wimpl, err, errlen);
	free(w);
	return rc;
}

void ufs_writer_abort(struct ufs_writer *w)
{
	if (!w)
		return;
	w->drv->writer_abort(w->wimpl);
	free(w);
}

int ufs_put(struct ufs *ufs, const char *path, const void *data, size_t len, char *err,
	    size_t errlen)
{
	struct ufs_writer *w = NULL;
	int rc = ufs_writer_open(ufs, path, &w, err, errlen);
	if (rc)
		return rc;
	rc = ufs_writer_write(w, data, len, err, errlen);
	if (rc) {
		ufs_writer_abort(w);
		return rc;
	}
	return ufs_writer_commit(w, err, errlen);
}

int ufs_delete(struct ufs *ufs, const char *path, bool recursive, char *err, size_t errlen)
{
	return ufs->drv->remove(ufs->impl, path, recursive, err, errlen);
}

int ufs_mkdir(struct ufs *ufs, const char *path, char *err, size_t errlen)
{
	return ufs->drv->mkdir(ufs->impl, path, err, errlen);
}

int ufs_rename(struct ufs *ufs, const char *src, const char *dst, char *err, size_t errlen)
{
	return ufs->drv->rename(ufs->impl, src, dst, err, errlen);
}
