/*
 * Fuzz target: blob content (fetchers/storage_lines.c). Fed in three
 * pieces, the lines and the delivered offset must be the same as when the
 * content is fed whole, and as a byte-at-a-time reference splitter finds
 * them (the splitter scans 16 bytes at a time); every payload builder must
 * accept every line.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "storage.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct tally {
	uint64_t hash, n;
	struct buf out;
};

static int
on_line(void *arg, const char *line, size_t len)
{
	struct tally *t = arg;
	size_t i;

	for (i = 0; i < len; i++)
		t->hash = t->hash * 131 + (unsigned char)line[i];
	t->hash = t->hash * 131 + 0x100;
	t->n++;
	buf_reset(&t->out);
	if (storage_plain_event(line, len, "t\"ag", &t->out) == -1 ||
	    storage_inline_event(line, len, "tag", &t->out) == -1)
		abort();
	return 0;
}

static int64_t
split(const char *p, size_t n, size_t a, size_t b, struct tally *t)
{
	struct storage_lines sl;
	int64_t done;

	storage_lines_init(&sl, 1 << 16);
	if (storage_lines_feed(&sl, p, a, on_line, t) == -1 ||
	    storage_lines_feed(&sl, p + a, b - a, on_line, t) == -1 ||
	    storage_lines_feed(&sl, p + b, n - b, on_line, t) == -1) {
		storage_lines_free(&sl);
		return -2;
	}
	done = sl.done;
	storage_lines_free(&sl);
	return done;
}

/*
 * Reference: Python's splitlines() separators, one byte at a time, over
 * the whole content; a "\r" at the very end ends its line, an unfinished
 * C2 / E2 80 at the end does not. Returns the offset past the last
 * separator.
 */
static int64_t
reference(const unsigned char *u, size_t n, struct tally *t)
{
	size_t i = 0, start = 0, j, r;
	int64_t done = 0;

	while (i < n) {
		r = 0;
		if (u[i] == '\r')
			r = i + 1 < n && u[i + 1] == '\n' ? 2 : 1;
		else if (u[i] == '\n' || u[i] == 0x0b || u[i] == 0x0c ||
			 u[i] == 0x1c || u[i] == 0x1d || u[i] == 0x1e)
			r = 1;
		else if (u[i] == 0xc2 && i + 1 < n && u[i + 1] == 0x85)
			r = 2;
		else if (u[i] == 0xe2 && i + 2 < n && u[i + 1] == 0x80 &&
			 (u[i + 2] == 0xa8 || u[i + 2] == 0xa9))
			r = 3;
		if (r == 0) {
			i++;
			continue;
		}
		if (i > start) {
			for (j = start; j < i; j++)
				t->hash = t->hash * 131 + u[j];
			t->hash = t->hash * 131 + 0x100;
			t->n++;
		}
		i += r;
		start = i;
		done = (int64_t)i;
	}
	return done;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tally whole = {0}, parts = {0}, ref = {0};
	const char *p = (const char *)data;
	int64_t d1, d2, d3;

	buf_init(&whole.out, 1 << 20);
	buf_init(&parts.out, 1 << 20);
	d1 = split(p, size, 0, 0, &whole);
	d2 = split(p, size, size / 3, 2 * size / 3, &parts);
	if (d1 != d2 ||
	    (d1 >= 0 && (whole.hash != parts.hash || whole.n != parts.n)))
		abort();
	d3 = reference(data, size, &ref);
	if (d1 >= 0 && (d1 != d3 || whole.hash != ref.hash || whole.n != ref.n))
		abort();
	buf_free(&whole.out);
	buf_free(&parts.out);
	return 0;
}
