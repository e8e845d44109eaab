/*
 * Private header of the fetchers: the shared skeleton (fetcher.c), HTTP
 * with libcurl (http.c), tokens (token.c), and the request builders of each
 * service (graph_filter.c, la_query.c).
 */
#ifndef AZURE_FETCH_H
#define AZURE_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <jansson.h>

#include "auth.h"
#include "buf.h"
#include "frame.h"

#define HTTP_BODY_MAX ((size_t)80 * 1024 * 1024) /* a page of any service */
#define EVENT_MAX     (FRAME_MAX - 65536)

struct http {
	CURL *curl;
	struct curl_slist *auth; /* "Authorization: Bearer ..." (secret) */
	const char *service;	 /* for messages: "Graph" */
	int max_attempts;	 /* per request, for 429/5xx/transport errors */
	int prefer_wait;	 /* "Prefer: wait=N" on JSON requests if > 0 */
	struct curl_slist
	    *raw; /* HTTP_RAW: every header, built by the caller */
	/* Where a 200/206 body goes instead of resp.body, if set: returns
	 * -1 to abort the transfer. */
	int (*sink)(void *arg, const char *p, size_t n);
	void *sink_arg;
	/* Run before each attempt of http_request_retry() (storage signs
	 * every attempt anew); -1 stops. */
	int (*before)(void *arg);
	void *before_arg;
	long timeout;	   /* seconds per request */
	int64_t deadline;  /* of the whole run (100 ns ticks); 0: none */
	int64_t retries;   /* attempts again after 429/5xx/transport errors */
	int64_t bytes;	   /* of the bodies received */
	const char *proxy; /* --proxy (a secret if it holds a password), or
			      NULL: libcurl's https_proxy etc. environment */
};

struct http_resp {
	struct http *h;
	long status;
	struct buf body;
	double retry_after; /* seconds; < 0 when the header was absent */
	int too_big;	    /* the body passed HTTP_BODY_MAX: not retried */
	int sink_failed;    /* the sink refused the body */
	int expired;	    /* the run's deadline passed: not retried */
	int64_t sunk;	    /* bytes given to the sink */
	char curl_err[CURL_ERROR_SIZE];
};

/* HTTP_METADATA: GET with "Metadata: true", no bearer, never proxied
 * (the instance metadata service of managed identities) */
enum { HTTP_GET, HTTP_FORM, HTTP_JSON, HTTP_RAW, HTTP_METADATA };

void http_init(struct http *, const char *service);
void http_free(struct http *);
void http_set_bearer(struct http *, const char *token);
int http_request(struct http *, const char *url, const char *body,
		 size_t bodylen, int kind, struct http_resp *);
int http_request_retry(struct http *, const char *url, const char *body,
		       size_t bodylen, int kind, struct http_resp *);
void http_resp_free(struct http_resp *);
double http_retry_wait(const struct http_resp *, int attempt);
void sleep_seconds(double);
char *url_encode_path(const char *);
double http_parse_retry_after(const char *, int64_t now);

/* token.c */
struct token_req {
	const char *login_url; /* e.g. https://login.microsoftonline.com */
	const char *tenant;
	const char *client_id; /* managed identity: NULL, or a user-assigned
				  identity's client id */
	const char *secret;    /* AUTH_SECRET */
	const char *scope;     /* https://graph.microsoft.com/.default */
	int kind;	       /* AUTH_SECRET, AUTH_CERT, AUTH_IDENTITY */
	const struct auth_pair *cred; /* AUTH_CERT: key and x5t */
	const char *identity_url;     /* AUTH_IDENTITY: the IMDS endpoint */
	const char *resource;	      /* AUTH_IDENTITY: https://HOST/ */
};
int token_get(struct http *, const struct token_req *, char **token, char *err,
	      size_t errlen);
const char *token_error_message(long status, const char *body,
				const char *tenant, int kind, char *msg,
				size_t msglen);
const char *identity_error_message(long status, const char *body, char *msg,
				   size_t msglen);

/* assertion.c: a JWT client assertion (RS256) for certificate credentials */
int assertion_make(const struct auth_pair *, const char *client_id,
		   const char *aud, int64_t now, struct buf *out, char *err,
		   size_t errlen);

/* cloud.c */
struct cloud {
	const char *name;  /* "public" */
	const char *login; /* https://login.microsoftonline.com */
	const char *graph; /* https://graph.microsoft.com */
	const char *la;	   /* https://api.loganalytics.io */
	const char *blob;  /* blob.core.windows.net: ACCOUNT.blob... */
};
extern const char cloud_names[];
const struct cloud *cloud_find(const char *name);
void cloud_audience(const struct cloud *, int la, int resource, char *out,
		    size_t outlen);
void proxy_redact(const char *url, char *out, size_t outlen);
int proxy_check(const char *url, char *err, size_t errlen);
int identity_url_check(const char *url, char *err, size_t errlen);
#define IDENTITY_URL_DEFAULT                                                   \
	"http://169.254.169.254/metadata/identity/oauth2/token"

/* A request window, from the checkpoint and Wazuh's options. */
struct window {
	int64_t min, max;    /* checkpoint, parsed */
	const char *min_str; /* raw strings as stored */
	const char *max_str;
	int64_t offset_secs; /* -1: no offset */
	int reparse;
	int64_t now;
	int64_t overlap_secs; /* reach back before max by this much */
	int64_t lag_secs;     /* end this much before now */
};
int64_t window_desired(const struct window *);
int64_t window_after(const struct window *);
int64_t window_end(const struct window *);

/* graph_filter.c */
const char *graph_filter_field(const char *query);
int graph_build_filter(const char *field, const struct window *,
		       struct buf *out);
int graph_build_url(const char *base, const char *query, const char *filter,
		    struct buf *out);

/* graph_page.c: one Graph page, parsed into events (no network). */
enum {
	GRAPH_PAGE_OK = 0,
	GRAPH_PAGE_EBODY = -1, /* not a Graph page */
	GRAPH_PAGE_EITEM = -2, /* an item too large, or refused by emit */
	GRAPH_PAGE_ENEXT = -3  /* @odata.nextLink neither string nor null */
};
typedef int (*graph_emit_fn)(void *arg, const char *time, const char *id,
			     const struct buf *payload);
extern int graph_page_fast; /* 0: the jansson path only (tests) */
int graph_page_parse(const char *body, size_t len, const char *where,
		     const char *tag, struct buf *payload, graph_emit_fn emit,
		     void *arg, char **next_link, size_t *nitems, char *err,
		     size_t errlen);

/* la_query.c */
struct la_scan {
	size_t columns_off, columns_len; /* tables[0].columns, as JSON text */
	size_t rows_off, rows_len;	 /* tables[0].rows */
	size_t error_off, error_len;	 /* top-level "error", 0 if none */
};
void la_key(const char *query, const char *workspace, char out[33]);
#define LA_INGESTION_COLUMN "AzureLogsIngestionTime" /* ours, not sent */
int la_build_query(const char *query, const char *field, const struct window *,
		   struct buf *);
int la_window_start(const struct window *, int64_t *start);
int la_bound_query(const char *base, const char *field, int64_t start,
		   int64_t end, struct buf *);
int la_timespan(int64_t start, int64_t end, struct buf *);
int la_scan_response(const char *, size_t, struct la_scan *,
		     const char **errstr);
int la_next_row(const char *, size_t, size_t *pos, size_t *off, size_t *rlen);
/* An answer parsed as it arrives (see la_stream_feed()). */
typedef int (*la_stream_fn)(void *arg, const char *json, size_t len);
struct la_stream {
	struct buf in;	  /* from the value being read on */
	size_t pos, want; /* parsed up to; bytes pending before a retry */
	int state, kind, first, tables_seen;
	size_t scan;		   /* in a row: scanned so far */
	int depth, in_string;	   /* in a row: nesting; 1 in a string, 2
				      after its backslash */
	int has_columns, has_rows; /* tables[0] had them */
	int64_t rows;		   /* rows given to row() */
	struct buf error;	   /* the top-level "error", empty if none */
	const char *errstr;	   /* why the answer is malformed */
	int malformed_rows;	   /* a row is not an array: not retried */
	int duplicate;		   /* "tables" or tables[0].rows twice */
	la_stream_fn columns, row;
	void *arg;
};
void la_stream_init(struct la_stream *, la_stream_fn columns, la_stream_fn row,
		    void *arg);
void la_stream_reset(struct la_stream *);
void la_stream_free(struct la_stream *);
int la_stream_feed(struct la_stream *, const char *, size_t);
int la_stream_end(struct la_stream *);
int la_row_valid(const char *, size_t);
int la_columns(json_t *columns, json_t **names, int *time_col,
	       const char *time_name, const char **errstr);
extern int la_row_fast; /* 0: the jansson path only (tests) */
int la_row_event(json_t *names, const char *row, size_t len, const char *tag,
		 int skip, int time_col, struct buf *out, const char **time,
		 char *err, size_t errlen);
int la_partial_error(const char *, size_t, char *msg, size_t msglen);

/* fetcher.c: what every fetcher shares. */
/* The end of every fetcher's --help. */
#define FETCHER_USAGE_END                                                      \
	"--cloud public|usgov|usgov-dod|china picks the login, API and blob "  \
	"endpoints\nand token audiences (default public; explicit --*-url "    \
	"options win).\n--proxy URL sends every request through URL "          \
	"(user:password@ allowed,\nnever logged); without it "                 \
	"$AZURE_LOGS_PROXY (the way to give a\nproxy with a password off the " \
	"command line), else the https_proxy,\n"                               \
	"http_proxy, all_proxy and\nno_proxy environment applies. A Graph or " \
	"Log Analytics auth file may\nhold application_id with a PEM private " \
	"key and certificate (RS256 client\nassertion), or managed_identity "  \
	"= "                                                                   \
	"yes (application_id: a user-assigned\nidentity; tokens from "         \
	"--identity-url, default http://169.254.169.254/\nmetadata/identity/"  \
	"oauth2/token, never proxied). See docs/credentials.md.\n"             \
	"--auth-fd N reads the auth file on descriptor N, opened by the "      \
	"caller\n(--auth-file then only names it). Started as root, --user "   \
	"NAME runs as\nNAME once the credentials are read. --no-sandbox "      \
	"turns off the system-call\nfilter and Landlock rules (debugging "     \
	"only). --check gets a token (or a\nlisting) and collects nothing.\n"  \
	"The run ends with one summary line (logged whatever -d); "            \
	"--stats-fd N\nalso writes it as one line of JSON to descriptor N "    \
	"(open for writing)\nand closes it. -d 1 logs progress every 10 "      \
	"seconds; --progress shows\na live line when stderr is a terminal.\n"  \
	"Exit status: 0 success, 1 failure, 100 usage error.\n"

struct fopts {
	const char *tenant, *query, *workspace, *auth_file, *tag, *offset;
	const char *login_url, *api_url, *since, *until;
	const char *container, *blobs, *format, *prefix; /* storage */
	int auth_fd, reparse, json, debug, wait, page_size;
	int64_t offset_secs, max_json;
	int64_t overlap_secs, lag_secs; /* -1 until given: the service's */
	int64_t timeout_secs;		/* the whole run; 0: none */
	int la_ingestion;		/* --la-checkpoint ingestion */
	int check;			/* --check: credentials and a token */
	const char *user;		/* --user: run as (started as root) */
	int no_sandbox;			/* --no-sandbox */
	/* reports (issue 8) */
	int stats_fd; /* --stats-fd: -1 none */
	int progress; /* --progress (on a terminal only) */
	/* clouds and credentials */
	const struct cloud *cloud; /* --cloud (public) */
	const char *proxy;	   /* --proxy, or NULL */
	const char *identity_url;  /* --identity-url */
};

struct fetcher;
struct fetcher_ops {
	const char *prog;	 /* "azure-graph" */
	const char *service;	 /* "Graph": prefix of messages */
	const char *table;	 /* "graph": checkpoint table */
	const char *scope;	 /* token scope */
	const char *url_option;	 /* "graph-url" */
	const char *default_url; /* "https://graph.microsoft.com" */
	const char *usage;	 /* the whole --help text */
	int la;			 /* takes --workspace and --wait */
	int storage;	      /* takes --container etc.; no tenant, no token */
	int64_t overlap, lag; /* default --overlap and --lag, seconds */
	const char *auth_first, *auth_second; /* the auth file's fields */
	void (*run)(struct fetcher *);
};

struct fetcher {
	const struct fetcher_ops *ops;
	struct fopts o;
	struct http http;
	struct token_req treq;
	struct auth_pair cred; /* application id and secret, wiped at exit */
	char scope[128], resource[128]; /* the token's audience (--cloud) */
	struct buf out; /* frames (or JSON lines) not yet written */
	struct frame_reader in;
	struct buf body; /* scratch for one event payload */
	int64_t events;
	int64_t window_events; /* since the last HELLO */
	int window_open;
	int failed;
	struct report {		    /* report.c: the run's summary */
		int64_t started;    /* date_now() at the start */
		int64_t pages;	    /* Graph pages, LA requests, blobs read */
		int64_t newest;	    /* the newest event's time; INT64_MIN */
		int64_t dones;	    /* DONEs sent */
		int64_t results;    /* RESULTs read */
		int64_t delivered;  /* summed over the RESULTs */
		int64_t duplicates; /* " */
		int64_t dead;	    /* " */
		int64_t queued;	    /* --json: events in out, not written */
		int64_t printed;    /* --json: events written */
		int not_ok;	    /* a RESULT said: window not complete */
		int sk_gone;	    /* the statekeeper closed or misspoke */
		int ended;	    /* report_end() ran */
		int live;	    /* a live line on the terminal */
		int64_t every; /* progress every N s (-d 1); 0: each page */
		int64_t next_log, next_live;
	} rep;
};

int fetcher_main(int argc, char **argv, const struct fetcher_ops *);
void fetcher_checkpoint(struct fetcher *, const char *key, const char *fallback,
			struct window *, char **mn, char **mx);
void fetcher_emit(struct fetcher *, const char *time, const char *id);
int fetcher_request(struct fetcher *, const char *url, const char *json,
		    size_t jsonlen, struct http_resp *);
void fetcher_done(struct fetcher *, int ok);
/* BLOBQ, queued (not flushed): the statekeeper answers BLOBQs in order,
 * so several may be asked before their answers are read */
void fetcher_blob_ask(struct fetcher *, const char *container,
		      const char *blob);
/* the answer to the oldest BLOBQ not answered yet (flushes, waits) */
int64_t fetcher_blob_answer(struct fetcher *, char **ctime);
/* ask and wait */
void fetcher_blob_done(struct fetcher *, const char *container,
		       const char *blob, const char *ctime, int64_t bytes);
void fetcher_blob_prune(struct fetcher *, const char *container,
			const char *prefix);

/* report.c: the summary line, --stats-fd, progress */
void report_start(struct fetcher *);
void report_event(struct fetcher *, const char *time);
void report_result(struct fetcher *, const struct frame *);
void report_page(struct fetcher *); /* a page, answer or blob was read */
void report_end(struct fetcher *, int normal);

#endif
