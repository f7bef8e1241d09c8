#include "lib/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *st_strerror(int rc)
{
	switch (rc) {
#define ST_ERR_MSG(name, val, code, msg) \
	case name:                       \
		return msg;
		ST_ERRORS(ST_ERR_MSG)
#undef ST_ERR_MSG
	default:
		break;
	}
	if (rc < 0 && rc > -ST_ERR_BASE)
		return strerror(-rc);
	return rc == 0 ? "success" : "unknown error";
}

const char *st_errcode(int rc)
{
	switch (rc) {
#define ST_ERR_CODE(name, val, code, msg) \
	case name:                        \
		return code;
		ST_ERRORS(ST_ERR_CODE)
#undef ST_ERR_CODE
	case -ENOENT:
		return "not_found";
	case -EEXIST:
		return "already_exists";
	case -EINVAL:
		return "invalid_argument";
	case -EACCES:
	case -EPERM:
		return "permission_denied";
	case -ENOMEM:
		return "out_of_memory";
	case -ENOSPC:
		return "no_space";
	case -ETIMEDOUT:
		return "timeout";
	case -ENOTEMPTY:
		return "not_empty";
	case -ENOTDIR:
		return "not_a_directory";
	case -EISDIR:
		return "is_a_directory";
	case -EBUSY:
		return "mount_point";
	case -EXDEV:
		return "cross_mount";
	case -EROFS:
		return "read_only";
	case -ENOTSUP:
		return "not_supported";
	case -ENAMETOOLONG:
		return "name_too_long";
	case -EAGAIN:
	case -ECONNREFUSED:
		return "unavailable";
	default:
		return rc == 0 ? "ok" : "internal";
	}
}

int st_rc_from_code(const char *code)
{
	static const int candidates[] = {
		-ENOENT, -EEXIST, -EINVAL, -EACCES, -ENOMEM, -ENOSPC, -ETIMEDOUT, -EAGAIN,
		-ENOTEMPTY, -ENOTDIR, -EISDIR, -EBUSY, -EXDEV, -EROFS, -ENOTSUP, -ENAMETOOLONG,
#define ST_ERR_RC(name, val, c, msg) name,
		ST_ERRORS(ST_ERR_RC)
#undef ST_ERR_RC
	};
	for (size_t i = 0; code && i < sizeof(candidates) / sizeof(candidates[0]); i++)
		if (strcmp(st_errcode(candidates[i]), code) == 0)
			return candidates[i];
	return -EIO;
}

void st_set_err(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || !errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}
