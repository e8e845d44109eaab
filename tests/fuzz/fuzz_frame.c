/*
 * Fuzz target: frames from a hostile peer (common/frame.c). Whatever the
 * bytes, frame_next() returns, never reads out of bounds, and a decoded
 * frame's fields can be read as its signature says.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct frame_reader fr;
	struct frame f;
	const char *errstr;
	size_t len, i;
	char *s;

	frame_reader_init(&fr);
	/* Fed in two pieces: partial frames must wait for the rest. */
	frame_reader_feed(&fr, data, size / 2);
	for (i = 0; i < 2; i++) {
		while (frame_next(&fr, &f, &errstr) == 1) {
			if (f.type == FRAME_EVENT) {
				s = frame_strdup(&f, 0);
				free(s);
				(void)frame_bin(&f, 2, &len);
			} else if (f.type == FRAME_ACK)
				(void)frame_int(&f, 0);
			else if (f.type == FRAME_RESULT) {
				(void)frame_bool(&f, 0);
				(void)frame_int(&f, 3);
			}
			frame_free(&f);
		}
		frame_reader_feed(&fr, data + size / 2, size - size / 2);
	}
	frame_reader_free(&fr);
	return 0;
}
