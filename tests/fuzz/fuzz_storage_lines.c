/*
 * Fuzz target: blob content (fetchers/storage_lines.c). Fed in three
 * pieces, the lines and the delivered offset must be the same as when the
 * content is fed whole, and every payload builder must accept every line.
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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tally whole = {0}, parts = {0};
	const char *p = (const char *)data;
	int64_t d1, d2;

	buf_init(&whole.out, 1 << 20);
	buf_init(&parts.out, 1 << 20);
	d1 = split(p, size, 0, 0, &whole);
	d2 = split(p, size, size / 3, 2 * size / 3, &parts);
	if (d1 != d2 ||
	    (d1 >= 0 && (whole.hash != parts.hash || whole.n != parts.n)))
		abort();
	buf_free(&whole.out);
	buf_free(&parts.out);
	return 0;
}
