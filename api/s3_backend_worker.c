/* The gateway's backend on a worker: a thin adapter from struct s3_backend
 * to daemon/worker/objects.h, which holds the logic. */
#include "api/s3_backend_worker.h"

#include "daemon/worker/objects.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(WOBJ_ETAG_MAX == S3_ETAG_MAX, "ETag buffers agree");
_Static_assert(WOBJ_UPLOAD_ID_LEN <= S3_UPLOAD_ID_MAX, "upload ids fit");

int s3_backend_worker_path(const char *bucket, const char *key, char *out, size_t len)
{
	return wobj_path(bucket, key, out, len);
}

static void info_out(const struct wobj_info *in, struct s3_object_info *out)
{
	memset(out, 0, sizeof(*out));
	out->size = in->size;
	out->mtime = in->mtime;
	snprintf(out->etag, sizeof(out->etag), "%s", in->etag);
}

struct bucket_acc {
	struct s3_bucket_entry *v;
	size_t n, cap;
};

static int bucket_add(void *arg, const char *name, int64_t ctime)
{
	struct bucket_acc *a = arg;
	if (strlen(name) > S3_MAX_BUCKET)
		return 0; /* not a name S3 can show */
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 16;
		struct s3_bucket_entry *v = realloc(a->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		a->v = v;
		a->cap = cap;
	}
	memset(&a->v[a->n], 0, sizeof(a->v[a->n]));
	snprintf(a->v[a->n].name, sizeof(a->v[a->n].name), "%s", name);
	a->v[a->n].ctime = ctime;
	a->n++;
	return 0;
}

static int list_buckets(void *ctx, struct s3_bucket_entry **out, size_t *n, char *err,
			size_t errlen)
{
	struct bucket_acc a = { 0 };
	int rc = wobj_list_buckets(ctx, bucket_add, &a, err, errlen);
	if (!rc && !a.v && !(a.v = calloc(1, sizeof(*a.v))))
		rc = -ENOMEM;
	if (rc) {
		free(a.v);
		return rc;
	}
	*out = a.v;
	*n = a.n;
	return 0;
}

static int create_bucket(void *ctx, const char *bucket, char *err, size_t errlen)
{
	return wobj_create_bucket(ctx, bucket, err, errlen);
}

static int delete_bucket(void *ctx, const char *bucket, char *err, size_t errlen)
{
	return wobj_delete_bucket(ctx, bucket, err, errlen);
}

static int head_bucket(void *ctx, const char *bucket, char *err, size_t errlen)
{
	return wobj_head_bucket(ctx, bucket, err, errlen);
}

static int stat_object(void *ctx, const char *bucket, const char *key,
		       struct s3_object_info *out, char *err, size_t errlen)
{
	struct wobj_info info;
	int rc = wobj_stat(ctx, bucket, key, &info, err, errlen);
	if (!rc)
		info_out(&info, out);
	return rc;
}

static int stat_object_at(void *ctx, const char *bucket, const char *key, uint64_t from,
			  struct s3_object_info *out, char *err, size_t errlen)
{
	struct wobj_info info;
	int rc = wobj_stat_at(ctx, bucket, key, from, &info, err, errlen);
	if (!rc)
		info_out(&info, out);
	return rc;
}

static int read_object(void *ctx, const char *bucket, const char *key, uint64_t off,
		       uint64_t len, s3_sink_fn sink, void *sink_arg, char *err, size_t errlen)
{
	return wobj_read(ctx, bucket, key, off, len, sink, sink_arg, err, errlen);
}

static int page_add(void *arg, const char *key, bool is_prefix, uint64_t size, int64_t mtime,
		    const char *etag)
{
	return s3_gw_page_add(arg, key, is_prefix, size, mtime, etag);
}

static int list_objects(void *ctx, const char *bucket, const struct s3_list_query *q,
			struct s3_list_page *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	struct wobj_list_query wq = { .prefix = q->prefix, .delimit = q->delimit,
				      .after = q->after, .max = q->max };
	int rc = wobj_list(ctx, bucket, &wq, page_add, out, &out->truncated, err, errlen);
	if (rc)
		s3_gw_page_free(out);
	return rc;
}

static long body_read(void *arg, void *buf, size_t len)
{
	struct s3_body *b = arg;
	return b->read(b, buf, len);
}

/* The x-strata-write-type header (NULL: the path's policy). */
static int write_type_of(const char *hdr, enum write_type *out, char *err, size_t errlen)
{
	*out = WRITE_DEFAULT;
	if (hdr && write_type_parse(hdr, out)) {
		snprintf(err, errlen, "header 'x-strata-write-type': '%.32s' is not THROUGH, "
			 "CACHE_THROUGH, ASYNC_THROUGH or MUST_CACHE", hdr);
		return -EINVAL;
	}
	return 0;
}

static int put_object(void *ctx, const char *bucket, const char *key, struct s3_body *body,
		      struct s3_object_info *out, char *err, size_t errlen)
{
	struct wobj_info info;
	enum write_type type;
	int rc = write_type_of(body->write_type, &type, err, errlen);
	if (!rc)
		rc = wobj_put(ctx, bucket, key, body_read, body, body->md5_hex, type, &info, err,
			      errlen);
	if (!rc)
		info_out(&info, out);
	return rc;
}

static int delete_object(void *ctx, const char *bucket, const char *key, char *err,
			 size_t errlen)
{
	return wobj_delete(ctx, bucket, key, err, errlen);
}

static int copy_object(void *ctx, const char *src_bucket, const char *src_key,
		       const char *dst_bucket, const char *dst_key, struct s3_object_info *out,
		       char *err, size_t errlen)
{
	struct wobj_info info;
	int rc = wobj_copy(ctx, src_bucket, src_key, dst_bucket, dst_key, &info, err, errlen);
	if (!rc)
		info_out(&info, out);
	return rc;
}

static int mpu_create(void *ctx, const char *bucket, const char *key,
		      char upload_id[S3_UPLOAD_ID_MAX], char *err, size_t errlen)
{
	return wobj_mpu_create(ctx, bucket, key, upload_id, err, errlen);
}

static int mpu_put_part(void *ctx, const char *bucket, const char *key, const char *upload_id,
			int part_number, struct s3_body *body, char etag[S3_ETAG_MAX], char *err,
			size_t errlen)
{
	int rc = wobj_mpu_put_part(ctx, bucket, key, upload_id, part_number, body_read, body,
				   body->md5_hex, err, errlen);
	if (!rc)
		snprintf(etag, S3_ETAG_MAX, "%s", body->md5_hex);
	return rc;
}

/* The worker checks the parts first (a part it never stored is
 * InvalidPart, whatever its ETag looks like), then the S3 ETag of the
 * whole is computed here and the parts are joined. */
static int mpu_complete(void *ctx, const char *bucket, const char *key, const char *upload_id,
			const struct s3_part *parts, size_t nparts, const char *write_type,
			struct s3_object_info *out, char *err, size_t errlen)
{
	enum write_type type;
	int trc = write_type_of(write_type, &type, err, errlen);
	if (trc)
		return trc;
	struct wobj_part *wp = calloc(nparts ? nparts : 1, sizeof(*wp));
	if (!wp)
		return -ENOMEM;
	for (size_t i = 0; i < nparts; i++) {
		wp[i].number = parts[i].number;
		snprintf(wp[i].etag, sizeof(wp[i].etag), "%s", parts[i].etag);
	}
	char etag[S3_ETAG_MAX] = "";
	struct wobj_info info;
	int rc = wobj_mpu_check(ctx, bucket, key, upload_id, wp, nparts, err, errlen);
	if (!rc)
		rc = s3_multipart_etag(parts, nparts, etag);
	if (!rc)
		rc = wobj_mpu_complete(ctx, bucket, key, upload_id, wp, nparts, etag, type, &info, err,
				       errlen);
	if (!rc)
		info_out(&info, out);
	free(wp);
	return rc;
}

static int mpu_abort(void *ctx, const char *bucket, const char *key, const char *upload_id,
		     char *err, size_t errlen)
{
	return wobj_mpu_abort(ctx, bucket, key, upload_id, err, errlen);
}

static int mpu_list_parts(void *ctx, const char *bucket, const char *key, const char *upload_id,
			  struct s3_xml_part **parts, size_t *n, char *err, size_t errlen)
{
	struct wobj_part_info *p = NULL;
	int rc = wobj_mpu_parts(ctx, bucket, key, upload_id, &p, n, err, errlen);
	if (rc)
		return rc;
	/* one block: the array of parts, then their ETags */
	struct s3_xml_part *x = calloc(*n ? *n : 1, sizeof(*x) + WOBJ_ETAG_MAX);
	if (!x) {
		free(p);
		return -ENOMEM;
	}
	char *etags = (char *)(x + (*n ? *n : 1));
	for (size_t i = 0; i < *n; i++) {
		char *e = etags + i * WOBJ_ETAG_MAX;
		snprintf(e, WOBJ_ETAG_MAX, "%s", p[i].etag);
		x[i] = (struct s3_xml_part){ .number = p[i].number, .size = p[i].size,
					     .mtime = p[i].mtime, .etag = e };
	}
	free(p);
	*parts = x;
	return 0;
}

static int mpu_list_uploads(void *ctx, const char *bucket, const char *prefix,
			    struct s3_xml_upload **out, size_t *n, char *err, size_t errlen)
{
	struct wobj_upload *u = NULL;
	int rc = wobj_mpu_list(ctx, bucket, prefix, &u, n, err, errlen);
	if (rc)
		return rc;
	/* the gateway's view borrows from u, kept after the array */
	struct s3_xml_upload *x = calloc(1, (*n ? *n : 1) * sizeof(*x) + sizeof(u));
	if (!x) {
		wobj_uploads_free(u, *n);
		return -ENOMEM;
	}
	for (size_t i = 0; i < *n; i++)
		x[i] = (struct s3_xml_upload){ .key = u[i].key, .upload_id = u[i].upload_id,
					       .initiated = u[i].initiated_ms / 1000 };
	memcpy((char *)(x + (*n ? *n : 1)), &u, sizeof(u));
	*out = x;
	return 0;
}

static void mpu_uploads_free(struct s3_xml_upload *x, size_t n)
{
	if (!x)
		return;
	struct wobj_upload *u;
	memcpy(&u, (char *)(x + (n ? n : 1)), sizeof(u));
	wobj_uploads_free(u, n);
	free(x);
}

static const struct s3_backend g_backend = {
	.list_buckets = list_buckets,
	.create_bucket = create_bucket,
	.delete_bucket = delete_bucket,
	.head_bucket = head_bucket,
	.stat = stat_object,
	.stat_at = stat_object_at,
	.read = read_object,
	.list = list_objects,
	.put = put_object,
	.delete_object = delete_object,
	.copy = copy_object,
	.mpu_create = mpu_create,
	.mpu_put_part = mpu_put_part,
	.mpu_complete = mpu_complete,
	.mpu_abort = mpu_abort,
	.mpu_list_parts = mpu_list_parts,
	.mpu_list_uploads = mpu_list_uploads,
	.mpu_uploads_free = mpu_uploads_free,
};

const struct s3_backend *s3_backend_worker(void)
{
	return &g_backend;
}
