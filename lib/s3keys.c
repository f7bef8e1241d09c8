/* S3 access key file (lib/s3keys.h): parse, format, load, save. */
#include "lib/s3keys.h"

#include "lib/privfile.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEADER "# strata S3 access keys v1 (strata admin s3key; keep this file 0600)\n" \
	       "# id secret role buckets created\n"

static bool id_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool secret_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

static bool bucket_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '-' || c == '_';
}

const char *s3key_role_name(enum s3key_role role)
{
	return role == S3KEY_READONLY ? "readonly" : "admin";
}

int s3key_role_parse(const char *name, enum s3key_role *out)
{
	if (!strcmp(name, "admin"))
		*out = S3KEY_ADMIN;
	else if (!strcmp(name, "readonly"))
		*out = S3KEY_READONLY;
	else
		return -EINVAL;
	return 0;
}

int s3key_buckets_parse(const char *list, char *out, char *err, size_t errlen)
{
	size_t used = 0, n = 0;
	out[0] = '\0';
	if (!list || !*list || !strcmp(list, "*"))
		return 0;
	const char *p = list;
	for (;;) {
		size_t len = strcspn(p, ",");
		if (len == 0 || len > 63 || (len == 1 && p[0] == '.') ||
		    (len == 2 && p[0] == '.' && p[1] == '.')) {
			snprintf(err, errlen, "bucket name '%.*s' must be 1..63 characters (not . or ..)",
				 (int)(len > 70 ? 70 : len), p);
			return -EINVAL;
		}
		for (size_t i = 0; i < len; i++) {
			if (!bucket_char(p[i])) {
				snprintf(err, errlen,
					 "bucket name '%.*s' may hold only A-Z a-z 0-9 . - _",
					 (int)len, p);
				return -EINVAL;
			}
		}
		if (++n > S3KEY_MAX_BUCKETS) {
			snprintf(err, errlen, "at most %d buckets per key", S3KEY_MAX_BUCKETS);
			return -EINVAL;
		}
		/* (n <= 64 names of <= 63 bytes plus commas always fit) */
		if (used)
			out[used++] = ',';
		memcpy(out + used, p, len);
		used += len;
		out[used] = '\0';
		if (!p[len])
			return 0;
		p += len + 1;
	}
}

bool s3key_allows_bucket(const struct s3key *key, const char *bucket)
{
	if (!key->buckets[0] || !bucket[0])
		return true;
	size_t blen = strlen(bucket);
	for (const char *p = key->buckets;;) {
		size_t len = strcspn(p, ",");
		if (len == blen && !memcmp(p, bucket, len))
			return true;
		if (!p[len])
			return false;
		p += len + 1;
	}
}

const struct s3key *s3keys_find(const struct s3keys *keys, const char *id)
{
	for (size_t i = 0; i < keys->n; i++)
		if (!strcmp(keys->keys[i].id, id))
			return &keys->keys[i];
	return NULL;
}

int s3keys_add(struct s3keys *keys, const struct s3key *key)
{
	if (s3keys_find(keys, key->id))
		return -EEXIST;
	struct s3key *grown = malloc((keys->n + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	/* (copied, not realloc'd, so an old array's secrets get wiped) */
	if (keys->n)
		memcpy(grown, keys->keys, keys->n * sizeof(*grown));
	grown[keys->n] = *key;
	if (keys->keys) {
		OPENSSL_cleanse(keys->keys, keys->n * sizeof(*keys->keys));
		free(keys->keys);
	}
	keys->keys = grown;
	keys->n++;
	return 0;
}

int s3keys_remove(struct s3keys *keys, const char *id)
{
	for (size_t i = 0; i < keys->n; i++) {
		if (strcmp(keys->keys[i].id, id) != 0)
			continue;
		memmove(&keys->keys[i], &keys->keys[i + 1], (keys->n - i - 1) * sizeof(*keys->keys));
		keys->n--;
		OPENSSL_cleanse(&keys->keys[keys->n], sizeof(*keys->keys));
		return 0;
	}
	return -ENOENT;
}

void s3keys_free(struct s3keys *keys)
{
	if (keys->keys)
		OPENSSL_cleanse(keys->keys, keys->n * sizeof(*keys->keys));
	free(keys->keys);
	keys->keys = NULL;
	keys->n = 0;
}

/* ---- parsing ---- */

/* The next blank-separated field of [*p, end) on the current line. */
static bool next_field(const char **p, const char *end, const char **f, size_t *flen)
{
	const char *s = *p;
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	const char *e = s;
	while (e < end && *e != ' ' && *e != '\t')
		e++;
	*f = s;
	*flen = (size_t)(e - s);
	*p = e;
	return e > s;
}

static int parse_line(const char *line, size_t len, unsigned lineno, struct s3key *k, char *err,
		      size_t errlen)
{
	static const char *const names[] = { "id", "secret", "role", "buckets", "created" };
	const char *f[5];
	size_t fl[5];
	const char *p = line, *end = line + len;
	for (int i = 0; i < 5; i++) {
		if (!next_field(&p, end, &f[i], &fl[i])) {
			snprintf(err, errlen, "line %u: field '%s' is missing (expected: id secret "
					      "role buckets created)", lineno, names[i]);
			return -EINVAL;
		}
	}
	const char *extra;
	size_t extralen;
	if (next_field(&p, end, &extra, &extralen)) {
		snprintf(err, errlen, "line %u: unexpected text after field 'created'", lineno);
		return -EINVAL;
	}
	memset(k, 0, sizeof(*k));
	if (fl[0] < S3KEY_ID_MIN || fl[0] > S3KEY_ID_MAX) {
		snprintf(err, errlen, "line %u: field 'id' must be %d..%d characters", lineno,
			 S3KEY_ID_MIN, S3KEY_ID_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < fl[0]; i++) {
		if (!id_char(f[0][i])) {
			snprintf(err, errlen, "line %u: field 'id' may hold only A-Z and 0-9", lineno);
			return -EINVAL;
		}
	}
	memcpy(k->id, f[0], fl[0]);
	if (fl[1] < S3KEY_SECRET_MIN || fl[1] > S3KEY_SECRET_MAX) {
		snprintf(err, errlen, "line %u: field 'secret' must be %d..%d characters", lineno,
			 S3KEY_SECRET_MIN, S3KEY_SECRET_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < fl[1]; i++) {
		if (!secret_char(f[1][i])) {
			snprintf(err, errlen, "line %u: field 'secret' may hold only A-Z a-z 0-9 + /",
				 lineno);
			return -EINVAL;
		}
	}
	memcpy(k->secret, f[1], fl[1]);
	char word[S3KEY_BUCKETS_MAX];
	if (fl[2] >= sizeof(word) ||
	    (memcpy(word, f[2], fl[2]), word[fl[2]] = '\0', s3key_role_parse(word, &k->role))) {
		snprintf(err, errlen, "line %u: field 'role' must be admin or readonly", lineno);
		return -EINVAL;
	}
	char berr[160];
	if (fl[3] >= sizeof(word)) {
		snprintf(err, errlen, "line %u: field 'buckets' is too long", lineno);
		return -EINVAL;
	}
	memcpy(word, f[3], fl[3]);
	word[fl[3]] = '\0';
	if (s3key_buckets_parse(word, k->buckets, berr, sizeof(berr))) {
		snprintf(err, errlen, "line %u: field 'buckets': %s", lineno, berr);
		return -EINVAL;
	}
	int64_t created = 0;
	if (fl[4] > 18) {
		snprintf(err, errlen, "line %u: field 'created' must be seconds since the epoch",
			 lineno);
		return -EINVAL;
	}
	for (size_t i = 0; i < fl[4]; i++) {
		if (f[4][i] < '0' || f[4][i] > '9') {
			snprintf(err, errlen,
				 "line %u: field 'created' must be seconds since the epoch", lineno);
			return -EINVAL;
		}
		created = created * 10 + (f[4][i] - '0');
	}
	k->created = created;
	return 0;
}

int s3keys_parse(const char *text, size_t len, struct s3keys *out, char *err, size_t errlen)
{
	struct s3key k;
	unsigned lineno = 0;
	int rc = 0;
	out->keys = NULL;
	out->n = 0;
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		lineno++;
		size_t llen = (size_t)(le - p);
		if (llen && p[llen - 1] == '\r')
			llen--;
		if (memchr(p, '\0', llen) || memchr(p, '\r', llen)) {
			snprintf(err, errlen, "line %u: control characters", lineno);
			rc = -EINVAL;
			goto fail;
		}
		const char *s = p;
		while (s < p + llen && (*s == ' ' || *s == '\t'))
			s++;
		if (s < p + llen && *s != '#') {
			if ((rc = parse_line(p, llen, lineno, &k, err, errlen)))
				goto fail;
			if (out->n == S3KEYS_MAX) {
				snprintf(err, errlen, "line %u: more than %d keys", lineno, S3KEYS_MAX);
				rc = -EINVAL;
				goto fail;
			}
			rc = s3keys_add(out, &k);
			if (rc == -EEXIST) {
				snprintf(err, errlen, "line %u: key id %s appears twice", lineno, k.id);
				rc = -EINVAL;
			}
			if (rc)
				goto fail;
		}
		p = nl ? nl + 1 : end;
	}
	OPENSSL_cleanse(&k, sizeof(k));
	return 0;
fail:
	if (rc == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	OPENSSL_cleanse(&k, sizeof(k));
	s3keys_free(out);
	return rc;
}

int s3keys_format(const struct s3keys *keys, char **out, size_t *len)
{
	size_t cap = sizeof(HEADER) + keys->n * (sizeof(struct s3key) + 64);
	char *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	size_t used = (size_t)snprintf(buf, cap, "%s", HEADER);
	for (size_t i = 0; i < keys->n; i++) {
		const struct s3key *k = &keys->keys[i];
		used += (size_t)snprintf(buf + used, cap - used, "%s %s %s %s %lld\n", k->id,
					 k->secret, s3key_role_name(k->role),
					 k->buckets[0] ? k->buckets : "*", (long long)k->created);
	}
	*out = buf;
	*len = used;
	return 0;
}

int s3key_generate(struct s3key *key)
{
	static const char ids[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	static const char secrets[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned char rnd[18 + 40];
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -EIO;
	memset(key->id, 0, sizeof(key->id));
	memset(key->secret, 0, sizeof(key->secret));
	key->id[0] = 'S';
	key->id[1] = 'K';
	/* 36 does not divide 256: the bias (< 1 in 7 on a few letters) costs a
	 * fraction of a bit of an id that is not secret anyway. */
	for (int i = 0; i < 18; i++)
		key->id[2 + i] = ids[rnd[i] % 36];
	for (int i = 0; i < 40; i++)
		key->secret[i] = secrets[rnd[18 + i] & 63];
	OPENSSL_cleanse(rnd, sizeof(rnd));
	return 0;
}

/* ---- files ---- */

static void stamp_of(const struct stat *st, struct s3keys_stamp *out)
{
	out->exists = true;
	out->dev = (uint64_t)st->st_dev;
	out->ino = (uint64_t)st->st_ino;
	out->size = (uint64_t)st->st_size;
	out->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	out->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
	out->mode = (unsigned)st->st_mode;
}

int s3keys_stat(const char *path, struct s3keys_stamp *stamp)
{
	struct stat st;
	memset(stamp, 0, sizeof(*stamp));
	if (stat(path, &st)) {
		if (errno == ENOENT)
			return 0;
		return -errno;
	}
	stamp_of(&st, stamp);
	return 0;
}

bool s3keys_stamp_equal(const struct s3keys_stamp *a, const struct s3keys_stamp *b)
{
	return a->exists == b->exists && a->dev == b->dev && a->ino == b->ino &&
	       a->size == b->size && a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns &&
	       a->mode == b->mode;
}

int s3keys_load(const char *path, struct s3keys *out, struct s3keys_stamp *stamp, char *err,
		size_t errlen)
{
	char perr[256], *text;
	size_t len;
	struct stat st;
	out->keys = NULL;
	out->n = 0;
	memset(stamp, 0, sizeof(*stamp));
	int rc = privfile_read("S3 key file", path, S3KEYS_FILE_MAX, O_NOFOLLOW, &text, &len, &st,
			       err, errlen);
	if (rc == -ENOENT)
		return 0; /* no file: no keys */
	if (rc)
		return rc;
	rc = s3keys_parse(text, len, out, perr, sizeof(perr));
	privfile_free(text, len);
	if (rc)
		snprintf(err, errlen, "S3 key file '%s': %s", path, perr);
	else
		stamp_of(&st, stamp);
	return rc;
}

int s3keys_save(const char *path, const struct s3keys *keys, char *err, size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	int rc = s3keys_format(keys, &text, &len);
	if (rc) {
		snprintf(err, errlen, "out of memory");
		return rc;
	}
	rc = privfile_write("S3 key file", path, text, len, err, errlen);
	privfile_free(text, len);
	return rc;
}
