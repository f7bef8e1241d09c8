/* The worker's S3 access keys (daemon/worker/s3access.h). */
#include "daemon/worker/s3access.h"

#include "lib/clock.h"
#include "lib/conf.h"
#include "lib/log.h"
#include "lib/s3keys.h"
#include "lib/sigv4.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK_EVERY_MS 1000
#define TCACHE_SLOTS 8

struct s3access {
	char *path;
	pthread_rwlock_t lock; /* keys, gen */
	struct s3keys keys;
	uint64_t gen;          /* bumped on every reload: cached keys die */
	atomic_size_t nkeys;
	_Atomic int64_t next_check_ms;
	pthread_mutex_t reload_lock; /* stamp, bad_stamp: one reloader */
	struct s3keys_stamp stamp;
	struct s3keys_stamp bad_stamp; /* last refused version, logged once */
	char **anon;
	size_t nanon;
};

/* This thread's derived signing keys. */
struct tcache_slot {
	const struct s3access *a;
	uint64_t gen;
	char id[S3KEY_ID_MAX + 1];
	char scope[128]; /* date/region/service */
	unsigned char key[SIGV4_KEY_LEN];
};
static __thread struct tcache_slot tcache[TCACHE_SLOTS];
static __thread unsigned tcache_next;
static atomic_uint_fast64_t gen_seq = 1; /* generations unique across instances */

int s3access_open(const char *path, const struct conf_list *anonymous_buckets,
		  struct s3access **out, char *err, size_t errlen)
{
	struct s3access *a = calloc(1, sizeof(*a));
	int rc = -ENOMEM;
	if (!a || !(a->path = strdup(path)))
		goto err_oom;
	pthread_rwlock_init(&a->lock, NULL);
	pthread_mutex_init(&a->reload_lock, NULL);
	if (anonymous_buckets && anonymous_buckets->n) {
		if (!(a->anon = calloc(anonymous_buckets->n, sizeof(*a->anon))))
			goto err_free;
		for (size_t i = 0; i < anonymous_buckets->n; i++) {
			if (!(a->anon[i] = strdup(anonymous_buckets->items[i])))
				goto err_free;
			a->nanon++;
		}
	}
	if ((rc = s3keys_load(path, &a->keys, &a->stamp, err, errlen)))
		goto err_free;
	a->gen = atomic_fetch_add(&gen_seq, 1);
	atomic_store(&a->nkeys, a->keys.n);
	atomic_store(&a->next_check_ms, clock_mono_ms() + CHECK_EVERY_MS);
	*out = a;
	return 0;
err_free:
	s3access_free(a);
	if (rc == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	return rc;
err_oom:
	free(a);
	snprintf(err, errlen, "out of memory");
	return -ENOMEM;
}

void s3access_free(struct s3access *a)
{
	if (!a)
		return;
	s3keys_free(&a->keys);
	for (size_t i = 0; i < a->nanon; i++)
		free(a->anon[i]);
	free(a->anon);
	free(a->path);
	pthread_rwlock_destroy(&a->lock);
	pthread_mutex_destroy(&a->reload_lock);
	free(a);
}

/* Reads the file again if its stamp changed; the caller holds reload_lock. */
static void reload(struct s3access *a)
{
	struct s3keys_stamp now;
	char err[1024];
	int rc = s3keys_stat(a->path, &now);
	if (rc) {
		log_error("S3 key file '%s': %s (keeping the %zu keys loaded)", a->path,
			  strerror(-rc), atomic_load(&a->nkeys));
		return;
	}
	if (s3keys_stamp_equal(&now, &a->stamp) ||
	    (now.exists && s3keys_stamp_equal(&now, &a->bad_stamp)))
		return;
	struct s3keys fresh;
	struct s3keys_stamp st;
	rc = s3keys_load(a->path, &fresh, &st, err, sizeof(err));
	if (rc) {
		log_error("%s; keeping the %zu keys loaded before", err, atomic_load(&a->nkeys));
		a->bad_stamp = now;
		return;
	}
	pthread_rwlock_wrlock(&a->lock);
	struct s3keys old = a->keys;
	a->keys = fresh;
	a->gen = atomic_fetch_add(&gen_seq, 1);
	atomic_store(&a->nkeys, fresh.n);
	pthread_rwlock_unlock(&a->lock);
	size_t was = old.n;
	s3keys_free(&old);
	a->stamp = st;
	memset(&a->bad_stamp, 0, sizeof(a->bad_stamp));
	if (!st.exists && was)
		log_warn("S3 key file '%s' is gone: no access keys, the S3 port accepts every "
			 "request", a->path);
	else
		log_info("S3 key file '%s' re-read: %zu key%s (was %zu)", a->path, fresh.n,
			 fresh.n == 1 ? "" : "s", was);
}

void s3access_check(struct s3access *a, bool force)
{
	int64_t now = clock_mono_ms();
	int64_t next = atomic_load(&a->next_check_ms);
	if (!force && (now < next ||
		       !atomic_compare_exchange_strong(&a->next_check_ms, &next,
						       now + CHECK_EVERY_MS)))
		return;
	if (force)
		atomic_store(&a->next_check_ms, now + CHECK_EVERY_MS);
	/* Another thread reloading: it will see what this one would. */
	if (force)
		pthread_mutex_lock(&a->reload_lock);
	else if (pthread_mutex_trylock(&a->reload_lock))
		return;
	reload(a);
	pthread_mutex_unlock(&a->reload_lock);
}

size_t s3access_nkeys(struct s3access *a)
{
	s3access_check(a, false);
	return atomic_load(&a->nkeys);
}

bool s3access_required(void *arg)
{
	return s3access_nkeys(arg) > 0;
}

int s3access_signing_key(void *arg, const char *access_key, const char *date,
			 const char *region, const char *service, unsigned char key[32])
{
	struct s3access *a = arg;
	/* "date/region/service", without snprintf (per signed request) */
	char scope[sizeof(tcache[0].scope)];
	size_t dl = strlen(date), rl = strlen(region), sl = strlen(service);
	bool cacheable = dl + rl + sl + 3 <= sizeof(scope) && strlen(access_key) <= S3KEY_ID_MAX;
	if (cacheable) {
		memcpy(scope, date, dl);
		scope[dl] = '/';
		memcpy(scope + dl + 1, region, rl);
		scope[dl + 1 + rl] = '/';
		memcpy(scope + dl + 2 + rl, service, sl + 1);
	}
	int rc = 0;
	pthread_rwlock_rdlock(&a->lock);
	const struct s3key *k = s3keys_find(&a->keys, access_key);
	if (!k) {
		rc = -ENOENT;
		goto out;
	}
	for (int i = 0; cacheable && i < TCACHE_SLOTS; i++) {
		struct tcache_slot *s = &tcache[i];
		if (s->a == a && s->gen == a->gen && !strcmp(s->id, access_key) &&
		    !strcmp(s->scope, scope)) {
			memcpy(key, s->key, SIGV4_KEY_LEN);
			goto out;
		}
	}
	if ((rc = sigv4_signing_key(k->secret, date, region, service, key)))
		goto out;
	if (cacheable) {
		struct tcache_slot *s = &tcache[tcache_next++ % TCACHE_SLOTS];
		s->a = a;
		s->gen = a->gen;
		snprintf(s->id, sizeof(s->id), "%s", access_key);
		memcpy(s->scope, scope, sizeof(scope));
		memcpy(s->key, key, SIGV4_KEY_LEN);
	}
out:
	pthread_rwlock_unlock(&a->lock);
	return rc;
}

int s3access_allow(void *arg, const char *access_key, const char *bucket, bool write,
		   char *err, size_t errlen)
{
	struct s3access *a = arg;
	int rc = 0;
	pthread_rwlock_rdlock(&a->lock);
	const struct s3key *k = s3keys_find(&a->keys, access_key);
	if (!k) {
		snprintf(err, errlen, "access key '%.64s' was revoked", access_key);
		rc = -EACCES;
	} else if (write && k->role == S3KEY_READONLY) {
		snprintf(err, errlen, "access key %s is read-only", access_key);
		rc = -EACCES;
	} else if (!s3key_allows_bucket(k, bucket)) {
		snprintf(err, errlen, "access key %s may not use bucket '%s'", access_key, bucket);
		rc = -EACCES;
	}
	pthread_rwlock_unlock(&a->lock);
	return rc;
}

bool s3access_anonymous_read(void *arg, const char *bucket)
{
	struct s3access *a = arg;
	for (size_t i = 0; i < a->nanon; i++)
		if (!strcmp(a->anon[i], bucket))
			return true;
	return false;
}
