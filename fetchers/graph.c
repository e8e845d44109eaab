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
    "                   [--overlap DURATION] [--lag DURATION] "
    "[--timeout DURATION]\n"
    "                   [--since TIME [--until TIME] --json]\n"
    "                   [--user NAME] [--no-sandbox] [--check]\n"
    "                   [--stats-fd N] [--progress]\n"
    "                   [--cloud NAME] [--proxy URL] [--identity-url URL]\n"
    "\n"
    "Collects Microsoft Graph records for QUERY (e.g. auditLogs/signIns).\n"
    "Without --json it speaks frames with azure-statekeeper on fd 0/1 (see\n"
    "docs/internals.md); with --since TIME --json it prints one event per\n"
    "line and needs no other process. OFFSET is Wazuh's <N>m|h|d. The auth\n"
    "file holds application_id and application_key and must not be\n"
    "readable by group or others. Windows reach back --overlap (default\n"
    "15m) before the checkpoint and end --lag (1m) before now; DURATION is\n"
    "N seconds or Ns, Nm, Nh, Nd. --timeout bounds the whole "
    "run.\n" FETCHER_USAGE_END;

/* graph_page_parse()'s emit: queue the payload (it is f->body). */
static int
emit_event(void *arg, const char *time, const char *id,
	   const struct buf *payload)
{
	(void)payload;
	fetcher_emit(arg, time, id);
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
	char *next_url = NULL, err[2048];
	size_t n;
	int rc, attempt = 0;
	double wait;

	f->failed = 1;
again:
	attempt++;
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
	rc = graph_page_parse(r.body.data, r.body.len, url, f->o.tag, &f->body,
			      emit_event, f, &next_url, &n, err, sizeof(err));
	if (rc == GRAPH_PAGE_EBODY && attempt < f->http.max_attempts) {
		f->http.retries++;
		/* Cut or garbled on the way, nothing of it used: asked again
		 * like a failed transfer. */
		wait = http_retry_wait(&r, attempt);
		log_warnx("%s; retrying in %.1f s (attempt %d of %d)", err,
			  wait, attempt + 1, f->http.max_attempts);
		sleep_seconds(wait);
		goto again;
	}
	if (rc != GRAPH_PAGE_EBODY && n == 0)
		log_info("Graph: There are no new results for %s", f->o.tenant);
	if (rc != GRAPH_PAGE_OK) {
		log_errorx("%s", err);
		goto out;
	}
	f->failed = 0;
	report_page(f);
out:
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
    .overlap = 900, /* audit log latency: 2 min (P95) to 5 min (P99) */
    .lag = 60,
    .run = graph_run,
};

int
main(int argc, char **argv)
{
	return fetcher_main(argc, argv, &graph_ops);
}
