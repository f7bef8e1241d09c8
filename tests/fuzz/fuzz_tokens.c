/* Fuzzes the token file parser (lib/tokens.c): any bytes as a token file.
 * Contract: what parses formats back to text that parses to the same
 * entries; any bytes as a presented token verify without a crash and never
 * as valid against entries whose secrets nobody knows. */
#include "lib/tokens.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tokens_set s = { 0 }, back = { 0 };
	char err[512];
	if (tokens_parse((const char *)data, size, &s, err, sizeof(err)) == 0) {
		char *text = NULL;
		size_t len = 0;
		if (tokens_format(&s, &text, &len) == 0) {
			if (tokens_parse(text, len, &back, err, sizeof(err)) != 0 || back.n != s.n ||
			    (s.n && memcmp(back.v, s.v, s.n * sizeof(*s.v)) != 0))
				abort();
			free(text);
		}
		tokens_set_free(&back);
	}
	char tok[256];
	size_t n = size < sizeof(tok) - 1 ? size : sizeof(tok) - 1;
	memcpy(tok, data, n);
	tok[n] = '\0';
	enum tokens_role role;
	if (tokens_verify(&s, tok, &role) == 0 && s.n && strstr((const char *)tok, "stk_") != tok)
		abort();
	tokens_set_free(&s);
	return 0;
}
