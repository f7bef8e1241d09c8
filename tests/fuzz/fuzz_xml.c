/* libFuzzer target: lib/xml.c on arbitrary bytes, then a walk of the tree. */
#include "lib/xml.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t walk(const struct xml_node *n, unsigned depth)
{
	size_t total = 0;
	for (; n; n = n->next) {
		if (strlen(n->text) != n->text_len || depth > XML_MAX_DEPTH)
			__builtin_trap();
		total += n->text_len + walk(n->children, depth + 1);
		(void)xml_child_text(n, "Key");
	}
	return total;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xml_node *root = NULL;
	char err[128];
	if (xml_parse((const char *)data, size, &root, err, sizeof(err)) == 0) {
		(void)walk(root, 1);
		xml_free(root);
	}
	return 0;
}
