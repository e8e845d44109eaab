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
