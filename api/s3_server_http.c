#include "api/s3_server_http.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

/* End of the head: the byte after the first empty line, or 0. (memchr
 * from line end to line end: a signed request's head is ~400 bytes, and
 * every request in the S3 loops passes here.) */
static size_t head_end(const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len;
	while ((p = memchr(p, '\n', (size_t)(end - p)))) {
		size_t i = (size_t)(p - buf);
		if (i + 1 < len && buf[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
			return i + 3;
		p++;
	}
	return 0;
}

static bool is_tchar(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return true;
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
		return true;
	switch (c) {
	case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
	case '-': case '.': case '^': case '_': case '`': case '|': case '~':
		return true;
	default:
		return false;
	}
}

static bool value_byte_ok(unsigned char c)
{
	return !((c < 0x20 && c != '\t') || c == 0x7f);
}

/*
 * No control byte but tab in a field value. Eight bytes at a time: a word
 * with no byte under 0x20 and none equal to 0x7f is clean (the classic
 * has-less-than and has-zero tests), and only a word that may hold one is
 * looked at byte by byte (a tab sends its word there). An Authorization
 * value is ~200 bytes, checked for every signed request in the loops.
 */
static bool value_ok(const char *p, size_t n)
{
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t x, del;
		memcpy(&x, p + i, 8);
		del = x ^ (0x7f * ones);
		if (!(((x - 0x20 * ones) & ~x & highs) | ((del - ones) & ~del & highs)))
			continue;
		for (size_t j = i; j < i + 8; j++)
			if (!value_byte_ok((unsigned char)p[j]))
				return false;
	}
	for (; i < n; i++)
		if (!value_byte_ok((unsigned char)p[i]))
			return false;
	return true;
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static struct s3fh_str trim(const char *p, size_t len)
{
	while (len && is_ows(*p)) {
		p++;
		len--;
	}
	while (len && is_ows(p[len - 1]))
		len--;
	return (struct s3fh_str){ p, len };
}

static bool eq(struct s3fh_str s, const char *lit)
{
	size_t n = strlen(lit);
	return s.len == n && strncasecmp(s.p, lit, n) == 0;
}

/* Strict decimal (1..19 digits, nothing else). */
static int parse_u64(struct s3fh_str s, uint64_t *out)
{
	if (s.len == 0 || s.len > 19)
		return -EINVAL;
	uint64_t v = 0;
	for (size_t i = 0; i < s.len; i++) {
		if (s.p[i] < '0' || s.p[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(s.p[i] - '0');
	}
	*out = v;
	return 0;
}

/* Calls fn for each comma-separated, trimmed, non-empty element. */
static void each_token(struct s3fh_str v, void (*fn)(struct s3fh_str t, void *arg), void *arg)
{
	size_t start = 0;
	for (size_t i = 0; i <= v.len; i++) {
		if (i == v.len || v.p[i] == ',') {
			struct s3fh_str t = trim(v.p + start, i - start);
			if (t.len)
				fn(t, arg);
			start = i + 1;
		}
	}
}

static void conn_token(struct s3fh_str t, void *arg)
{
	bool *flags = arg;
	if (eq(t, "close"))
		flags[0] = true;
	else if (eq(t, "keep-alive"))
		flags[1] = true;
}

struct te_scan {
	unsigned n;
	bool last_chunked;
};

static void te_token(struct s3fh_str t, void *arg)
{
	struct te_scan *s = arg;
	s->n++;
	s->last_chunked = eq(t, "chunked");
}

/* Next line of [p, end): its length without the line end; *next after it. */
static size_t line_of(const char *p, const char *end, const char **next)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	if (!nl)
		nl = end;
	*next = nl < end ? nl + 1 : end;
	size_t n = (size_t)(nl - p);
	if (n && p[n - 1] == '\r')
		n--;
	return n;
}

/* "HTTP/1.x" -> x (0 or 1), else -1. */
static int version_minor(const char *p, size_t len)
{
	if (len != 8 || memcmp(p, "HTTP/1.", 7) != 0)
		return -1;
	return p[7] == '0' ? 0 : p[7] == '1' ? 1 : -1;
}

/* Header fields common to requests and responses. */
struct fields {
	bool has_length;
	uint64_t length;
	bool chunked, te;
	bool conn[2]; /* close, keep-alive */
	bool expect, conditional, authorization;
	unsigned nrange;
	struct s3fh_str range;
	unsigned n;
	struct s3fh_field *out; /* NULL, or S3FH_MAX_HEADERS slots for every line */
};

static int parse_fields(const char *p, const char *end, struct fields *f,
			struct s3fh_field *out)
{
	memset(f, 0, sizeof(*f));
	f->out = out;
	while (p < end) {
		const char *next;
		size_t n = line_of(p, end, &next);
		if (n == 0)
			break; /* the empty line */
		if (is_ows(*p))
			return -EINVAL; /* obsolete line folding */
		const char *colon = memchr(p, ':', n);
		if (!colon || colon == p)
			return -EINVAL;
		struct s3fh_str name = { p, (size_t)(colon - p) };
		for (size_t i = 0; i < name.len; i++)
			if (!is_tchar((unsigned char)name.p[i]))
				return -EINVAL;
		struct s3fh_str value = trim(colon + 1, n - name.len - 1);
		if (!value_ok(value.p, value.len))
			return -EINVAL;
		if (++f->n > S3FH_MAX_HEADERS)
			return -EINVAL;
		if (f->out)
			f->out[f->n - 1] = (struct s3fh_field){ name, value };
		if (eq(name, "Content-Length")) {
			uint64_t v;
			if (parse_u64(value, &v) || (f->has_length && v != f->length))
				return -EINVAL;
			f->has_length = true;
			f->length = v;
		} else if (eq(name, "Transfer-Encoding")) {
			struct te_scan s = { 0, false };
			each_token(value, te_token, &s);
			if (s.n == 0 || !s.last_chunked || f->te)
				return -EINVAL;
			f->te = f->chunked = true;
		} else if (eq(name, "Connection")) {
			each_token(value, conn_token, f->conn);
		} else if (eq(name, "Expect")) {
			f->expect = true;
		} else if (eq(name, "Authorization")) {
			f->authorization = true;
		} else if (eq(name, "Range")) {
			f->nrange++;
			f->range = value;
		} else if (name.len > 3 && strncasecmp(name.p, "If-", 3) == 0) {
			f->conditional = true;
		}
		p = next;
	}
	if (f->has_length && f->te)
		return -EINVAL;
	return 0;
}

int s3fh_parse_request(const char *buf, size_t len, struct s3fh_request *out)
{
	size_t hl = head_end(buf, len);
	if (!hl)
		return 0;
	const char *end = buf + hl, *p = buf, *next;
	/* Empty lines before the request line are allowed (RFC 9112 2.2). */
	size_t n = line_of(p, end, &next);
	while (n == 0 && next < end) {
		p = next;
		n = line_of(p, end, &next);
	}
	if (n == 0)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->head_len = hl;
	const char *sp1 = memchr(p, ' ', n);
	if (!sp1 || sp1 == p)
		return -EINVAL;
	const char *sp2 = memchr(sp1 + 1, ' ', (size_t)(p + n - sp1 - 1));
	if (!sp2 || sp2 == sp1 + 1)
		return -EINVAL;
	out->method = (struct s3fh_str){ p, (size_t)(sp1 - p) };
	for (size_t i = 0; i < out->method.len; i++)
		if (!is_tchar((unsigned char)p[i]))
			return -EINVAL;
	out->target = (struct s3fh_str){ sp1 + 1, (size_t)(sp2 - sp1 - 1) };
	for (size_t i = 0; i < out->target.len; i++) {
		unsigned char c = (unsigned char)out->target.p[i];
		if (c <= 0x20 || c == 0x7f)
			return -EINVAL;
	}
	out->minor = version_minor(sp2 + 1, (size_t)(p + n - sp2 - 1));
	if (out->minor < 0)
		return -EINVAL;
	struct fields f;
	if (parse_fields(next, end, &f, out->fields))
		return -EINVAL;
	out->has_length = f.has_length;
	out->content_length = f.length;
	out->chunked = f.chunked;
	out->conn_close = f.conn[0];
	out->conn_keep_alive = f.conn[1];
	out->expect = f.expect;
	out->conditional = f.conditional;
	out->authorization = f.authorization;
	out->nrange = f.nrange;
	out->range = f.range;
	out->nheaders = f.n;
	return 1;
}

bool s3fh_keep_alive(const struct s3fh_request *r)
{
	if (r->conn_close)
		return false;
	return r->minor >= 1 || r->conn_keep_alive;
}

int s3fh_parse_response(const char *buf, size_t len, struct s3fh_response *out)
{
	size_t hl = head_end(buf, len);
	if (!hl)
		return 0;
	const char *end = buf + hl, *next;
	size_t n = line_of(buf, end, &next);
	memset(out, 0, sizeof(*out));
	out->head_len = hl;
	/* "HTTP/1.x NNN" then an optional reason. */
	if (n < 12 || buf[8] != ' ' || (n > 12 && buf[12] != ' '))
		return -EINVAL;
	out->minor = version_minor(buf, 8);
	if (out->minor < 0)
		return -EINVAL;
	int status = 0;
	for (int i = 9; i < 12; i++) {
		if (buf[i] < '0' || buf[i] > '9')
			return -EINVAL;
		status = status * 10 + (buf[i] - '0');
	}
	if (status < 100)
		return -EINVAL;
	out->status = status;
	struct fields f;
	if (parse_fields(next, end, &f, NULL))
		return -EINVAL;
	out->has_length = f.has_length;
	out->content_length = f.length;
	out->chunked = f.chunked;
	out->conn_close = f.conn[0] || (out->minor == 0 && !f.conn[1]);
	return 1;
}

enum {
	CH_SIZE,     /* hex digits */
	CH_EXT,      /* ;extension up to the line end */
	CH_SIZE_LF,  /* after CR of the size line */
	CH_DATA,
	CH_DATA_CR,  /* CRLF after data */
	CH_DATA_LF,
	CH_TRAILER_START, /* start of a trailer line or the final empty line */
	CH_TRAILER,  /* inside a trailer line */
	CH_TRAILER_LF,
	CH_END_LF,   /* CR of the final empty line seen */
};

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

long s3fh_chunked_feed(struct s3fh_chunked *st, const char *data, size_t len)
{
	size_t i = 0;
	while (i < len && !st->done) {
		char c = data[i];
		switch (st->state) {
		case CH_SIZE: {
			int h = hexval(c);
			if (h >= 0) {
				if (st->left >> 60)
					return -EINVAL;
				st->left = st->left * 16 + (uint64_t)h;
				st->ndigits++;
				i++;
				break;
			}
			if (st->ndigits == 0)
				return -EINVAL;
			if (c == ';' || c == ' ' || c == '\t')
				st->state = CH_EXT;
			else if (c == '\r')
				st->state = CH_SIZE_LF;
			else if (c == '\n')
				st->state = st->left ? CH_DATA : CH_TRAILER_START;
			else
				return -EINVAL;
			i++;
			break;
		}
		case CH_EXT:
			if (c == '\r')
				st->state = CH_SIZE_LF;
			else if (c == '\n')
				st->state = st->left ? CH_DATA : CH_TRAILER_START;
			i++;
			break;
		case CH_SIZE_LF:
			if (c != '\n')
				return -EINVAL;
			st->state = st->left ? CH_DATA : CH_TRAILER_START;
			i++;
			break;
		case CH_DATA: {
			size_t take = len - i;
			if (take > st->left)
				take = (size_t)st->left;
			st->left -= take;
			i += take;
			if (!st->left)
				st->state = CH_DATA_CR;
			break;
		}
		case CH_DATA_CR:
			if (c == '\n') {
				st->state = CH_SIZE;
				st->ndigits = 0;
			} else if (c == '\r') {
				st->state = CH_DATA_LF;
			} else {
				return -EINVAL;
			}
			i++;
			break;
		case CH_DATA_LF:
			if (c != '\n')
				return -EINVAL;
			st->state = CH_SIZE;
			st->ndigits = 0;
			i++;
			break;
		case CH_TRAILER_START:
			if (c == '\r')
				st->state = CH_END_LF;
			else if (c == '\n')
				st->done = true;
			else
				st->state = CH_TRAILER;
			i++;
			break;
		case CH_TRAILER:
			if (c == '\r')
				st->state = CH_TRAILER_LF;
			else if (c == '\n')
				st->state = CH_TRAILER_START;
			i++;
			break;
		case CH_TRAILER_LF:
			if (c != '\n')
				return -EINVAL;
			st->state = CH_TRAILER_START;
			i++;
			break;
		case CH_END_LF:
			if (c != '\n')
				return -EINVAL;
			st->done = true;
			i++;
			break;
		default:
			return -EINVAL;
		}
	}
	return (long)i;
}

const char *s3fh_reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 206:
		return "Partial Content";
	case 400:
		return "Bad Request";
	case 416:
		return "Range Not Satisfiable";
	case 500:
		return "Internal Server Error";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	default:
		return "Unknown";
	}
}
