/*
 * Fuzz target, differential: graph_page_parse() with its fast path (the
 * streaming transcoder) against the jansson path alone (graph_page_fast
 * = 0). Same return, message, item count, @odata.nextLink and the same
 * events (payload, time, id) in the same order, byte for byte; also with
 * a small payload limit and an emit that refuses the third event. Without
 * a tag too. The first byte picks the variant; the rest is the page.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fetch.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct run {
	size_t refuse_at; /* emit returns -1 on this event (0: never) */
	size_t n;
	struct buf log; /* every event, in order */
};

static void
add(struct buf *b, const char *p, size_t n)
{
	if (buf_append(b, &n, sizeof(n)) == -1 || buf_append(b, p, n) == -1)
		abort();
}

static int
on_event(void *arg, const char *time, const char *id, const struct buf *p)
{
	struct run *r = arg;

	if (r->refuse_at != 0 && r->n + 1 == r->refuse_at)
		return -1;
	add(&r->log, p->data, p->len);
	add(&r->log, time ? time : "\x01(null)", time ? strlen(time) : 8);
	add(&r->log, id ? id : "\x01(null)", id ? strlen(id) : 8);
	r->n++;
	return 0;
}

struct result {
	int rc;
	size_t nitems;
	char err[512], *next;
	struct run r;
};

static void
run(const char *p, size_t size, const char *tag, size_t max, size_t refuse_at,
    int fast, struct result *res)
{
	struct buf payload;

	memset(res, 0, sizeof(*res));
	buf_init(&res->r.log, (size_t)1 << 28);
	res->r.refuse_at = refuse_at;
	buf_init(&payload, max);
	graph_page_fast = fast;
	res->rc = graph_page_parse(p, size, "https://graph.example/x", tag,
				   &payload, on_event, &res->r, &res->next,
				   &res->nitems, res->err, sizeof(res->err));
	graph_page_fast = 1;
	buf_free(&payload);
}

static void
compare(const char *p, size_t size, const char *tag, size_t max,
	size_t refuse_at)
{
	struct result a, b;

	run(p, size, tag, max, refuse_at, 1, &a);
	run(p, size, tag, max, refuse_at, 0, &b);
	if (a.rc != b.rc || a.nitems != b.nitems || a.r.n != b.r.n ||
	    strcmp(a.err, b.err) != 0 || (a.next == NULL) != (b.next == NULL) ||
	    (a.next != NULL && strcmp(a.next, b.next) != 0) ||
	    a.r.log.len != b.r.log.len ||
	    (a.r.log.len && memcmp(a.r.log.data, b.r.log.data, a.r.log.len)))
		abort();
	free(a.next);
	free(b.next);
	buf_free(&a.r.log);
	buf_free(&b.r.log);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const tags[] = {"t\"ag\xc3\xa9", "", NULL,
					   "bad\xff"};
	const char *tag;
	char *copy;
	unsigned v;

	log_init("fuzz_graph_diff", -1);
	if (size == 0)
		return 0;
	v = data[0];
	tag = tags[v & 3];
	/* An exact-size copy, so ASan sees any read past the end. */
	copy = malloc(size - 1 ? size - 1 : 1);
	memcpy(copy, data + 1, size - 1);
	compare(copy, size - 1, tag, EVENT_MAX, 0);
	compare(copy, size - 1, tag, (v & 4) ? 200 : 60, (v & 8) ? 3 : 0);
	free(copy);
	return 0;
}
