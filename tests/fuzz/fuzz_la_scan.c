/*
 * Fuzz target: Log Analytics responses (fetchers/la_query.c). The scanner
 * must stay inside the body, and whatever extents it reports must hold
 * rows that la_next_row() walks without leaving them. Each row is then
 * turned into Wazuh's event as azure-la does (columns, Python-compatible
 * parse, la_row_event), which must be JSON that reads back as an object,
 * and the same (return, bytes, time, message) with the fast path off; the
 * first byte of the input picks the tag and the skipped column.
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
	struct buf ev;
	int time_col = -1, skip;

	/* An exact-size copy, so ASan sees any read past the end. */
	copy = malloc(size ? size : 1);
	memcpy(copy, data, size);
	p = copy;
	tag = tags[size ? data[0] & 3 : 0];
	skip = size && (data[0] & 4);
	buf_init(&ev, size && (data[0] & 8) ? 300 : 1 << 20);
	if (la_scan_response(p, size, &s, &errstr) == 0) {
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
	json_decref(names);
	json_decref(cols);
	buf_free(&ev);
	free(copy);
	return 0;
}
