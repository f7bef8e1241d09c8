#ifndef STRATA_LIB_ERR_H
#define STRATA_LIB_ERR_H

/*
 * Error convention: functions return int, 0 on success, a negative errno
 * (-ENOENT, -EINVAL, ...) or a negative strata code below on failure.
 * Strata's own codes start at -ST_ERR_BASE so they never collide with errno.
 * Context (which key, path or peer) travels in a caller-owned err buffer.
 */
#define ST_ERR_BASE 10000

/* X(name, value, short_code, message) */
#define ST_ERRORS(X)                                                        \
	X(ST_EBADCONF, 1, "bad_config", "invalid configuration")            \
	X(ST_EHTTP, 2, "http_error", "unexpected HTTP status from peer")    \
	X(ST_EPEER, 3, "peer_unreachable", "peer unreachable")              \
	X(ST_EPROTO, 4, "protocol_error", "malformed reply from peer")      \
	X(ST_EUSAGE, 5, "usage", "invalid command-line usage")              \
	X(ST_ENOTLEADER, 6, "not_leader", "this master is not the leader")  \
	X(ST_ENOLEADER, 7, "no_leader", "no leader is known now; retry")    \
	X(ST_ECONFBUSY, 8, "membership_change_in_progress",                 \
	  "another membership change is in progress; retry")                \
	X(ST_ESTALE, 9, "stale",                                            \
	  "the file changed in its store since strata looked it up")         \
	X(ST_ENOMOUNT, 10, "no_mount", "no mount covers the path")          \
	X(ST_ETOOSMALL, 11, "entity_too_small",                             \
	  "a part other than the last is below the minimum size")             \
	X(ST_EAUTH, 12, "unauthorized", "a valid token is required")          \
	X(ST_EFORBIDDEN, 13, "forbidden", "the token's role does not allow this")          \
	X(ST_ENOTLOADED, 14, "not_loaded",                                  \
	  "the file is not in the namespace yet: read it from its store")   \
	X(ST_ELOST, 15, "data_lost",                                        \
	  "the file's data is lost: it was never persisted and its cached copies are gone")

enum st_err {
#define ST_ERR_ENUM(name, val, code, msg) name = -(ST_ERR_BASE + (val)),
	ST_ERRORS(ST_ERR_ENUM)
#undef ST_ERR_ENUM
};

/* Human message for any rc (errno or strata code). Never NULL. */
const char *st_strerror(int rc);

/* Stable machine code ("not_found", "bad_config", ...) for any rc. */
const char *st_errcode(int rc);

#include <stddef.h>

/* Writes the printf-style message into the caller's err buffer (always
 * NUL-terminated, cut to errlen); does nothing when err is NULL or errlen
 * is 0, so callers that do not want the context pass NULL, 0. */
void st_set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The reverse of st_errcode: a negative rc for a code a peer sent
 * ("not_found" -> -ENOENT); -EIO for codes it does not know. */
int st_rc_from_code(const char *code);

#endif
