#include "lib/conf.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static const struct conf_key g_keys[] = {
#define CONF_ROW(field, key, type, def, min, max, choices, doc) \
	{ key, CONF_##type, def, min, max, choices, doc, offsetof(struct strata_conf, field) },
	STRATA_CONF_KEYS(CONF_ROW)
#undef CONF_ROW
};

#define NKEYS (sizeof(g_keys) / sizeof(g_keys[0]))

const struct conf_key *conf_keys(size_t *nkeys)
{
	*nkeys = NKEYS;
	return g_keys;
}

const struct conf_key *conf_find(const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(g_keys[i].name, name) == 0)
			return &g_keys[i];
	return NULL;
}

const char *conf_type_name(enum conf_type type)
{
	static const char *const names[] = { "string", "integer", "size", "duration",
					     "boolean", "list", "enum", "secret" };
	return names[type];
}

int conf_parse_int(const char *s, int64_t *out)
{
	if (!*s)
		return -EINVAL;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end || isspace((unsigned char)*s))
		return -EINVAL;
	*out = v;
	return 0;
}

/* Splits "123unit" into a non-negative integer and its unit suffix. */
static int split_number(const char *s, uint64_t *num, const char **unit)
{
	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	while (*end == ' ')
		end++;
	*num = v;
	*unit = end;
	return 0;
}

static int scale(uint64_t num, uint64_t mult, int64_t *out)
{
	if (mult && num > (uint64_t)INT64_MAX / mult)
		return -EINVAL;
	*out = (int64_t)(num * mult);
	return 0;
}

int conf_parse_size(const char *s, int64_t *out)
{
	static const struct {
		const char *suffix;
		int shift;
	} units[] = {
		{ "", 0 },    { "B", 0 },    { "K", 10 },   { "KB", 10 },  { "KIB", 10 },
		{ "M", 20 },  { "MB", 20 },  { "MIB", 20 }, { "G", 30 },   { "GB", 30 },
		{ "GIB", 30 }, { "T", 40 },  { "TB", 40 },  { "TIB", 40 },
	};
	uint64_t num;
	const char *unit;
	if (split_number(s, &num, &unit))
		return -EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcasecmp(unit, units[i].suffix) == 0)
			return scale(num, UINT64_C(1) << units[i].shift, out);
	return -EINVAL;
}

int conf_parse_duration(const char *s, int64_t *out_ms)
{
	static const struct {
		const char *suffix;
		uint64_t ms;
	} units[] = {
		{ "", 1000 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
		{ "d", 86400000 },
	};
	uint64_t num;
	const char *unit;
	if (split_number(s, &num, &unit))
		return -EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(unit, units[i].suffix) == 0)
			return scale(num, units[i].ms, out_ms);
	return -EINVAL;
}

int conf_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

static void list_free(struct conf_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->items[i]);
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

static int parse_list(const char *s, struct conf_list *out)
{
	struct conf_list l = { 0 };
	char *copy = strdup(s);
	if (!copy)
		return -ENOMEM;
	int rc = 0;
	char *save = NULL;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *item = trim(tok);
		if (!*item)
			continue;
		char **grown = realloc(l.items, (l.n + 1) * sizeof(*grown));
		if (!grown || !(grown[l.n] = strdup(item))) {
			if (grown)
				l.items = grown;
			rc = -ENOMEM;
			goto err_free_list;
		}
		l.items = grown;
		l.n++;
	}
	free(copy);
	*out = l;
	return 0;

err_free_list:
	list_free(&l);
	free(copy);
	return rc;
}

static bool enum_has(const char *choices, const char *s)
{
	size_t n = strlen(s);
	for (const char *p = choices; *p;) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);
		if (len == n && strncmp(p, s, n) == 0)
			return true;
		if (!bar)
			break;
		p = bar + 1;
	}
	return false;
}

static void range_text(const struct conf_key *k, int64_t v, char *buf, size_t len)
{
	switch (k->type) {
	case CONF_SIZE:
		snprintf(buf, len, "%" PRId64 " bytes", v);
		break;
	case CONF_DURATION:
		snprintf(buf, len, "%" PRId64 "ms", v);
		break;
	default:
		snprintf(buf, len, "%" PRId64, v);
	}
}

static const char *type_hint(enum conf_type t)
{
	switch (t) {
	case CONF_INT:
		return "an integer";
	case CONF_SIZE:
		return "a size such as 512MB or 4GB";
	case CONF_DURATION:
		return "a duration such as 250ms, 30s, 5m, 2h or 1d";
	case CONF_BOOL:
		return "true or false";
	default:
		return "a value";
	}
}

int conf_set(struct strata_conf *c, const char *key, const char *value, const char *origin,
	     char *err, size_t errlen)
{
	const struct conf_key *k = conf_find(key);
	if (!k) {
		snprintf(err, errlen, "%s: unknown key '%s'", origin, key);
		return -ENOENT;
	}
	if (strchr(value, '\n')) {
		snprintf(err, errlen, "%s: key '%s': value contains a line break", origin, key);
		return -EINVAL;
	}
	void *field = (char *)c + k->offset;
	int64_t num = 0;
	int rc = 0;
	switch (k->type) {
	case CONF_STR:
	case CONF_SECRET:
	case CONF_ENUM: {
		if (k->type == CONF_ENUM && !enum_has(k->choices, value)) {
			snprintf(err, errlen, "%s: key '%s': '%s' is not one of %s", origin, key,
				 value, k->choices);
			return -EINVAL;
		}
		char *dup = strdup(value);
		if (!dup)
			return -ENOMEM;
		free(*(char **)field);
		*(char **)field = dup;
		return 0;
	}
	case CONF_BOOL:
		if (conf_parse_bool(value, (bool *)field)) {
			snprintf(err, errlen, "%s: key '%s': '%s' is not %s", origin, key, value,
				 type_hint(k->type));
			return -EINVAL;
		}
		return 0;
	case CONF_LIST: {
		struct conf_list l;
		rc = parse_list(value, &l);
		if (rc)
			return rc;
		list_free((struct conf_list *)field);
		*(struct conf_list *)field = l;
		return 0;
	}
	case CONF_INT:
		rc = conf_parse_int(value, &num);
		break;
	case CONF_SIZE:
		rc = conf_parse_size(value, &num);
		break;
	case CONF_DURATION:
		rc = conf_parse_duration(value, &num);
		break;
	}
	if (rc) {
		snprintf(err, errlen, "%s: key '%s': '%s' is not %s", origin, key, value,
			 type_hint(k->type));
		return -EINVAL;
	}
	if ((k->min || k->max) && (num < k->min || num > k->max)) {
		char lo[48], hi[48];
		range_text(k, k->min, lo, sizeof(lo));
		range_text(k, k->max, hi, sizeof(hi));
		snprintf(err, errlen, "%s: key '%s': '%s' is out of range %s..%s", origin, key,
			 value, lo, hi);
		return -EINVAL;
	}
	*(int64_t *)field = num;
	return 0;
}

void conf_init(struct strata_conf *c)
{
	memset(c, 0, sizeof(*c));
	char err[256];
	for (size_t i = 0; i < NKEYS; i++) {
		if (conf_set(c, g_keys[i].name, g_keys[i].def, "default", err, sizeof(err))) {
			fprintf(stderr, "strata: broken built-in configuration: %s\n", err);
			abort();
		}
	}
}

void conf_free(struct strata_conf *c)
{
	for (size_t i = 0; i < NKEYS; i++) {
		void *field = (char *)c + g_keys[i].offset;
		if (g_keys[i].type == CONF_STR || g_keys[i].type == CONF_ENUM ||
		    g_keys[i].type == CONF_SECRET) {
			free(*(char **)field);
			*(char **)field = NULL;
		} else if (g_keys[i].type == CONF_LIST) {
			list_free((struct conf_list *)field);
		}
	}
	memset(c, 0, sizeof(*c));
}

/* Strips a comment: '#' at the start or after a blank, outside quotes. */
static void strip_comment(char *s)
{
	bool quoted = false;
	for (char *p = s; *p; p++) {
		if (*p == '"')
			quoted = !quoted;
		else if (*p == '#' && !quoted && (p == s || isspace((unsigned char)p[-1]))) {
			*p = '\0';
			return;
		}
	}
}

/* Parses config text; *secret (if not NULL) names the first SECRET key
 * the text gives a non-empty value (NULL when none). */
static int parse_text(struct strata_conf *c, const char *text, size_t len, const char *name,
		      char *err, size_t errlen, const char **secret)
{
	if (secret)
		*secret = NULL;
	if (memchr(text, '\0', len)) {
		snprintf(err, errlen, "%s: contains a NUL byte", name);
		return -EINVAL;
	}
	char *copy = malloc(len + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, text, len);
	copy[len] = '\0';
	/* Which line set each key, to name both lines of a duplicate. */
	int *set_on = calloc(NKEYS, sizeof(*set_on));
	if (!set_on) {
		free(copy);
		return -ENOMEM;
	}

	int rc = 0;
	int lineno = 0;
	char *line = copy;
	while (line) {
		char *next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		char origin[512];
		snprintf(origin, sizeof(origin), "%s:%d", name, lineno);
		strip_comment(line);
		char *s = trim(line);
		if (!*s) {
			line = next;
			continue;
		}
		char *eq = strchr(s, '=');
		if (!eq) {
			snprintf(err, errlen, "%s: expected 'key = value', got '%.64s'", origin, s);
			rc = -EINVAL;
			break;
		}
		*eq = '\0';
		char *key = trim(s);
		char *value = trim(eq + 1);
		size_t vlen = strlen(value);
		if (vlen >= 2 && value[0] == '"' && value[vlen - 1] == '"') {
			value[vlen - 1] = '\0';
			value++;
		}
		const struct conf_key *k = conf_find(key);
		if (k && set_on[k - g_keys]) {
			snprintf(err, errlen, "%s: key '%s' is already set on line %d", origin, key,
				 set_on[k - g_keys]);
			rc = -EINVAL;
			break;
		}
		rc = conf_set(c, key, value, origin, err, errlen);
		if (rc)
			break;
		if (secret && !*secret && k && k->type == CONF_SECRET && *value)
			*secret = k->name;
		set_on[k - g_keys] = lineno;
		line = next;
	}
	free(set_on);
	free(copy);
	return rc;
}

int conf_parse_text(struct strata_conf *c, const char *text, size_t len, const char *name,
		    char *err, size_t errlen)
{
	return parse_text(c, text, len, name, err, errlen, NULL);
}

int conf_load_file(struct strata_conf *c, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		int e = errno;
		snprintf(err, errlen, "config file '%s': %s", path, strerror(e));
		return -e;
	}
	char *text = NULL;
	size_t len = 0, cap = 0;
	int rc = 0;
	for (;;) {
		if (len + 4096 > cap) {
			cap = cap ? cap * 2 : 8192;
			if (cap > (1u << 24)) {
				snprintf(err, errlen, "config file '%s': larger than 16 MiB", path);
				rc = -EFBIG;
				goto out;
			}
			char *grown = realloc(text, cap);
			if (!grown) {
				rc = -ENOMEM;
				goto out;
			}
			text = grown;
		}
		size_t n = fread(text + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "config file '%s': read error", path);
		rc = -EIO;
		goto out;
	}
	const char *secret = NULL;
	rc = parse_text(c, text ? text : "", len, path, err, errlen, &secret);
	/* A file holding a secret that any local user may read leaks it. */
	struct stat st;
	if (!rc && secret && fstat(fileno(f), &st) == 0 && (st.st_mode & S_IROTH)) {
		snprintf(err, errlen,
			 "config file '%s' holds the secret %s but is world-readable "
			 "(mode %04o): chmod o-rwx '%s'",
			 path, secret, (unsigned)(st.st_mode & 07777), path);
		rc = -EACCES;
	}
out:
	free(text);
	fclose(f);
	return rc;
}

void conf_env_name(const char *key, char *buf, size_t len)
{
	size_t o = (size_t)snprintf(buf, len, "STRATA_");
	for (const char *p = key; *p && o + 1 < len; p++)
		buf[o++] = *p == '.' ? '_' : (char)toupper((unsigned char)*p);
	buf[o < len ? o : len - 1] = '\0';
}

/* STRATA_ variables that are not keys: the config path and the client's
 * REST token (client/client.h client_token_resolve). */
static bool is_client_var(const char *e, size_t nlen)
{
	static const char *const names[] = { "STRATA_CONFIG", "STRATA_TOKEN", "STRATA_TOKEN_FILE" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (nlen == strlen(names[i]) && strncmp(e, names[i], nlen) == 0)
			return true;
	return false;
}

int conf_load_env(struct strata_conf *c, char *const *envp, char *err, size_t errlen)
{
	for (char *const *e = envp; e && *e; e++) {
		if (strncmp(*e, "STRATA_", 7) != 0)
			continue;
		const char *eq = strchr(*e, '=');
		if (!eq)
			continue;
		size_t nlen = (size_t)(eq - *e);
		if (is_client_var(*e, nlen))
			continue;
		const struct conf_key *k = NULL;
		char envname[160];
		for (size_t i = 0; i < NKEYS; i++) {
			conf_env_name(g_keys[i].name, envname, sizeof(envname));
			if (strlen(envname) == nlen && strncmp(envname, *e, nlen) == 0) {
				k = &g_keys[i];
				break;
			}
		}
		if (!k) {
			snprintf(err, errlen,
				 "environment: %.*s matches no configuration key "
				 "(STRATA_<KEY> with dots as underscores)",
				 (int)(nlen > 100 ? 100 : nlen), *e);
			return -ENOENT;
		}
		char origin[200];
		snprintf(origin, sizeof(origin), "environment %.*s", (int)nlen, *e);
		int rc = conf_set(c, k->name, eq + 1, origin, err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

size_t conf_format(const struct strata_conf *c, const struct conf_key *k, char *buf, size_t len)
{
	const void *field = (const char *)c + k->offset;
	int n = 0;
	switch (k->type) {
	case CONF_STR:
	case CONF_ENUM:
		n = snprintf(buf, len, "%s", *(char *const *)field ? *(char *const *)field : "");
		break;
	case CONF_SECRET:
		n = snprintf(buf, len, "%s",
			     *(char *const *)field && **(char *const *)field ? "(set)" : "(unset)");
		break;
	case CONF_BOOL:
		n = snprintf(buf, len, "%s", *(const bool *)field ? "true" : "false");
		break;
	case CONF_INT:
		n = snprintf(buf, len, "%" PRId64, *(const int64_t *)field);
		break;
	case CONF_SIZE:
		n = snprintf(buf, len, "%" PRId64 "B", *(const int64_t *)field);
		break;
	case CONF_DURATION:
		n = snprintf(buf, len, "%" PRId64 "ms", *(const int64_t *)field);
		break;
	case CONF_LIST: {
		const struct conf_list *l = field;
		size_t o = 0;
		if (len)
			buf[0] = '\0';
		for (size_t i = 0; i < l->n && o < len; i++)
			o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? "," : "", l->items[i]);
		return o < len ? o : len ? len - 1 : 0;
	}
	}
	if (n < 0)
		return 0;
	return (size_t)n < len ? (size_t)n : len ? len - 1 : 0;
}

const char *conf_tls_ca(const struct strata_conf *c)
{
	return *c->http_tls_ca ? c->http_tls_ca : c->http_tls_cert;
}

const char *conf_tls_client_cert(const struct strata_conf *c)
{
	return c->cluster_mtls && *c->http_tls_cert ? c->http_tls_cert : NULL;
}

const char *conf_tls_client_key(const struct strata_conf *c)
{
	return c->cluster_mtls && *c->http_tls_key ? c->http_tls_key : NULL;
}
