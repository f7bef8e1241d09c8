#include "lib/path.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t avail)
{
	unsigned c = s[0];
	size_t n;
	unsigned cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (avail < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

int path_check_name(const char *name, size_t len, char *err, size_t errlen)
{
	if (len == 0) {
		snprintf(err, errlen, "empty path component");
		return -EINVAL;
	}
	if (len > PATH_NAME_MAX) {
		snprintf(err, errlen, "path component '%.32s...' is %zu bytes, over the limit of %d",
			 name, len, PATH_NAME_MAX);
		return -EINVAL;
	}
	if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.')) {
		snprintf(err, errlen, "path component '%.*s' is not allowed", (int)len, name);
		return -EINVAL;
	}
	const unsigned char *s = (const unsigned char *)name;
	for (size_t i = 0; i < len;) {
		if (s[i] == '\0') {
			snprintf(err, errlen, "path contains a NUL byte at component offset %zu", i);
			return -EINVAL;
		}
		if (s[i] == '/') {
			snprintf(err, errlen, "path component contains '/'");
			return -EINVAL;
		}
		if (s[i] < 0x20 || s[i] == 0x7f) {
			snprintf(err, errlen, "path contains control character 0x%02x", s[i]);
			return -EINVAL;
		}
		size_t n = utf8_seq(s + i, len - i);
		if (!n) {
			snprintf(err, errlen, "path is not valid UTF-8 (byte 0x%02x)", s[i]);
			return -EINVAL;
		}
		i += n;
	}
	return 0;
}

int path_normalize(const char *in, size_t inlen, char *out, size_t outlen, char *err,
		   size_t errlen)
{
	if (inlen == 0 || in[0] != '/') {
		snprintf(err, errlen, "path '%.*s' must be absolute (start with '/')",
			 (int)(inlen > 64 ? 64 : inlen), in);
		return -EINVAL;
	}
	while (inlen > 1 && in[inlen - 1] == '/')
		inlen--;
	if (inlen > PATH_MAX_LEN) {
		snprintf(err, errlen, "path is %zu bytes, over the limit of %d", inlen, PATH_MAX_LEN);
		return -EINVAL;
	}
	if (inlen + 1 > outlen) {
		snprintf(err, errlen, "path too long");
		return -ENAMETOOLONG;
	}
	if (inlen == 1) {
		strcpy(out, "/");
		return 0;
	}
	size_t start = 1;
	while (start <= inlen) {
		const char *slash = memchr(in + start, '/', inlen - start);
		size_t end = slash ? (size_t)(slash - in) : inlen;
		if (end == start) {
			snprintf(err, errlen, "path '%.*s' has an empty component ('//')",
				 (int)(inlen > 64 ? 64 : inlen), in);
			return -EINVAL;
		}
		int rc = path_check_name(in + start, end - start, err, errlen);
		if (rc)
			return rc;
		start = end + 1;
	}
	memcpy(out, in, inlen);
	out[inlen] = '\0';
	return 0;
}

int path_parent(const char *path, char *out, size_t outlen)
{
	size_t len = strlen(path);
	if (len <= 1 || len + 1 > outlen)
		return -EINVAL;
	const char *slash = strrchr(path, '/');
	size_t plen = slash == path ? 1 : (size_t)(slash - path);
	memcpy(out, path, plen);
	out[plen] = '\0';
	return 0;
}

const char *path_basename(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

int path_has_prefix(const char *path, const char *prefix)
{
	if (strcmp(prefix, "/") == 0)
		return 1;
	size_t n = strlen(prefix);
	return strncmp(path, prefix, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

int path_join(const char *dir, const char *name, char *out, size_t outlen)
{
	size_t dlen = strcmp(dir, "/") == 0 ? 0 : strlen(dir);
	size_t nlen = strlen(name);
	if (dlen + 1 + nlen > PATH_MAX_LEN || dlen + 2 + nlen > outlen)
		return -ENAMETOOLONG;
	memcpy(out, dir, dlen);
	out[dlen] = '/';
	memcpy(out + dlen + 1, name, nlen + 1);
	return 0;
}
