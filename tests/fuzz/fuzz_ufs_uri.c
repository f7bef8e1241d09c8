/*
 * Fuzzes what a mount request hands the under-store layer: the store URI
 * and the mount options (ufs_open parses both and does no I/O), and the
 * duration syntax of sync_interval/ttl options (conf_parse_duration).
 * Input: the URI, a NUL, then "key=value" options one per line. Properties:
 * no crash or leak; a refusal says why; an accepted store reports the
 * scheme it was asked for.
 */
#include "lib/conf.h"
#include "ufs/ufs.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
	if (!cond)
		abort();
}

#define MAX_OPTS 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 8192)
		return 0;
	char *buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	const char *uri = buf;
	size_t ulen = strlen(buf);
	struct ufs_opt opts[MAX_OPTS];
	size_t n = 0;
	char *line = ulen < size ? buf + ulen + 1 : NULL;
	while (line && *line && n < MAX_OPTS) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		char *eq = strchr(line, '=');
		if (eq) {
			*eq = '\0';
			opts[n].key = line;
			opts[n].value = eq + 1;
			n++;
			int64_t ms;
			if (conf_parse_duration(eq + 1, &ms) == 0)
				check(ms >= 0);
		}
		line = nl ? nl + 1 : NULL;
	}
	/* Local stores would open real directories: only the S3 driver's
	 * parsing is exercised for file:// by prefixing nothing else. */
	if (strncmp(uri, "file://", 7) != 0) {
		struct ufs *u = NULL;
		char err[512] = "";
		int rc = ufs_open(uri, opts, n, &u, err, sizeof(err));
		if (rc == 0) {
			const char *colon = strstr(uri, "://");
			check(u && colon &&
			      strncmp(ufs_scheme(u), uri, (size_t)(colon - uri)) == 0);
			ufs_close(u);
		} else {
			check(rc < 0 && err[0] != '\0');
		}
	}
	free(buf);
	return 0;
}
