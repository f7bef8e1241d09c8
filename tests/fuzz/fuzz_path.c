/* Fuzzes lib/path.c: any bytes as a path. A path that normalizes must come
 * out normal (absolute, no empty/./.. component, no trailing '/', within
 * the limits), normalize to itself again, and split and rejoin through
 * path_parent/path_basename/path_join to itself. A refused one must say why. */
#include "lib/path.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int check_input(const uint8_t *data, size_t size);

static void check_normal(const char *p)
{
	size_t len = strlen(p);
	if (len == 0 || len > PATH_MAX_LEN || p[0] != '/')
		abort();
	if (len > 1 && p[len - 1] == '/')
		abort();
	if (strstr(p, "//"))
		abort();
	char err[256];
	for (const char *c = p + 1; len > 1 && *c;) {
		const char *slash = strchr(c, '/');
		size_t n = slash ? (size_t)(slash - c) : strlen(c);
		if (path_check_name(c, n, err, sizeof(err)) != 0)
			abort();
		c += n + (slash ? 1 : 0);
	}
}

/* The input is handed over exactly as it came, without a NUL after it:
 * path_normalize must never read past inlen. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return check_input(data, size);
}

static int check_input(const uint8_t *data, size_t size)
{
	static char out[PATH_MAX_LEN + 1], again[PATH_MAX_LEN + 1], parent[PATH_MAX_LEN + 1],
		joined[PATH_MAX_LEN + 1];
	char err[256] = "";
	int rc = path_normalize((const char *)data, size, out, sizeof(out), err, sizeof(err));
	if (rc) {
		if ((rc != -EINVAL && rc != -ENAMETOOLONG) || !err[0])
			abort();
		return 0;
	}
	check_normal(out);
	/* Normal form is a fixed point. */
	err[0] = '\0';
	if (path_normalize(out, strlen(out), again, sizeof(again), err, sizeof(err)) != 0 ||
	    strcmp(out, again) != 0)
		abort();
	/* The input differs from the output only by trailing '/'. */
	size_t olen = strlen(out);
	if (size < olen || memcmp(data, out, olen) != 0)
		abort();
	for (size_t i = olen; i < size; i++)
		if (data[i] != '/')
			abort();
	if (strcmp(out, "/") == 0) {
		if (path_parent(out, parent, sizeof(parent)) != -EINVAL || *path_basename(out))
			abort();
		return 0;
	}
	if (path_parent(out, parent, sizeof(parent)) != 0)
		abort();
	check_normal(parent);
	if (!path_has_prefix(out, parent) || !path_has_prefix(out, "/") ||
	    path_has_prefix(parent, out))
		abort();
	if (path_join(parent, path_basename(out), joined, sizeof(joined)) != 0 ||
	    strcmp(joined, out) != 0)
		abort();
	return 0;
}
