/*
 * strata-gen-conf: prints the packaged /etc/strata/strata.conf, every key of
 * lib/conf.h's table commented out with its default and its documentation.
 * Built and run at build time only (not installed); see CMakeLists.txt.
 * Usage: strata-gen-conf [--uncommented] OUT   (--uncommented: the same keys
 * as live settings, which the packaging test parses to prove the file matches
 * the table). Writes OUT; exits 1 on a write error.
 */
#include "lib/conf.h"

#include <stdio.h>
#include <string.h>

/* Prints text as "# " lines no wider than width columns. */
static void print_wrapped(const char *text, size_t width)
{
	const char *p = text;
	while (*p) {
		size_t room = width - 2, n = strlen(p);
		if (n > room) {
			n = room;
			while (n > 0 && p[n] != ' ')
				n--;
			if (n == 0)
				n = room;
		}
		printf("# %.*s\n", (int)n, p);
		p += n;
		while (*p == ' ')
			p++;
	}
}

int main(int argc, char **argv)
{
	int live = argc > 2 && strcmp(argv[1], "--uncommented") == 0;
	if (argc != 2 + live) {
		fprintf(stderr, "usage: strata-gen-conf [--uncommented] OUT\n");
		return 2;
	}
	if (!freopen(argv[1 + live], "w", stdout)) {
		perror(argv[1 + live]);
		return 1;
	}
	size_t n;
	const struct conf_key *keys = conf_keys(&n);
	printf("# /etc/strata/strata.conf: configuration of strata-master and strata-worker\n"
	       "# (strata %s). Generated from the daemons' configuration table: every key\n"
	       "# is listed, commented out, with its default. Uncomment a line to change it.\n"
	       "# Later sources win: this file, then STRATA_<KEY> environment variables\n"
	       "# (dots as underscores, upper case), then --set KEY=VALUE.\n",
	       STRATA_VERSION);
	for (size_t i = 0; i < n; i++) {
		printf("\n");
		print_wrapped(keys[i].doc, 78);
		if (keys[i].type == CONF_ENUM)
			printf("# Type: enum, one of %s.\n", keys[i].choices);
		else
			printf("# Type: %s.\n", conf_type_name(keys[i].type));
		printf("%s%s = %s\n", live ? "" : "#", keys[i].name, keys[i].def);
	}
	return fflush(stdout) != 0 || ferror(stdout) ? 1 : 0;
}
