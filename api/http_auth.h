#ifndef STRATA_API_HTTP_AUTH_H
#define STRATA_API_HTTP_AUTH_H

/* User auth of one HTTP server (REST tokens, enum http_access in
 * api/http.h): the token file, whether auth is on, what a request's
 * Authorization header is worth. Between api/http.c and api/http_auth.c;
 * knows nothing of requests or replies. */

#include "lib/tokens.h"

#include <stdbool.h>
#include <stddef.h>

struct http_auth;

enum http_auth_verdict {
	HTTP_AUTH_OPEN,      /* no user auth now: everything allowed */
	HTTP_AUTH_OK,        /* a valid token: *role */
	HTTP_AUTH_MISSING,   /* no Authorization header */
	HTTP_AUTH_SCHEME,    /* not "Bearer <token>" */
	HTTP_AUTH_MALFORMED, /* not stk_<id>_<secret> */
	HTTP_AUTH_REFUSED,   /* unknown, revoked or wrong */
	HTTP_AUTH_BROKEN,    /* the token file is unusable: nothing is accepted */
};

/*
 * The startup rule: the token file must be usable, and a server whose
 * bind address (numeric, IPv6 in brackets) is not loopback needs a token
 * in it unless insecure_no_auth. name is for logs and messages. Returns 0
 * with *out, or -EINVAL with the reason in err.
 */
int http_auth_open(const char *name, const char *path, const char *bind_host,
		   bool insecure_no_auth, struct http_auth **out, char *err, size_t errlen);
void http_auth_free(struct http_auth *a);

/*
 * What an Authorization header (may be NULL) is worth now; the token file
 * is looked at first, at most once a second. A refused token is logged by
 * its id only (method, path and remote say which request), never the token.
 */
enum http_auth_verdict http_auth_check(struct http_auth *a, const char *authorization,
				       const char *method, const char *path, const char *remote,
				       enum tokens_role *role);

#endif
