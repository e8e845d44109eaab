/*
 * Fuzz target: Log Analytics responses (fetchers/la_query.c). The scanner
 * must stay inside the body, and whatever extents it reports must hold
 * rows that la_next_row() walks without leaving them. Each row is then
 * turned into Wazuh's event as azure-la does (columns, Python-compatible
 * parse, la_row_event), which must be JSON that reads back as an object,
 * and the same (return, bytes, time, message) with the fast path off; the
 * first byte of the input picks the tag and the skipped column.
 * The streaming scanner (la_stream) must agree with the whole-body one.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "fetch.h"
#include "pyjson.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* la_row_event with and without its fast path: the same answer. */
static int
row_both(json_t *names, const char *row, size_t len, const char *tag, int skip,
	 int time_col, struct buf *ev)
{
	char e1[256] = "", e2[256] = "", *t1;
	const char *t, *t2;
	struct buf slow;
	int rc, rc2;

	rc = la_row_event(names, row, len, tag, skip, time_col, ev, &t, e1,
			  sizeof(e1));
	t1 = t ? strdup(t) : NULL;
	buf_init(&slow, ev->max);
	la_row_fast = 0;
	rc2 = la_row_event(names, row, len, tag, skip, time_col, &slow, &t2, e2,
			   sizeof(e2));
	la_row_fast = 1;
	if (rc != rc2 || (t1 == NULL) != (t2 == NULL) ||
	    (t1 != NULL && strcmp(t1, t2) != 0) ||
	    (rc == -2 && strcmp(e1, e2) != 0) ||
	    (rc == 0 && (slow.len != ev->len ||
			 memcmp(slow.data, ev->data, ev->len) != 0)))
		abort();
	free(t1);
	buf_free(&slow);
	return rc;
}

/* The streaming scanner's rows, columns, and whether a row it handed
 * over is not JSON (azure-la then takes the answer for garbled). */
struct streamed {
	struct buf rows, columns;
	int garbled;
};

static int
streamed_columns(void *arg, const char *p, size_t n)
{
	struct streamed *st = arg;

	buf_reset(&st->columns);
	buf_append(&st->columns, p, n);
	return 0;
}

static int
streamed_row(void *arg, const char *p, size_t n)
{
	struct streamed *st = arg;

	if (!la_row_valid(p, n)) {
		st->garbled = 1;
		return -1;
	}
	buf_append(&st->rows, p, n);
	buf_append(&st->rows, "\n", 1);
	return 0;
}

/*
 * The same input to la_stream in pieces: when la_scan_response accepted
 * it (ok), the same columns, rows (want) and error; otherwise it is
 * refused too.
 */
static void
stream_differential(const char *p, size_t size, int ok, const struct la_scan *s,
		    const struct buf *want)
{
	struct la_stream ls;
	struct streamed st;
	size_t off, n, piece = 1 + size % 13;
	int rc = 0;

	buf_init(&st.rows, 1 << 26);
	buf_init(&st.columns, 1 << 26);
	st.garbled = 0;
	la_stream_init(&ls, streamed_columns, streamed_row, &st);
	la_stream_reset(&ls);
	for (off = 0; off < size && rc == 0; off += n) {
		n = size - off < piece ? size - off : piece;
		rc = la_stream_feed(&ls, p + off, n);
	}
	if (rc == 0)
		rc = la_stream_end(&ls);
	if (ok && !ls.malformed_rows && !ls.duplicate) {
		if (rc != 0 || st.rows.len != want->len ||
		    (want->len &&
		     memcmp(st.rows.data, want->data, want->len)) ||
		    st.columns.len != s->columns_len ||
		    (s->columns_len &&
		     memcmp(st.columns.data, p + s->columns_off,
			    s->columns_len)) ||
		    ls.error.len != s->error_len ||
		    (s->error_len &&
		     memcmp(ls.error.data, p + s->error_off, s->error_len)))
			abort();
	} else if (!ok && rc == 0)
		abort();
	la_stream_free(&ls);
	buf_free(&st.rows);
	buf_free(&st.columns);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const tags[] = {"t\"ag", "", NULL, "\xff"};
	const char *p, *errstr = NULL, *tag;
	struct la_scan s;
	size_t pos = 0, off, len;
	char msg[256], *copy;
	json_t *cols = NULL, *names = NULL, *back;
	json_error_t jerr;
	struct buf ev, rows;
	int time_col = -1, skip, ok;

	/* An exact-size copy, so ASan sees any read past the end. */
	copy = malloc(size ? size : 1);
	memcpy(copy, data, size);
	p = copy;
	tag = tags[size ? data[0] & 3 : 0];
	skip = size && (data[0] & 4);
	buf_init(&ev, size && (data[0] & 8) ? 300 : 1 << 20);
	buf_init(&rows, 1 << 26);
	ok = la_scan_response(p, size, &s, &errstr) == 0;
	if (ok) {
		if (s.rows_off + s.rows_len > size ||
		    s.columns_off + s.columns_len > size ||
		    s.error_off + s.error_len > size)
			abort();
		if (s.columns_len)
			cols = json_loadb(p + s.columns_off, s.columns_len, 0,
					  NULL);
		if (cols != NULL && la_columns(cols, &names, &time_col,
					       "TimeGenerated", &errstr) == -1)
			names = NULL;
		while (s.rows_len && la_next_row(p + s.rows_off, s.rows_len,
						 &pos, &off, &len) == 1) {
			if (off + len > s.rows_len)
				abort();
			buf_append(&rows, p + s.rows_off + off, len);
			buf_append(&rows, "\n", 1);
			buf_reset(&ev);
			if (names != NULL &&
			    row_both(names, p + s.rows_off + off, len, tag,
				     skip ? time_col : -1, time_col,
				     &ev) == 0) {
				back = pyjson_load(ev.data, ev.len, &jerr);
				if (!json_is_object(back))
					abort();
				json_decref(back);
			}
		}
		if (s.error_len)
			(void)la_partial_error(p + s.error_off, s.error_len,
					       msg, sizeof(msg));
	}
	stream_differential(p, size, ok, &s, &rows);
	json_decref(names);
	json_decref(cols);
	buf_free(&ev);
	buf_free(&rows);
	free(copy);
	return 0;
}
