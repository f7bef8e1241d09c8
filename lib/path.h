#ifndef STRATA_LIB_PATH_H
#define STRATA_LIB_PATH_H

#include <stddef.h>

/*
 * Namespace paths are normalized once, here, and nowhere else. A normal
 * path is absolute, '/'-separated, has no trailing '/' (except the root
 * "/"), and no empty, "." or ".." component.
 *
 * path_normalize accepts a trailing '/' (dropped) and refuses, with -EINVAL
 * and a message naming the problem:
 *   relative paths, empty components ("//"), "." and "..", NUL bytes,
 *   control characters, invalid UTF-8 (overlong forms, surrogates, > U+10FFFF),
 *   a component over PATH_NAME_MAX bytes, a path over PATH_MAX_LEN bytes.
 * in may hold NUL bytes: inlen is its real length.
 */
#define PATH_NAME_MAX 255
#define PATH_MAX_LEN 4095

int path_normalize(const char *in, size_t inlen, char *out, size_t outlen, char *err,
		   size_t errlen);

/* Validates one name (a single component) with the same rules. */
int path_check_name(const char *name, size_t len, char *err, size_t errlen);

/* Parent of a normal path ("/a/b" -> "/a", "/a" -> "/"); "/" has none:
 * -EINVAL. out must hold strlen(path)+1 bytes. */
int path_parent(const char *path, char *out, size_t outlen);
/* dir + "/" + name into out; -ENAMETOOLONG past PATH_MAX_LEN. */
int path_join(const char *dir, const char *name, char *out, size_t outlen);
/* Last component of a normal path (points into path; "" for "/"). */
const char *path_basename(const char *path);
/* True when path equals prefix or lies below it (both normal). */
int path_has_prefix(const char *path, const char *prefix);

#endif
