/*
 * One page of a Microsoft Graph answer, without the network: parse it as
 * Python's json.loads() would, check it is a Graph page ({"value": [...]}),
 * turn each item into the payload Wazuh's Python sends, and find
 * @odata.nextLink. azure-graph (graph.c) calls it on every page; the fuzz
 * target tests/fuzz/fuzz_graph_page.c calls it on arbitrary bytes.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fetch.h"
#include "log.h"
#include "pyjson.h"

/* Remove a member when it is null or a string: it breaks indexing. */
static void
drop_if_scalar(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	if (v != NULL && (json_is_null(v) || json_is_string(v)))
		json_object_del(obj, key);
}

static const char *
item_str(json_t *item, const char *key)
{
	json_t *v = json_object_get(item, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Turn one Graph item into Wazuh's payload and emit it. */
static int
emit_item(json_t *item, const char *tag, struct buf *payload,
	  graph_emit_fn emit, void *arg, char *err, size_t errlen)
{
	size_t max = payload->max < EVENT_MAX ? payload->max : EVENT_MAX;
	const char *time, *id;
	json_t *ib;

	if (!json_is_object(item)) {
		log_warnx("Graph: skipping a value that is not an object");
		return 0;
	}
	if ((time = item_str(item, "activityDateTime")) == NULL)
		time = item_str(item, "createdDateTime");
	id = item_str(item, "id");
	if ((ib = json_object_get(item, "initiatedBy")) != NULL &&
	    json_is_object(ib)) {
		drop_if_scalar(ib, "app");
		drop_if_scalar(ib, "user");
	}
	drop_if_scalar(item, "status");
	json_object_set_new(item, "azure_tag", json_string("azure-ad-graph"));
	if (tag != NULL && *tag != '\0')
		json_object_set_new(item, "azure_aad_tag", json_string(tag));
	buf_reset(payload);
	if (pyjson_dump(item, payload) == -1 || payload->len > max) {
		snprintf(err, errlen,
			 "Graph: event %s is larger than %zu bytes",
			 id ? id : "(no id)", max);
		return -1;
	}
	if (emit(arg, time, id, payload) == -1) {
		snprintf(err, errlen, "Graph: event %s was not emitted",
			 id ? id : "(no id)");
		return -1;
	}
	return 0;
}

/*
 * The fast path: the streaming transcoder (pyjson_fast.c) writes each
 * item's payload into one buffer for the whole page, with the same edits
 * as emit_item, and nothing is emitted until the whole page has been read:
 * on anything unusual (see pyjson.h; also a duplicate or escaped key at
 * the top, no "value" array, an escape in a time or an id, an
 * @odata.nextLink that is not a non-empty plain string or null, a tag
 * jansson refuses) the page takes the jansson path instead.
 */
struct fitem {
	size_t off, len;       /* the payload, in fast.out */
	const char *time, *id; /* in the body, not NUL-terminated */
	size_t time_len, id_len;
	int object; /* else skipped */
};

struct fast {
	struct pyjson_in in;
	struct buf out, scratch, tag; /* tag: its JSON text */
	struct fitem *items;
	size_t nitems, cap;
	const char *next;
	size_t next_len;
};

static int
is_key(const char *k, size_t n, const char *want)
{
	return strlen(want) == n && memcmp(k, want, n) == 0;
}

/* At a value: is it null or a string (which drop_if_scalar drops)? */
static int
scalar_next(struct pyjson_in *in)
{
	pyjson_in_ws(in);
	return in->pos < in->len &&
	       (in->p[in->pos] == '"' || in->p[in->pos] == 'n');
}

/*
 * Close an object's member: ',' (more follow) returns 1, '}' returns 0
 * (consumed), anything else -1.
 */
static int
member_end(struct pyjson_in *in)
{
	pyjson_in_ws(in);
	if (in->pos < in->len && in->p[in->pos] == ',') {
		in->pos++;
		return 1;
	}
	if (in->pos < in->len && in->p[in->pos] == '}') {
		in->pos++;
		return 0;
	}
	return -1;
}

/* Open an object's member: its key (plain, not seen before) and ':'. */
static int
member_key(struct pyjson_in *in, struct pyjson_obj *o, const char **k,
	   size_t *kn)
{
	pyjson_in_ws(in);
	if (pyjson_in_string(in, k, kn) != 1 ||
	    pyjson_obj_key(in, o, *k, *kn) == -1)
		return -1;
	pyjson_in_ws(in);
	if (in->pos >= in->len || in->p[in->pos] != ':')
		return -1;
	in->pos++;
	return buf_append(in->out, ": ", 2);
}

/* initiatedBy: an object without its null or string app and user. */
static int
fast_initiated_by(struct pyjson_in *in)
{
	struct pyjson_obj o;
	struct buf *b = in->out;
	const char *k;
	size_t kn, mark;
	int first = 1, more = 1, rc = -1, drop;

	if (++in->depth > PYJSON_FAST_DEPTH || buf_append(b, "{", 1) == -1)
		return -1;
	in->pos++;
	pyjson_obj_begin(in, &o);
	pyjson_in_ws(in);
	if (in->pos < in->len && in->p[in->pos] == '}')
		in->pos++, more = 0;
	while (more) {
		mark = b->len;
		if (!first && buf_append(b, ", ", 2) == -1)
			goto out;
		if (member_key(in, &o, &k, &kn) == -1)
			goto out;
		drop = (is_key(k, kn, "app") || is_key(k, kn, "user")) &&
		       scalar_next(in);
		if (pyjson_in_value(in) == -1 || (more = member_end(in)) == -1)
			goto out;
		if (drop)
			b->len = mark;
		else
			first = 0;
	}
	in->depth--;
	rc = buf_append(b, "}", 1);
out:
	pyjson_obj_end(in, &o);
	return rc;
}

/* One item of "value" (an object) to its payload, as emit_item would. */
static int
fast_item(struct fast *fp, int tagged, struct fitem *it)
{
	struct pyjson_in *in = &fp->in;
	struct buf *b = in->out;
	struct pyjson_obj o;
	const char *k, *raw, *act = NULL, *created = NULL;
	size_t kn, mark, rawlen, act_len = 0, created_len = 0;
	int first = 1, more = 1, rc = -1, drop, has_tag = 0, has_aad = 0;
	int st;

	if (++in->depth > PYJSON_FAST_DEPTH || buf_append(b, "{", 1) == -1)
		return -1;
	in->pos++;
	pyjson_obj_begin(in, &o);
	pyjson_in_ws(in);
	if (in->pos < in->len && in->p[in->pos] == '}')
		in->pos++, more = 0;
	while (more) {
		mark = b->len;
		if (!first && buf_append(b, ", ", 2) == -1)
			goto out;
		if (member_key(in, &o, &k, &kn) == -1)
			goto out;
		pyjson_in_ws(in);
		drop = 0;
		if (is_key(k, kn, "status")) {
			drop = scalar_next(in);
			st = pyjson_in_value(in);
		} else if (is_key(k, kn, "initiatedBy") && in->pos < in->len &&
			   in->p[in->pos] == '{') {
			st = fast_initiated_by(in);
		} else if ((is_key(k, kn, "activityDateTime") ||
			    is_key(k, kn, "createdDateTime") ||
			    is_key(k, kn, "id")) &&
			   in->pos < in->len && in->p[in->pos] == '"') {
			/* escapes (\u0000 above all) take the slow path */
			st = pyjson_in_string(in, &raw, &rawlen) == 1 ? 0 : -1;
			if (k[0] == 'a')
				act = raw, act_len = rawlen;
			else if (k[0] == 'c')
				created = raw, created_len = rawlen;
			else
				it->id = raw, it->id_len = rawlen;
		} else if (is_key(k, kn, "azure_tag") ||
			   (tagged && is_key(k, kn, "azure_aad_tag"))) {
			/* replaced in place, as json_object_set does */
			size_t at = b->len;

			st = pyjson_in_value(in);
			b->len = at;
			if (k[6] == 't') {
				has_tag = 1;
				st |= buf_puts(b, "\"azure-ad-graph\"");
			} else {
				has_aad = 1;
				st |= buf_append(b, fp->tag.data, fp->tag.len);
			}
		} else
			st = pyjson_in_value(in);
		if (st == -1 || (more = member_end(in)) == -1)
			goto out;
		if (drop)
			b->len = mark;
		else
			first = 0;
	}
	in->depth--;
	if (!has_tag &&
	    buf_puts(b, first ? "\"azure_tag\": \"azure-ad-graph\""
			      : ", \"azure_tag\": \"azure-ad-graph\"") == -1)
		goto out;
	if (tagged && !has_aad &&
	    (buf_puts(b, ", \"azure_aad_tag\": ") == -1 ||
	     buf_append(b, fp->tag.data, fp->tag.len) == -1))
		goto out;
	it->time = act ? act : created;
	it->time_len = act ? act_len : created_len;
	rc = buf_append(b, "}", 1);
out:
	pyjson_obj_end(in, &o);
	return rc;
}

/* "value": each item to fp->out, recorded in fp->items. */
static int
fast_values(struct fast *fp, int tagged)
{
	struct pyjson_in *in = &fp->in;
	struct fitem *it;

	pyjson_in_ws(in);
	if (in->pos >= in->len || in->p[in->pos] != '[')
		return -1;
	in->pos++;
	pyjson_in_ws(in);
	if (in->pos < in->len && in->p[in->pos] == ']') {
		in->pos++;
		return 0;
	}
	for (;;) {
		if (fp->nitems == fp->cap) {
			fp->cap = fp->cap ? fp->cap * 2 : 1024;
			fp->items =
			    realloc(fp->items, fp->cap * sizeof(*fp->items));
			if (fp->items == NULL)
				return -1;
		}
		it = &fp->items[fp->nitems++];
		memset(it, 0, sizeof(*it));
		pyjson_in_ws(in);
		in->out = &fp->out;
		it->off = fp->out.len;
		if (in->pos < in->len && in->p[in->pos] == '{') {
			it->object = 1;
			if (fast_item(fp, tagged, it) == -1)
				return -1;
		} else {
			in->out = &fp->scratch;
			buf_reset(&fp->scratch);
			if (pyjson_in_value(in) == -1)
				return -1;
		}
		it->len = fp->out.len - it->off;
		pyjson_in_ws(in);
		if (in->pos < in->len && in->p[in->pos] == ',') {
			in->pos++;
			continue;
		}
		if (in->pos < in->len && in->p[in->pos] == ']') {
			in->pos++;
			return 0;
		}
		return -1;
	}
}

/* The whole page through the transcoder: 0, or -1 for the slow path. */
static int
fast_page(struct fast *fp, const char *body, size_t len, const char *tag)
{
	struct pyjson_in *in = &fp->in;
	struct pyjson_obj o;
	const char *k;
	size_t kn;
	int more = 1, values = 0, rc = -1, tagged = tag != NULL && *tag;
	json_t *t;

	fp->nitems = 0;
	fp->next = NULL;
	buf_reset(&fp->out);
	buf_reset(&fp->tag);
	if (tagged) {
		/* json_string() refuses what is not UTF-8: no azure_aad_tag */
		if ((t = json_string(tag)) == NULL)
			return -1;
		json_decref(t);
		if (pyjson_string(tag, strlen(tag), &fp->tag) == -1)
			return -1;
	}
	pyjson_in_init(in, body, len, &fp->scratch);
	pyjson_in_ws(in);
	if (in->pos >= len || body[in->pos] != '{')
		goto out;
	in->pos++;
	pyjson_obj_begin(in, &o);
	pyjson_in_ws(in);
	if (in->pos < len && body[in->pos] == '}')
		in->pos++, more = 0;
	while (more) {
		in->out = &fp->scratch;
		buf_reset(&fp->scratch);
		if (member_key(in, &o, &k, &kn) == -1)
			goto out;
		if (is_key(k, kn, "value")) {
			if (fast_values(fp, tagged) == -1)
				goto out;
			values = 1;
		} else if (is_key(k, kn, "@odata.nextLink")) {
			pyjson_in_ws(in);
			buf_reset(&fp->scratch);
			if (in->pos < len && body[in->pos] == 'n') {
				if (pyjson_in_literal(in, "null") == -1)
					goto out;
			} else if (pyjson_in_string(in, &fp->next,
						    &fp->next_len) != 1 ||
				   fp->next_len == 0)
				goto out;
		} else if (pyjson_in_value(in) == -1)
			goto out;
		if ((more = member_end(in)) == -1)
			goto out;
	}
	pyjson_in_ws(in);
	if (in->pos == len && values)
		rc = 0;
out:
	in->nkeys = 0;
	return rc;
}

/* The page's items, read by fast_page, emitted as emit_item would. */
static int
fast_emit(struct fast *fp, struct buf *payload, graph_emit_fn emit, void *arg,
	  char *err, size_t errlen)
{
	size_t max = payload->max < EVENT_MAX ? payload->max : EVENT_MAX;
	struct buf tid;
	const char *time, *id;
	struct fitem *it;
	size_t i;
	int rc = 0;

	buf_init(&tid, (size_t)-1);
	for (i = 0; i < fp->nitems && rc == 0; i++) {
		it = &fp->items[i];
		if (!it->object) {
			log_warnx("Graph: skipping a value that is not an "
				  "object");
			continue;
		}
		buf_reset(&tid);
		buf_append(&tid, it->time ? it->time : "", it->time_len);
		buf_append(&tid, "", 1);
		buf_append(&tid, it->id ? it->id : "", it->id_len);
		buf_append(&tid, "", 1);
		time = it->time ? tid.data : NULL;
		id = it->id ? tid.data + it->time_len + 1 : NULL;
		buf_reset(payload);
		if (buf_append(payload, fp->out.data + it->off, it->len) ==
			-1 ||
		    payload->len > max) {
			snprintf(err, errlen,
				 "Graph: event %s is larger than %zu bytes",
				 id ? id : "(no id)", max);
			rc = -1;
		} else if (emit(arg, time, id, payload) == -1) {
			snprintf(err, errlen, "Graph: event %s was not emitted",
				 id ? id : "(no id)");
			rc = -1;
		}
	}
	buf_free(&tid);
	return rc;
}

/* 0 turns the fast path off: the differential fuzz target compares. */
int graph_page_fast = 1;

/* Kept from page to page; released when a page made them large. */
static struct fast fastbuf;

static void
fast_trim(struct fast *fp)
{
	if (fp->out.cap > ((size_t)8 << 20)) {
		buf_free(&fp->out);
		free(fp->items);
		fp->items = NULL;
		fp->cap = 0;
	}
	if (fp->scratch.cap > ((size_t)1 << 20))
		buf_free(&fp->scratch);
	pyjson_in_free(&fp->in);
}

/*
 * Parse one page (body, len) and call emit for each item of "value", in
 * order, with its time (activityDateTime, else createdDateTime, else NULL),
 * its id (or NULL) and its payload, built in *payload: Wazuh's payload,
 * with azure_tag and, if tag is not empty, azure_aad_tag. Those pointers
 * are valid during the call only; emit returns 0, or -1 to stop.
 * An item that is not an object is skipped.
 *
 * *nitems is the size of "value" (0 when the page is not a Graph page);
 * *next_link is the page's @odata.nextLink (caller frees), NULL at the last
 * page. where names the page in messages (its URL).
 *
 * Returns GRAPH_PAGE_OK, or with a message in err:
 * GRAPH_PAGE_EBODY not a Graph page, nothing emitted; GRAPH_PAGE_EITEM an
 * item larger than payload->max or EVENT_MAX, or refused by emit (the
 * items before it were emitted); GRAPH_PAGE_ENEXT @odata.nextLink is
 * neither a non-empty string nor null, or holds a NUL (every item was
 * emitted). Only a skipped item is logged (a warning): errors are the
 * caller's to log.
 */
int
graph_page_parse(const char *body, size_t len, const char *where,
		 const char *tag, struct buf *payload, graph_emit_fn emit,
		 void *arg, char **next_link, size_t *nitems, char *err,
		 size_t errlen)
{
	json_error_t jerr;
	json_t *page, *values, *item, *next;
	size_t i;
	int rc = GRAPH_PAGE_OK;

	*next_link = NULL;
	*nitems = 0;
	if (errlen > 0)
		err[0] = '\0';
	if (fastbuf.out.max == 0) {
		buf_init(&fastbuf.out, (size_t)-1);
		buf_init(&fastbuf.scratch, (size_t)-1);
		buf_init(&fastbuf.tag, (size_t)-1);
	}
	if (graph_page_fast && fast_page(&fastbuf, body, len, tag) == 0) {
		*nitems = fastbuf.nitems;
		if (fast_emit(&fastbuf, payload, emit, arg, err, errlen) == -1)
			rc = GRAPH_PAGE_EITEM;
		else if (fastbuf.next != NULL) {
			*next_link = xmalloc(fastbuf.next_len + 1);
			memcpy(*next_link, fastbuf.next, fastbuf.next_len);
			(*next_link)[fastbuf.next_len] = '\0';
		}
		fast_trim(&fastbuf);
		return rc;
	}
	fast_trim(&fastbuf);
	page = pyjson_load(body, len, &jerr);
	values = page ? json_object_get(page, "value") : NULL;
	if (page == NULL || !json_is_array(values)) {
		snprintf(err, errlen,
			 "Graph: the response for %s is not a Graph page "
			 "(%s)",
			 where, page ? "no \"value\" array" : jerr.text);
		rc = GRAPH_PAGE_EBODY;
		goto out;
	}
	*nitems = json_array_size(values);
	json_array_foreach(values, i, item)
	{
		if (emit_item(item, tag, payload, emit, arg, err, errlen) ==
		    -1) {
			rc = GRAPH_PAGE_EITEM;
			goto out;
		}
	}
	next = json_object_get(page, "@odata.nextLink");
	if (json_is_string(next) && json_string_length(next) > 0 &&
	    strlen(json_string_value(next)) == json_string_length(next))
		*next_link = xstrdup(json_string_value(next));
	else if (json_is_string(next) && json_string_length(next) > 0) {
		/* A NUL (or a lone surrogate) would cut the link short. */
		snprintf(err, errlen,
			 "Graph: @odata.nextLink holds a NUL or a lone "
			 "surrogate in %s",
			 where);
		rc = GRAPH_PAGE_ENEXT;
	} else if (next != NULL && !json_is_null(next)) {
		snprintf(err, errlen,
			 "Graph: @odata.nextLink is not a string in %s", where);
		rc = GRAPH_PAGE_ENEXT;
	}
out:
	json_decref(page);
	return rc;
}
