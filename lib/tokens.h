#ifndef STRATA_LIB_TOKENS_H
#define STRATA_LIB_TOKENS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * REST bearer tokens (docs/security.md, "REST tokens"): the token file each
 * daemon reads (http.token_file) and `strata admin token` edits.
 *
 * A token as the user sees it:  stk_<id>_<secret>
 *   id      12 lower-case hex characters (6 random bytes): finds the entry
 *   secret  64 lower-case hex characters (32 random bytes): never stored
 *
 * The file is text, one token per line, like htpasswd; '#' lines and blank
 * lines are ignored:
 *
 *   <id>:<role>:<salt>:<hash>:<created>:<name>
 *
 *   role     "admin" or "readonly"
 *   salt     32 hex characters (16 random bytes)
 *   hash     64 hex characters: SHA-256 over the 16 salt bytes followed by
 *            the secret's 64 ASCII characters
 *   created  Unix time in seconds (decimal)
 *   name     optional free text, up to 64 bytes, no control characters
 *            (it is the rest of the line, so it may hold ':')
 *
 * The file must be mode 0600 (no group or other bits): tokens_load refuses
 * anything else. tokens_save writes it atomically (temporary file, fsync,
 * rename) with mode 0600, creating its directory with mode 0700.
 */

#define TOKENS_ID_LEN 12
#define TOKENS_SECRET_LEN 64
#define TOKENS_SALT_LEN 32
#define TOKENS_HASH_LEN 64
#define TOKENS_NAME_MAX 64
#define TOKENS_MAX 4096 /* entries in one file */
#define TOKENS_FILE_MAX (1 << 20)
/* "stk_" + id + "_" + secret */
#define TOKENS_TOKEN_LEN (4 + TOKENS_ID_LEN + 1 + TOKENS_SECRET_LEN)
/* Random bytes tokens_create consumes: id, salt, secret. */
#define TOKENS_RANDOM_LEN (TOKENS_ID_LEN / 2 + TOKENS_SALT_LEN / 2 + TOKENS_SECRET_LEN / 2)

enum tokens_role {
	TOKENS_ROLE_NONE = 0,
	TOKENS_ROLE_READONLY,
	TOKENS_ROLE_ADMIN,
};

struct tokens_entry {
	char id[TOKENS_ID_LEN + 1];
	enum tokens_role role;
	char salt[TOKENS_SALT_LEN + 1];
	char hash[TOKENS_HASH_LEN + 1];
	int64_t created; /* Unix seconds */
	char name[TOKENS_NAME_MAX + 1];
};

struct tokens_set {
	size_t n, cap;
	struct tokens_entry *v; /* owned */
};

/* "admin", "readonly"; "none" otherwise. */
const char *tokens_role_name(enum tokens_role role);
/* 0 or -EINVAL. */
int tokens_role_parse(const char *s, enum tokens_role *out);

/* Frees the entries; leaves s empty (a zeroed set is empty). */
void tokens_set_free(struct tokens_set *s);

/*
 * Parses file text (need not be NUL-terminated). Returns 0 with *out (the
 * caller's, free with tokens_set_free), or -EINVAL with "line N: <field>:
 * <reason>" in err, -EFBIG over TOKENS_MAX entries, -ENOMEM. On failure
 * *out holds nothing.
 */
int tokens_parse(const char *text, size_t len, struct tokens_set *out, char *err,
		 size_t errlen);

/* The file text for s (with a header comment); *out is the caller's
 * (free()). 0 or -ENOMEM. tokens_parse(tokens_format(s)) == s. */
int tokens_format(const struct tokens_set *s, char **out, size_t *outlen);

/*
 * Adds a token built from `random` (TOKENS_RANDOM_LEN bytes the caller got
 * from a CSPRNG). name may be NULL. Writes the user's token
 * ("stk_<id>_<secret>", NUL-terminated) into token (>= TOKENS_TOKEN_LEN + 1
 * bytes); the secret is nowhere else. Returns 0, -EINVAL (bad role or name:
 * err says which), -EEXIST (the id is taken: draw again), -EFBIG (full),
 * -ENOMEM.
 */
int tokens_create(struct tokens_set *s, enum tokens_role role, const char *name,
		  int64_t created, const unsigned char *random, char *token, size_t tokenlen,
		  char *err, size_t errlen);

/* Removes the entry with this id: 0 or -ENOENT. */
int tokens_revoke(struct tokens_set *s, const char *id);

/* The entry with this id, or NULL. */
const struct tokens_entry *tokens_find(const struct tokens_set *s, const char *id);

/*
 * Splits a user's token: 0 with the id copied into id (TOKENS_ID_LEN + 1
 * bytes) and *secret pointing into token; -EINVAL when it is not
 * "stk_<12 hex>_<64 hex>".
 */
int tokens_split(const char *token, char *id, const char **secret);

/*
 * Verifies a user's token against s: 0 with *role; -EINVAL malformed,
 * -ENOENT no such id (never issued or revoked), -EACCES wrong secret. The
 * hash comparison takes the same time whatever bytes differ.
 */
int tokens_verify(const struct tokens_set *s, const char *token, enum tokens_role *role);

/* Reads and parses path. -ENOENT when it does not exist; -EACCES when its
 * mode has group or other bits (err names the file and its mode); -EINVAL
 * when it is not a regular file or does not parse (err names file and
 * line); other negative errno from the system. */
int tokens_load(const char *path, struct tokens_set *out, char *err, size_t errlen);

/* Writes s to path atomically, mode 0600, its directory created 0700 when
 * missing. 0 or a negative errno with err naming the path. */
int tokens_save(const char *path, const struct tokens_set *s, char *err, size_t errlen);

/*
 * A token file a server checks requests against, re-read when it changes.
 * Thread-safe. tokens_store_open loads it once (a missing file is an empty
 * set; any other tokens_load failure fails the open).
 */
struct tokens_store;
int tokens_store_open(const char *path, struct tokens_store **out, char *err, size_t errlen);
void tokens_store_free(struct tokens_store *st);
/*
 * Looks at the file (stat: inode, size, mtime, ctime) when at least
 * interval_ms passed since the last look (now_ms is the caller's monotonic
 * clock), and re-reads it when it changed. Returns 0 when nothing changed
 * or it was not time yet, 1 after a successful re-read, or a negative
 * errno with err (the file is then unusable: the store holds no valid
 * token until a later re-read succeeds: fail closed). Only one caller does
 * the look; the others return 0 at once.
 */
int tokens_store_refresh(struct tokens_store *st, int64_t now_ms, int64_t interval_ms,
			 char *err, size_t errlen);
/* Entries now (0 for a missing file), and whether the last read failed. */
size_t tokens_store_count(struct tokens_store *st, bool *broken);
/* tokens_verify against the current entries. */
int tokens_store_verify(struct tokens_store *st, const char *token, enum tokens_role *role);

#endif
