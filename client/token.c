/* The user's REST token (client/client.h, "REST tokens"): where a CLI or
 * monitor finds it, and what it says when a daemon refuses it. */
#include "client/client.h"

#include "lib/err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN_MAX 512

/* The first line of path, trimmed, into tok. */
static int read_token_file(const char *path, const char *what, char *tok, size_t len,
			   char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		int rc = -errno;
		st_set_err(err, errlen, "%s '%s': %s", what, path, strerror(errno));
		return rc;
	}
	char line[TOKEN_MAX + 2];
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	fclose(f);
	char *p = line;
	while (*p == ' ' || *p == '\t')
		p++;
	size_t n = strlen(p);
	while (n && (p[n - 1] == '\n' || p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t'))
		p[--n] = '\0';
	if (n == 0 || n >= len || n > TOKEN_MAX) {
		st_set_err(err, errlen, "%s '%s': %s", what, path,
			   n ? "the token is too long" : "holds no token on its first line");
		memset(line, 0, sizeof(line));
		return -EINVAL;
	}
	memcpy(tok, p, n + 1);
	memset(line, 0, sizeof(line));
	return 0;
}

int client_token_header(const char *flag_file, char *header, size_t len, char *err,
			size_t errlen)
{
	char tok[TOKEN_MAX + 1] = "";
	int rc = 0;
	const char *env = getenv("STRATA_TOKEN"), *env_file = getenv("STRATA_TOKEN_FILE");
	*header = '\0';
	if (flag_file && *flag_file) {
		rc = read_token_file(flag_file, "--token-file", tok, sizeof(tok), err, errlen);
	} else if (env && *env) {
		if (strlen(env) > TOKEN_MAX || strpbrk(env, "\r\n")) {
			st_set_err(err, errlen, "STRATA_TOKEN: not a token (too long or a newline)");
			return -EINVAL;
		}
		snprintf(tok, sizeof(tok), "%s", env);
	} else if (env_file && *env_file) {
		rc = read_token_file(env_file, "STRATA_TOKEN_FILE", tok, sizeof(tok), err, errlen);
	} else {
		return 0;
	}
	if (rc)
		return rc;
	int n = snprintf(header, len, "Authorization: Bearer %s", tok);
	memset(tok, 0, sizeof(tok));
	if (n < 0 || (size_t)n >= len) {
		*header = '\0';
		st_set_err(err, errlen, "token too long");
		return -ENOSPC;
	}
	return 0;
}

void client_auth_hint(int rc, bool had_token, const char *err, char *out, size_t len)
{
	if (rc == ST_EAUTH && !had_token)
		snprintf(out, len,
			 "%s\nneeds a token: set STRATA_TOKEN, or STRATA_TOKEN_FILE or --token-file "
			 "to a file holding it (an admin creates one with `strata admin token "
			 "create --role readonly|admin` on a master)",
			 err);
	else if (rc == ST_EAUTH)
		snprintf(out, len,
			 "%s\nthe token was refused: it is wrong, or revoked (see `strata admin "
			 "token list` on a master)",
			 err);
	else if (rc == ST_EFORBIDDEN && strstr(err, "token role readonly"))
		snprintf(out, len, "%s\nuse a token with role admin for this", err);
	else
		snprintf(out, len, "%s", err);
}
