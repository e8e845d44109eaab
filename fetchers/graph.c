/*
 * azure-graph: the Microsoft Graph fetcher. Holds the network and the
 * credentials, nothing else: it asks the statekeeper for its checkpoint,
 * pages through Graph and writes one EVENT frame per item (docs/internals.md).
 * With --since/--json it runs alone and prints the payloads.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>
#include <jansson.h>

#include "auth.h"
#include "date.h"
#include "fetch.h"
#include "frame.h"
#include "log.h"
#include "pyjson.h"
#include "util.h"

#define FD_FROM_SK  0
#define FD_TO_SK    1
#define OUT_FLUSH   (256 * 1024)
#define EVENT_MAX   (FRAME_MAX - 65536)
#define GRAPH_SCOPE "https://graph.microsoft.com/.default"

struct opts {
	const char *tenant, *query, *auth_file, *tag, *offset;
	const char *login_url, *graph_url, *since, *until;
	int auth_fd, reparse, json, debug;
	int64_t offset_secs;
};

struct graph {
	struct opts *o;
	struct http http;
	struct token_req treq;
	struct auth_pair cred; /* application id and secret, wiped at exit */
	struct buf out;	       /* frames (or JSON lines) not yet written */
	struct frame_reader in;
	int64_t events, skipped;
};

static void __attribute__((noreturn)) usage(int status)
{
	fprintf(
	    status ? stderr : stdout,
	    "usage: azure-graph --tenant DOMAIN --query QUERY "
	    "(--auth-file PATH | --auth-fd N)\n"
	    "                   [--tag TAG] [--offset OFFSET] [--reparse]\n"
	    "                   [--login-url URL] [--graph-url URL] [-d N]\n"
	    "                   [--since TIME [--until TIME] --json]\n"
	    "\n"
	    "Collects Microsoft Graph records for QUERY (e.g. "
	    "auditLogs/signIns).\n"
	    "Without --json it speaks frames with azure-statekeeper on fd 0/1 "
	    "(see docs/internals.md);\n"
	    "with --since TIME --json it prints one event per line and needs "
	    "no other process.\n"
	    "OFFSET is Wazuh's <N>m|h|d. The auth file holds application_id "
	    "and application_key\n"
	    "and must not be readable by group or others.\n"
	    "Exit status: 0 success, 1 failure, 100 usage error.\n");
	exit(status);
}

static void
strip_slash(const char **url)
{
	size_t n = strlen(*url);
	char *p;

	if (n > 0 && (*url)[n - 1] == '/') {
		p = xstrdup(*url);
		while (n > 0 && p[n - 1] == '/')
			p[--n] = '\0';
		*url = p;
	}
}

static void
parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lopts[] = {
	    {"tenant", required_argument, NULL, 't'},
	    {"query", required_argument, NULL, 'q'},
	    {"auth-file", required_argument, NULL, 'a'},
	    {"auth-fd", required_argument, NULL, 'A'},
	    {"tag", required_argument, NULL, 'T'},
	    {"offset", required_argument, NULL, 'o'},
	    {"reparse", no_argument, NULL, 'r'},
	    {"login-url", required_argument, NULL, 'L'},
	    {"graph-url", required_argument, NULL, 'G'},
	    {"since", required_argument, NULL, 's'},
	    {"until", required_argument, NULL, 'u'},
	    {"json", no_argument, NULL, 'j'},
	    {"debug", required_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0}};
	const char *errstr;
	int c;

	memset(o, 0, sizeof(*o));
	o->auth_fd = -1;
	o->offset_secs = -1;
	o->login_url = "https://login.microsoftonline.com";
	o->graph_url = "https://graph.microsoft.com";
	while ((c = getopt_long(argc, argv, "d:h", lopts, NULL)) != -1) {
		switch (c) {
		case 't':
			o->tenant = optarg;
			break;
		case 'q':
			o->query = optarg;
			break;
		case 'a':
			o->auth_file = optarg;
			break;
		case 'A':
			o->auth_fd = (int)strtonum(optarg, 0, 1023, &errstr);
			if (errstr)
				usage_error("--auth-fd %s: %s", optarg, errstr);
			break;
		case 'T':
			o->tag = optarg;
			break;
		case 'o':
			o->offset = optarg;
			break;
		case 'r':
			o->reparse = 1;
			break;
		case 'L':
			o->login_url = optarg;
			break;
		case 'G':
			o->graph_url = optarg;
			break;
		case 's':
			o->since = optarg;
			break;
		case 'u':
			o->until = optarg;
			break;
		case 'j':
			o->json = 1;
			break;
		case 'd':
			o->debug = (int)strtonum(optarg, 0, 2, &errstr);
			if (errstr)
				usage_error("-d %s: must be 0, 1 or 2", optarg);
			break;
		case 'h':
			usage(0);
		default:
			usage(EXIT_USAGE);
		}
	}
	if (optind != argc)
		usage_error("unexpected argument \"%s\"", argv[optind]);
	if (o->json != (o->since != NULL))
		usage_error("--since and --json go together");
	if (o->until && !o->since)
		usage_error("--until needs --since");
	strip_slash(&o->login_url);
	strip_slash(&o->graph_url);
}

/* The checks Wazuh makes, with its messages and exit status 1. */
static void
check_opts(struct opts *o)
{
	char err[512];
	int64_t t;

	if (o->tenant == NULL || (o->auth_file == NULL && o->auth_fd < 0))
		fatalx("Graph: No parameters have been provided for "
		       "authentication.");
	if (o->query == NULL || *o->query == '\0')
		fatalx("Graph: No query has been provided.");
	if (o->offset != NULL && *o->offset != '\0' &&
	    offset_parse(o->offset, &o->offset_secs) == -1) {
		log_errorx("Invalid offset format. Use \"h\", \"m\" or \"d\" "
			   "time unit.");
		exit(EXIT_RUNTIME);
	}
	if (url_check_endpoint(o->login_url, err, sizeof(err)) == -1 ||
	    url_check_endpoint(o->graph_url, err, sizeof(err)) == -1)
		fatalx("Graph: %s", err);
	if ((o->since && date_parse(o->since, &t) == -1) ||
	    (o->until && date_parse(o->until, &t) == -1))
		fatalx("Graph: --since/--until: not a date (use ISO 8601, e.g. "
		       "2024-06-01T00:00:00Z)");
}

/* Write what is queued (blocking). */
static void
out_flush(struct graph *g)
{
	if (g->out.len == 0)
		return;
	if (write_all(FD_TO_SK, g->out.data, g->out.len) == -1) {
		if (errno == EPIPE)
			fatalx("Graph: the statekeeper went away");
		fatal("Graph: write");
	}
	buf_reset(&g->out);
}

/* Wait for one frame from the statekeeper. */
static void
read_frame(struct graph *g, struct frame *f)
{
	const char *errstr = NULL;
	int rc;

	for (;;) {
		if ((rc = frame_next(&g->in, f, &errstr)) == 1)
			return;
		if (rc == -1)
			fatalx("Graph: protocol error from the statekeeper: %s",
			       errstr);
		if (frame_reader_fill(&g->in, FD_FROM_SK) == -1)
			fatal("Graph: read from the statekeeper");
		if (g->in.eof)
			fatalx("Graph: the statekeeper closed the pipe before "
			       "answering");
	}
}

/*
 * HELLO -> CHECKPOINT: the window of this run, with Wazuh's semantics.
 * *mn and *mx hold the strings w points to; the caller frees them.
 */
static void
ask_checkpoint(struct graph *g, struct window *w, const char *key, char **mn,
	       char **mx)
{
	struct frame f;

	if (frame_pack(&g->out, FRAME_HELLO, "graph", key, g->o->query,
		       g->o->offset_secs, g->o->reparse) == -1)
		fatalx("Graph: query too long");
	out_flush(g);
	read_frame(g, &f);
	if (f.type != FRAME_CHECKPOINT)
		fatalx("Graph: the statekeeper sent %s instead of CHECKPOINT",
		       frame_type_name(f.type));
	w->min_str = *mn = frame_strdup(&f, 0);
	w->max_str = *mx = frame_strdup(&f, 1);
	frame_free(&f);
	if (date_parse(*mn, &w->min) == -1 || date_parse(*mx, &w->max) == -1)
		fatalx("Graph: the statekeeper sent an invalid checkpoint");
}

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

/* Turn one Graph item into an event payload (Wazuh's) and queue it. */
static int
emit_item(struct graph *g, json_t *item, struct buf *body)
{
	const char *time, *id;
	json_t *ib;

	if (!json_is_object(item)) {
		log_warnx("Graph: skipping a value that is not an object");
		g->skipped++;
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
	if (g->o->tag != NULL && *g->o->tag != '\0')
		json_object_set_new(item, "azure_aad_tag",
				    json_string(g->o->tag));
	buf_reset(body);
	if (pyjson_dump(item, body) == -1) {
		log_errorx("Graph: event %s is larger than %u bytes",
			   id ? id : "(no id)", EVENT_MAX);
		return -1;
	}
	if (g->o->json) {
		if (buf_append(&g->out, body->data, body->len) == -1 ||
		    buf_append(&g->out, "\n", 1) == -1)
			fatalx("Graph: output buffer full");
	} else if (frame_pack(&g->out, FRAME_EVENT, time ? time : "",
			      id ? id : "", body->data, body->len) == -1)
		fatalx("Graph: output buffer full");
	g->events++;
	if (g->out.len >= OUT_FLUSH)
		out_flush(g);
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

static void
refresh_token(struct graph *g)
{
	char err[1024], *tok;

	if (token_get(&g->http, &g->treq, &tok, err, sizeof(err)) == -1) {
		log_errorx("%s", err);
		exit(EXIT_RUNTIME);
	}
	http_set_bearer(&g->http, tok);
	secret_free(tok);
}

/*
 * Fetch one page and emit its items. Returns the next link (caller frees),
 * NULL at the last page, and sets *failed on an error.
 */
static char *
fetch_page(struct graph *g, const char *url, struct buf *body, int *failed)
{
	struct http_resp r = {0};
	json_error_t jerr;
	json_t *page = NULL, *values, *item, *next;
	char *next_url = NULL;
	size_t i;

	*failed = 1;
	log_info("Graph: Requesting data");
	log_debug("Graph: GET %s", url);
	if (http_request_retry(&g->http, url, &r) == 0 && r.status == 401) {
		log_info("Graph: token refused (HTTP 401), getting a new one");
		refresh_token(g);
		http_request_retry(&g->http, url, &r);
	}
	if (r.status == 0) {
		log_errorx("Graph: request for %s failed: %s", url, r.curl_err);
		goto out;
	}
	if (r.status != 200) {
		log_graph_error(url, &r);
		goto out;
	}
	page = json_loadb(r.body.data, r.body.len, JSON_ALLOW_NUL, &jerr);
	values = page ? json_object_get(page, "value") : NULL;
	if (page == NULL || !json_is_array(values)) {
		log_errorx("Graph: the response for %s is not a Graph page "
			   "(%s)",
			   url, page ? "no \"value\" array" : jerr.text);
		goto out;
	}
	json_array_foreach(values, i,
			   item) if (emit_item(g, item, body) == -1) goto out;
	if (json_array_size(values) == 0)
		log_info("Graph: There are no new results for %s",
			 g->o->tenant);
	next = json_object_get(page, "@odata.nextLink");
	if (json_is_string(next) && json_string_length(next) > 0)
		next_url = xstrdup(json_string_value(next));
	else if (next != NULL && !json_is_null(next)) {
		log_errorx("Graph: @odata.nextLink is not a string in %s", url);
		goto out;
	}
	*failed = 0;
out:
	json_decref(page);
	http_resp_free(&r);
	return next_url;
}

static void
build_window_url(struct graph *g, struct buf *url)
{
	struct opts *o = g->o;
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
		ask_checkpoint(g, &w, key, &mn, &mx);
		w.offset_secs = o->offset_secs;
		w.reparse = o->reparse;
		w.now = date_now();
		graph_build_filter(field, &w, &filter);
		free(mn);
		free(mx);
	}
	log_debug("Graph: The search starts for query: \"%s\" using %s",
		  o->query, filter.data);
	if (graph_build_url(o->graph_url, o->query, filter.data, url) == -1)
		fatalx("Graph: URL too long");
	buf_free(&filter);
}

static void
read_credentials(struct opts *o, struct auth_pair *a)
{
	char err[1024];
	int rc;

	if (o->auth_fd >= 0)
		rc = auth_read_fd(o->auth_fd, "application_id",
				  "application_key", a, err, sizeof(err));
	else {
		log_debug("Graph: Using the auth file %s for authentication",
			  o->auth_file);
		rc = auth_read_file(o->auth_file, "application_id",
				    "application_key", a, err, sizeof(err));
	}
	if (rc == -1) {
		log_errorx("%s", err);
		exit(EXIT_RUNTIME);
	}
	if (o->auth_fd >= 0)
		close(o->auth_fd);
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct graph g;
	struct buf url, body;
	char *next;
	int failed = 0;

	signal(SIGPIPE, SIG_IGN);
	parse_opts(argc, argv, &o);
	log_init("azure-graph", o.debug);
	check_opts(&o);
	memset(&g, 0, sizeof(g));
	g.o = &o;
	buf_init(&g.out, FRAME_MAX + OUT_FLUSH);
	frame_reader_init(&g.in);
	buf_init(&url, 1 << 20);
	buf_init(&body, EVENT_MAX);

	log_info("Azure Graph starting.");
	read_credentials(&o, &g.cred);
	g.treq.client_id = g.cred.first;
	g.treq.secret = g.cred.second; /* kept for a new token after a 401 */
	g.treq.login_url = o.login_url;
	g.treq.tenant = o.tenant;
	g.treq.scope = GRAPH_SCOPE;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatalx("curl_global_init failed");
	http_init(&g.http, "Graph");
	log_info("Graph: Getting authentication token.");
	refresh_token(&g);

	log_info("Graph: Building the url.");
	build_window_url(&g, &url);
	log_info("Graph: The URL is \"%s\"", url.data);
	log_info("Graph: Pagination starts");
	while ((next = fetch_page(&g, url.data, &body, &failed)) != NULL) {
		log_info("Graph: Requesting data from next page");
		buf_reset(&url);
		if (buf_puts(&url, next) == -1)
			fatalx("Graph: nextLink too long");
		free(next);
	}
	if (!o.json && frame_pack(&g.out, FRAME_DONE, !failed, g.events) == -1)
		fatalx("Graph: output buffer full");
	out_flush(&g);
	log_info("Graph: %lld events%s", (long long)g.events,
		 failed ? ", stopped by an error: the checkpoint stays" : "");
	log_info("Graph: End");
	http_free(&g.http);
	curl_global_cleanup();
	buf_free(&g.out);
	buf_free(&url);
	buf_free(&body);
	frame_reader_free(&g.in);
	auth_wipe(&g.cred);
	return failed ? EXIT_RUNTIME : 0;
}
