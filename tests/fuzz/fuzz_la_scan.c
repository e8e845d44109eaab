/*
 * Fuzz target: Log Analytics responses (fetchers/la_query.c). The scanner
 * must stay inside the body, and whatever extents it reports must hold
 * rows that la_next_row() walks without leaving them. Each row is then
 * turned into Wazuh's event as azure-la does (columns, Python-compatible
 * parse, la_row_event), which must be JSON that reads back as an object.
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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p, *errstr = NULL;
	struct la_scan s;
	size_t pos = 0, off, len;
	char msg[256], *copy;
	json_t *row, *cols = NULL, *names = NULL, *back;
	json_error_t jerr;
	struct buf ev;
	int time_col = -1;

	/* An exact-size copy, so ASan sees any read past the end. */
	copy = malloc(size ? size : 1);
	memcpy(copy, data, size);
	p = copy;
	buf_init(&ev, 1 << 20);
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
			row = pyjson_load(p + s.rows_off + off, len, &jerr);
			buf_reset(&ev);
			if (row != NULL && names != NULL &&
			    la_row_event(names, row, "t\"ag", time_col, &ev) ==
				0) {
				back = pyjson_load(ev.data, ev.len, &jerr);
				if (!json_is_object(back))
					abort();
				json_decref(back);
			}
			json_decref(row);
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
