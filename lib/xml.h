#ifndef STRATA_LIB_XML_H
#define STRATA_LIB_XML_H

#include <stddef.h>

/*
 * A small, strict, non-validating XML reader, enough for S3 documents
 * (ListBucketResult, Error, InitiateMultipartUploadResult, and on the
 * gateway side CompleteMultipartUpload and Delete bodies).
 *
 * It builds a tree of elements with their character data. Understood:
 * elements, attributes (checked, then dropped), character data, CDATA,
 * the five predefined entities and numeric character references, comments
 * and processing instructions (skipped, including <?xml ...?>). Refused:
 * DOCTYPE (so no entity expansion), mismatched or unclosed tags, stray '&',
 * NUL bytes, more than one root, text outside the root. Hostile input
 * cannot crash it: input size, nesting depth and node count are capped.
 */

#define XML_MAX_INPUT (32u * 1024 * 1024)
#define XML_MAX_DEPTH 64
#define XML_MAX_NODES 262144

struct xml_node {
	char *name;      /* as written, with any "prefix:" */
	char *text;      /* character data directly inside, decoded; never NULL */
	size_t text_len; /* bytes in text (it has no NUL inside) */
	struct xml_node *parent;
	struct xml_node *children; /* first child element */
	struct xml_node *next;     /* next sibling element */
};

/*
 * Parses data[0..len). On success *root is the document element, owned by
 * the caller (xml_free). On failure returns -EINVAL (malformed; err says
 * where), -E2BIG (a limit was hit) or -ENOMEM, and *root is untouched.
 */
int xml_parse(const char *data, size_t len, struct xml_node **root, char *err, size_t errlen);
void xml_free(struct xml_node *root);

/* Element name without its namespace prefix ("s3:Key" -> "Key"). */
const char *xml_local_name(const struct xml_node *node);
/* First child element whose local name is name, or NULL. */
const struct xml_node *xml_child(const struct xml_node *node, const char *name);
/* Next sibling after node with the same local name as name, or NULL. */
const struct xml_node *xml_next(const struct xml_node *node, const char *name);
/* Text of the first child named name, or NULL when there is no such child. */
const char *xml_child_text(const struct xml_node *node, const char *name);

#endif
