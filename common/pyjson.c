/*
 * Python-compatible JSON output (json.dumps defaults).
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pyjson.h"

/* Decode one UTF-8 sequence (jansson has validated it). */
static unsigned
utf8_next(const unsigned char **pp)
{
	const unsigned char *p = *pp;
	unsigned c = *p++;

	if (c >= 0xf0) {
		c = (c & 0x07) << 18 | (p[0] & 0x3f) << 12 |
		    (p[1] & 0x3f) << 6 | (p[2] & 0x3f);
		p += 3;
	} else if (c >= 0xe0) {
		c = (c & 0x0f) << 12 | (p[0] & 0x3f) << 6 | (p[1] & 0x3f);
		p += 2;
	} else if (c >= 0xc0) {
		c = (c & 0x1f) << 6 | (p[0] & 0x3f);
		p += 1;
	}
	*pp = p;
	return c;
}

/*
 * After a NUL: is this the stand-in of a lone surrogate (see
 * pyjson_fix_surrogates)? If so, consume it and set *sur.
 */
static int
lone_standin(const unsigned char **pp, const unsigned char *end, unsigned *sur)
{
	const unsigned char *q = *pp;
	unsigned c;

	if (end - q < 4 || q[0] != 0xf4)
		return 0;
	c = utf8_next(&q);
	if (c < PYJSON_LONE_BASE || c >= PYJSON_LONE_BASE + 0x800)
		return 0;
	*sur = 0xd800 + (c - PYJSON_LONE_BASE);
	*pp = q;
	return 1;
}

/* A string with ensure_ascii: everything outside ' '..'~' is escaped. */
int
pyjson_string(const char *s, size_t n, struct buf *b)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	const unsigned char *run;
	unsigned c;
	int rc = buf_append(b, "\"", 1);

	while (p < end && rc == 0) {
		for (run = p; p < end && *p >= ' ' && *p <= '~' && *p != '"' &&
			      *p != '\\';
		     p++)
			;
		rc |= buf_append(b, run, (size_t)(p - run));
		if (p >= end)
			break;
		switch (*p) {
		case '"':
			rc |= buf_append(b, "\\\"", 2), p++;
			continue;
		case '\\':
			rc |= buf_append(b, "\\\\", 2), p++;
			continue;
		case '\n':
			rc |= buf_append(b, "\\n", 2), p++;
			continue;
		case '\r':
			rc |= buf_append(b, "\\r", 2), p++;
			continue;
		case '\t':
			rc |= buf_append(b, "\\t", 2), p++;
			continue;
		case '\b':
			rc |= buf_append(b, "\\b", 2), p++;
			continue;
		case '\f':
			rc |= buf_append(b, "\\f", 2), p++;
			continue;
		}
		c = utf8_next(&p);
		if (c == 0 && lone_standin(&p, end, &c)) {
			rc |= pyjson_put_u16(b, c);
			continue;
		}
		if (c > 0xffff) {
			c -= 0x10000;
			rc |= pyjson_put_u16(b, 0xd800 | (c >> 10));
			rc |= pyjson_put_u16(b, 0xdc00 | (c & 0x3ff));
		} else
			rc |= pyjson_put_u16(b, c);
	}
	return rc | buf_append(b, "\"", 1);
}

/* Does "M.MMMe+E" (digits of m, p of them) read back as x? */
static int
try_digits(long long m, int p, int e, double x, char digs[24])
{
	char tmp[48];

	snprintf(digs, 24, "%lld", m);
	if ((int)strlen(digs) != p)
		return 0;
	snprintf(tmp, sizeof(tmp), "%c.%se%d", digs[0], digs + 1, e);
	return strtod(tmp, NULL) == x;
}

/*
 * The shortest digits that read back as x (x > 0), as Python's repr()
 * finds them: at each precision the correctly rounded candidate first,
 * then its neighbours (needed just above a power of two, where the gap
 * between doubles changes). Returns the number of digits; *exp10 is the
 * exponent of the first digit.
 *
 * For a normal double, at most one decimal of 15 digits or fewer reads
 * back as x (DBL_DIG), and it is x correctly rounded to 15 digits: so
 * when that rounding reads back, it is the answer (trailing zeros off),
 * and the search starts at 16 digits otherwise.
 */
static int
shortest_digits(double x, char digs[24], int *exp10)
{
	char tmp[48], *e;
	long long m, pow10 = 1;
	int p = 1, i, n;

	if (x >= DBL_MIN) {
		snprintf(tmp, sizeof(tmp), "%.14e", x);
		if (strtod(tmp, NULL) == x) {
			e = strchr(tmp, 'e');
			*exp10 = (int)strtol(e + 1, NULL, 10);
			for (n = 0, i = 0; tmp + i < e; i++)
				if (tmp[i] != '.')
					digs[n++] = tmp[i];
			digs[n] = '\0';
			goto strip;
		}
		p = 16;
		pow10 = 1000000000000000LL;
	}
	for (; p <= 17; p++, pow10 *= 10) {
		snprintf(tmp, sizeof(tmp), "%.*e", p - 1, x);
		e = strchr(tmp, 'e');
		*exp10 = (int)strtol(e + 1, NULL, 10);
		for (m = 0, i = 0; tmp + i < e; i++)
			if (tmp[i] != '.')
				m = m * 10 + (tmp[i] - '0');
		if (try_digits(m, p, *exp10, x, digs))
			break;
		if (m + 1 < pow10 * 10 && try_digits(m + 1, p, *exp10, x, digs))
			break;
		if (m - 1 >= pow10 && try_digits(m - 1, p, *exp10, x, digs))
			break;
	}
strip:
	n = (int)strlen(digs);
	while (n > 1 && digs[n - 1] == '0')
		digs[--n] = '\0';
	return n;
}

/*
 * Python's repr() of a finite non-zero float given its shortest digits
 * (nd of them, no trailing zero) and the exponent of the first: fixed
 * notation for 1e-4 <= |x| < 1e16 with at least one decimal ("1.0"), else
 * d[.ddd]e+XX.
 */
int
pyjson_repr_digits(int neg, const char *digs, int nd, int exp10, struct buf *b)
{
	char tmp[400], *q = tmp;
	int decpt = exp10 + 1, i, e;

	if (nd <= 0 || nd > 17 || exp10 < -400 || exp10 > 400)
		return -1;
	if (neg)
		*q++ = '-';
	if (decpt <= -4 || decpt > 16) {
		*q++ = digs[0];
		if (nd > 1) {
			*q++ = '.';
			memcpy(q, digs + 1, (size_t)nd - 1);
			q += nd - 1;
		}
		*q++ = 'e';
		*q++ = exp10 < 0 ? '-' : '+';
		e = abs(exp10);
		if (e >= 100)
			*q++ = (char)('0' + e / 100);
		*q++ = (char)('0' + e / 10 % 10);
		*q++ = (char)('0' + e % 10);
	} else if (decpt <= 0) {
		*q++ = '0';
		*q++ = '.';
		for (i = decpt; i < 0; i++)
			*q++ = '0';
		memcpy(q, digs, (size_t)nd);
		q += nd;
	} else if (nd <= decpt) {
		memcpy(q, digs, (size_t)nd);
		q += nd;
		for (i = nd; i < decpt; i++)
			*q++ = '0';
		*q++ = '.';
		*q++ = '0';
	} else {
		memcpy(q, digs, (size_t)decpt);
		q += decpt;
		*q++ = '.';
		memcpy(q, digs + decpt, (size_t)(nd - decpt));
		q += nd - decpt;
	}
	return buf_append(b, tmp, (size_t)(q - tmp));
}

/* A float as Python's repr(): the shortest digits that read back. */
int
pyjson_real(double x, struct buf *b)
{
	char digs[24];
	int exp10, nd;

	if (isnan(x))
		return buf_puts(b, "NaN");
	if (isinf(x))
		return buf_puts(b, x < 0 ? "-Infinity" : "Infinity");
	if (x == 0)
		return buf_puts(b, signbit(x) ? "-0.0" : "0.0");
	nd = shortest_digits(fabs(x), digs, &exp10);
	return pyjson_repr_digits(signbit(x) != 0, digs, nd, exp10, b);
}

static int
hex4(const char *p, unsigned *v)
{
	unsigned i, d;

	*v = 0;
	for (i = 0; i < 4; i++) {
		if (p[i] >= '0' && p[i] <= '9')
			d = (unsigned)(p[i] - '0');
		else if ((p[i] | 0x20) >= 'a' && (p[i] | 0x20) <= 'f')
			d = (unsigned)((p[i] | 0x20) - 'a' + 10);
		else
			return -1;
		*v = *v << 4 | d;
	}
	return 0;
}

/* The escape at p (len bytes left) is "\uXXXX": its value, else -1. */
static long
escape_u(const char *p, size_t len)
{
	unsigned v;

	if (len < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, &v) == -1)
		return -1;
	return (long)v;
}

/*
 * Rewrite each lone surrogate escape of a JSON text as its stand-in: a NUL
 * then the code point PYJSON_LONE_BASE + offset, which jansson accepts and
 * pyjson_dump() turns back into the original escape. Returns 0
 * when the text has none (out untouched), 1 when out holds the rewritten
 * text, -1 when out is full.
 */
int
pyjson_fix_surrogates(const char *p, size_t len, struct buf *out)
{
	size_t i, done = 0;
	long v, w;
	unsigned cp;
	char esc[19];
	int changed = 0;

	for (i = 0; i < len; i++) {
		if (p[i] != '\\')
			continue;
		if ((v = escape_u(p + i, len - i)) < 0xd800 || v > 0xdfff) {
			i++; /* any other escape: skip its second byte */
			continue;
		}
		w = escape_u(p + i + 6, len - i - 6);
		if (v <= 0xdbff && w >= 0xdc00 && w <= 0xdfff) {
			i += 11; /* a proper pair */
			continue;
		}
		cp = PYJSON_LONE_BASE + (unsigned)(v - 0xd800) - 0x10000;
		snprintf(esc, sizeof(esc), "\\u0000\\u%04x\\u%04x",
			 0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
		if (!changed)
			buf_reset(out);
		if (buf_append(out, p + done, i - done) == -1 ||
		    buf_append(out, esc, 18) == -1)
			return -1;
		changed = 1;
		i += 5;
		done = i + 1;
	}
	if (!changed)
		return 0;
	return buf_append(out, p + done, len - done) == -1 ? -1 : 1;
}

/*
 * Parse JSON text as Python's json.loads() would accept it: NUL in strings
 * and lone surrogates included. Returns a new reference, or NULL with err.
 */
json_t *
pyjson_load(const char *p, size_t len, json_error_t *err)
{
	struct buf fixed;
	json_t *j = NULL;

	buf_init(&fixed, len * 3 + 64); /* a lone \udXXX: 6 bytes become 18 */
	switch (pyjson_fix_surrogates(p, len, &fixed)) {
	case 0:
		j = json_loadb(p, len, JSON_ALLOW_NUL, err);
		break;
	case 1:
		j = json_loadb(fixed.data, fixed.len, JSON_ALLOW_NUL, err);
		break;
	default:
		snprintf(err->text, sizeof(err->text), "too large");
	}
	buf_free(&fixed);
	return j;
}

/*
 * Append the Python json.dumps() text of v to b. Returns 0, or -1 if b's
 * maximum was reached.
 */
int
pyjson_dump(json_t *v, struct buf *b)
{
	const char *key;
	json_t *item;
	size_t i, klen;
	int rc = 0, first = 1;
	void *it;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		rc = buf_append(b, "{", 1);
		for (it = json_object_iter(v); it && rc == 0;
		     it = json_object_iter_next(v, it)) {
			key = json_object_iter_key(it);
			klen = json_object_iter_key_len(it);
			if (!first)
				rc |= buf_append(b, ", ", 2);
			first = 0;
			rc |= pyjson_string(key, klen, b);
			rc |= buf_append(b, ": ", 2);
			rc |= pyjson_dump(json_object_iter_value(it), b);
		}
		return rc | buf_append(b, "}", 1);
	case JSON_ARRAY:
		rc = buf_append(b, "[", 1);
		json_array_foreach(v, i, item)
		{
			if (i > 0)
				rc |= buf_append(b, ", ", 2);
			rc |= pyjson_dump(item, b);
			if (rc)
				break;
		}
		return rc | buf_append(b, "]", 1);
	case JSON_STRING:
		return pyjson_string(json_string_value(v),
				     json_string_length(v), b);
	case JSON_INTEGER:
		return buf_printf(b, "%" JSON_INTEGER_FORMAT,
				  json_integer_value(v));
	case JSON_REAL:
		return pyjson_real(json_real_value(v), b);
	case JSON_TRUE:
		return buf_puts(b, "true");
	case JSON_FALSE:
		return buf_puts(b, "false");
	case JSON_NULL:
		return buf_puts(b, "null");
	}
	return -1;
}
