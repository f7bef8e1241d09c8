/* bench/tokens_bench: the in-process cost of one REST token check (what
 * api/http_auth.c does per request with auth on): the once-a-second look
 * at the file (a clock read and an atomic compare in between) and
 * tokens_store_verify (a lookup by id and one SHA-256 of 48 bytes), for a
 * file of N tokens. bench/rest_auth.sh runs it beside the HTTP figure.
 *
 *   tokens_bench [NTOKENS] [ITERATIONS]      (defaults 100, 1000000) */
#include "lib/clock.h"
#include "lib/tokens.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long ntokens = argc > 1 ? atol(argv[1]) : 100;
	long iters = argc > 2 ? atol(argv[2]) : 1000000;
	if (ntokens < 1 || ntokens > TOKENS_MAX || iters < 1) {
		fprintf(stderr, "usage: tokens_bench [NTOKENS 1..%d] [ITERATIONS]\n", TOKENS_MAX);
		return 2;
	}
	char dir[] = "/tmp/strata-tokens-bench-XXXXXX", path[64], err[512];
	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/tokens", dir);
	struct tokens_set s = { 0 };
	char token[TOKENS_TOKEN_LEN + 1] = "";
	for (long i = 0; i < ntokens; i++) {
		unsigned char rnd[TOKENS_RANDOM_LEN];
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd) ||
		    tokens_create(&s, TOKENS_ROLE_READONLY, "bench", 0, rnd, token, sizeof(token),
				  err, sizeof(err))) {
			fprintf(stderr, "tokens_bench: %s\n", err);
			return 1;
		}
	}
	/* The last token made is the one checked: the lookup walks them all. */
	struct tokens_store *st;
	if (tokens_save(path, &s, err, sizeof(err)) ||
	    tokens_store_open(path, &st, err, sizeof(err))) {
		fprintf(stderr, "tokens_bench: %s\n", err);
		return 1;
	}
	enum tokens_role role;
	int64_t t0 = clock_mono_ms(), bad = 0;
	for (long i = 0; i < iters; i++) {
		tokens_store_refresh(st, clock_mono_ms(), 1000, err, sizeof(err));
		bad += tokens_store_verify(st, token, &role) != 0;
	}
	int64_t ms = clock_mono_ms() - t0;
	printf("figure: token check in process: %.2f us per check (%ld tokens in the file, "
	       "%ld checks in %lld ms)%s\n",
	       ms * 1000.0 / (double)iters, ntokens, iters, (long long)ms,
	       bad ? " SOME FAILED" : "");
	tokens_store_free(st);
	tokens_set_free(&s);
	unlink(path);
	rmdir(dir);
	return bad ? 1 : 0;
}
