/*
 * The streaming scanner of Log Analytics answers (la_stream_*, la_query.c)
 * against the whole-body scanner (la_scan_response, la_next_row): fed in
 * pieces of every size, it must report the same columns, rows and error
 * for every answer the whole-body scanner accepts, and refuse every answer
 * it refuses (truncated at each byte, garbled, trailing data), or hand
 * over a row la_row_valid() refuses (rows are only bracket-scanned).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fetch.h"

struct got {
	struct buf columns; /* the last columns */
	struct buf rows;    /* each row, then '\n' */
	int refuse_at;	    /* refuse the row of this number (1-based) */
	int nrows;
	int garbled; /* a row handed over is not JSON */
};

static int
got_columns(void *arg, const char *p, size_t n)
{
	struct got *g = arg;

	buf_reset(&g->columns);
	buf_append(&g->columns, p, n);
	return 0;
}

static int
got_row(void *arg, const char *p, size_t n)
{
	struct got *g = arg;

	if (++g->nrows == g->refuse_at)
		return -1;
	if (!la_row_valid(p, n)) { /* azure-la: a garbled answer */
		g->garbled = 1;
		return -1;
	}
	buf_append(&g->rows, p, n);
	buf_append(&g->rows, "\n", 1);
	return 0;
}

/* Feed body in pieces of size piece; returns la_stream_end's result or
 * the feed's error. */
static int
stream(const char *body, size_t len, size_t piece, struct got *g,
       struct la_stream *s)
{
	size_t off, n;
	int rc;

	buf_init(&g->columns, 1 << 26);
	buf_init(&g->rows, 1 << 26);
	g->nrows = 0;
	g->garbled = 0;
	la_stream_init(s, got_columns, got_row, g);
	la_stream_reset(s);
	for (off = 0; off < len; off += n) {
		n = len - off < piece ? len - off : piece;
		/* An exact-size copy: ASan sees any read past the piece. */
		char *copy = malloc(n);
		memcpy(copy, body + off, n);
		rc = la_stream_feed(s, copy, n);
		free(copy);
		if (rc != 0)
			return rc;
	}
	return la_stream_end(s);
}

static void
done(struct got *g, struct la_stream *s)
{
	buf_free(&g->columns);
	buf_free(&g->rows);
	la_stream_free(s);
}

/* What the whole-body scanner says of body: 0 with the expected columns,
 * rows and error, or -1. */
static int
whole(const char *body, size_t len, struct buf *cols, struct buf *rows,
      struct buf *err)
{
	struct la_scan sc;
	const char *errstr;
	size_t pos = 0, off, rlen;
	int rc = 0;

	buf_init(cols, 1 << 26);
	buf_init(rows, 1 << 26);
	buf_init(err, 1 << 26);
	if (la_scan_response(body, len, &sc, &errstr) == -1)
		return -1;
	buf_append(cols, body + sc.columns_off, sc.columns_len);
	buf_append(err, body + sc.error_off, sc.error_len);
	while (sc.rows_len && (rc = la_next_row(body + sc.rows_off, sc.rows_len,
						&pos, &off, &rlen)) == 1) {
		buf_append(rows, body + sc.rows_off + off, rlen);
		buf_append(rows, "\n", 1);
	}
	return sc.rows_len && rc == -1 ? -2 : 0; /* -2: a row is no array */
}

static int
same(const struct buf *a, const struct buf *b)
{
	return a->len == b->len &&
	       (a->len == 0 || !memcmp(a->data, b->data, a->len));
}

/* How often key (quoted) is in the body: a duplicate member needs two. */
static int
twice(const char *body, size_t len, const char *key)
{
	const char *p = memmem(body, len, key, strlen(key));

	return p != NULL && memmem(p + 1, len - (size_t)(p + 1 - body), key,
				   strlen(key)) != NULL;
}

static void
check_body(const char *body, size_t len)
{
	static const size_t pieces[] = {1, 2, 3, 5, 7, 16, 64, 1000, 1 << 20};
	struct buf cols, rows, err;
	struct la_stream s;
	struct got g = {0};
	size_t i;
	int want, rc;

	want = whole(body, len, &cols, &rows, &err);
	for (i = 0; i < sizeof(pieces) / sizeof(*pieces); i++) {
		rc = stream(body, len, pieces[i], &g, &s);
		if (want != -1 && rc == -1 && s.duplicate &&
		    (twice(body, len, "\"tables\"") ||
		     twice(body, len, "\"rows\""))) {
			/* refused: which rows a parser keeps is unclear */
		} else if (want == 0) {
			if (rc != 0)
				fail_msg("refused (%s) in pieces of %zu: %.*s",
					 s.errstr, pieces[i], (int)len, body);
			if (!same(&cols, &g.columns) || !same(&rows, &g.rows) ||
			    !same(&err, &s.error))
				fail_msg("differs in pieces of %zu: %.*s",
					 pieces[i], (int)len, body);
		} else if (want == -2) {
			/* azure-la sends the rows before it, then fails */
			if (rc != -1 || !s.malformed_rows ||
			    !same(&rows, &g.rows))
				fail_msg("malformed rows not seen in pieces of "
					 "%zu: %.*s",
					 pieces[i], (int)len, body);
		} else if (rc == 0)
			fail_msg("accepted in pieces of %zu: %.*s", pieces[i],
				 (int)len, body);
		else if (rc == -2 && !g.garbled)
			fail_msg("a row refused for no reason: %.*s", (int)len,
				 body);
		else if (rc == -1 && s.errstr == NULL)
			fail_msg("refused without a reason: %.*s", (int)len,
				 body);
		done(&g, &s);
	}
	buf_free(&cols);
	buf_free(&rows);
	buf_free(&err);
}

static const char *const bodies[] = {
    "{\"tables\":[{\"name\":\"PrimaryResult\",\"columns\":[{\"name\":"
    "\"TimeGenerated\",\"type\":\"datetime\"},{\"name\":\"C\",\"type\":"
    "\"string\"}],\"rows\":[[\"2022-06-03T19:50:29.043Z\",\"host1\"],"
    "[\"2022-06-03T19:50:30Z\",\"h\\\"o\\\\s\\u00e9t \\n2\"]]}]}",
    " \n{ \"tables\" : [ { \"rows\" : [ [ 1 , -2.5e+3 , true , false , null "
    ", { \"a\" : [ ] } , [ ] , \"\" ] ] , \"columns\" : [ ] } , { \"x\" : "
    "1 } ] , \"other\" : { \"rows\" : 1 } } \r\n",
    "{\"tables\":[{\"name\":\"PrimaryResult\",\"columns\":[],\"rows\":[]}],"
    "\"error\":{\"code\":\"PartialError\",\"message\":\"m\",\"details\":"
    "[{\"innererror\":{\"message\":\"E_QUERY_RESULT_SET_TOO_LARGE\"}}]}}",
    "{\"error\":null,\"tables\":[{\"columns\":[1],\"rows\":[[0],[-0.5],"
    "[1E9],[\"\\ud83d\\ude00\"]]}]}",
    "{\"error\":{\"code\":\"BadArgumentError\"}}",
    "{\"tables\":[]}",
    "{}",
    "{\"tables\":[1,{\"columns\":[],\"rows\":[[1]]}]}",
    "{\"tables\":{\"columns\":[],\"rows\":[[1]]}}",
    "{\"tables\": {\"x\": 1}, \"error\": {\"code\":\"E\"}}",
    "{\"tables\":[{\"columns\":[],\"rows\":{}}]}",
    "{\"tables\":[{\"columns\":[],\"rows\":[1]}]}",
    "{\"tables\":[{\"columns\":[],\"rows\":[[1],]}]}",
    "{\"tables\":[{\"columns\":[],\"rows\":[[1]]},]}",
    "{\"tables\":[{\"columns\":[],\"rows\":[[1]]}],}",
    "{\"tables\":[{\"columns\":[],\"rows\":[[1]]}]}x",
    "{\"tables\":[{\"columns\":[],\"rows\":[[1]]}]}{}",
    "{\"tables\":[{\"columns\":[],\"rows\":[[1e]]}]}",
    "{\"tables\":[{\"columns\":[],\"rows\":[[01]]}]}",
    "{\"tables\":[{\"columns\":[],\"rows\":[[tru]]}]}",
    "{\"tables\":[{\"columns\":[],\"rows\":[[\"a\tb\"]]}]}",
    "{\"tables\":[{\"columns\":[],\"rows\":[[\"\\x\"]]}]}",
    "{\"tables\":[{\"columns\":[],\"rows\":[[\"\\u12g4\"]]}]}",
    "{\"tables\":[{\"columns\":[],\"rows\":[[1]]}]",
    "<!DOCTYPE html><html><body>Gateway busy",
    "{\"tables\":[{\"columns\":[],\"rows\":[[1]],\"rows\":[[2]]}]}",
    "{\"tables\":[{\"columns\":[],\"rows\":[[1]]}],\"tables\":1}",
    "",
    "   ",
};

static void
test_bodies(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bodies) / sizeof(*bodies); i++)
		check_body(bodies[i], strlen(bodies[i]));
}

/* Every prefix of a valid answer is refused (cut anywhere). */
static void
test_every_cut(void **state)
{
	size_t i, n;

	(void)state;
	for (i = 0; i < 4; i++)
		for (n = 0; n < strlen(bodies[i]); n++)
			check_body(bodies[i], n);
}

/* Random mutations of the bodies, and of the fuzz corpus. */
static void
test_mutations(void **state)
{
	char b[4096];
	size_t i, n, k;
	unsigned seed = 12345;
	static const char alphabet[] = "{}[],:\" \\u0e1-.tfn";

	(void)state;
	for (i = 0; i < 3000; i++) {
		const char *src = bodies[i % 4];

		n = strlen(src);
		memcpy(b, src, n);
		for (k = 0; k < 1 + i % 3; k++) {
			seed = seed * 1103515245 + 12345;
			b[(seed >> 8) % n] =
			    alphabet[(seed >> 20) % (sizeof(alphabet) - 1)];
		}
		check_body(b, n);
	}
}

static void
test_corpus(void **state)
{
	static const char dir[] = "tests/fuzz/corpus/la_scan";
	char path[512];
	struct dirent *e;
	struct buf b;
	FILE *fp;
	DIR *d;
	size_t n;
	char chunk[4096];

	(void)state;
	if ((d = opendir(dir)) == NULL)
		skip();
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if ((fp = fopen(path, "rb")) == NULL)
			continue;
		buf_init(&b, 1 << 26);
		while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
			buf_append(&b, chunk, n);
		fclose(fp);
		check_body(b.data ? b.data : "", b.len);
		buf_free(&b);
	}
	closedir(d);
}

/* A random cell: strings full of escapes (runs of backslashes, escaped
 * quotes), brackets inside strings, nested arrays and objects. */
static void
random_cell(struct buf *b, unsigned *seed, int depth)
{
	static const char *const bits[] = {
	    "a",	"bc",	    "\\\\",    "\\\"", "[", "]",
	    "{",	"}",	    "\\u00e9", "\\n",  " ", "\\\\\\\\",
	    "\\\\\\\"", "\xc3\xa9", ",",       ":"};
	int n, k;

	*seed = *seed * 1103515245 + 12345;
	switch ((*seed >> 16) % (depth < 3 ? 4 : 2)) {
	case 0:
		buf_append(b, "\"", 1);
		n = (int)((*seed >> 8) % 90);
		for (k = 0; k < n; k++) {
			*seed = *seed * 1103515245 + 12345;
			buf_puts(b, bits[(*seed >> 16) % 16]);
		}
		buf_append(b, "\"", 1);
		break;
	case 1:
		buf_printf(b, "%u", *seed % 100000);
		break;
	case 2:
		buf_append(b, "[", 1);
		n = (int)((*seed >> 8) % 4);
		for (k = 0; k < n; k++) {
			if (k)
				buf_append(b, ",", 1);
			random_cell(b, seed, depth + 1);
		}
		buf_append(b, "]", 1);
		break;
	default:
		buf_append(b, "{", 1);
		n = (int)((*seed >> 8) % 3);
		for (k = 0; k < n; k++) {
			buf_printf(b, "%s\"k%d\":", k ? "," : "", k);
			random_cell(b, seed, depth + 1);
		}
		buf_append(b, "}", 1);
	}
}

/* Rows over many 64-byte blocks, escapes across their edges. */
static void
test_long_rows(void **state)
{
	unsigned seed = 777;
	struct buf b;
	int body, row, cell;

	(void)state;
	for (body = 0; body < 150; body++) {
		buf_init(&b, 1 << 24);
		buf_puts(&b, "{\"tables\":[{\"columns\":[],\"rows\":[");
		for (row = 0; row < 6; row++) {
			buf_puts(&b, row ? ",[" : "[");
			for (cell = 0; cell < 12; cell++) {
				if (cell)
					buf_append(&b, ",", 1);
				random_cell(&b, &seed, 0);
			}
			buf_append(&b, "]", 1);
		}
		buf_puts(&b, "]}]}");
		check_body(b.data, b.len);
		buf_free(&b);
	}
}

/* A callback's refusal stops the stream: nothing after it. */
static void
test_refused_row(void **state)
{
	struct la_stream s;
	struct got g = {0};

	(void)state;
	g.refuse_at = 2;
	assert_int_equal(stream(bodies[3], strlen(bodies[3]), 7, &g, &s), -2);
	assert_int_equal(g.nrows, 2);
	assert_int_equal(la_stream_feed(&s, "x", 1), -1);
	assert_int_equal(la_stream_end(&s), -1);
	done(&g, &s);
}

/* A large answer in curl-sized pieces: memory holds about one row. */
static void
test_large_answer_bounded(void **state)
{
	struct la_stream s;
	struct got g = {0};
	struct buf body;
	size_t i, off, n, peak = 0;
	char row[2100];

	(void)state;
	memset(row, 'x', sizeof(row));
	memcpy(row, "[\"", 2);
	memcpy(row + sizeof(row) - 2, "\"]", 2);
	buf_init(&body, 1 << 26);
	buf_puts(&body, "{\"tables\":[{\"name\":\"PrimaryResult\",\"columns\":"
			"[{\"name\":\"C\",\"type\":\"string\"}],\"rows\":[");
	for (i = 0; i < 10000; i++) {
		if (i)
			buf_append(&body, ",", 1);
		buf_append(&body, row, sizeof(row));
	}
	buf_puts(&body, "]}]}");
	buf_init(&g.columns, 1 << 20);
	buf_init(&g.rows, 1 << 26);
	la_stream_init(&s, got_columns, got_row, &g);
	la_stream_reset(&s);
	for (off = 0; off < body.len; off += n) {
		n = body.len - off < 16384 ? body.len - off : 16384;
		assert_int_equal(la_stream_feed(&s, body.data + off, n), 0);
		if (s.in.cap > peak)
			peak = s.in.cap;
	}
	assert_int_equal(la_stream_end(&s), 0);
	assert_int_equal(g.nrows, 10000);
	assert_int_equal(s.rows, 10000);
	assert_true(peak <= 65536);
	done(&g, &s);
	buf_free(&body);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bodies),
	    cmocka_unit_test(test_every_cut),
	    cmocka_unit_test(test_mutations),
	    cmocka_unit_test(test_corpus),
	    cmocka_unit_test(test_long_rows),
	    cmocka_unit_test(test_refused_row),
	    cmocka_unit_test(test_large_answer_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
