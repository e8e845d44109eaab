/*
 * Fuzz target: Microsoft Graph pages (fetchers/graph_page.c). Whatever
 * the bytes: every payload emitted is a JSON object jansson reads back
 * (lone surrogates through pyjson_load, as Python writes them), that
 * pyjson_dump writes back byte for byte, that holds azure_tag and the tag,
 * with the time and id given beside it, and no larger than the limit; no
 * object of "value" is left out; an error comes with a message; and a
 * smaller limit or a refusing callback only cuts the same events short.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fetch.h"
#include "log.h"
#include "pyjson.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define TAG "t\"ag\xc3\xa9"

struct run {
	size_t max;	   /* the payload buffer's maximum */
	size_t refuse_at;  /* emit returns -1 on this event (0: never) */
	size_t n;	   /* events emitted */
	uint64_t hash;	   /* of every payload, time and id, in order */
	uint64_t *prefix;  /* hash after each event (first run only) */
	size_t prefix_cap; /* entries of prefix */
};

static void
mix(uint64_t *h, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		*h = (*h ^ (unsigned char)p[i]) * 1099511628211ULL;
	*h = (*h ^ 0x100) * 1099511628211ULL;
}

static const char *
str_member(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int
same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	       (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Drop-if-scalar members must be gone. */
static int
scalar_member(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return v != NULL && (json_is_null(v) || json_is_string(v));
}

static void
check_payload(const char *time, const char *id, const struct buf *p)
{
	json_error_t jerr;
	struct buf again;
	const char *t;
	json_t *j, *ib;

	j = pyjson_load(p->data, p->len, &jerr);
	if (!json_is_object(j))
		abort();
	if ((t = str_member(j, "activityDateTime")) == NULL)
		t = str_member(j, "createdDateTime");
	if (!same(t, time) || !same(str_member(j, "id"), id))
		abort();
	if (!same(str_member(j, "azure_tag"), "azure-ad-graph") ||
	    !same(str_member(j, "azure_aad_tag"), TAG))
		abort();
	ib = json_object_get(j, "initiatedBy");
	if (scalar_member(j, "status") ||
	    (json_is_object(ib) &&
	     (scalar_member(ib, "app") || scalar_member(ib, "user"))))
		abort();
	buf_init(&again, p->len + 1);
	if (pyjson_dump(j, &again) == -1 || again.len != p->len ||
	    memcmp(again.data, p->data, p->len) != 0)
		abort();
	buf_free(&again);
	json_decref(j);
}

static int
on_event(void *arg, const char *time, const char *id, const struct buf *p)
{
	struct run *r = arg;

	if (p->len > r->max || p->len > EVENT_MAX)
		abort();
	check_payload(time, id, p);
	if (r->refuse_at != 0 && r->n + 1 == r->refuse_at)
		return -1;
	mix(&r->hash, p->data, p->len);
	mix(&r->hash, time ? time : "\x01", time ? strlen(time) : 1);
	mix(&r->hash, id ? id : "\x01", id ? strlen(id) : 1);
	if (r->prefix != NULL) {
		if (r->n >= r->prefix_cap)
			abort();
		r->prefix[r->n] = r->hash;
	}
	r->n++;
	return 0;
}

static int
run(const char *p, size_t size, struct run *r, size_t *nitems)
{
	struct buf payload;
	char err[256], *next = NULL;
	int rc;

	buf_init(&payload, r->max);
	rc = graph_page_parse(p, size, "https://graph.example/v1.0/x", TAG,
			      &payload, on_event, r, &next, nitems, err,
			      sizeof(err));
	buf_free(&payload);
	if (rc != GRAPH_PAGE_OK && err[0] == '\0')
		abort();
	if (next != NULL && (rc != GRAPH_PAGE_OK || next[0] == '\0'))
		abort();
	if (r->n > *nitems || (rc == GRAPH_PAGE_EBODY && *nitems != 0))
		abort();
	free(next);
	return rc;
}

/* The objects of "value", counted apart: none may be left out. */
static size_t
objects(const char *p, size_t size)
{
	json_error_t jerr;
	json_t *page = pyjson_load(p, size, &jerr), *item;
	size_t i, n = 0;

	json_array_foreach(json_object_get(page, "value"), i, item)
	{
		if (json_is_object(item))
			n++;
	}
	json_decref(page);
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run whole = {0}, cut = {0};
	size_t n1, n2;
	char *copy;
	int rc1, rc2;

	log_init("fuzz_graph_page", -1);
	/* An exact-size copy, so ASan sees any read past the end. */
	copy = malloc(size ? size : 1);
	memcpy(copy, data, size);
	whole.max = EVENT_MAX;
	whole.prefix_cap = size / 2 + 1;
	whole.prefix = calloc(whole.prefix_cap, sizeof(*whole.prefix));
	rc1 = run(copy, size, &whole, &n1);
	/* Again with a small limit, and an emit that refuses the third. */
	cut.max = 200;
	cut.refuse_at = 3;
	rc2 = run(copy, size, &cut, &n2);
	if (n1 != n2 || (rc1 == GRAPH_PAGE_EBODY) != (rc2 == GRAPH_PAGE_EBODY))
		abort();
	if (cut.n > whole.n ||
	    (cut.n > 0 && cut.hash != whole.prefix[cut.n - 1]))
		abort();
	if (rc2 == GRAPH_PAGE_OK && (rc1 != GRAPH_PAGE_OK || cut.n != whole.n))
		abort();
	if ((rc1 == GRAPH_PAGE_OK || rc1 == GRAPH_PAGE_ENEXT) &&
	    whole.n != objects(copy, size))
		abort();
	free(whole.prefix);
	free(copy);
	return 0;
}
