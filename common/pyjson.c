/*
 * Python-compatible JSON output (json.dumps defaults).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pyjson.h"

static const char hexdig[] = "0123456789abcdef";

static int
put_u16(struct buf *b, unsigned v)
{
	char e[6] = {'\\',
		     'u',
		     hexdig[(v >> 12) & 15],
		     hexdig[(v >> 8) & 15],
		     hexdig[(v >> 4) & 15],
		     hexdig[v & 15]};

	return buf_append(b, e, sizeof(e));
}

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

/* A string with ensure_ascii: everything outside ' '..'~' is escaped. */
static int
put_string(struct buf *b, const char *s, size_t n)
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
		if (c > 0xffff) {
			c -= 0x10000;
			rc |= put_u16(b, 0xd800 | (c >> 10));
			rc |= put_u16(b, 0xdc00 | (c & 0x3ff));
		} else
			rc |= put_u16(b, c);
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
 */
static int
shortest_digits(double x, char digs[24], int *exp10)
{
	char tmp[48], *e;
	long long m, pow10 = 1;
	int p, i, n;

	for (p = 1; p <= 17; p++, pow10 *= 10) {
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
	n = (int)strlen(digs);
	while (n > 1 && digs[n - 1] == '0')
		digs[--n] = '\0';
	return n;
}

/*
 * A float as Python's repr(): the shortest digits that read back as the
 * same double; fixed notation for 1e-4 <= |x| < 1e16 with at least one
 * decimal ("1.0"), else d[.ddd]e+XX.
 */
int
pyjson_real(double x, struct buf *b)
{
	char digs[24];
	int exp10, nd, decpt, i;

	if (isnan(x))
		return buf_puts(b, "NaN");
	if (isinf(x))
		return buf_puts(b, x < 0 ? "-Infinity" : "Infinity");
	if (signbit(x) && buf_append(b, "-", 1) == -1)
		return -1;
	if (x == 0)
		return buf_puts(b, "0.0");
	nd = shortest_digits(fabs(x), digs, &exp10);
	decpt = exp10 + 1;
	if (decpt <= -4 || decpt > 16) {
		if (buf_append(b, digs, 1) == -1 ||
		    (nd > 1 && (buf_append(b, ".", 1) == -1 ||
				buf_append(b, digs + 1, nd - 1) == -1)))
			return -1;
		return buf_printf(b, "e%c%02d", exp10 < 0 ? '-' : '+',
				  abs(exp10));
	}
	if (decpt <= 0) {
		if (buf_puts(b, "0.") == -1)
			return -1;
		for (i = decpt; i < 0; i++)
			if (buf_append(b, "0", 1) == -1)
				return -1;
		return buf_append(b, digs, nd);
	}
	if (nd <= decpt) {
		if (buf_append(b, digs, nd) == -1)
			return -1;
		for (i = nd; i < decpt; i++)
			if (buf_append(b, "0", 1) == -1)
				return -1;
		return buf_puts(b, ".0");
	}
	if (buf_append(b, digs, decpt) == -1 || buf_append(b, ".", 1) == -1)
		return -1;
	return buf_append(b, digs + decpt, nd - decpt);
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
			rc |= put_string(b, key, klen);
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
		return put_string(b, json_string_value(v),
				  json_string_length(v));
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
