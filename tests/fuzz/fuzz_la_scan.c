/*
 * Fuzz target: Log Analytics responses (fetchers/la_query.c). The scanner
 * must stay inside the body, and whatever extents it reports must hold
 * rows that la_next_row() walks without leaving them.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fetch.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p, *errstr = NULL;
	struct la_scan s;
	size_t pos = 0, off, len;
	char msg[256], *copy;
	json_t *row;

	/* An exact-size copy, so ASan sees any read past the end. */
	copy = malloc(size ? size : 1);
	memcpy(copy, data, size);
	p = copy;
	if (la_scan_response(p, size, &s, &errstr) == 0) {
		if (s.rows_off + s.rows_len > size ||
		    s.columns_off + s.columns_len > size ||
		    s.error_off + s.error_len > size)
			abort();
		while (s.rows_len && la_next_row(p + s.rows_off, s.rows_len,
						 &pos, &off, &len) == 1) {
			if (off + len > s.rows_len)
				abort();
			row = json_loadb(p + s.rows_off + off, len, 0, NULL);
			json_decref(row);
		}
		if (s.error_len)
			(void)la_partial_error(p + s.error_off, s.error_len,
					       msg, sizeof(msg));
	}
	free(copy);
	return 0;
}
