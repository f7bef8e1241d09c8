#include "lib/xml.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The public node plus the text buffer's capacity, private to the parser. */
struct xml_pnode {
	struct xml_node pub;
	size_t text_cap;
	struct xml_node *last_child;
};

struct xml_parser {
	const char *p;   /* cursor */
	const char *end; /* one past the last byte */
	const char *start;
	size_t nnodes;
	char *err;
	size_t errlen;
};

static int xp_fail(struct xml_parser *xp, int rc, const char *what)
{
	if (xp->err && xp->errlen)
		snprintf(xp->err, xp->errlen, "XML at byte %zu: %s", (size_t)(xp->p - xp->start),
			 what);
	return rc;
}

static bool at(const struct xml_parser *xp, const char *lit)
{
	size_t n = strlen(lit);
	return (size_t)(xp->end - xp->p) >= n && memcmp(xp->p, lit, n) == 0;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void skip_space(struct xml_parser *xp)
{
	while (xp->p < xp->end && is_space(*xp->p))
		xp->p++;
}

static bool name_start(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == ':' ||
	       c >= 0x80;
}

static bool name_char(unsigned char c)
{
	return name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

/* Skips past the terminator lit; -EINVAL if it never comes. */
static int skip_until(struct xml_parser *xp, const char *lit, const char *what)
{
	size_t n = strlen(lit);
	while ((size_t)(xp->end - xp->p) >= n) {
		if (memcmp(xp->p, lit, n) == 0) {
			xp->p += n;
			return 0;
		}
		xp->p++;
	}
	return xp_fail(xp, -EINVAL, what);
}

static int text_append(struct xml_parser *xp, struct xml_pnode *n, const char *s, size_t len)
{
	struct xml_node *pub = &n->pub;
	if (pub->text_len + len + 1 > n->text_cap) {
		size_t cap = n->text_cap ? n->text_cap : 32;
		while (cap < pub->text_len + len + 1)
			cap *= 2;
		char *grown = realloc(pub->text, cap);
		if (!grown)
			return xp_fail(xp, -ENOMEM, "out of memory");
		pub->text = grown;
		n->text_cap = cap;
	}
	memcpy(pub->text + pub->text_len, s, len);
	pub->text_len += len;
	pub->text[pub->text_len] = '\0';
	return 0;
}

static size_t utf8_encode(uint32_t cp, char out[4])
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* Decodes the entity at xp->p ('&') into out; advances past ';'. */
static int decode_entity(struct xml_parser *xp, char out[4], size_t *outlen)
{
	const char *semi = NULL;
	for (const char *q = xp->p + 1; q < xp->end && q - xp->p <= 12; q++)
		if (*q == ';') {
			semi = q;
			break;
		}
	if (!semi)
		return xp_fail(xp, -EINVAL, "unterminated entity reference");
	const char *name = xp->p + 1;
	size_t nlen = (size_t)(semi - name);
	static const struct {
		const char *name;
		char c;
	} predefined[] = { { "amp", '&' }, { "lt", '<' }, { "gt", '>' }, { "quot", '"' },
			   { "apos", '\'' } };
	for (size_t i = 0; i < sizeof(predefined) / sizeof(predefined[0]); i++) {
		if (strlen(predefined[i].name) == nlen && memcmp(name, predefined[i].name, nlen) == 0) {
			out[0] = predefined[i].c;
			*outlen = 1;
			xp->p = semi + 1;
			return 0;
		}
	}
	if (nlen < 2 || name[0] != '#')
		return xp_fail(xp, -EINVAL, "unknown entity");
	uint32_t cp = 0;
	bool hex = name[1] == 'x';
	const char *d = name + (hex ? 2 : 1);
	if (d == semi)
		return xp_fail(xp, -EINVAL, "empty character reference");
	for (; d < semi; d++) {
		unsigned v;
		if (*d >= '0' && *d <= '9')
			v = (unsigned)(*d - '0');
		else if (hex && *d >= 'a' && *d <= 'f')
			v = (unsigned)(*d - 'a' + 10);
		else if (hex && *d >= 'A' && *d <= 'F')
			v = (unsigned)(*d - 'A' + 10);
		else
			return xp_fail(xp, -EINVAL, "bad character reference");
		cp = cp * (hex ? 16 : 10) + v;
		if (cp > 0x10FFFF)
			return xp_fail(xp, -EINVAL, "character reference out of range");
	}
	if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF))
		return xp_fail(xp, -EINVAL, "character reference not allowed");
	*outlen = utf8_encode(cp, out);
	xp->p = semi + 1;
	return 0;
}

/* Character data up to the next '<' (entities decoded) into n's text. */
static int parse_text(struct xml_parser *xp, struct xml_pnode *n)
{
	while (xp->p < xp->end && *xp->p != '<') {
		const char *run = xp->p;
		while (xp->p < xp->end && *xp->p != '<' && *xp->p != '&' && *xp->p != '\0')
			xp->p++;
		if (xp->p > run) {
			if (!n) {
				for (const char *q = run; q < xp->p; q++)
					if (!is_space(*q))
						return xp_fail(xp, -EINVAL, "text outside the root");
			} else {
				int rc = text_append(xp, n, run, (size_t)(xp->p - run));
				if (rc)
					return rc;
			}
		}
		if (xp->p < xp->end && *xp->p == '\0')
			return xp_fail(xp, -EINVAL, "NUL byte");
		if (xp->p < xp->end && *xp->p == '&') {
			if (!n)
				return xp_fail(xp, -EINVAL, "text outside the root");
			char buf[4];
			size_t blen;
			int rc = decode_entity(xp, buf, &blen);
			if (rc || (rc = text_append(xp, n, buf, blen)))
				return rc;
		}
	}
	return 0;
}

static int parse_name(struct xml_parser *xp, const char **name, size_t *len)
{
	if (xp->p >= xp->end || !name_start((unsigned char)*xp->p))
		return xp_fail(xp, -EINVAL, "expected a name");
	*name = xp->p;
	while (xp->p < xp->end && name_char((unsigned char)*xp->p))
		xp->p++;
	*len = (size_t)(xp->p - *name);
	return 0;
}

/* name="value" or name='value': checked (entities too), then dropped. */
static int parse_attribute(struct xml_parser *xp)
{
	const char *name;
	size_t nlen;
	int rc = parse_name(xp, &name, &nlen);
	if (rc)
		return rc;
	skip_space(xp);
	if (xp->p >= xp->end || *xp->p != '=')
		return xp_fail(xp, -EINVAL, "expected '=' after attribute name");
	xp->p++;
	skip_space(xp);
	if (xp->p >= xp->end || (*xp->p != '"' && *xp->p != '\''))
		return xp_fail(xp, -EINVAL, "expected a quoted attribute value");
	char quote = *xp->p++;
	while (xp->p < xp->end && *xp->p != quote) {
		if (*xp->p == '<' || *xp->p == '\0')
			return xp_fail(xp, -EINVAL, "bad character in attribute value");
		if (*xp->p == '&') {
			char buf[4];
			size_t blen;
			if ((rc = decode_entity(xp, buf, &blen)))
				return rc;
		} else {
			xp->p++;
		}
	}
	if (xp->p >= xp->end)
		return xp_fail(xp, -EINVAL, "unterminated attribute value");
	xp->p++;
	return 0;
}

static struct xml_pnode *node_new(struct xml_parser *xp, struct xml_pnode *parent,
				  const char *name, size_t nlen)
{
	if (++xp->nnodes > XML_MAX_NODES) {
		xp_fail(xp, -E2BIG, "too many elements");
		return NULL;
	}
	struct xml_pnode *n = calloc(1, sizeof(*n));
	if (!n || !(n->pub.name = strndup(name, nlen)) || !(n->pub.text = calloc(1, 1))) {
		if (n)
			free(n->pub.name);
		free(n);
		xp_fail(xp, -ENOMEM, "out of memory");
		return NULL;
	}
	n->text_cap = 1;
	if (parent) {
		n->pub.parent = &parent->pub;
		if (parent->last_child)
			parent->last_child->next = &n->pub;
		else
			parent->pub.children = &n->pub;
		parent->last_child = &n->pub;
	}
	return n;
}

/* Comments, PIs, CDATA, DOCTYPE at xp->p == '<'. Returns 1 if handled. */
static int parse_markup(struct xml_parser *xp, struct xml_pnode *cur)
{
	int rc;
	if (at(xp, "<!--")) {
		xp->p += 4;
		rc = skip_until(xp, "-->", "unterminated comment");
		return rc ? rc : 1;
	}
	if (at(xp, "<?")) {
		xp->p += 2;
		rc = skip_until(xp, "?>", "unterminated processing instruction");
		return rc ? rc : 1;
	}
	if (at(xp, "<![CDATA[")) {
		if (!cur)
			return xp_fail(xp, -EINVAL, "CDATA outside the root");
		xp->p += 9;
		const char *s = xp->p;
		if ((rc = skip_until(xp, "]]>", "unterminated CDATA")))
			return rc;
		if (memchr(s, '\0', (size_t)(xp->p - 3 - s)))
			return xp_fail(xp, -EINVAL, "NUL byte");
		rc = text_append(xp, cur, s, (size_t)(xp->p - 3 - s));
		return rc ? rc : 1;
	}
	if (at(xp, "<!"))
		return xp_fail(xp, -EINVAL, "DOCTYPE and declarations are not supported");
	return 0;
}

static void node_free(struct xml_node *n)
{
	while (n) {
		struct xml_node *next = n->next;
		node_free(n->children); /* depth is capped at XML_MAX_DEPTH */
		free(n->name);
		free(n->text);
		free(n);
		n = next;
	}
}

void xml_free(struct xml_node *root)
{
	node_free(root);
}

static int parse_doc(struct xml_parser *xp, struct xml_pnode **rootp)
{
	struct xml_pnode *root = NULL, *cur = NULL;
	unsigned depth = 0;
	bool done = false;
	int rc;

	if (at(xp, "\xEF\xBB\xBF"))
		xp->p += 3;
	for (;;) {
		if ((rc = parse_text(xp, cur)))
			return rc;
		if (xp->p >= xp->end)
			break;
		if ((rc = parse_markup(xp, cur)) < 0)
			return rc;
		if (rc == 1)
			continue;
		if (at(xp, "</")) {
			if (!cur)
				return xp_fail(xp, -EINVAL, "end tag without start tag");
			xp->p += 2;
			const char *name;
			size_t nlen;
			if ((rc = parse_name(xp, &name, &nlen)))
				return rc;
			if (nlen != strlen(cur->pub.name) || memcmp(name, cur->pub.name, nlen) != 0)
				return xp_fail(xp, -EINVAL, "mismatched end tag");
			skip_space(xp);
			if (xp->p >= xp->end || *xp->p != '>')
				return xp_fail(xp, -EINVAL, "expected '>'");
			xp->p++;
			cur = cur->pub.parent ? (struct xml_pnode *)cur->pub.parent : NULL;
			depth--;
			if (!cur)
				done = true;
			continue;
		}
		/* a start tag */
		if (done)
			return xp_fail(xp, -EINVAL, "more than one root element");
		xp->p++;
		const char *name;
		size_t nlen;
		if ((rc = parse_name(xp, &name, &nlen)))
			return rc;
		if (depth + 1 > XML_MAX_DEPTH)
			return xp_fail(xp, -E2BIG, "elements nested too deep");
		struct xml_pnode *n = node_new(xp, cur, name, nlen);
		if (!n)
			return xp->nnodes > XML_MAX_NODES ? -E2BIG : -ENOMEM;
		if (!root)
			root = *rootp = n;
		bool empty = false;
		for (;;) {
			bool had_space = xp->p < xp->end && is_space(*xp->p);
			skip_space(xp);
			if (at(xp, "/>")) {
				xp->p += 2;
				empty = true;
				break;
			}
			if (at(xp, ">")) {
				xp->p++;
				break;
			}
			if (xp->p >= xp->end)
				return xp_fail(xp, -EINVAL, "unterminated start tag");
			if (!had_space)
				return xp_fail(xp, -EINVAL, "expected space before attribute");
			if ((rc = parse_attribute(xp)))
				return rc;
		}
		if (empty) {
			if (!cur)
				done = true;
		} else {
			cur = n;
			depth++;
		}
	}
	if (!root)
		return xp_fail(xp, -EINVAL, "no root element");
	if (cur)
		return xp_fail(xp, -EINVAL, "unclosed element");
	return 0;
}

int xml_parse(const char *data, size_t len, struct xml_node **root, char *err, size_t errlen)
{
	struct xml_parser xp = { .p = data, .end = data + len, .start = data, .err = err,
				 .errlen = errlen };
	struct xml_pnode *doc = NULL;
	if (len > XML_MAX_INPUT)
		return xp_fail(&xp, -E2BIG, "document too large");
	int rc = parse_doc(&xp, &doc);
	if (rc) {
		xml_free(doc ? &doc->pub : NULL);
		return rc;
	}
	*root = &doc->pub;
	return 0;
}

const char *xml_local_name(const struct xml_node *node)
{
	const char *colon = strrchr(node->name, ':');
	return colon ? colon + 1 : node->name;
}

const struct xml_node *xml_child(const struct xml_node *node, const char *name)
{
	for (const struct xml_node *c = node ? node->children : NULL; c; c = c->next)
		if (strcmp(xml_local_name(c), name) == 0)
			return c;
	return NULL;
}

const struct xml_node *xml_next(const struct xml_node *node, const char *name)
{
	for (const struct xml_node *c = node ? node->next : NULL; c; c = c->next)
		if (strcmp(xml_local_name(c), name) == 0)
			return c;
	return NULL;
}

const char *xml_child_text(const struct xml_node *node, const char *name)
{
	const struct xml_node *c = xml_child(node, name);
	return c ? c->text : NULL;
}
