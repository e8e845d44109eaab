/*
 * azure-graph: the Microsoft Graph fetcher. It asks the statekeeper for the
 * checkpoint of md5(query), builds Wazuh's $filter, follows
 * @odata.nextLink verbatim page after page and writes one event per item,
 * with the payload Wazuh's Python sends.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "date.h"
#include "fetch.h"
#include "log.h"
#include "pyjson.h"
#include "util.h"

static const char usage[] =
    "usage: azure-graph --tenant DOMAIN --query QUERY "
    "(--auth-file PATH | --auth-fd N)\n"
    "                   [--tag TAG] [--offset OFFSET] [--reparse]\n"
    "                   [--login-url URL] [--graph-url URL] [-d N]\n"
    "                   [--since TIME [--until TIME] --json]\n"
    "\n"
    "Collects Microsoft Graph records for QUERY (e.g. auditLogs/signIns).\n"
    "Without --json it speaks frames with azure-statekeeper on fd 0/1 (see\n"
    "docs/internals.md); with --since TIME --json it prints one event per\n"
    "line and needs no other process. OFFSET is Wazuh's <N>m|h|d. The auth\n"
    "file holds application_id and application_key and must not be\n"
    "readable by group or others.\n"
    "Exit status: 0 success, 1 failure, 100 usage error.\n";

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
emit_item(struct fetcher *f, json_t *item)
{
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
	if (f->o.tag != NULL && *f->o.tag != '\0')
		json_object_set_new(item, "azure_aad_tag",
				    json_string(f->o.tag));
	buf_reset(&f->body);
	if (pyjson_dump(item, &f->body) == -1) {
		log_errorx("Graph: event %s is larger than %zu bytes",
			   id ? id : "(no id)", (size_t)EVENT_MAX);
		return -1;
	}
	fetcher_emit(f, time, id);
	return 0;
}

/* Log Graph's own explanation of a failed request. */
static void
log_graph_error(const char *url, const struct http_resp *r)
{
	json_t *j = json_loadb(r->body.data, r->body.len, 0, NULL);
	json_t *e = j ? json_object_get(j, "error") : NULL;
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *msg = json_string_value(json_object_get(e, "message"));

	if (r->status == 400) {
		log_errorx("Bad Request for url: %s", url);
		log_errorx(
		    "Ensure the URL is valid and there is data available "
		    "for the specified datetime.");
	}
	log_errorx("Graph: HTTP %ld for %s: %s: %s", r->status, url,
		   code ? code : "(no error code)", msg ? msg : "(no message)");
	json_decref(j);
}

/*
 * Fetch one page and emit its items. Returns the next link (caller frees),
 * NULL at the last page or on an error (then f->failed is set).
 */
static char *
fetch_page(struct fetcher *f, const char *url)
{
	struct http_resp r = {0};
	json_error_t jerr;
	json_t *page = NULL, *values, *item, *next;
	char *next_url = NULL;
	size_t i;

	f->failed = 1;
	log_info("Graph: Requesting data");
	log_debug("Graph: GET %s", url);
	if (fetcher_request(f, url, NULL, 0, &r) == -1) {
		log_errorx("Graph: request for %s failed: %s", url, r.curl_err);
		goto out;
	}
	if (r.status != 200) {
		log_graph_error(url, &r);
		goto out;
	}
	page = pyjson_load(r.body.data, r.body.len, &jerr);
	values = page ? json_object_get(page, "value") : NULL;
	if (page == NULL || !json_is_array(values)) {
		log_errorx("Graph: the response for %s is not a Graph page "
			   "(%s)",
			   url, page ? "no \"value\" array" : jerr.text);
		goto out;
	}
	json_array_foreach(values, i,
			   item) if (emit_item(f, item) == -1) goto out;
	if (json_array_size(values) == 0)
		log_info("Graph: There are no new results for %s", f->o.tenant);
	next = json_object_get(page, "@odata.nextLink");
	if (json_is_string(next) && json_string_length(next) > 0)
		next_url = xstrdup(json_string_value(next));
	else if (next != NULL && !json_is_null(next)) {
		log_errorx("Graph: @odata.nextLink is not a string in %s", url);
		goto out;
	}
	f->failed = 0;
out:
	json_decref(page);
	http_resp_free(&r);
	return next_url;
}

/* The first URL of the run: Wazuh's window, or --since/--until. */
static void
first_url(struct fetcher *f, struct buf *url)
{
	struct fopts *o = &f->o;
	const char *field = graph_filter_field(o->query);
	char key[MD5_HEXLEN], d1[DATE_STRLEN], d2[DATE_STRLEN];
	char *mn = NULL, *mx = NULL;
	struct window w = {0};
	struct buf filter;
	int64_t t;

	buf_init(&filter, 65536);
	if (o->json) {
		date_parse(o->since, &t);
		date_format_iso(t, d1);
		buf_printf(&filter, "%s+ge+%s", field, d1);
		if (o->until) {
			date_parse(o->until, &t);
			date_format_iso(t, d2);
			buf_printf(&filter, "+and+%s+lt+%s", field, d2);
		}
	} else {
		md5_hex(o->query, strlen(o->query), key);
		fetcher_checkpoint(f, key, "", &w, &mn, &mx);
		graph_build_filter(field, &w, &filter);
		free(mn);
		free(mx);
	}
	log_debug("Graph: The search starts for query: \"%s\" using %s",
		  o->query, filter.data);
	if (graph_build_url(o->api_url, o->query, filter.data, url) == -1)
		fatalx("Graph: URL too long");
	buf_free(&filter);
}

/*
 * Is url on the same scheme, host and port as base? The bearer token goes
 * with every request: a nextLink must not take it elsewhere.
 */
static int
same_origin(const char *url, const char *base)
{
	const char *sep = strstr(base, "://");
	size_t n;

	if (sep == NULL)
		return 0;
	n = (size_t)(strchr(sep + 3, '/') ? strchr(sep + 3, '/') - base
					  : (ptrdiff_t)strlen(base));
	return strncasecmp(url, base, n) == 0 && url[n] == '/';
}

static void
graph_run(struct fetcher *f)
{
	struct buf url;
	char *next;

	buf_init(&url, 1 << 20);
	log_info("Graph: Building the url.");
	first_url(f, &url);
	log_info("Graph: The URL is \"%s\"", url.data);
	log_info("Graph: Pagination starts");
	while ((next = fetch_page(f, url.data)) != NULL) {
		if (!same_origin(next, f->o.api_url)) {
			log_errorx(
			    "Graph: @odata.nextLink %s is not on %s: not "
			    "followed",
			    next, f->o.api_url);
			f->failed = 1;
			free(next);
			break;
		}
		log_info("Graph: Requesting data from next page");
		buf_reset(&url);
		if (buf_puts(&url, next) == -1)
			fatalx("Graph: nextLink too long");
		free(next);
	}
	buf_free(&url);
}

static const struct fetcher_ops graph_ops = {
    .prog = "azure-graph",
    .service = "Graph",
    .table = "graph",
    .scope = "https://graph.microsoft.com/.default",
    .url_option = "graph-url",
    .default_url = "https://graph.microsoft.com",
    .usage = usage,
    .auth_first = "application_id",
    .auth_second = "application_key",
    .run = graph_run,
};

int
main(int argc, char **argv)
{
	return fetcher_main(argc, argv, &graph_ops);
}
