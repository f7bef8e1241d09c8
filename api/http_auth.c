#include "api/http_auth.h"

#include "lib/clock.h"
#include "lib/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct http_auth {
	char *name;
	struct tokens_store *tokens;
	bool always; /* a non-loopback bind without insecure_no_auth */
};

int http_auth_open(const char *name, const char *path, const char *bind_host,
		   bool insecure_no_auth, struct http_auth **out, char *err, size_t errlen)
{
	struct http_auth *a = calloc(1, sizeof(*a));
	if (!a || !(a->name = strdup(name))) {
		free(a);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	char why[768];
	if (tokens_store_open(path, &a->tokens, why, sizeof(why))) {
		snprintf(err, errlen, "%s: http.token_file: %s", name, why);
		goto err_free;
	}
	bool loopback = strncmp(bind_host, "127.", 4) == 0 || strcmp(bind_host, "[::1]") == 0;
	size_t n = tokens_store_count(a->tokens, NULL);
	if (!loopback && n == 0 && !insecure_no_auth) {
		snprintf(err, errlen,
			 "%s binds %s, which is not loopback, and http.token_file '%s' holds no "
			 "token: create one (strata admin token create --role admin --file '%s') "
			 "or set http.insecure_no_auth=true to serve everyone without auth",
			 name, bind_host, path, path);
		goto err_free;
	}
	a->always = !loopback && !insecure_no_auth;
	if (!loopback && n == 0)
		log_warn("%s binds %s with no token in http.token_file '%s' and "
			 "http.insecure_no_auth=true: anyone who reaches the port may read and "
			 "change everything",
			 name, bind_host, path);
	else if (n > 0 || a->always)
		log_info("%s: REST tokens on (%zu in %s)", name, n, path);
	else
		log_info("%s: no REST token in %s and a loopback bind: auth is off until a "
			 "token is created",
			 name, path);
	*out = a;
	return 0;

err_free:
	http_auth_free(a);
	return -EINVAL;
}

void http_auth_free(struct http_auth *a)
{
	if (!a)
		return;
	tokens_store_free(a->tokens);
	free(a->name);
	free(a);
}

/* Whether user auth applies now: the file holds a token (or cannot be
 * read: fail closed), or the bind is not loopback. Looks at the file at
 * most once a second. */
static bool auth_on(struct http_auth *a)
{
	char err[512];
	int rc = tokens_store_refresh(a->tokens, clock_mono_ms(), 1000, err, sizeof(err));
	bool broken;
	size_t n = tokens_store_count(a->tokens, &broken);
	if (rc < 0)
		log_error("%s: %s; every token is refused until it is fixed", a->name, err);
	else if (rc > 0)
		log_info("%s: token file re-read: %zu token%s", a->name, n, n == 1 ? "" : "s");
	return n > 0 || broken || a->always;
}

enum http_auth_verdict http_auth_check(struct http_auth *a, const char *authorization,
				       const char *method, const char *path, const char *remote,
				       enum tokens_role *role)
{
	*role = TOKENS_ROLE_ADMIN;
	if (!auth_on(a))
		return HTTP_AUTH_OPEN;
	*role = TOKENS_ROLE_NONE;
	if (!authorization || !*authorization)
		return HTTP_AUTH_MISSING;
	if (strncasecmp(authorization, "Bearer ", 7) != 0)
		return HTTP_AUTH_SCHEME;
	const char *token = authorization + 7;
	while (*token == ' ')
		token++;
	int rc = tokens_store_verify(a->tokens, token, role);
	if (!rc)
		return HTTP_AUTH_OK;
	bool broken;
	tokens_store_count(a->tokens, &broken);
	if (broken)
		return HTTP_AUTH_BROKEN;
	if (rc == -EINVAL)
		return HTTP_AUTH_MALFORMED;
	char id[TOKENS_ID_LEN + 1];
	const char *secret;
	if (tokens_split(token, id, &secret) == 0)
		log_info("%s: refused %s %.200s from %s: token %s is %s", a->name, method, path,
			 remote, id, rc == -ENOENT ? "unknown or revoked" : "wrong");
	return HTTP_AUTH_REFUSED;
}
