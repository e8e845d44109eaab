/*
 * What the window tests share (test_filter.c, test_la.c): dates from
 * strings, and a window at the fixed instant NOW the including file
 * defines.
 */
#ifndef TEST_WINDOW_HELPERS_H
#define TEST_WINDOW_HELPERS_H

#include <string.h>

#include "date.h"
#include "fetch.h"

#ifndef NOW
#error "define NOW before including window_helpers.h"
#endif

static inline int64_t
ticks(const char *s)
{
	int64_t t;

	if (date_parse(s, &t) != 0)
		fail_msg("bad date in test: %s", s);
	return t;
}

static inline struct window
win(const char *min, const char *max, int64_t offset, int reparse)
{
	struct window w;

	memset(&w, 0, sizeof(w));
	w.min = ticks(min);
	w.max = ticks(max);
	w.min_str = min;
	w.max_str = max;
	w.offset_secs = offset;
	w.reparse = reparse;
	w.now = ticks(NOW);
	return w;
}

#endif
