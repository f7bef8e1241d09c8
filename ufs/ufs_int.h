#ifndef STRATA_UFS_UFS_INT_H
#define STRATA_UFS_UFS_INT_H

/* Private to ufs/: helpers shared by the drivers. Not part of the contract. */

#include "ufs/ufs.h"

#include <stdarg.h>

#define UFS_PATH_MAX 4096
#define UFS_LIST_DEFAULT 1000

extern const struct ufs_driver ufs_local_driver;
extern const struct ufs_driver ufs_s3_driver;

/*
 * Normalizes a mount-relative path into out: no leading or trailing '/',
 * "" for the root. Refuses empty, "." and ".." components, NUL bytes and
 * paths longer than UFS_PATH_MAX with -EINVAL. Pure.
 */
int ufs_path_norm(const char *in, char *out, size_t outlen);

/* Value of option key (last one wins) or NULL. */
const char *ufs_opt_get(const struct ufs_opt *opts, size_t nopts, const char *key);

/*
 * Checks every option whose key starts with prefix (e.g. "s3.") is one of
 * known (NULL-terminated); -EINVAL naming the first unknown key otherwise.
 */
int ufs_opt_check(const struct ufs_opt *opts, size_t nopts, const char *prefix,
		  const char *const *known, char *err, size_t errlen);

/* Parses a non-negative integer option; -EINVAL naming key if malformed. */
int ufs_opt_u64(const struct ufs_opt *opts, size_t nopts, const char *key, uint64_t def,
		uint64_t *out, char *err, size_t errlen);

/* snprintf into err when err is non-NULL; returns rc for tail calls. */
int ufs_seterr(int rc, char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Sorts entries by name (byte order). */
void ufs_entries_sort(struct ufs_entry *entries, size_t count);

#endif
