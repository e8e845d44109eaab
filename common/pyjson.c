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
	char e[6] = {'\\', 'u', hexdig[(v >> 12) & 15], hexdig[(v >> 8) & 15],
	    hexdig[(v >> 4) & 15], hexdig[v & 15]};

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

/*
 * A float as Python's repr(): the shortest digits that read back as the
 * same double; fixed notation for 1e-4 <= |x| < 1e16 with at least one
 * decimal ("1.0"), else d[.ddd]e+XX.
 */
int
pyjson_real(double x, struct buf *b)
{
	char tmp[40], digs[20], *e;
	int prec, exp10, nd, decpt, i;

	if (isnan(x))
		return buf_puts(b, "NaN");
	if (isinf(x))
		return buf_puts(b, x < 0 ? "-Infinity" : "Infinity");
	for (prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, x);
		if (strtod(tmp, NULL) == x)
			break;
	}
	/* tmp is [-]d[.ddd]e[+-]XX: collect the digits and the exponent. */
	e = strchr(tmp, 'e');
	exp10 = atoi(e + 1);
	nd = 0;
	for (i = (tmp[0] == '-'); tmp + i < e; i++)
		if (tmp[i] != '.')
			digs[nd++] = tmp[i];
	while (nd > 1 && digs[nd - 1] == '0')
		nd--;
	digs[nd] = '\0';
	decpt = exp10 + 1;
	if (signbit(x) && buf_append(b, "-", 1) == -1)
		return -1;
	if (x == 0)
		return buf_puts(b, "0.0");
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
		json_array_foreach(v, i, item) {
			if (i > 0)
				rc |= buf_append(b, ", ", 2);
			rc |= pyjson_dump(item, b);
			if (rc)
				break;
		}
		return rc | buf_append(b, "]", 1);
	case JSON_STRING:
		return put_string(b, json_string_value(v), json_string_length(v));
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
