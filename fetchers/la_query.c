/*
 * Log Analytics: the KQL Wazuh sends for a window, the bounds we add so a
 * window can be split or resumed, and scanners that find tables[0].columns,
 * tables[0].rows and a top-level "error" in a response without building
 * a tree of the whole result: la_scan_response() on a whole body, and
 * la_stream (what azure-la uses) on the body as it arrives, handing over
 * each row as soon as it is complete.
 */
#include <ctype.h>
#include <stdint.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <stdio.h>
#include <string.h>

#include "date.h"
#include "fetch.h"
#include "log.h"
#include "pyjson.h"
#include "util.h"

/* md5("query=<Q>|workspace=<W>"): Wazuh's create_pk(query=, workspace=). */
void
la_key(const char *query, const char *workspace, char out[MD5_HEXLEN])
{
	struct buf b;

	buf_init(&b, strlen(query) + strlen(workspace) + 32);
	buf_printf(&b, "query=%s|workspace=%s", query, workspace);
	md5_hex(b.data, b.len, out);
	buf_free(&b);
}

/*
 * Wazuh's query: "<Q> | order by TimeGenerated asc | where <F> " with
 *   reparse:    T >= datetime(D)
 *   D < min:    ( T < datetime(MIN) and T >= datetime(D)) or ( T >=
 *               datetime(AFTER))
 *   D > max:    T >= datetime(D)
 *   otherwise:  T >= datetime(AFTER)
 * where T is the field the checkpoint follows (TimeGenerated, or
 * ingestion_time()) and AFTER is max - overlap (Wazuh: T > MAX).
 */
int
la_build_query(const char *q, const char *t, const struct window *w,
	       struct buf *out)
{
	int64_t desired = window_desired(w);
	char d[DATE_STRLEN], after[DATE_STRLEN];
	int rc;

	date_format(desired, d);
	date_format_iso(window_after(w), after);
	rc = buf_printf(out, "%s | order by TimeGenerated asc | where ", q);
	if (!w->reparse && desired < w->min)
		rc |= buf_printf(out,
				 "( %s < datetime(%s) and %s >= datetime(%s)) "
				 "or ( %s >= datetime(%s))",
				 t, w->min_str, t, d, t, after);
	else if (w->reparse || desired > w->max)
		rc |= buf_printf(out, "%s >= datetime(%s)", t, d);
	else
		rc |= buf_printf(out, "%s >= datetime(%s)", t, after);
	return rc | buf_puts(out, " ");
}

/* The oldest time the window can hold (inclusive). */
int
la_window_start(const struct window *w, int64_t *start)
{
	int64_t desired = window_desired(w), after = window_after(w);

	if (w->reparse || desired > w->max)
		*start = desired;
	else if (desired < w->min) /* [desired, min) and [after, ...) */
		*start = desired < after ? desired : after;
	else
		*start = after;
	return 0;
}

/*
 * Bound a query to [start, end) of field t: the part of the window one
 * request asks for. Splitting a truncated window only moves these bounds.
 * On ingestion_time(), the row's ingestion time comes back in our own
 * column LA_INGESTION_COLUMN (left out of the event).
 */
int
la_bound_query(const char *base, const char *t, int64_t start, int64_t end,
	       struct buf *out)
{
	char s[DATE_STRLEN], e[DATE_STRLEN];
	int rc;

	date_format_iso(start, s);
	date_format_iso(end, e);
	rc = buf_printf(out,
			"%s| where %s >= datetime(%s) and %s < datetime(%s)",
			base, t, s, t, e);
	if (strcmp(t, "TimeGenerated") != 0)
		rc |= buf_printf(out, " | extend %s = %s", LA_INGESTION_COLUMN,
				 t);
	return rc;
}

/* The request's timespan: "start/end", ISO 8601 with 7 digits. */
int
la_timespan(int64_t start, int64_t end, struct buf *out)
{
	char s[DATE_STRLEN], e[DATE_STRLEN];

	date_format_iso(start, s);
	date_format_iso(end, e);
	return buf_printf(out, "%s/%s", s, e);
}

static void
skip_ws(const char *p, size_t len, size_t *pos)
{
	while (*pos < len && (p[*pos] == ' ' || p[*pos] == '\t' ||
			      p[*pos] == '\n' || p[*pos] == '\r'))
		(*pos)++;
}

#define SCAN_DEPTH 512	/* nesting a response may have */
#define NEED	   (-2) /* the input ends before the value does */

/* Skip a string starting at its opening quote; escapes and control
 * characters are checked (UTF-8 is checked where a value is parsed).
 * Returns 0, -1 if malformed, NEED if the input ends inside it. */
static int
skip_string(const char *p, size_t len, size_t *pos)
{
	size_t i = *pos + 1, k;
	unsigned char c;

	for (; i < len; i++) {
		i += pyjson_string_run(p + i, len - i); /* no '"' '\\' < 0x20 */
		if (i >= len)
			break;
		c = (unsigned char)p[i];
		if (c < 0x20)
			return -1;
		if (c == '"') {
			*pos = i + 1;
			return 0;
		}
		if (c != '\\')
			continue;
		if (++i >= len)
			return NEED;
		if (p[i] == 'u') {
			for (k = 1; k <= 4; k++) {
				if (i + k >= len)
					return NEED;
				if (!isxdigit((unsigned char)p[i + k]))
					return -1;
			}
			i += 4;
		} else if (strchr("\"\\/bfnrt", p[i]) == NULL || p[i] == '\0')
			return -1;
	}
	return NEED;
}

/* Digits: 0 if at least one, NEED if the input ends in them (more may
 * follow), -1 if none. */
static int
skip_digits(const char *p, size_t len, size_t *i)
{
	size_t start = *i;

	while (*i < len && isdigit((unsigned char)p[*i]))
		(*i)++;
	if (*i >= len)
		return NEED;
	return *i > start ? 0 : -1;
}

/* A number, true, false or null. A number reaching the end of the input
 * may go on: NEED (a value here is always followed by something). */
static int
skip_scalar(const char *p, size_t len, size_t *pos)
{
	static const char *const words[] = {"true", "false", "null"};
	size_t i = *pos, n, m, w;
	int rc;

	for (w = 0; w < 3; w++) {
		n = strlen(words[w]);
		m = len - i < n ? len - i : n;
		if (memcmp(p + i, words[w], m) == 0) {
			if (m < n)
				return NEED;
			*pos = i + n;
			return 0;
		}
	}
	if (p[i] == '-' && ++i >= len)
		return NEED;
	if (p[i] == '0') {
		if (++i >= len)
			return NEED;
	} else if ((rc = skip_digits(p, len, &i)) != 0)
		return rc;
	if (p[i] == '.') {
		i++;
		if ((rc = skip_digits(p, len, &i)) != 0)
			return rc;
	}
	if (p[i] == 'e' || p[i] == 'E') {
		if (++i >= len)
			return NEED;
		if ((p[i] == '+' || p[i] == '-') && ++i >= len)
			return NEED;
		if ((rc = skip_digits(p, len, &i)) != 0)
			return rc;
	}
	*pos = i;
	return 0;
}

/* After '{' or ',' in an object: a member name and its ':'. */
static int
skip_key(const char *p, size_t len, size_t *i)
{
	int rc;

	skip_ws(p, len, i);
	if (*i >= len)
		return NEED;
	if (p[*i] != '"')
		return -1;
	if ((rc = skip_string(p, len, i)) != 0)
		return rc;
	skip_ws(p, len, i);
	if (*i >= len)
		return NEED;
	if (p[*i] != ':')
		return -1;
	(*i)++;
	return 0;
}

/*
 * Skip one JSON value starting at *pos, checking its grammar without
 * building anything; on return *pos is just past it. Returns 0, -1 if it
 * is not JSON, or NEED if the input ends before it does.
 */
static int
skip_value(const char *p, size_t len, size_t *pos)
{
	char stack[SCAN_DEPTH];
	size_t sp = 0, i = *pos;
	int rc;

	for (;;) {
		/* A value starts at i. */
		skip_ws(p, len, &i);
		if (i >= len)
			return NEED;
		if (p[i] == '{' || p[i] == '[') {
			if (sp == SCAN_DEPTH)
				return -1;
			stack[sp++] = p[i++];
			skip_ws(p, len, &i);
			if (i < len &&
			    p[i] == (stack[sp - 1] == '{' ? '}' : ']')) {
				i++;
				sp--;
			} else {
				if (stack[sp - 1] == '{' &&
				    (rc = skip_key(p, len, &i)) != 0)
					return rc;
				continue;
			}
		} else if (p[i] == '"') {
			if ((rc = skip_string(p, len, &i)) != 0)
				return rc;
		} else if ((rc = skip_scalar(p, len, &i)) != 0)
			return rc;
		/* After a value: close containers, or go on after a comma. */
		for (;;) {
			if (sp == 0) {
				*pos = i;
				return 0;
			}
			skip_ws(p, len, &i);
			if (i >= len)
				return NEED;
			if (p[i] == ',') {
				i++;
				if (stack[sp - 1] == '{' &&
				    (rc = skip_key(p, len, &i)) != 0)
					return rc;
				break;
			}
			if (p[i] != (stack[sp - 1] == '{' ? '}' : ']'))
				return -1;
			i++;
			sp--;
		}
	}
}

/* Read a member name into key (cut to keylen - 1) and move past ':' and
 * the blanks after it. Returns 0, -1 or NEED (*pos then unchanged). */
static int
member_name(const char *p, size_t len, size_t *pos, char *key, size_t keylen)
{
	size_t start = *pos + 1, i = *pos, n;
	int rc;

	if (i >= len)
		return NEED;
	if (p[i] != '"')
		return -1;
	if ((rc = skip_string(p, len, &i)) != 0)
		return rc;
	n = i - 1 - start;
	if (n >= keylen)
		n = keylen - 1;
	memcpy(key, p + start, n);
	key[n] = '\0';
	skip_ws(p, len, &i);
	if (i >= len)
		return NEED;
	if (p[i] != ':')
		return -1;
	i++;
	skip_ws(p, len, &i);
	*pos = i;
	return 0;
}

/*
 * Walk an object at *pos, calling back for each member with the value's
 * position. The callback must move *pos past the value. Returns 0 or -1.
 */
static int
walk_object(const char *p, size_t len, size_t *pos,
	    int (*cb)(const char *, size_t, size_t *, const char *, void *),
	    void *arg)
{
	char key[32];

	skip_ws(p, len, pos);
	if (*pos >= len || p[*pos] != '{')
		return -1;
	(*pos)++;
	skip_ws(p, len, pos);
	if (*pos < len && p[*pos] == '}') {
		(*pos)++;
		return 0;
	}
	for (;;) {
		if (member_name(p, len, pos, key, sizeof(key)) != 0 ||
		    cb(p, len, pos, key, arg) != 0)
			return -1;
		skip_ws(p, len, pos);
		if (*pos < len && p[*pos] == '}') {
			(*pos)++;
			return 0;
		}
		if (*pos >= len || p[*pos] != ',')
			return -1;
		(*pos)++;
		skip_ws(p, len, pos);
		if (*pos < len && p[*pos] == '}')
			return -1; /* a trailing comma */
	}
}

static int
table_member(const char *p, size_t len, size_t *pos, const char *key, void *arg)
{
	struct la_scan *s = arg;
	size_t start = *pos;

	if (skip_value(p, len, pos) != 0)
		return -1;
	if (strcmp(key, "columns") == 0) {
		s->columns_off = start;
		s->columns_len = *pos - start;
	} else if (strcmp(key, "rows") == 0) {
		if (p[start] != '[')
			return -1;
		s->rows_off = start;
		s->rows_len = *pos - start;
	}
	return 0;
}

static int
top_member(const char *p, size_t len, size_t *pos, const char *key, void *arg)
{
	struct la_scan *s = arg;
	size_t start = *pos, t;

	if (strcmp(key, "tables") == 0 && *pos < len && p[*pos] == '[') {
		t = *pos + 1;
		skip_ws(p, len, &t);
		if (t < len && p[t] == '{' &&
		    walk_object(p, len, &t, table_member, s) == -1)
			return -1;
	}
	if (skip_value(p, len, pos) != 0)
		return -1;
	if (strcmp(key, "error") == 0 &&
	    !(*pos - start == 4 && memcmp(p + start, "null", 4) == 0)) {
		s->error_off = start;
		s->error_len = *pos - start;
	}
	return 0;
}

/*
 * Find tables[0].columns, tables[0].rows and the top-level error of a
 * query response. Returns 0, or -1 with *errstr if the body is truncated,
 * not JSON, or holds no table.
 */
int
la_scan_response(const char *p, size_t len, struct la_scan *s,
		 const char **errstr)
{
	size_t pos = 0;

	memset(s, 0, sizeof(*s));
	if (walk_object(p, len, &pos, top_member, s) == -1) {
		*errstr = "the response is truncated or not JSON";
		return -1;
	}
	skip_ws(p, len, &pos);
	if (pos != len) {
		*errstr = "the response has data after its JSON document";
		return -1;
	}
	if (s->error_len == 0 && (s->columns_len == 0 || s->rows_len == 0)) {
		*errstr = "the response has no tables[0].columns and rows";
		return -1;
	}
	return 0;
}

/*
 * Iterate over the rows array: *pos starts at 0. Returns 1 with the next
 * row's extent in *off and *rlen, 0 at the end, -1 if malformed.
 */
int
la_next_row(const char *p, size_t len, size_t *pos, size_t *off, size_t *rlen)
{
	size_t i = *pos;

	if (i == 0) {
		if (len == 0 || p[0] != '[')
			return -1;
		i = 1;
		skip_ws(p, len, &i);
		if (i < len && p[i] == ']')
			return 0;
	} else {
		skip_ws(p, len, &i);
		if (i < len && p[i] == ']')
			return 0;
		if (i >= len || p[i] != ',')
			return -1;
		i++;
		skip_ws(p, len, &i);
	}
	*off = i;
	if (i >= len || p[i] != '[' || skip_value(p, len, &i) != 0)
		return -1;
	*rlen = i - *off;
	*pos = i;
	return 1;
}

/*
 * The streaming scanner: a query answer parsed as it arrives, with the
 * grammar of la_scan_response() except inside rows: a row's end is found
 * by counting brackets outside strings (row_end()), its grammar is checked
 * by whoever parses it. Only the value being read is buffered (one row,
 * the columns, or a member skipped), so memory is bounded by the largest
 * of them, not by the answer. A row cut between two pieces is scanned on
 * from where it stopped; another value is scanned again once its pending
 * bytes have doubled (linear in all). "tables" or tables[0].rows twice is
 * refused: the rows sent would not be those a JSON parser keeps.
 */
enum {
	ST_TOP,		/* '{' */
	ST_TOP_KEY,	/* a member name, or '}' if first */
	ST_TOP_VALUE,	/* the value of member kind */
	ST_TOP_NEXT,	/* ',' or '}' */
	ST_TABLES,	/* after "tables": [ : table 0, or ']' */
	ST_TABLES_ELEM, /* another table: skipped */
	ST_TABLES_NEXT, /* ',' or ']' */
	ST_T0_KEY,	/* a member of tables[0], or '}' if first */
	ST_T0_VALUE,
	ST_T0_NEXT,
	ST_ROWS,      /* a row, or ']' if first */
	ST_ROW,	      /* in a row (from s->pos, scanned up to s->scan) */
	ST_ROWS_NEXT, /* ',' or ']' */
	ST_END,	      /* blanks only */
	ST_FAILED
};
enum { K_OTHER, K_TABLES, K_ERROR, K_COLUMNS, K_ROWS };

void
la_stream_init(struct la_stream *s, la_stream_fn columns, la_stream_fn row,
	       void *arg)
{
	memset(s, 0, sizeof(*s));
	buf_init(&s->in, HTTP_BODY_MAX);
	buf_init(&s->error, HTTP_BODY_MAX);
	s->columns = columns;
	s->row = row;
	s->arg = arg;
}

/* Ready for another answer. */
void
la_stream_reset(struct la_stream *s)
{
	buf_reset(&s->in);
	buf_reset(&s->error);
	s->pos = s->want = 0;
	s->state = ST_TOP;
	s->kind = K_OTHER;
	s->first = 0;
	s->tables_seen = s->has_columns = s->has_rows = 0;
	s->rows = 0;
	s->malformed_rows = s->duplicate = 0;
	s->errstr = NULL;
}

void
la_stream_free(struct la_stream *s)
{
	buf_free(&s->in);
	buf_free(&s->error);
}

static int
member_kind(const char *key, int table)
{
	if (table)
		return strcmp(key, "columns") == 0 ? K_COLUMNS
		       : strcmp(key, "rows") == 0  ? K_ROWS
						   : K_OTHER;
	return strcmp(key, "tables") == 0  ? K_TABLES
	       : strcmp(key, "error") == 0 ? K_ERROR
					   : K_OTHER;
}

#ifdef __SSE2__
/* The bits of the 64 bytes at p equal to c. */
static inline uint64_t
eq_mask(const __m128i v[4], char c)
{
	const __m128i cc = _mm_set1_epi8(c);
	uint64_t m = 0;
	int k;

	for (k = 0; k < 4; k++)
		m |= (uint64_t)(uint16_t)_mm_movemask_epi8(
			 _mm_cmpeq_epi8(v[k], cc))
		     << (16 * k);
	return m;
}

/* Each bit: the XOR of the bits up to it (a quote opens or closes). */
static inline uint64_t
prefix_xor(uint64_t x)
{
	x ^= x << 1;
	x ^= x << 2;
	x ^= x << 4;
	x ^= x << 8;
	x ^= x << 16;
	x ^= x << 32;
	return x;
}

/*
 * Scan whole 64-byte blocks of a row from *ip (the method of simdjson's
 * first stage: masks of quotes, backslashes and brackets; escaped
 * characters from the runs of backslashes; string interiors by a prefix
 * XOR of the quotes left). Returns 1 with *ip just past the row's closing
 * bracket, or 0 with *ip where the blocks stop (the state saved).
 */
static int
row_end_blocks(struct la_stream *s, const char *b, size_t len, size_t *ip,
	       int *depthp)
{
	const uint64_t even = 0x5555555555555555ULL;
	uint64_t quote, bs, open, close, brk, esc, follows, odd_starts, seq,
	    in_str, bit;
	uint64_t prev_esc = s->in_string == 2,
		 prev_in = s->in_string ? ~0ULL : 0;
	size_t i = *ip;
	int depth = *depthp, k;
	__m128i v[4], lower[4];

	while (len - i >= 64) {
		for (k = 0; k < 4; k++) {
			v[k] = _mm_loadu_si128(
			    (const __m128i *)(const void *)(b + i + 16 * k));
			/* '[' and '{', ']' and '}' differ by 0x20 */
			lower[k] = _mm_or_si128(v[k], _mm_set1_epi8(0x20));
		}
		quote = eq_mask(v, '"');
		bs = eq_mask(v, '\\');
		open = eq_mask(lower, '{');
		close = eq_mask(lower, '}');
		/* Escaped characters: after an odd run of backslashes. */
		bs &= ~prev_esc;
		follows = bs << 1 | prev_esc;
		odd_starts = bs & ~even & ~follows;
		seq = odd_starts + bs;
		prev_esc = seq < odd_starts; /* the carry out */
		esc = (even ^ (seq << 1)) & follows;
		quote &= ~esc;
		in_str = prefix_xor(quote) ^ prev_in;
		prev_in = (uint64_t)((int64_t)in_str >> 63);
		brk = (open | close) & ~in_str;
		while (brk != 0) {
			k = __builtin_ctzll(brk);
			bit = 1ULL << k;
			brk &= brk - 1;
			if (open & bit)
				depth++;
			else if (--depth == 0) {
				*ip = i + (size_t)k + 1;
				return 1;
			}
		}
		i += 64;
	}
	s->in_string = prev_in ? (prev_esc ? 2 : 1) : 0;
	*ip = i;
	*depthp = depth;
	return 0;
}
#endif

/*
 * The end of the row starting at s->pos ('['): brackets and braces are
 * counted outside strings, and strings skipped with their escapes; the
 * row's own grammar is checked where it is parsed (la_row_valid() tells a
 * garbled row from a row of bad UTF-8 then). Resumes where the last call
 * stopped. Returns 1 with *end just past the row, or 0 if the input ends
 * first.
 */
static int
row_end(struct la_stream *s, const char *b, size_t len, size_t *end)
{
	size_t i = s->pos + s->scan;
	int depth = s->depth;
	char c;

#ifdef __SSE2__
	if (row_end_blocks(s, b, len, &i, &depth)) {
		*end = i;
		return 1;
	}
#endif
	/* The last bytes, one at a time. */
	if (s->in_string == 2) { /* the character after a backslash */
		if (i >= len)
			goto more;
		i++;
		s->in_string = 1;
	}
	if (s->in_string)
		goto string;
	while (i < len) {
		c = b[i++];
		if (c == '"') {
		string:
			for (;;) {
				if (i >= len) {
					s->in_string = 1;
					goto more;
				}
				c = b[i++];
				if (c == '"')
					break;
				if (c != '\\')
					continue;
				if (i >= len) {
					s->in_string = 2;
					goto more;
				}
				i++;
			}
			s->in_string = 0;
		} else if (c == '[' || c == '{')
			depth++;
		else if ((c == ']' || c == '}') && --depth == 0) {
			*end = i;
			return 1;
		}
	}
more:
	s->scan = i - s->pos;
	s->depth = depth;
	return 0;
}

/* Whether a row (as handed over by la_stream) is JSON: a grammar check,
 * without building anything. */
int
la_row_valid(const char *p, size_t len)
{
	size_t i = 0;

	return len > 0 && p[0] == '[' && skip_value(p, len, &i) == 0 &&
	       i == len;
}

/* Parse what s->in holds from s->pos. Returns 0 (more input needed), -1
 * if malformed (s->errstr), -2 if a callback refused a value. */
static int
stream_parse(struct la_stream *s)
{
	const char *b = s->in.data;
	size_t len = s->in.len, i, start;
	char key[32];
	int rc;

	for (;;) {
		i = s->pos;
		skip_ws(b, len, &i);
		s->pos = i;
		if (i >= len)
			return 0;
		start = i;
		switch (s->state) {
		case ST_TOP:
			if (b[i] != '{')
				goto bad;
			s->pos = i + 1;
			s->state = ST_TOP_KEY;
			s->first = 1;
			continue;
		case ST_TOP_KEY:
		case ST_T0_KEY:
			if (s->first && b[i] == '}') {
				s->pos = i + 1;
				s->state = s->state == ST_TOP_KEY
					       ? ST_END
					       : ST_TABLES_NEXT;
				continue;
			}
			if ((rc = member_name(b, len, &i, key, sizeof(key))) !=
			    0)
				break;
			s->kind = member_kind(key, s->state == ST_T0_KEY);
			s->state =
			    s->state == ST_TOP_KEY ? ST_TOP_VALUE : ST_T0_VALUE;
			s->pos = i;
			continue;
		case ST_TOP_VALUE:
			if (s->kind == K_TABLES && s->tables_seen)
				goto twice;
			if (s->kind == K_TABLES && b[i] == '[') {
				s->tables_seen = 1;
				s->pos = i + 1;
				s->state = ST_TABLES;
				continue;
			}
			/* (a value cut by the chunk's end is scanned again) */
			if ((rc = skip_value(b, len, &i)) != 0)
				break;
			if (s->kind == K_TABLES)
				s->tables_seen = 1;
			if (s->kind == K_ERROR &&
			    !(i - start == 4 &&
			      memcmp(b + start, "null", 4) == 0)) {
				buf_reset(&s->error);
				buf_append(&s->error, b + start, i - start);
			}
			s->pos = i;
			s->state = ST_TOP_NEXT;
			continue;
		case ST_TOP_NEXT:
		case ST_T0_NEXT:
			if (b[i] == ',') {
				s->pos = i + 1;
				s->state = s->state == ST_TOP_NEXT ? ST_TOP_KEY
								   : ST_T0_KEY;
				s->first = 0;
				continue;
			}
			if (b[i] != '}')
				goto bad;
			s->pos = i + 1;
			s->state =
			    s->state == ST_TOP_NEXT ? ST_END : ST_TABLES_NEXT;
			continue;
		case ST_TABLES:
			s->pos = i + 1;
			if (b[i] == ']')
				s->state = ST_TOP_NEXT;
			else if (b[i] == '{') {
				s->state = ST_T0_KEY;
				s->first = 1;
			} else {
				s->pos = i;
				s->state = ST_TABLES_ELEM;
			}
			continue;
		case ST_TABLES_ELEM:
			if ((rc = skip_value(b, len, &i)) != 0)
				break;
			s->pos = i;
			s->state = ST_TABLES_NEXT;
			continue;
		case ST_TABLES_NEXT:
			s->pos = i + 1;
			if (b[i] == ',')
				s->state = ST_TABLES_ELEM;
			else if (b[i] == ']')
				s->state = ST_TOP_NEXT;
			else
				goto bad;
			continue;
		case ST_T0_VALUE:
			if (s->kind == K_ROWS) {
				if (s->has_rows)
					goto twice;
				if (b[i] != '[')
					goto bad;
				s->has_rows = 1;
				s->pos = i + 1;
				s->state = ST_ROWS;
				s->first = 1;
				continue;
			}
			if ((rc = skip_value(b, len, &i)) != 0)
				break;
			if (s->kind == K_COLUMNS) {
				s->has_columns = 1;
				if (s->columns(s->arg, b + start, i - start) ==
				    -1)
					return -2;
			}
			s->pos = i;
			s->state = ST_T0_NEXT;
			continue;
		case ST_ROWS:
			if (s->first && b[i] == ']') {
				s->pos = i + 1;
				s->state = ST_T0_NEXT;
				continue;
			}
			if (b[i] != '[') {
				/* A JSON value but not an array: not retried;
				 * anything else: garbled on the way. */
				if (b[i] == ']') /* after a comma */
					goto bad;
				if ((rc = skip_value(b, len, &i)) != 0)
					break;
				s->errstr = "the rows array is malformed";
				s->malformed_rows = 1;
				s->state = ST_FAILED;
				return -1;
			}
			s->state = ST_ROW;
			s->scan = 0;
			s->depth = 0;
			s->in_string = 0;
			continue;
		case ST_ROW:
			if (row_end(s, b, len, &i) == 0)
				return 0; /* goes on where it stopped */
			s->rows++;
			if (s->row(s->arg, b + start, i - start) == -1)
				return -2;
			s->pos = i;
			s->state = ST_ROWS_NEXT;
			continue;
		case ST_ROWS_NEXT:
			s->pos = i + 1;
			if (b[i] == ',') {
				s->state = ST_ROWS;
				s->first = 0;
			} else if (b[i] == ']')
				s->state = ST_T0_NEXT;
			else
				goto bad;
			continue;
		case ST_END:
			s->errstr = "the response has data after its JSON "
				    "document";
			s->state = ST_FAILED;
			return -1;
		default:
			return -1;
		}
		if (rc != NEED)
			goto bad;
		/* Try this value again once its pending bytes doubled. */
		s->want = 2 * (len - start) + 1;
		return 0;
	}
bad:
	s->errstr = "the response is truncated or not JSON";
	s->state = ST_FAILED;
	return -1;
twice: /* the rows sent would not be those a JSON parser keeps (the last) */
	s->errstr = "the response has \"tables\" or tables[0].rows twice";
	s->duplicate = 1;
	s->state = ST_FAILED;
	return -1;
}

/*
 * The next n bytes of the answer. Complete values go to the callbacks:
 * tables[0].columns (once, before any row in the service's answers, but
 * not necessarily) and each row of tables[0].rows, as their JSON text;
 * the top-level "error" is kept in s->error. Returns 0, -1 if the answer
 * is malformed (s->errstr), -2 if a callback returned -1.
 */
int
la_stream_feed(struct la_stream *s, const char *p, size_t n)
{
	int rc;

	if (s->state == ST_FAILED)
		return -1;
	if (buf_append(&s->in, p, n) == -1) {
		s->errstr = "a value of the response is larger than the "
			    "buffer of an answer";
		s->state = ST_FAILED;
		return -1;
	}
	if (s->in.len - s->pos < s->want)
		return 0;
	s->want = 0;
	rc = stream_parse(s);
	if (rc == -2)
		s->state = ST_FAILED;
	/* Keep only what is not parsed yet. */
	buf_consume(&s->in, s->pos);
	s->pos = 0;
	return rc;
}

/*
 * The answer ended. Returns 0 if it was a complete document with
 * tables[0].columns and rows or an "error", -1 with s->errstr otherwise.
 */
int
la_stream_end(struct la_stream *s)
{
	if (s->state == ST_FAILED)
		return -1;
	if (s->want != 0) { /* a value left waiting for more */
		s->want = 0;
		if (stream_parse(s) != 0)
			return -1;
	}
	if (s->state != ST_END || s->want != 0) {
		s->errstr = "the response is truncated or not JSON";
		return -1;
	}
	if (s->error.len == 0 && (!s->has_columns || !s->has_rows)) {
		s->errstr = "the response has no tables[0].columns and rows";
		return -1;
	}
	return 0;
}

/*
 * The column names of tables[0] (a new array in *names), and the position
 * of the column time_name (-1 if absent). Returns 0 or -1 with *errstr.
 */
int
la_columns(json_t *columns, json_t **names, int *time_col,
	   const char *time_name, const char **errstr)
{
	json_t *c, *name;
	size_t i;

	*time_col = -1;
	if (!json_is_array(columns)) {
		*errstr = "columns is not an array";
		return -1;
	}
	*names = json_array();
	json_array_foreach(columns, i, c)
	{
		name = json_object_get(c, "name");
		if (!json_is_string(name)) {
			*errstr = "a column has no name";
			json_decref(*names);
			*names = NULL;
			return -1;
		}
		if (*time_col == -1 &&
		    strcmp(json_string_value(name), time_name) == 0)
			*time_col = (int)i;
		json_array_append(*names, name);
	}
	return 0;
}

/* The row through the jansson tree: the reference path. */
static int
row_event_tree(json_t *names, json_t *row, const char *tag, int skip,
	       struct buf *out)
{
	json_t *ev, *name;
	size_t i;
	int rc = 0;

	if (!json_is_array(row) ||
	    json_array_size(row) < json_array_size(names))
		return -1;
	ev = json_object();
	json_array_foreach(names, i, name) if ((int)i != skip) json_object_set(
	    ev, json_string_value(name), json_array_get(row, i));
	json_object_set_new(ev, "azure_tag",
			    json_string("azure-log-analytics"));
	if (tag != NULL && *tag != '\0')
		json_object_set_new(ev, "log_analytics_tag", json_string(tag));
	rc = pyjson_dump(ev, out);
	json_decref(ev);
	return rc;
}

/*
 * What la_row_event keeps of the columns of the answer: each name as the
 * key text json.dumps writes ("name": ), and whether the fast path may be
 * used (names unique, none our azure_tag or log_analytics_tag, no NUL).
 * It holds a reference to names, so the same pointer is the same answer.
 */
static struct {
	json_t *names;
	int simple;
	struct buf keys;    /* every key text, one after the other */
	size_t *key_end;    /* end of key i in keys */
	struct buf time;    /* the time cell of the last row, NUL-ended */
	struct buf scratch; /* cells not written */
	struct buf tag;	    /* the tag as JSON text */
	char *tag_src;	    /* the tag it was made of; NULL: none */
	int tag_ok;	    /* 0: json_string() refuses the tag */
} cols;

static void
cols_set(json_t *names)
{
	const char *ni, *nj;
	size_t i, j, n = json_array_size(names);

	json_decref(cols.names);
	cols.names = json_incref(names);
	buf_free(&cols.keys);
	buf_init(&cols.keys, (size_t)-1);
	free(cols.key_end);
	cols.key_end = xcalloc(n + 1, sizeof(*cols.key_end));
	cols.simple = 1;
	for (i = 0; i < n; i++) {
		ni = json_string_value(json_array_get(names, i));
		if (ni == NULL ||
		    strlen(ni) !=
			json_string_length(json_array_get(names, i)) ||
		    strcmp(ni, "azure_tag") == 0 ||
		    strcmp(ni, "log_analytics_tag") == 0)
			cols.simple = 0;
		for (j = 0; j < i && cols.simple; j++) {
			nj = json_string_value(json_array_get(names, j));
			if (strcmp(ni, nj) == 0)
				cols.simple = 0;
		}
		if (!cols.simple)
			return;
		if (pyjson_string(ni, strlen(ni), &cols.keys) == -1 ||
		    buf_append(&cols.keys, ": ", 2) == -1)
			fatal("la_row_event: column names");
		cols.key_end[i] = cols.keys.len;
	}
}

/* The row through the transcoder: 0, 1 short row, -2 give up. */
static int
row_event_fast(const char *row, size_t len, const char *tag, int skip,
	       int time_col, struct buf *out, const char **time)
{
	size_t ncols = json_array_size(cols.names), i = 0, start, rawlen;
	struct pyjson_in in;
	const char *raw;
	int first = 1, rc = -2, st;

	*time = NULL;
	pyjson_in_init(&in, row, len, out);
	pyjson_in_ws(&in);
	if (in.pos >= len || row[in.pos] != '[' || buf_append(out, "{", 1))
		goto out;
	in.pos++;
	pyjson_in_ws(&in);
	if (in.pos < len && row[in.pos] == ']')
		in.pos++;
	else
		for (;; i++) {
			in.out = out;
			if (i >= ncols || (int)i == skip) {
				in.out = &cols.scratch;
				buf_reset(&cols.scratch);
			} else {
				start = i ? cols.key_end[i - 1] : 0;
				if ((!first && buf_append(out, ", ", 2)) ||
				    buf_append(out, cols.keys.data + start,
					       cols.key_end[i] - start))
					goto out;
				first = 0;
			}
			pyjson_in_ws(&in);
			if ((int)i == time_col && in.pos < len &&
			    row[in.pos] == '"') {
				/* escapes (\u0000 above all): slow path */
				if (pyjson_in_string(&in, &raw, &rawlen) != 1)
					goto out;
				buf_reset(&cols.time);
				if (buf_append(&cols.time, raw, rawlen) == -1)
					goto out;
				*time = cols.time.data;
				st = 0;
			} else
				st = pyjson_in_value(&in);
			if (st == -1)
				goto out;
			pyjson_in_ws(&in);
			if (in.pos < len && row[in.pos] == ',') {
				in.pos++;
				continue;
			}
			if (in.pos < len && row[in.pos] == ']') {
				in.pos++, i++;
				break;
			}
			goto out;
		}
	pyjson_in_ws(&in);
	if (in.pos != len)
		goto out;
	rc = 1;
	if (i < ncols)
		goto out;
	rc = -2;
	if (buf_puts(out, first ? "\"azure_tag\": \"azure-log-analytics\""
				: ", \"azure_tag\": \"azure-log-analytics\""))
		goto out;
	if (tag != NULL && *tag != '\0' &&
	    (buf_puts(out, ", \"log_analytics_tag\": ") ||
	     buf_append(out, cols.tag.data, cols.tag.len)))
		goto out;
	rc = buf_append(out, "}", 1) ? -2 : 0;
out:
	pyjson_in_free(&in);
	return rc;
}

/* 0 turns the fast path off: the differential fuzz target compares. */
int la_row_fast = 1;

/*
 * One row (its JSON text: row, len) as Wazuh's event: {column: cell, ...}
 * with each cell as the service sent it, then azure_tag and, with a tag,
 * log_analytics_tag (a column of the same name is replaced in place, as in
 * Python's dict). Column skip (-1: none) is ours and left out. Appends the
 * JSON text to out, and points *time at the cell time_col when it is a
 * string (else NULL; valid until the next call). Returns 0; -1 if the row
 * is shorter than the columns or out is full; -2 if the row is not JSON
 * (jansson's message in err).
 *
 * The streaming transcoder (pyjson_fast.c) writes the event; a row it
 * gives up on, or columns with a duplicate or one of our names, take the
 * jansson path, which gives the same bytes.
 */
int
la_row_event(json_t *names, const char *row, size_t len, const char *tag,
	     int skip, int time_col, struct buf *out, const char **time,
	     char *err, size_t errlen)
{
	size_t mark = out->len;
	json_error_t jerr;
	json_t *r, *tag_json = NULL;
	const char *t;
	int rc;

	if (cols.time.max == 0) {
		buf_init(&cols.time, (size_t)-1);
		buf_init(&cols.scratch, (size_t)-1);
		buf_init(&cols.tag, (size_t)-1);
		cols.tag_ok = 1; /* for no tag, as tag_src says */
	}
	if (cols.names != names)
		cols_set(names);
	if (tag != NULL && *tag == '\0')
		tag = NULL;
	if (tag == NULL
		? cols.tag_src != NULL
		: cols.tag_src == NULL || strcmp(tag, cols.tag_src) != 0) {
		free(cols.tag_src);
		cols.tag_src = tag ? xstrdup(tag) : NULL;
		buf_reset(&cols.tag);
		/* json_string() refuses what is not UTF-8: no tag then */
		cols.tag_ok =
		    tag == NULL || (tag_json = json_string(tag)) != NULL;
		if (tag != NULL && cols.tag_ok) {
			json_decref(tag_json);
			cols.tag_ok =
			    pyjson_string(tag, strlen(tag), &cols.tag) == 0;
		}
	}
	if (la_row_fast && cols.simple && cols.tag_ok) {
		rc = row_event_fast(row, len, tag, skip, time_col, out, time);
		if (rc == 0)
			return 0;
		out->len = mark;
		if (rc == 1)
			return -1;
	}
	out->len = mark;
	*time = NULL;
	if ((r = pyjson_load(row, len, &jerr)) == NULL) {
		snprintf(err, errlen, "%s", jerr.text);
		return -2;
	}
	rc = row_event_tree(names, r, tag, skip, out);
	t = time_col >= 0
		? json_string_value(json_array_get(r, (size_t)time_col))
		: NULL;
	if (t != NULL) {
		buf_reset(&cols.time);
		buf_puts(&cols.time, t);
		*time = buf_cstr(&cols.time);
	}
	json_decref(r);
	return rc;
}

/* The innermost "message" of an error object. */
static const char *
inner_message(json_t *e)
{
	const char *m = json_string_value(json_object_get(e, "message"));
	json_t *in = json_object_get(e, "innererror"), *d;
	const char *deeper = NULL;

	if (json_is_object(in))
		deeper = inner_message(in);
	d = json_array_get(json_object_get(e, "details"), 0);
	if (deeper == NULL && json_is_object(d))
		deeper = inner_message(d);
	return deeper != NULL ? deeper : m;
}

/*
 * An "error" object of a query response (top-level of a 200, or the body
 * of an error status). Fills msg with "Code: innermost message". Returns 1
 * for PartialError (rows were truncated), 0 for another error, -1 if it is
 * not an error object with a code or a message (msg is then untouched).
 */
int
la_partial_error(const char *p, size_t len, char *msg, size_t msglen)
{
	json_t *e = json_loadb(p, len, 0, NULL);
	const char *code, *m;
	int rc = -1;

	if (json_is_object(e) && json_is_object(json_object_get(e, "error"))) {
		json_t *inner = json_incref(json_object_get(e, "error"));
		json_decref(e);
		e = inner;
	}
	code = json_string_value(json_object_get(e, "code"));
	m = json_is_object(e) ? inner_message(e) : NULL;
	if (code != NULL || m != NULL) {
		snprintf(msg, msglen, "%s: %s", code ? code : "(no code)",
			 m ? m : "(no message)");
		rc = code != NULL && strcmp(code, "PartialError") == 0;
	}
	json_decref(e);
	return rc;
}
