#include "lib/tokens.h"

#include "lib/privfile.h"

#include "lib/err.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *tokens_role_name(enum tokens_role role)
{
	switch (role) {
	case TOKENS_ROLE_ADMIN:
		return "admin";
	case TOKENS_ROLE_READONLY:
		return "readonly";
	default:
		return "none";
	}
}

int tokens_role_parse(const char *s, enum tokens_role *out)
{
	if (s && strcmp(s, "admin") == 0)
		*out = TOKENS_ROLE_ADMIN;
	else if (s && strcmp(s, "readonly") == 0)
		*out = TOKENS_ROLE_READONLY;
	else
		return -EINVAL;
	return 0;
}

void tokens_set_free(struct tokens_set *s)
{
	if (s->v)
		OPENSSL_cleanse(s->v, s->cap * sizeof(*s->v));
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}

static bool is_hex_lower(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* A name may hold any byte but control characters (newline included). */
static int check_name(const char *name, size_t len)
{
	if (len > TOKENS_NAME_MAX)
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return -EINVAL;
	return 0;
}

const struct tokens_entry *tokens_find(const struct tokens_set *s, const char *id)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i].id, id) == 0)
			return &s->v[i];
	return NULL;
}

static int push(struct tokens_set *s, const struct tokens_entry *e)
{
	if (s->n == TOKENS_MAX)
		return -EFBIG;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		struct tokens_entry *v = calloc(cap, sizeof(*v));
		if (!v)
			return -ENOMEM;
		if (s->n)
			memcpy(v, s->v, s->n * sizeof(*v));
		if (s->v)
			OPENSSL_cleanse(s->v, s->cap * sizeof(*s->v));
		free(s->v);
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = *e;
	return 0;
}

/* Copies field [p, end) into out (size outlen) when it is exactly want
 * lower-case hex characters. */
static bool take_hex(const char *p, const char *end, size_t want, char *out)
{
	if ((size_t)(end - p) != want || !is_hex_lower(p, want))
		return false;
	memcpy(out, p, want);
	out[want] = '\0';
	return true;
}

/* One line (without its newline) into e; err says which field. */
static int parse_line(const char *p, const char *end, struct tokens_entry *e, char *err,
		      size_t errlen)
{
	const char *f[5]; /* ends of the first five fields */
	const char *q = p;
	for (int i = 0; i < 5; i++) {
		const char *c = memchr(q, ':', (size_t)(end - q));
		if (!c) {
			static const char *const names[] = { "id", "role", "salt", "hash",
							     "created" };
			st_set_err(err, errlen, "%s: missing (want id:role:salt:hash:created:name)",
				   names[i]);
			return -EINVAL;
		}
		f[i] = c;
		q = c + 1;
	}
	memset(e, 0, sizeof(*e));
	if (!take_hex(p, f[0], TOKENS_ID_LEN, e->id)) {
		st_set_err(err, errlen, "id: want %d lower-case hex characters", TOKENS_ID_LEN);
		return -EINVAL;
	}
	char role[16];
	size_t rlen = (size_t)(f[1] - f[0] - 1);
	if (rlen >= sizeof(role)) {
		st_set_err(err, errlen, "role: want admin or readonly");
		return -EINVAL;
	}
	memcpy(role, f[0] + 1, rlen);
	role[rlen] = '\0';
	if (tokens_role_parse(role, &e->role)) {
		st_set_err(err, errlen, "role: '%s' is not admin or readonly", role);
		return -EINVAL;
	}
	if (!take_hex(f[1] + 1, f[2], TOKENS_SALT_LEN, e->salt)) {
		st_set_err(err, errlen, "salt: want %d lower-case hex characters", TOKENS_SALT_LEN);
		return -EINVAL;
	}
	if (!take_hex(f[2] + 1, f[3], TOKENS_HASH_LEN, e->hash)) {
		st_set_err(err, errlen, "hash: want %d lower-case hex characters", TOKENS_HASH_LEN);
		return -EINVAL;
	}
	const char *c = f[3] + 1;
	int64_t created = 0;
	if (c == f[4] || f[4] - c > 15) {
		st_set_err(err, errlen, "created: want Unix seconds");
		return -EINVAL;
	}
	for (; c < f[4]; c++) {
		if (*c < '0' || *c > '9') {
			st_set_err(err, errlen, "created: want Unix seconds");
			return -EINVAL;
		}
		created = created * 10 + (*c - '0');
	}
	e->created = created;
	const char *name = f[4] + 1;
	size_t nlen = (size_t)(end - name);
	if (check_name(name, nlen)) {
		st_set_err(err, errlen, "name: at most %d bytes, no control characters",
			   TOKENS_NAME_MAX);
		return -EINVAL;
	}
	memcpy(e->name, name, nlen);
	e->name[nlen] = '\0';
	return 0;
}

int tokens_parse(const char *text, size_t len, struct tokens_set *out, char *err,
		 size_t errlen)
{
	struct tokens_set s = { 0 };
	const char *p = text, *end = text + len;
	int lineno = 0, rc = 0;
	while (p < end) {
		lineno++;
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *next = nl ? nl + 1 : end;
		if (le > p && le[-1] == '\r')
			le--;
		if (le == p || *p == '#') {
			p = next;
			continue;
		}
		struct tokens_entry e;
		char why[160];
		rc = parse_line(p, le, &e, why, sizeof(why));
		if (rc) {
			st_set_err(err, errlen, "line %d: %s", lineno, why);
			goto err_free;
		}
		if (tokens_find(&s, e.id)) {
			st_set_err(err, errlen, "line %d: id: %s appears twice", lineno, e.id);
			rc = -EINVAL;
			goto err_free;
		}
		rc = push(&s, &e);
		OPENSSL_cleanse(&e, sizeof(e));
		if (rc) {
			st_set_err(err, errlen, rc == -EFBIG ? "line %d: more than %d tokens"
							     : "line %d: out of memory",
				   lineno, TOKENS_MAX);
			goto err_free;
		}
		p = next;
	}
	*out = s;
	return 0;

err_free:
	tokens_set_free(&s);
	return rc;
}

static const char g_header[] =
	"# strata REST tokens: written by `strata admin token`; keep mode 0600.\n"
	"# id:role:salt:sha256(salt||secret):created:name\n";

int tokens_format(const struct tokens_set *s, char **out, size_t *outlen)
{
	size_t line_max = TOKENS_ID_LEN + 10 + TOKENS_SALT_LEN + TOKENS_HASH_LEN + 24 +
			  TOKENS_NAME_MAX + 8;
	size_t cap = sizeof(g_header) + s->n * line_max;
	char *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	size_t len = (size_t)snprintf(buf, cap, "%s", g_header);
	for (size_t i = 0; i < s->n; i++) {
		const struct tokens_entry *e = &s->v[i];
		len += (size_t)snprintf(buf + len, cap - len, "%s:%s:%s:%s:%" PRId64 ":%s\n", e->id,
					tokens_role_name(e->role), e->salt, e->hash, e->created,
					e->name);
	}
	*out = buf;
	*outlen = len;
	return 0;
}

static void to_hex(const unsigned char *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

static int from_hex(const char *s, size_t n, unsigned char *out)
{
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v = 0;
		for (int k = 0; k < 2; k++) {
			char c = s[2 * i + k];
			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				v |= (unsigned)(c - 'a' + 10);
			else
				return -EINVAL;
		}
		out[i] = (unsigned char)v;
	}
	return 0;
}

/* hash = hex(SHA-256(salt bytes || secret text)). */
static int hash_secret(const char *salt_hex, const char *secret, char *hash_hex)
{
	unsigned char salt[TOKENS_SALT_LEN / 2], md[32];
	unsigned mdlen = 0;
	if (from_hex(salt_hex, TOKENS_SALT_LEN, salt))
		return -EINVAL;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx)
		return -ENOMEM;
	int ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
		 EVP_DigestUpdate(ctx, salt, sizeof(salt)) &&
		 EVP_DigestUpdate(ctx, secret, TOKENS_SECRET_LEN) &&
		 EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	if (!ok || mdlen != sizeof(md))
		return -EIO;
	to_hex(md, sizeof(md), hash_hex);
	return 0;
}

int tokens_create(struct tokens_set *s, enum tokens_role role, const char *name,
		  int64_t created, const unsigned char *random, char *token, size_t tokenlen,
		  char *err, size_t errlen)
{
	if (role != TOKENS_ROLE_ADMIN && role != TOKENS_ROLE_READONLY) {
		st_set_err(err, errlen, "role: want admin or readonly");
		return -EINVAL;
	}
	if (name && check_name(name, strlen(name))) {
		st_set_err(err, errlen, "name: at most %d bytes, no control characters",
			   TOKENS_NAME_MAX);
		return -EINVAL;
	}
	if (tokenlen < TOKENS_TOKEN_LEN + 1) {
		st_set_err(err, errlen, "token buffer too small");
		return -EINVAL;
	}
	struct tokens_entry e = { .role = role, .created = created };
	char secret[TOKENS_SECRET_LEN + 1];
	to_hex(random, TOKENS_ID_LEN / 2, e.id);
	to_hex(random + TOKENS_ID_LEN / 2, TOKENS_SALT_LEN / 2, e.salt);
	to_hex(random + TOKENS_ID_LEN / 2 + TOKENS_SALT_LEN / 2, TOKENS_SECRET_LEN / 2, secret);
	if (name)
		snprintf(e.name, sizeof(e.name), "%s", name);
	int rc = 0;
	if (tokens_find(s, e.id)) {
		st_set_err(err, errlen, "id %s is taken", e.id);
		rc = -EEXIST;
		goto out;
	}
	rc = hash_secret(e.salt, secret, e.hash);
	if (!rc)
		rc = push(s, &e);
	if (rc) {
		st_set_err(err, errlen, "%s", rc == -EFBIG ? "too many tokens" : st_strerror(rc));
		goto out;
	}
	snprintf(token, tokenlen, "stk_%s_%s", e.id, secret);
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(&e, sizeof(e));
	return rc;
}

int tokens_revoke(struct tokens_set *s, const char *id)
{
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->v[i].id, id) != 0)
			continue;
		memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(*s->v));
		s->n--;
		OPENSSL_cleanse(&s->v[s->n], sizeof(*s->v));
		return 0;
	}
	return -ENOENT;
}

int tokens_split(const char *token, char *id, const char **secret)
{
	if (!token || strncmp(token, "stk_", 4) != 0 || strlen(token) != TOKENS_TOKEN_LEN)
		return -EINVAL;
	const char *i = token + 4, *sec = i + TOKENS_ID_LEN + 1;
	if (i[TOKENS_ID_LEN] != '_' || !is_hex_lower(i, TOKENS_ID_LEN) ||
	    !is_hex_lower(sec, TOKENS_SECRET_LEN))
		return -EINVAL;
	memcpy(id, i, TOKENS_ID_LEN);
	id[TOKENS_ID_LEN] = '\0';
	*secret = sec;
	return 0;
}

int tokens_verify(const struct tokens_set *s, const char *token, enum tokens_role *role)
{
	char id[TOKENS_ID_LEN + 1], hash[TOKENS_HASH_LEN + 1];
	const char *secret;
	if (tokens_split(token, id, &secret))
		return -EINVAL;
	const struct tokens_entry *e = tokens_find(s, id);
	if (!e)
		return -ENOENT;
	int rc = hash_secret(e->salt, secret, hash);
	if (rc)
		return rc;
	rc = CRYPTO_memcmp(hash, e->hash, TOKENS_HASH_LEN) == 0 ? 0 : -EACCES;
	if (!rc)
		*role = e->role;
	OPENSSL_cleanse(hash, sizeof(hash));
	return rc;
}

/* ---- files ---- */

int tokens_load(const char *path, struct tokens_set *out, char *err, size_t errlen)
{
	char *text;
	size_t len;
	int rc = privfile_read("token file", path, TOKENS_FILE_MAX, 0, &text, &len, NULL, err,
			       errlen);
	if (rc)
		return rc;
	char why[256];
	rc = tokens_parse(text, len, out, why, sizeof(why));
	if (rc)
		st_set_err(err, errlen, "token file '%s': %s", path, why);
	privfile_free(text, len);
	return rc;
}

int tokens_save(const char *path, const struct tokens_set *s, char *err, size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	int rc = tokens_format(s, &text, &len);
	if (rc) {
		st_set_err(err, errlen, "out of memory");
		return rc;
	}
	rc = privfile_write("token file", path, text, len, err, errlen);
	privfile_free(text, len);
	return rc;
}

/* ---- the store a server checks against ---- */

struct tokens_store {
	char *path;
	pthread_rwlock_t lock; /* set, broken */
	struct tokens_set set;
	bool broken;
	pthread_mutex_t look; /* one looker at a time; the fields below */
	_Atomic int64_t next_look_ms;
	bool seen; /* the file existed at the last look */
	struct stat last;
};

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
	       a->st_mode == b->st_mode && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec && a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	       a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* Reads the file into the store (caller holds look). */
static int store_read(struct tokens_store *st, char *err, size_t errlen)
{
	struct tokens_set fresh = { 0 };
	struct stat now;
	bool exists = stat(st->path, &now) == 0;
	int rc = exists ? tokens_load(st->path, &fresh, err, errlen) : 0;
	if (rc == -ENOENT) { /* gone between stat and open */
		exists = false;
		rc = 0;
	}
	st->seen = exists;
	if (exists)
		st->last = now;
	pthread_rwlock_wrlock(&st->lock);
	tokens_set_free(&st->set);
	if (!rc)
		st->set = fresh;
	st->broken = rc != 0;
	pthread_rwlock_unlock(&st->lock);
	return rc;
}

int tokens_store_open(const char *path, struct tokens_store **out, char *err, size_t errlen)
{
	struct tokens_store *st = calloc(1, sizeof(*st));
	if (!st || !(st->path = strdup(path))) {
		free(st);
		st_set_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	pthread_rwlock_init(&st->lock, NULL);
	pthread_mutex_init(&st->look, NULL);
	int rc = store_read(st, err, errlen);
	if (rc) {
		tokens_store_free(st);
		return rc;
	}
	*out = st;
	return 0;
}

void tokens_store_free(struct tokens_store *st)
{
	if (!st)
		return;
	tokens_set_free(&st->set);
	pthread_rwlock_destroy(&st->lock);
	pthread_mutex_destroy(&st->look);
	free(st->path);
	free(st);
}

int tokens_store_refresh(struct tokens_store *st, int64_t now_ms, int64_t interval_ms,
			 char *err, size_t errlen)
{
	if (now_ms < atomic_load(&st->next_look_ms))
		return 0;
	if (pthread_mutex_trylock(&st->look) != 0)
		return 0;
	int rc = 0;
	if (now_ms < atomic_load(&st->next_look_ms))
		goto out;
	atomic_store(&st->next_look_ms, now_ms + interval_ms);
	struct stat now;
	bool exists = stat(st->path, &now) == 0;
	if (exists == st->seen && (!exists || same_file(&now, &st->last)))
		goto out;
	rc = store_read(st, err, errlen);
	if (!rc)
		rc = 1;
out:
	pthread_mutex_unlock(&st->look);
	return rc;
}

size_t tokens_store_count(struct tokens_store *st, bool *broken)
{
	pthread_rwlock_rdlock(&st->lock);
	size_t n = st->set.n;
	if (broken)
		*broken = st->broken;
	pthread_rwlock_unlock(&st->lock);
	return n;
}

int tokens_store_verify(struct tokens_store *st, const char *token, enum tokens_role *role)
{
	pthread_rwlock_rdlock(&st->lock);
	int rc = tokens_verify(&st->set, token, role);
	pthread_rwlock_unlock(&st->lock);
	return rc;
}
