/*
 * The streaming transcoder: JSON text to Python json.dumps() text (", "
 * and ": " separators, ensure_ascii, floats as repr) without building a
 * jansson tree. It must write exactly what pyjson_dump(pyjson_load(text))
 * writes, for every text it accepts; it accepts a subset of what jansson
 * accepts (tests/fuzz/fuzz_pyjson.c checks both), and gives up (-1) on
 * anything else, leaving the caller to take the jansson path.
 */
#include <errno.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pyjson.h"

static const char hexdig[] = "0123456789abcdef";

/* 1: a byte copied as is inside a string (' '..'~' but '"' and '\\'). */
static const unsigned char plain[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

/* Append n bytes; -1 when out is full. */
static inline int
put(struct buf *b, const void *p, size_t n)
{
	if (b->cap - b->len > n && b->len + n <= b->max) {
		memcpy(b->data + b->len, p, n);
		b->len += n;
		return 0;
	}
	return buf_append(b, p, n);
}

/* \uXXXX (pyjson.c writes its escapes with it too). */
int
pyjson_put_u16(struct buf *b, unsigned v)
{
	char e[6] = {'\\',
		     'u',
		     hexdig[(v >> 12) & 15],
		     hexdig[(v >> 8) & 15],
		     hexdig[(v >> 4) & 15],
		     hexdig[v & 15]};

	return put(b, e, sizeof(e));
}

/* One code point (not NUL, not a surrogate) as pyjson_string writes it. */
static int
put_cp(struct buf *b, unsigned c)
{
	char ch = (char)c;

	switch (c) {
	case '"':
		return put(b, "\\\"", 2);
	case '\\':
		return put(b, "\\\\", 2);
	case '\n':
		return put(b, "\\n", 2);
	case '\r':
		return put(b, "\\r", 2);
	case '\t':
		return put(b, "\\t", 2);
	case '\b':
		return put(b, "\\b", 2);
	case '\f':
		return put(b, "\\f", 2);
	}
	if (c >= ' ' && c <= '~')
		return put(b, &ch, 1);
	if (c > 0xffff) {
		c -= 0x10000;
		if (pyjson_put_u16(b, 0xd800 | (c >> 10)) == -1)
			return -1;
		return pyjson_put_u16(b, 0xdc00 | (c & 0x3ff));
	}
	return pyjson_put_u16(b, c);
}

void
pyjson_in_init(struct pyjson_in *in, const char *p, size_t len, struct buf *out)
{
	memset(in, 0, sizeof(*in));
	in->p = p;
	in->len = len;
	in->out = out;
}

void
pyjson_in_free(struct pyjson_in *in)
{
	free(in->keys);
	in->keys = NULL;
	in->nkeys = in->capkeys = 0;
}

/* Skip JSON whitespace (jansson's: space, tab, newline, return). */
void
pyjson_in_ws(struct pyjson_in *in)
{
	const char *p = in->p;
	size_t i = in->pos;

	while (i < in->len &&
	       (p[i] == ' ' || p[i] == '\n' || p[i] == '\r' || p[i] == '\t'))
		i++;
	in->pos = i;
}

static int
hex4(const unsigned char *p, unsigned *v)
{
	unsigned i, d, c;

	*v = 0;
	for (i = 0; i < 4; i++) {
		c = p[i];
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			d = (c | 0x20) - 'a' + 10;
		else
			return -1;
		*v = *v << 4 | d;
	}
	return 0;
}

/*
 * A UTF-8 sequence at p (n bytes left) checked as jansson checks it (no
 * overlong form, no surrogate, nothing past U+10FFFF). Returns its length
 * with the code point in *cp, or 0 if invalid.
 */
size_t
pyjson_utf8_seq(const unsigned char *p, size_t n, unsigned *cp)
{
	unsigned c = p[0], v, i, size;

	if (c >= 0xc2 && c <= 0xdf)
		size = 2, v = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		size = 3, v = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		size = 4, v = c & 0x07;
	else
		return 0;
	if (n < size)
		return 0;
	for (i = 1; i < size; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (p[i] & 0x3f);
	}
	if ((size == 3 && v < 0x800) || (size == 4 && v < 0x10000) ||
	    v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return size;
}

#define ONES  0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* Does any of the 8 bytes at p need more than a copy (see plain)? */
static inline int
special8(const unsigned char *p)
{
	uint64_t x, q, b;

	memcpy(&x, p, sizeof(x));
	q = x ^ (ONES * '"');
	b = x ^ (ONES * '\\');
	return ((((x - ONES * 0x20) & ~x) |		 /* < 0x20 */
		 ((q - ONES) & ~q) | ((b - ONES) & ~b) | /* '"', '\\' */
		 x |					 /* >= 0x80 */
		 ((x ^ (ONES * 0x7f)) - ONES)) &
		HIGHS) != 0;
}

static inline size_t
plain_run(const unsigned char *p, size_t n)
{
	size_t i = 0;

	while (n - i >= 8 && !special8(p + i))
		i += 8;
	while (i < n && plain[p[i]])
		i++;
	return i;
}

/*
 * The length of the run of bytes at s (n bytes left) that a JSON string
 * holds as they are: neither '"', '\\' nor a control character.
 */
size_t
pyjson_string_run(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	uint64_t x, q, b;
	size_t i = 0;

	for (; n - i >= 8; i += 8) {
		memcpy(&x, p + i, sizeof(x));
		q = x ^ (ONES * '"');
		b = x ^ (ONES * '\\');
		if ((((x - ONES * 0x20) & ~x) | ((q - ONES) & ~q) |
		     ((b - ONES) & ~b)) &
		    HIGHS)
			break;
	}
	while (i < n && p[i] >= 0x20 && p[i] != '"' && p[i] != '\\')
		i++;
	return i;
}

/*
 * A string at in->pos (its opening quote), written to out. *raw and
 * *rawlen give the bytes between the quotes. Returns 1 when those bytes
 * are the string itself (no escape), 0 when it had escapes, -1 to give up.
 */
int
pyjson_in_string(struct pyjson_in *in, const char **raw, size_t *rawlen)
{
	const unsigned char *p = (const unsigned char *)in->p;
	size_t i = in->pos + 1, len = in->len, run, n;
	struct buf *b = in->out;
	unsigned v, w;
	int simple = 1;

	if (in->pos >= len || p[in->pos] != '"' || put(b, "\"", 1) == -1)
		return -1;
	*raw = in->p + i;
	for (;;) {
		run = i;
		i += plain_run(p + i, len - i);
		if (i > run && put(b, p + run, i - run) == -1)
			return -1;
		if (i >= len)
			return -1;
		if (p[i] == '"')
			break;
		if (p[i] == '\\') {
			simple = 0;
			if (i + 1 >= len)
				return -1;
			switch (p[i + 1]) {
			case '"':
			case '\\':
			case '/':
				v = p[i + 1];
				i += 2;
				break;
			case 'b':
				v = '\b', i += 2;
				break;
			case 'f':
				v = '\f', i += 2;
				break;
			case 'n':
				v = '\n', i += 2;
				break;
			case 'r':
				v = '\r', i += 2;
				break;
			case 't':
				v = '\t', i += 2;
				break;
			case 'u':
				if (len - i < 6 || hex4(p + i + 2, &v) == -1)
					return -1;
				i += 6;
				if (v == 0 || (v >= 0xdc00 && v <= 0xdfff))
					return -1; /* NUL, lone low half */
				if (v >= 0xd800 && v <= 0xdbff) {
					if (len - i < 6 || p[i] != '\\' ||
					    p[i + 1] != 'u' ||
					    hex4(p + i + 2, &w) == -1 ||
					    w < 0xdc00 || w > 0xdfff)
						return -1; /* lone high half */
					i += 6;
					v = 0x10000 + ((v - 0xd800) << 10) +
					    (w - 0xdc00);
				}
				break;
			default:
				return -1;
			}
		} else if (p[i] < 0x20) {
			return -1; /* jansson refuses control characters */
		} else if (p[i] == 0x7f) {
			v = 0x7f, i++;
		} else {
			if ((n = pyjson_utf8_seq(p + i, len - i, &v)) == 0)
				return -1;
			i += n;
		}
		if (put_cp(b, v) == -1)
			return -1;
	}
	*rawlen = (size_t)(in->p + i - *raw);
	in->pos = i + 1;
	if (put(b, "\"", 1) == -1)
		return -1;
	return simple;
}

/* A literal (true, false, null) at in->pos, written as is. */
int
pyjson_in_literal(struct pyjson_in *in, const char *lit)
{
	size_t n = strlen(lit);

	if (in->len - in->pos < n || memcmp(in->p + in->pos, lit, n) != 0)
		return -1;
	in->pos += n;
	return put(in->out, lit, n);
}

/* A number jansson reads as a double, through strtod as jansson does. */
static int
number_strtod(const char *p, size_t n, struct buf *b)
{
	char small[64], *tmp = n < sizeof(small) ? small : malloc(n + 1);
	double x;
	int rc;

	if (tmp == NULL)
		return -1;
	memcpy(tmp, p, n);
	tmp[n] = '\0';
	errno = 0;
	x = strtod(tmp, NULL);
	if (tmp != small)
		free(tmp);
	if (isinf(x) || isnan(x))
		return -1; /* jansson: "real number overflow" */
	rc = pyjson_real(x, b);
	return rc;
}

/* A number at in->pos, as jansson reads it and pyjson_dump writes it. */
static int
number(struct pyjson_in *in)
{
	const char *p = in->p;
	size_t len = in->len, i = in->pos, start = i, ib, ie, fb = 0, fe = 0;
	int neg = 0, real = 0, eneg = 0, exp10, nd, k;
	long e = 0;
	size_t f, l, idx, nidx, edigits = 0;
	char digs[24];

	if (i < len && p[i] == '-')
		neg = 1, i++;
	ib = i;
	if (i < len && p[i] == '0') {
		i++;
		if (i < len && p[i] >= '0' && p[i] <= '9')
			return -1;
	} else if (i < len && p[i] >= '1' && p[i] <= '9') {
		while (i < len && p[i] >= '0' && p[i] <= '9')
			i++;
	} else
		return -1;
	ie = i;
	if (i < len && p[i] == '.') {
		fb = ++i;
		while (i < len && p[i] >= '0' && p[i] <= '9')
			i++;
		fe = i;
		if (fe == fb)
			return -1;
		real = 1;
	}
	if (i < len && (p[i] == 'e' || p[i] == 'E')) {
		i++;
		if (i < len && (p[i] == '+' || p[i] == '-'))
			eneg = p[i++] == '-';
		if (i >= len || p[i] < '0' || p[i] > '9')
			return -1;
		while (i < len && p[i] >= '0' && p[i] <= '9') {
			if (edigits++ < 6)
				e = e * 10 + (p[i] - '0');
			i++;
		}
		real = 1;
	}
	in->pos = i;
	if (!real) {
		nd = (int)(ie - ib);
		if (nd == 1 && p[ib] == '0')
			return put(in->out, "0", 1); /* -0 too */
		if (nd > 19 || (nd == 19 && memcmp(p + ib,
						   neg ? "9223372036854775808"
						       : "9223372036854775807",
						   19) > 0))
			return -1; /* jansson: "too big integer" */
		return put(in->out, p + start, i - start);
	}
	/* The digits, integer then fraction, index 0 .. nidx - 1. */
	nidx = (ie - ib) + (fe - fb);
#define DIGIT(x) ((x) < ie - ib ? p[ib + (x)] : p[fb + (x) - (ie - ib)])
	for (f = 0; f < nidx && DIGIT(f) == '0'; f++)
		;
	if (f == nidx)
		return put(in->out, neg ? "-0.0" : "0.0", neg ? 4 : 3);
	for (l = nidx - 1; DIGIT(l) == '0'; l--)
		;
	if (edigits > 6 || l - f + 1 > 15)
		return number_strtod(p + start, i - start, in->out);
	exp10 = (int)(ie - ib) - 1 - (int)f + (int)(eneg ? -e : e);
	if (exp10 < -290 || exp10 > 290)
		return number_strtod(p + start, i - start, in->out);
	for (k = 0, idx = f; idx <= l; idx++)
		digs[k++] = DIGIT(idx);
#undef DIGIT
	return pyjson_repr_digits(neg, digs, k, exp10, in->out);
}

static uint64_t
load64(const char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* A quick hash of a key: its length and its first and last 8 bytes. */
static unsigned
key_hash(const char *p, size_t n)
{
	uint64_t h = n, a = 0;
	size_t i;

	if (n >= 8)
		h ^= load64(p) * 0x9e3779b97f4a7c15ULL ^
		     load64(p + n - 8) * 0xc2b2ae3d27d4eb4fULL;
	else {
		for (i = 0; i < n; i++)
			a = a << 8 | (unsigned char)p[i];
		h ^= a * 0x9e3779b97f4a7c15ULL;
	}
	return (unsigned)(h >> 32 ^ h);
}

void
pyjson_obj_begin(struct pyjson_in *in, struct pyjson_obj *o)
{
	o->mark = in->nkeys;
	o->bloom = 0;
}

/* Record a key of the object; -1 if it is already there. */
int
pyjson_obj_key(struct pyjson_in *in, struct pyjson_obj *o, const char *k,
	       size_t n)
{
	unsigned h = key_hash(k, n);
	unsigned long long bit = 1ULL << (h & 63);
	size_t i;

	if (o->bloom & bit) {
		for (i = o->mark; i < in->nkeys; i++)
			if (in->keys[i].hash == h && in->keys[i].len == n &&
			    memcmp(in->keys[i].p, k, n) == 0)
				return -1;
	}
	o->bloom |= bit;
	if (in->nkeys == in->capkeys) {
		in->capkeys = in->capkeys ? in->capkeys * 2 : 64;
		in->keys = realloc(in->keys, in->capkeys * sizeof(*in->keys));
		if (in->keys == NULL)
			return -1;
	}
	in->keys[in->nkeys].p = k;
	in->keys[in->nkeys].len = n;
	in->keys[in->nkeys].hash = h;
	in->nkeys++;
	return 0;
}

void
pyjson_obj_end(struct pyjson_in *in, struct pyjson_obj *o)
{
	in->nkeys = o->mark;
}

static int
object(struct pyjson_in *in)
{
	struct pyjson_obj o;
	const char *k;
	size_t kn;
	int rc = -1;

	if (++in->depth > PYJSON_FAST_DEPTH || put(in->out, "{", 1) == -1)
		return -1;
	in->pos++;
	pyjson_obj_begin(in, &o);
	pyjson_in_ws(in);
	if (in->pos < in->len && in->p[in->pos] == '}')
		goto close;
	for (;;) {
		pyjson_in_ws(in);
		if (pyjson_in_string(in, &k, &kn) != 1 ||
		    pyjson_obj_key(in, &o, k, kn) == -1)
			goto out;
		pyjson_in_ws(in);
		if (in->pos >= in->len || in->p[in->pos] != ':')
			goto out;
		in->pos++;
		if (put(in->out, ": ", 2) == -1 || pyjson_in_value(in) == -1)
			goto out;
		pyjson_in_ws(in);
		if (in->pos < in->len && in->p[in->pos] == ',') {
			in->pos++;
			if (put(in->out, ", ", 2) == -1)
				goto out;
			continue;
		}
		if (in->pos < in->len && in->p[in->pos] == '}')
			break;
		goto out;
	}
close:
	in->pos++;
	rc = put(in->out, "}", 1);
	in->depth--;
out:
	pyjson_obj_end(in, &o);
	return rc;
}

static int
array(struct pyjson_in *in)
{
	if (++in->depth > PYJSON_FAST_DEPTH || put(in->out, "[", 1) == -1)
		return -1;
	in->pos++;
	pyjson_in_ws(in);
	if (in->pos < in->len && in->p[in->pos] == ']')
		goto close;
	for (;;) {
		if (pyjson_in_value(in) == -1)
			return -1;
		pyjson_in_ws(in);
		if (in->pos < in->len && in->p[in->pos] == ',') {
			in->pos++;
			if (put(in->out, ", ", 2) == -1)
				return -1;
			continue;
		}
		if (in->pos < in->len && in->p[in->pos] == ']')
			break;
		return -1;
	}
close:
	in->pos++;
	in->depth--;
	return put(in->out, "]", 1);
}

/* Any value (whitespace before it skipped). 0, or -1 to give up. */
int
pyjson_in_value(struct pyjson_in *in)
{
	const char *k;
	size_t kn;

	pyjson_in_ws(in);
	if (in->pos >= in->len)
		return -1;
	switch (in->p[in->pos]) {
	case '{':
		return object(in);
	case '[':
		return array(in);
	case '"':
		return pyjson_in_string(in, &k, &kn) == -1 ? -1 : 0;
	case 't':
		return pyjson_in_literal(in, "true");
	case 'f':
		return pyjson_in_literal(in, "false");
	case 'n':
		return pyjson_in_literal(in, "null");
	default:
		return number(in);
	}
}

/*
 * A whole JSON text (an object or an array, as json_loadb wants) to out:
 * 0, or -1 when the transcoder gives up (out may hold a part).
 */
int
pyjson_fast_dump(const char *p, size_t len, struct buf *out)
{
	struct pyjson_in in;
	int rc = -1;

	pyjson_in_init(&in, p, len, out);
	pyjson_in_ws(&in);
	if (in.pos < len && (p[in.pos] == '{' || p[in.pos] == '[') &&
	    pyjson_in_value(&in) == 0) {
		pyjson_in_ws(&in);
		rc = in.pos == len ? 0 : -1;
	}
	pyjson_in_free(&in);
	if (rc == 0 && buf_cstr(out) == NULL)
		rc = -1;
	return rc;
}
