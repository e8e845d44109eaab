/*
 * The skeleton every fetcher shares (Postfix-style: main() hands its
 * callbacks to fetcher_main()): options, the credential file, tokens, the
 * checkpoint request to the statekeeper, writing events, and the end of a
 * run. A fetcher holds the network and the credentials, nothing else.
 *
 * Descriptors (docs/internals.md): 0 from the statekeeper, 1 to it. With
 * --since/--json the fetcher runs alone and prints one payload per line.
 */
#include <sys/prctl.h>
#include <sys/resource.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include <jansson.h>

#include "date.h"
#include "fetch.h"
#include "log.h"
#include "sandbox.h"
#include "util.h"

#define FD_FROM_SK 0
#define FD_TO_SK   1
#define OUT_FLUSH  ((size_t)256 * 1024)

enum {
	O_TENANT = 256,
	O_CONTAINER,
	O_BLOBS,
	O_FORMAT,
	O_PREFIX,
	O_MAX_JSON,
	O_PAGE_SIZE,
	O_QUERY,
	O_WORKSPACE,
	O_AUTH_FILE,
	O_AUTH_FD,
	O_TAG,
	O_OFFSET,
	O_REPARSE,
	O_LOGIN_URL,
	O_API_URL,
	O_SINCE,
	O_UNTIL,
	O_JSON,
	O_WAIT,
	O_OVERLAP,
	O_LAG,
	O_TIMEOUT,
	O_LA_CHECKPOINT,
	O_CHECK,
	O_USER,
	O_NO_SANDBOX,
	/* reports (issue 8) */
	O_STATS_FD,
	O_PROGRESS,
	/* end of reports */
	/* clouds and credentials */
	O_CLOUD,
	O_PROXY,
	O_IDENTITY_URL
};

/* The proxy's URL when it holds a password (see parse_opts). */
#define PROXY_ENV "AZURE_LOGS_PROXY"
/* The statekeeper refuses a longer overlap (a protocol error). */
#define OVERLAP_MAX_DAYS 3660

static int proxy_from_env; /* o->proxy came from PROXY_ENV */
static char *env_proxy;	   /* its copy, for the whole run */

/* At exit: the proxy's password leaves no copy of ours behind. */
static void
wipe_env_proxy(void)
{
	if (env_proxy != NULL) {
		explicit_bzero(env_proxy, strlen(env_proxy));
		free(env_proxy);
		env_proxy = NULL;
	}
}

/* The process holds a client secret and tokens: no core file, no ptrace by
 * other processes of the same user. */
static void
no_core_dumps(void)
{
	struct rlimit rl = {0, 0};

	if (setrlimit(RLIMIT_CORE, &rl) == -1 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		fatal("cannot disable core dumps");
}

/* The last resort of --timeout: a run stuck outside a request. */
static void
on_alarm(int sig)
{
	static const char msg[] =
	    "azure: ERROR: the run's time limit (--timeout) passed: "
	    "stopping; the checkpoint stays where it was\n";
	ssize_t n;

	(void)sig;
	n = write(STDERR_FILENO, msg, sizeof(msg) - 1);
	(void)n;
	_exit(EXIT_RUNTIME);
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

static int64_t
parse_duration(const char *opt, const char *v)
{
	int64_t secs;

	if (duration_parse(v, &secs) == -1)
		usage_error("%s %s: not a duration (N seconds, or Ns, Nm, Nh, "
			    "Nd)",
			    opt, v);
	return secs;
}

static int
parse_int(const char *opt, const char *v, int lo, int hi)
{
	const char *errstr;
	int n = (int)strtonum(v, lo, hi, &errstr);

	if (errstr)
		usage_error("%s %s: %s (%d to %d)", opt, v, errstr, lo, hi);
	return n;
}

/* reports (issue 8): --stats-fd N must be open for writing. */
static void
check_stats_fd(const struct fopts *o)
{
	int fl;

	if (o->stats_fd < 0)
		return;
	if (o->stats_fd == o->auth_fd)
		usage_error("--stats-fd %d: that is --auth-fd", o->stats_fd);
	if ((fl = fcntl(o->stats_fd, F_GETFL)) == -1)
		usage_error("--stats-fd %d: not an open descriptor",
			    o->stats_fd);
	if ((fl & O_ACCMODE) != O_WRONLY && (fl & O_ACCMODE) != O_RDWR)
		usage_error("--stats-fd %d: not open for writing", o->stats_fd);
}

static void
parse_opts(int argc, char **argv, const struct fetcher_ops *ops,
	   struct fopts *o)
{
	const char *env;
	struct option lopts[] = {
	    {"tenant", required_argument, NULL, O_TENANT},
	    {"query", required_argument, NULL, O_QUERY},
	    {"auth-file", required_argument, NULL, O_AUTH_FILE},
	    {"auth-fd", required_argument, NULL, O_AUTH_FD},
	    {"tag", required_argument, NULL, O_TAG},
	    {"offset", required_argument, NULL, O_OFFSET},
	    {"reparse", no_argument, NULL, O_REPARSE},
	    {"login-url", required_argument, NULL, O_LOGIN_URL},
	    {ops->url_option, required_argument, NULL, O_API_URL},
	    {"since", required_argument, NULL, O_SINCE},
	    {"until", required_argument, NULL, O_UNTIL},
	    {"json", no_argument, NULL, O_JSON},
	    {"debug", required_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},
	    /* Log Analytics and storage only (checked below) */
	    {"workspace", required_argument, NULL, O_WORKSPACE},
	    {"wait", required_argument, NULL, O_WAIT},
	    {"container", required_argument, NULL, O_CONTAINER},
	    {"blobs", required_argument, NULL, O_BLOBS},
	    {"format", required_argument, NULL, O_FORMAT},
	    {"prefix", required_argument, NULL, O_PREFIX},
	    {"max-json-bytes", required_argument, NULL, O_MAX_JSON},
	    {"page-size", required_argument, NULL, O_PAGE_SIZE},
	    {"overlap", required_argument, NULL, O_OVERLAP},
	    {"lag", required_argument, NULL, O_LAG},
	    {"timeout", required_argument, NULL, O_TIMEOUT},
	    {"la-checkpoint", required_argument, NULL, O_LA_CHECKPOINT},
	    {"check", no_argument, NULL, O_CHECK},
	    {"user", required_argument, NULL, O_USER},
	    {"no-sandbox", no_argument, NULL, O_NO_SANDBOX},
	    /* reports (issue 8) */
	    {"stats-fd", required_argument, NULL, O_STATS_FD},
	    {"progress", no_argument, NULL, O_PROGRESS},
	    /* end of reports */
	    /* clouds and credentials */
	    {"cloud", required_argument, NULL, O_CLOUD},
	    {"proxy", required_argument, NULL, O_PROXY},
	    {"identity-url", required_argument, NULL, O_IDENTITY_URL},
	    {NULL, 0, NULL, 0}};
	int c;

	memset(o, 0, sizeof(*o));
	o->auth_fd = -1;
	o->stats_fd = -1; /* reports (issue 8) */
	o->offset_secs = -1;
	o->overlap_secs = o->lag_secs = -1;
	o->cloud = cloud_find("public"); /* --cloud: the defaults below */
	while ((c = getopt_long(argc, argv, "d:h", lopts, NULL)) != -1) {
		switch (c) {
		case O_TENANT:
			o->tenant = optarg;
			break;
		case O_QUERY:
			o->query = optarg;
			break;
		case O_WORKSPACE:
			o->workspace = optarg;
			break;
		case O_AUTH_FILE:
			o->auth_file = optarg;
			break;
		case O_AUTH_FD:
			o->auth_fd = parse_int("--auth-fd", optarg, 0, 1023);
			break;
		case O_TAG:
			o->tag = optarg;
			break;
		case O_OFFSET:
			o->offset = optarg;
			break;
		case O_REPARSE:
			o->reparse = 1;
			break;
		case O_LOGIN_URL:
			o->login_url = optarg;
			break;
		case O_API_URL:
			o->api_url = optarg;
			break;
		case O_SINCE:
			o->since = optarg;
			break;
		case O_UNTIL:
			o->until = optarg;
			break;
		case O_JSON:
			o->json = 1;
			break;
		case O_WAIT:
			o->wait = parse_int("--wait", optarg, 0, 600);
			break;
		case O_CONTAINER:
			o->container = optarg;
			break;
		case O_BLOBS:
			o->blobs = optarg;
			break;
		case O_FORMAT:
			o->format = optarg;
			break;
		case O_PREFIX:
			o->prefix = optarg;
			break;
		case O_PAGE_SIZE:
			o->page_size =
			    parse_int("--page-size", optarg, 1, 5000);
			break;
		case O_MAX_JSON:
			o->max_json = parse_int("--max-json-bytes", optarg,
						1024, 1 << 30);
			break;
		case O_OVERLAP:
			o->overlap_secs = parse_duration("--overlap", optarg);
			if (o->overlap_secs > OVERLAP_MAX_DAYS * 86400)
				usage_error(
				    "--overlap %s: more than %d days (the "
				    "statekeeper's limit)",
				    optarg, OVERLAP_MAX_DAYS);
			break;
		case O_LAG:
			o->lag_secs = parse_duration("--lag", optarg);
			break;
		case O_TIMEOUT:
			o->timeout_secs = parse_duration("--timeout", optarg);
			break;
		case O_CHECK:
			o->check = 1;
			break;
		case O_USER:
			o->user = optarg;
			break;
		case O_NO_SANDBOX:
			o->no_sandbox = 1;
			break;
		/* reports (issue 8) */
		case O_STATS_FD:
			o->stats_fd = parse_int("--stats-fd", optarg, 2, 1023);
			break;
		case O_PROGRESS:
			o->progress = 1;
			break;
		/* end of reports */
		/* clouds and credentials */
		case O_CLOUD:
			if ((o->cloud = cloud_find(optarg)) == NULL)
				usage_error("--cloud %s: unknown cloud (%s)",
					    optarg, cloud_names);
			break;
		case O_PROXY:
			o->proxy = optarg;
			break;
		case O_IDENTITY_URL:
			o->identity_url = optarg;
			break;
		case O_LA_CHECKPOINT:
			if (!ops->la)
				usage_error("--la-checkpoint is for azure-la");
			if (strcmp(optarg, "ingestion") == 0)
				o->la_ingestion = 1;
			else if (strcmp(optarg, "generated") != 0)
				usage_error("--la-checkpoint must be ingestion "
					    "or generated");
			break;
		case 'd':
			o->debug = parse_int("-d", optarg, 0, 2);
			break;
		case 'h':
			fputs(ops->usage, stdout);
			exit(0);
		default:
			fputs(ops->usage, stderr);
			exit(EXIT_USAGE);
		}
	}
	if (optind != argc)
		usage_error("unexpected argument \"%s\"", argv[optind]);
	/* A proxy whose URL holds a password, off the command line (which
	 * every local user may read): what the launcher does. --proxy wins.
	 * Not passed on to anything the fetcher may start. */
	if ((env = getenv(PROXY_ENV)) != NULL) {
		if (o->proxy == NULL && *env != '\0') {
			env_proxy = xstrdup(env);
			o->proxy = env_proxy;
			atexit(wipe_env_proxy);
			proxy_from_env = 1;
		}
		if (unsetenv(PROXY_ENV) == -1)
			fatal("unsetenv");
	}
	if (!ops->la && (o->workspace || o->wait))
		usage_error("--workspace and --wait are for azure-la");
	if (!ops->storage && (o->container || o->blobs || o->format ||
			      o->prefix || o->max_json || o->page_size))
		usage_error("--container, --blobs, --format, --prefix, "
			    "--max-json-bytes and --page-size are for "
			    "azure-storage");
	if (o->format && strcmp(o->format, "plain") != 0 &&
	    strcmp(o->format, "json_file") != 0 &&
	    strcmp(o->format, "json_inline") != 0)
		usage_error("--format must be plain, json_file or json_inline");
	if (o->overlap_secs == -1) /* late rows need less on ingestion */
		o->overlap_secs = o->la_ingestion ? 120 : ops->overlap;
	if (o->lag_secs == -1)
		o->lag_secs = ops->lag;
	if (o->max_json == 0)
		o->max_json = 64 * 1024 * 1024;
	if (o->page_size == 0)
		o->page_size = 5000; /* the service's largest list page */
	if (o->json != (o->since != NULL))
		usage_error("--since and --json go together");
	if (o->until && !o->since)
		usage_error("--until needs --since");
	check_stats_fd(o); /* reports (issue 8) */
	/* clouds and credentials: the cloud's endpoints unless given */
	if (o->login_url == NULL)
		o->login_url = o->cloud->login;
	if (o->api_url == NULL && !ops->storage)
		o->api_url = ops->la ? o->cloud->la : o->cloud->graph;
	if (o->identity_url == NULL)
		o->identity_url = IDENTITY_URL_DEFAULT;
	strip_slash(&o->login_url);
	if (o->api_url != NULL)
		strip_slash(&o->api_url);
}

static int
utf8_check(const char *s, size_t n)
{
	json_t *j = json_stringn(s, n);

	json_decref(j);
	return j != NULL ? 0 : -1;
}

/* The checks Wazuh makes, with its messages and exit status 1. */
static void
check_opts(const struct fetcher_ops *ops, struct fopts *o)
{
	char err[512];
	int64_t t;

	if ((!ops->storage && (o->tenant == NULL || *o->tenant == '\0')) ||
	    (o->auth_file == NULL && o->auth_fd < 0))
		fatalx("%s: No parameters have been provided for "
		       "authentication.",
		       ops->service);
	if (!ops->storage && (o->query == NULL || *o->query == '\0'))
		fatalx("%s: No query has been provided.", ops->service);
	if (ops->storage && (o->container == NULL || *o->container == '\0'))
		fatalx("%s: No container has been provided.", ops->service);
	if (o->tag != NULL && utf8_check(o->tag, strlen(o->tag)) == -1)
		fatalx("%s: the tag is not valid UTF-8", ops->service);
	if (ops->la && (o->workspace == NULL || *o->workspace == '\0'))
		fatalx("%s: No workspace has been provided.", ops->service);
	if (o->offset != NULL && *o->offset != '\0' &&
	    offset_parse(o->offset, &o->offset_secs) == -1) {
		log_errorx("Invalid offset format. Use \"h\", \"m\" or \"d\" "
			   "time unit.");
		exit(EXIT_RUNTIME);
	}
	if (url_check_endpoint(o->login_url, err, sizeof(err)) == -1 ||
	    (o->api_url != NULL &&
	     url_check_endpoint(o->api_url, err, sizeof(err)) == -1))
		fatalx("%s: %s", ops->service, err);
	/* clouds and credentials */
	if (o->proxy != NULL && proxy_check(o->proxy, err, sizeof(err)) == -1) {
		/* err names --proxy, and shows the URL without its password */
		if (proxy_from_env && strncmp(err, "--proxy ", 8) == 0)
			fatalx("%s: %s %s", ops->service, PROXY_ENV, err + 8);
		fatalx("%s: %s", ops->service, err);
	}
	if (identity_url_check(o->identity_url, err, sizeof(err)) == -1)
		fatalx("%s: %s", ops->service, err);
	if ((o->since && date_parse(o->since, &t) == -1) ||
	    (o->until && date_parse(o->until, &t) == -1))
		fatalx("%s: --since/--until: not a date (use ISO 8601, e.g. "
		       "2024-06-01T00:00:00Z)",
		       ops->service);
}

/* Write what is queued (blocking). */
static void
out_flush(struct fetcher *f)
{
	if (f->out.len == 0)
		return;
	if (write_all(FD_TO_SK, f->out.data, f->out.len) == -1) {
		f->rep.sk_gone = 1;
		if (errno == EPIPE)
			fatalx("%s: the statekeeper went away",
			       f->ops->service);
		fatal("%s: write", f->ops->service);
	}
	buf_reset(&f->out);
	f->rep.printed += f->rep.queued; /* --json */
	f->rep.queued = 0;
}

/* Wait for one frame from the statekeeper (RESULTs, which may come before
 * any answer, are taken on the way). */
static void
read_frame(struct fetcher *f, struct frame *fr)
{
	const char *errstr = NULL;
	int rc;

	for (;;) {
		if ((rc = frame_next(&f->in, fr, &errstr)) == 1) {
			if (fr->type != FRAME_RESULT)
				return;
			report_result(f, fr);
			frame_free(fr);
			continue;
		}
		if (rc == -1) {
			f->rep.sk_gone = 1;
			fatalx("%s: protocol error from the statekeeper: %s",
			       f->ops->service, errstr);
		}
		if (frame_reader_fill(&f->in, FD_FROM_SK) == -1) {
			f->rep.sk_gone = 1;
			fatal("%s: read from the statekeeper", f->ops->service);
		}
		if (f->in.eof) {
			f->rep.sk_gone = 1;
			fatalx("%s: the statekeeper closed the pipe before "
			       "answering",
			       f->ops->service);
		}
	}
}

/*
 * HELLO -> CHECKPOINT: fill the window of this run with Wazuh's semantics.
 * A checkpoint not yet in azure.db starts from the row of fallback when
 * there is one (storage: the account's legacy row), else Wazuh's new row.
 * *mn and *mx hold the strings w points to; the caller frees them.
 */
void
fetcher_checkpoint(struct fetcher *f, const char *key, const char *fallback,
		   struct window *w, char **mn, char **mx)
{
	struct frame fr;

	f->window_open = 1;
	f->window_events = 0;
	if (frame_pack(&f->out, FRAME_HELLO, f->ops->table, key, f->o.query,
		       f->o.offset_secs, f->o.reparse, fallback,
		       f->o.overlap_secs) == -1)
		fatalx("%s: query too long", f->ops->service);
	out_flush(f);
	read_frame(f, &fr);
	if (fr.type != FRAME_CHECKPOINT)
		fatalx("%s: the statekeeper sent %s instead of CHECKPOINT",
		       f->ops->service, frame_type_name(fr.type));
	w->min_str = *mn = frame_strdup(&fr, 0);
	w->max_str = *mx = frame_strdup(&fr, 1);
	frame_free(&fr);
	if (date_parse(*mn, &w->min) == -1 || date_parse(*mx, &w->max) == -1)
		fatalx("%s: the statekeeper sent an invalid checkpoint",
		       f->ops->service);
	w->offset_secs = f->o.offset_secs;
	w->reparse = f->o.reparse;
	w->now = date_now();
	w->overlap_secs = f->o.overlap_secs;
	w->lag_secs = f->o.lag_secs;
}

/* Queue the payload in f->body as one event (or one line with --json). */
void
fetcher_emit(struct fetcher *f, const char *time, const char *id)
{
	if (f->o.json) {
		if (buf_append(&f->out, f->body.data, f->body.len) == -1 ||
		    buf_append(&f->out, "\n", 1) == -1)
			fatalx("%s: output buffer full", f->ops->service);
	} else if (frame_pack(&f->out, FRAME_EVENT, time ? time : "",
			      id ? id : "", f->body.data, f->body.len) == -1)
		fatalx("%s: output buffer full", f->ops->service);
	f->events++;
	f->window_events++;
	f->rep.queued++;
	report_event(f, time);
	if (f->out.len >= OUT_FLUSH)
		out_flush(f);
}

/* BLOBQ: queued; its BLOBSTATE is read by fetcher_blob_answer(). */
void
fetcher_blob_ask(struct fetcher *f, const char *container, const char *blob)
{
	if (frame_pack(&f->out, FRAME_BLOBQ, container, blob) == -1)
		fatalx("%s: blob name too long", f->ops->service);
}

/*
 * BLOBSTATE of the oldest BLOBQ asked and not answered: the bytes of the
 * blob already delivered (-1: none) and the creation time they belong to
 * (*ctime, caller frees). What is queued is sent first.
 */
int64_t
fetcher_blob_answer(struct fetcher *f, char **ctime)
{
	struct frame fr;
	int64_t bytes;

	out_flush(f);
	read_frame(f, &fr);
	if (fr.type != FRAME_BLOBSTATE)
		fatalx("%s: the statekeeper sent %s instead of BLOBSTATE",
		       f->ops->service, frame_type_name(fr.type));
	*ctime = frame_strdup(&fr, 0);
	bytes = frame_int(&fr, 1);
	frame_free(&fr);
	return bytes;
}

/* BLOB: a blob still listed, and the bytes of it now delivered (-1: not
 * tracked). */
void
fetcher_blob_done(struct fetcher *f, const char *container, const char *blob,
		  const char *ctime, int64_t bytes)
{
	if (f->o.json)
		return;
	if (frame_pack(&f->out, FRAME_BLOB, container, blob, ctime, bytes) ==
	    -1)
		fatalx("%s: blob name too long", f->ops->service);
}

/* PRUNE: offsets of blobs of container under prefix not reported go. */
void
fetcher_blob_prune(struct fetcher *f, const char *container, const char *prefix)
{
	if (f->o.json)
		return;
	if (frame_pack(&f->out, FRAME_PRUNE, container, prefix) == -1)
		fatalx("%s: prefix too long", f->ops->service);
}

/* End the open window: DONE tells the statekeeper whether it is complete. */
void
fetcher_done(struct fetcher *f, int ok)
{
	if (f->o.json || !f->window_open)
		return;
	if (frame_pack(&f->out, FRAME_DONE, ok, f->window_events) == -1)
		fatalx("%s: output buffer full", f->ops->service);
	f->window_open = 0;
	f->rep.dones++;
	out_flush(f);
}

static void
refresh_token(struct fetcher *f)
{
	char err[1024], *tok;

	if (token_get(&f->http, &f->treq, &tok, err, sizeof(err)) == -1) {
		log_errorx("%s", err);
		exit(EXIT_RUNTIME);
	}
	http_set_bearer(&f->http, tok);
	secret_free(tok);
}

/*
 * An API request with the retry policy of http.c; a 401 gets a new token
 * and one more try. Returns as http_request_retry() does.
 */
int
fetcher_request(struct fetcher *f, const char *url, const char *json,
		size_t jsonlen, struct http_resp *r)
{
	int rc;

	/* The events of the last page go on now, not after this request:
	 * Wazuh gets them sooner, and a crash meanwhile leaves none here. */
	out_flush(f);
	rc = http_request_retry(&f->http, url, json, jsonlen,
				json ? HTTP_JSON : HTTP_GET, r);

	if (rc == 0 && r->status == 401) {
		log_info("%s: token refused (HTTP 401), getting a new one",
			 f->ops->service);
		refresh_token(f);
		rc = http_request_retry(&f->http, url, json, jsonlen,
					json ? HTTP_JSON : HTTP_GET, r);
	}
	return rc;
}

/*
 * From here on the fetcher reads only CA certificates and the files of the
 * name service (and whatever SSL_CERT_FILE, SSL_CERT_DIR or CURL_CA_BUNDLE
 * name), and opens nothing for writing.
 */
static void
enter_sandbox(const struct fopts *o)
{
	static const char *const fixed[] = {
	    "/etc/ssl",
	    "/etc/pki",
	    "/usr/share/ca-certificates",
	    "/usr/local/share/ca-certificates",
	    "/usr/lib/ssl",
	    "/etc/resolv.conf",
	    "/run/systemd/resolve",
	    "/etc/hosts",
	    "/etc/host.conf",
	    "/etc/nsswitch.conf",
	    "/etc/gai.conf",
	    "/etc/services",
	    "/etc/ld.so.cache",
	    "/lib",
	    "/lib64",
	    "/usr/lib",
	    "/usr/lib64"}; /* the last: name-service modules */
	static const char *const env[] = {"SSL_CERT_FILE", "SSL_CERT_DIR",
					  "CURL_CA_BUNDLE"};
	struct sandbox_path
	    p[sizeof(fixed) / sizeof(*fixed) + sizeof(env) / sizeof(*env)];
	size_t i, n = 0;
	const char *v;

	for (i = 0; i < sizeof(fixed) / sizeof(*fixed); i++)
		p[n++] = (struct sandbox_path){fixed[i], SANDBOX_READ};
	for (i = 0; i < sizeof(env) / sizeof(*env); i++)
		if ((v = getenv(env[i])) != NULL && *v == '/')
			p[n++] = (struct sandbox_path){v, SANDBOX_READ};
	sandbox_enter(SANDBOX_FETCHER, p, n, o->no_sandbox);
}

static void
read_credentials(struct fetcher *f)
{
	struct fopts *o = &f->o;
	char err[1024];
	int rc;

	if (o->auth_fd >= 0) { /* opened for us (by root) */
		rc = f->ops->storage
			 ? auth_read_fd(o->auth_fd, o->auth_file,
					f->ops->auth_first, f->ops->auth_second,
					&f->cred, err, sizeof(err))
			 : auth_read_app_fd(o->auth_fd, o->auth_file, &f->cred,
					    err, sizeof(err));
		close(o->auth_fd);
	} else {
		log_debug("%s: Using the auth file %s for authentication",
			  f->ops->service, o->auth_file);
		rc = f->ops->storage
			 ? auth_read_file(o->auth_file, f->ops->auth_first,
					  f->ops->auth_second, &f->cred, err,
					  sizeof(err))
			 : auth_read_app_file(o->auth_file, &f->cred, err,
					      sizeof(err));
	}
	if (rc == -1) {
		log_errorx("%s", err);
		exit(EXIT_RUNTIME);
	}
	f->treq.client_id = f->cred.first;
	f->treq.secret = f->cred.second; /* kept for a new token after 401 */
	f->treq.login_url = o->login_url;
	f->treq.tenant = o->tenant;
	f->treq.scope = f->ops->scope;
	/* clouds and credentials: the kind of credential, the audience */
	f->treq.kind = f->cred.kind;
	f->treq.cred = &f->cred;
	f->treq.identity_url = o->identity_url;
	cloud_audience(o->cloud, f->ops->la, 0, f->scope, sizeof(f->scope));
	cloud_audience(o->cloud, f->ops->la, 1, f->resource,
		       sizeof(f->resource));
	f->treq.scope = f->scope;
	f->treq.resource = f->resource;
	if (f->ops->scope != NULL)
		log_debug("%s: credential: %s (%s)", f->ops->service,
			  auth_kind_name(f->cred.kind),
			  f->cred.kind == AUTH_IDENTITY ? f->resource
							: f->scope);
}

/* A run that ends by exit() (a failure) still reports. */
static struct fetcher *reported;

static void
report_at_exit(void)
{
	if (reported != NULL)
		report_end(reported, 0);
}

/*
 * Parse the options, read the credentials, get a token, let the service
 * run its window, then tell the statekeeper how it ended. Returns the exit
 * status: 0, or 1 when the window was not complete.
 */
int
fetcher_main(int argc, char **argv, const struct fetcher_ops *ops)
{
	struct fetcher f;

	memset(&f, 0, sizeof(f));
	f.ops = ops;
	no_core_dumps();
	signal(SIGPIPE, SIG_IGN);
	parse_opts(argc, argv, ops, &f.o);
	log_init(ops->prog, f.o.debug);
	report_start(&f);
	reported = &f;
	atexit(report_at_exit);
	check_opts(ops, &f.o);
	buf_init(&f.out, FRAME_MAX + OUT_FLUSH);
	buf_init(&f.body, EVENT_MAX);
	frame_reader_init(&f.in);

	log_info("Azure %s starting.", ops->service);
	read_credentials(&f);
	priv_drop(f.o.user);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatalx("curl_global_init failed");
	enter_sandbox(&f.o);
	http_init(&f.http, ops->service);
	if (f.o.timeout_secs > 0) {
		/* Requests stop at the deadline; a grace later, anything. */
		f.http.deadline =
		    date_now() + f.o.timeout_secs * DATE_TICKS_PER_SEC;
		signal(SIGALRM, on_alarm);
		alarm((unsigned)(f.o.timeout_secs < 86400 * 30
				     ? f.o.timeout_secs + 30
				     : 86400 * 30));
	}
	f.http.prefer_wait = f.o.wait;
	f.http.proxy = f.o.proxy; /* clouds and credentials */
	if (f.o.proxy != NULL) {
		char shown[512];

		proxy_redact(f.o.proxy, shown, sizeof(shown));
		log_debug("%s: every request goes through the proxy %s",
			  ops->service, shown);
	}
	if (ops->la) /* the service may run a query this long, then answer */
		f.http.timeout = (f.o.wait > 0 ? f.o.wait : 180) + 60;
	if (ops->scope != NULL) {
		log_info("%s: Getting authentication token.", ops->service);
		refresh_token(&f);
	}
	if (f.o.check && ops->scope != NULL) {
		printf("ok: %s: the authentication file %s holds %s; a "
		       "token for %s was granted by %s\n",
		       ops->service,
		       f.o.auth_file ? f.o.auth_file : "(descriptor)",
		       f.cred.kind == AUTH_SECRET
			   ? "an application id and a secret"
			   : auth_kind_name(f.cred.kind),
		       f.o.tenant,
		       f.cred.kind == AUTH_IDENTITY ? f.o.identity_url
						    : f.o.login_url);
		fflush(stdout); /* no window opened: no DONE either */
	} else
		ops->run(&f);

	fetcher_done(&f, !f.failed);
	out_flush(&f);
	if (f.failed)
		log_info("%s: stopped by an error: the checkpoint stays",
			 ops->service);
	log_info("Azure %s ending.", ops->service);
	report_end(&f, 1); /* the RESULTs, the summary, --stats-fd */
	reported = NULL;
	http_free(&f.http);
	curl_global_cleanup();
	auth_wipe(&f.cred);
	buf_free(&f.out);
	buf_free(&f.body);
	frame_reader_free(&f.in);
	return f.failed ? EXIT_RUNTIME : 0;
}
