/* Fuzzes the configuration parser (lib/conf.c): any bytes as a config file,
 * and the first line also as a size, duration and bool. */
#include "lib/conf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strata_conf c;
	char err[512];
	conf_init(&c);
	conf_parse_text(&c, (const char *)data, size, "fuzz.conf", err, sizeof(err));
	size_t n;
	const struct conf_key *keys = conf_keys(&n);
	char buf[4096];
	for (size_t i = 0; i < n; i++)
		conf_format(&c, &keys[i], buf, sizeof(buf));
	conf_free(&c);

	char line[256];
	size_t len = size < sizeof(line) - 1 ? size : sizeof(line) - 1;
	memcpy(line, data, len);
	line[len] = '\0';
	int64_t v;
	bool b;
	conf_parse_size(line, &v);
	conf_parse_duration(line, &v);
	conf_parse_bool(line, &b);
	return 0;
}
