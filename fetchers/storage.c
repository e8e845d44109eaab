/*
 * azure-storage: the Blob Storage fetcher. For each container (every one
 * with --container '*') it asks the statekeeper for the container's
 * checkpoint, lists the blobs (marker paging, XML streamed through expat),
 * selects them as Wazuh does, and streams each one through a line
 * splitter into events: an append blob from the byte offset already
 * delivered, so only new lines are sent and a partial last line waits for
 * the next run. Requests are signed with Shared Key, or carry a SAS token.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bsd/string.h>

#include "auth.h"
#include "date.h"
#include "fetch.h"
#include "log.h"
#include "storage.h"
#include "util.h"

#define MS_VERSION   "2021-08-06"
#define LINE_MAX_LEN (4 * 1024 * 1024) /* longest line of a blob */
/* BLOBQs asked ahead of the blob being read: their answers are waiting in
 * the pipe when the blob comes, so no blob waits for the statekeeper to
 * catch up. Answers are small (a ctime of at most 127 bytes): 64 of them
 * fit in a pipe even if nobody reads them. */
#define BLOBQ_AHEAD 64

static const char usage[] =
    "usage: azure-storage --container NAME|'*' (--auth-file PATH | "
    "--auth-fd N)\n"
    "                     [--blobs EXT] [--prefix PATH] [--tag TAG]\n"
    "                     [--format plain|json_file|json_inline]\n"
    "                     [--offset OFFSET] [--reparse] [--blob-url URL]\n"
    "                     [--max-json-bytes N] [--page-size N] [-d N]\n"
    "                     [--overlap DURATION] [--lag DURATION] "
    "[--timeout DURATION]\n"
    "                     [--since TIME --json]\n"
    "                     [--user NAME] [--no-sandbox] [--check]\n"
    "                     [--stats-fd N] [--progress]\n"
    "                     [--cloud NAME] [--proxy URL]\n"
    "\n"
    "Sends the lines (or JSON records) of the blobs of a storage account.\n"
    "The auth file holds account_name and account_key (Shared Key) or\n"
    "sas_token, and must not be readable by group or others. --blob-url\n"
    "defaults to https://ACCOUNT.blob.core.windows.net. Without --json it\n"
    "speaks frames with azure-statekeeper on fd 0/1 (docs/internals.md).\n"
    "Blobs modified within --overlap (default 5m) before the checkpoint are\n"
    "read again (what was delivered is dropped), those modified within\n"
    "--lag (0) before now are left for the next run.\n" FETCHER_USAGE_END;

struct blobinfo {
	char *name, *etag, *ctime;
	int64_t size, modified;
	int append;
};

struct storage {
	struct fetcher *f;
	const char *account, *base; /* base: https://acct.blob.core... */
	const char *sas;	    /* or NULL */
	unsigned char *key;	    /* Shared Key, or NULL */
	size_t keylen;
	const char *container; /* being read */
	char **containers;
	size_t ncontainers;
	struct blobinfo *blobs; /* of the container being read */
	size_t nblobs, capblobs;
	/* the blob being read */
	struct storage_lines lines;
	const char *time; /* its Last-Modified, Wazuh's form */
	struct buf doc;	  /* json_file: the whole document */
	int failed_line;
	int one_page; /* --check: the first page of a listing is enough */
	const struct blobinfo *blob;
	int64_t from;	 /* the byte it is read from */
	int64_t nth;	 /* events sent since from */
	struct buf id;	 /* the event's id */
	size_t id_head;	 /* bytes of id common to the blob's events */
	int inline_json; /* --format json_inline */
	/* BLOBQs of the container's blobs: every blob before next_ask that
	 * needs one has been asked; `asked` answers are not read yet */
	size_t next_ask, asked;
};

/*
 * Send f->body as an event. Its id is the blob (name, and the creation
 * time of an append blob: one created again is new), the byte the read
 * started from, the event's rank after it and the md5 of the payload: a
 * blob read again from the same offset (after a failed run, within the
 * overlap, or a block blob rewritten with more records) gives the same ids
 * for the same events, so the statekeeper drops what was delivered, and
 * new content at the same place is never taken for old.
 */
static void
emit_storage_event(struct storage *s)
{
	struct fetcher *f = s->f;
	char h[MD5_HEXLEN], num[24], *p = num + sizeof(num);
	uint64_t v = (uint64_t)s->nth++;

	md5_hex(f->body.data, f->body.len, h);
	do /* "%lld" of nth (never negative) */
		*--p = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	s->id.len = s->id_head;
	if (buf_append(&s->id, p, (size_t)(num + sizeof(num) - p)) == -1 ||
	    buf_append(&s->id, "#", 1) == -1 ||
	    buf_append(&s->id, h, MD5_HEXLEN - 1) == -1)
		fatalx("Storage: blob name too long");
	fetcher_emit(f, s->time, s->id.data);
}

/* "name#ctime#from#": the part of the ids of a blob read from `from` that
 * its events share. */
static void
id_head(struct storage *s)
{
	buf_reset(&s->id);
	if (buf_printf(&s->id, "%s#%s#%lld#", s->blob->name,
		       s->blob->append ? s->blob->ctime : "",
		       (long long)s->from) == -1)
		fatalx("Storage: blob name too long");
	s->id_head = s->id.len;
}

static char *
path_of(const char *url)
{
	const char *p = strstr(url, "://");

	p = p ? strchr(p + 3, '/') : NULL;
	return xstrdup(p ? p : "/");
}

/* What the signing hook needs for each attempt of one request. */
struct signed_get {
	struct storage *s;
	const char *path; /* decoded, as signed: base path + request path */
	const struct storage_kv *q, *xh;
	size_t nq, nxh;
};

/*
 * Before each attempt: fresh x-ms-date, the other headers and, with a
 * Shared Key, the Authorization of exactly these. Returns 0 or -1.
 */
static int
sign_attempt(void *arg)
{
	struct signed_get *g = arg;
	struct storage *s = g->s;
	struct curl_slist **raw = &s->f->http.raw;
	struct storage_kv h[8];
	struct storage_signreq req;
	struct buf line;
	char date[64];
	struct tm tm;
	time_t now = time(NULL);
	size_t i, nh = 0;
	int rc = 0;

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	h[nh++] = (struct storage_kv){"x-ms-date", date};
	h[nh++] = (struct storage_kv){"x-ms-version", MS_VERSION};
	for (i = 0; i < g->nxh && nh < 8; i++)
		h[nh++] = g->xh[i];
	curl_slist_free_all(*raw);
	*raw = NULL;
	buf_init(&line, 1 << 16);
	for (i = 0; i < nh; i++) {
		buf_reset(&line);
		buf_printf(&line, "%s: %s", h[i].name, h[i].value);
		*raw = curl_slist_append(*raw, line.data);
	}
	if (s->key != NULL) {
		req = (struct storage_signreq){
		    .verb = "GET",
		    .account = s->account,
		    .path = g->path,
		    .query = g->q,
		    .nquery = g->nq,
		    .headers = h,
		    .nheaders = nh,
		};
		buf_reset(&line);
		buf_puts(&line, "Authorization: ");
		rc = storage_authorization(&req, s->key, s->keylen, &line);
		*raw = curl_slist_append(*raw, line.data);
		explicit_bzero(line.data, line.len);
	}
	buf_free(&line);
	return rc;
}

/*
 * One signed request: GET base/path?query (query values decoded, encoded
 * here), with extra headers, retried as http.c retries. Returns 0 when a
 * response arrived, -1 otherwise.
 */
static int
storage_get(struct storage *s, const char *path, const struct storage_kv *q,
	    size_t nq, const struct storage_kv *xh, size_t nxh,
	    struct http_resp *r)
{
	struct http *h = &s->f->http;
	struct signed_get g = {s, NULL, q, xh, nq, nxh};
	struct buf url, signpath;
	char *basepath;
	size_t i;
	int rc;

	buf_init(&url, 1 << 20);
	buf_init(&signpath, 1 << 16);
	buf_puts(&url, s->base);
	storage_url_encode(path, 1, &url);
	for (i = 0; i < nq; i++) {
		buf_printf(&url, "%c%s=", i ? '&' : '?', q[i].name);
		storage_url_encode(q[i].value, 0, &url);
	}
	if (s->sas)
		buf_printf(&url, "%c%s", nq ? '&' : '?',
			   s->sas[0] == '?' ? s->sas + 1 : s->sas);
	basepath = path_of(s->base);
	buf_printf(&signpath, "%s%s", strcmp(basepath, "/") ? basepath : "",
		   path);
	g.path = signpath.data;
	h->before = sign_attempt;
	h->before_arg = &g;
	rc = http_request_retry(h, url.data, NULL, 0, HTTP_RAW, r);
	h->before = NULL;
	curl_slist_free_all(h->raw);
	h->raw = NULL;
	free(basepath);
	buf_free(&url);
	buf_free(&signpath);
	return rc;
}

/* The Code and Message of an XML error answer, for messages. */
static void
error_text(struct http_resp *r, char *out, size_t outlen)
{
	const char *b = buf_cstr(&r->body), *c, *m;

	if (b && (c = strstr(b, "<Code>")) != NULL &&
	    (m = strstr(b, "</Code>")) != NULL && m > c)
		snprintf(out, outlen, "HTTP %ld %.*s", r->status,
			 (int)(m - c - 6), c + 6);
	else
		snprintf(out, outlen, "HTTP %ld", r->status);
}

static int
on_container(void *arg, const char *name)
{
	struct storage *s = arg;

	s->containers =
	    reallocarray(s->containers, s->ncontainers + 1, sizeof(char *));
	if (s->containers == NULL)
		fatal("reallocarray");
	s->containers[s->ncontainers++] = xstrdup(name);
	return 0;
}

static int
on_blob(void *arg, const struct storage_blob *b)
{
	struct storage *s = arg;
	struct blobinfo *bi;

	if (s->nblobs == s->capblobs) {
		s->capblobs = s->capblobs ? s->capblobs * 2 : 256;
		s->blobs =
		    reallocarray(s->blobs, s->capblobs, sizeof(*s->blobs));
		if (s->blobs == NULL)
			fatal("reallocarray");
	}
	bi = &s->blobs[s->nblobs++];
	bi->name = xstrdup(b->name);
	bi->etag = xstrdup(b->etag);
	bi->ctime = xstrdup(b->created_str);
	bi->size = b->size;
	bi->modified = b->modified;
	bi->append = strcmp(b->blob_type, "AppendBlob") == 0;
	return 0;
}

/*
 * List containers (container NULL) or the blobs of one, every page.
 * Returns 0, or -1 with a message logged; *status gets the HTTP status of
 * a failed answer (404: no such container).
 */
static int
list(struct storage *s, const char *container, const char *prefix, long *status)
{
	struct storage_list_cb cb = {on_container, on_blob, s};
	struct storage_kv q[6];
	struct http_resp r = {0};
	struct storage_list *l;
	struct buf path;
	char marker[STORAGE_XML_NAME_MAX + 1] = "", err[512], max[16];
	size_t nq;
	int rc = -1;

	*status = 0;
	snprintf(max, sizeof(max), "%d", s->f->o.page_size);
	buf_init(&path, 8192);
	buf_printf(&path, "/%s", container ? container : "");
	do {
		nq = 0;
		q[nq++] = (struct storage_kv){"comp", "list"};
		if (*marker)
			q[nq++] = (struct storage_kv){"marker", marker};
		q[nq++] = (struct storage_kv){"maxresults", max};
		if (container && prefix && *prefix)
			q[nq++] = (struct storage_kv){"prefix", prefix};
		if (container)
			q[nq++] = (struct storage_kv){"restype", "container"};
		if (storage_get(s, path.data, q, nq, NULL, 0, &r) == -1) {
			log_errorx("Storage: listing %s failed: %s",
				   container ? container : "the containers",
				   r.curl_err);
			goto out;
		}
		if (r.status != 200) {
			*status = r.status;
			error_text(&r, err, sizeof(err));
			if (r.status == 403 && container != NULL)
				log_errorx(
				    "Storage: Invalid credentials for "
				    "accessing the \"%s\" container (%s).",
				    container, err);
			else if (r.status == 403)
				log_errorx(
				    "Storage: Unable to list the "
				    "containers. Invalid credentials (%s).",
				    err);
			else if (r.status != 404)
				log_errorx("Storage: listing %s failed: %s",
					   container ? container
						     : "the containers",
					   err);
			goto out;
		}
		l = storage_list_new(&cb);
		if (storage_list_feed(l, r.body.data, r.body.len, 1) == -1) {
			log_errorx("Storage: the list of %s is not valid: %s",
				   container ? container : "the containers",
				   storage_list_error(l));
			storage_list_free(l);
			goto out;
		}
		strlcpy(marker, storage_list_next_marker(l), sizeof(marker));
		storage_list_free(l);
	} while (*marker && !s->one_page);
	rc = 0;
out:
	http_resp_free(&r);
	buf_free(&path);
	return rc;
}

static int
emit_payload(void *arg, const struct buf *payload)
{
	struct storage *s = arg;
	struct fetcher *f = s->f;

	buf_reset(&f->body);
	if (buf_append(&f->body, payload->data, payload->len) == -1)
		return -1;
	emit_storage_event(s);
	return 0;
}

/* One line of a blob: Wazuh's payload, sent. */
static int
on_line(void *arg, const char *line, size_t len)
{
	struct storage *s = arg;
	struct fetcher *f = s->f;
	int rc;

	buf_reset(&f->body);
	if (s->inline_json)
		rc = storage_inline_event(line, len, f->o.tag, &f->body);
	else
		rc = storage_plain_event(line, len, f->o.tag, &f->body);
	if (rc == -1) {
		s->failed_line = 1;
		return -1;
	}
	emit_storage_event(s);
	return 0;
}

static int
sink_lines(void *arg, const char *p, size_t n)
{
	struct storage *s = arg;

	return storage_lines_feed(&s->lines, p, n, on_line, s);
}

static int
sink_doc(void *arg, const char *p, size_t n)
{
	struct storage *s = arg;

	return buf_append(&s->doc, p, n);
}

/*
 * Read a blob from byte `from` and send its content. For a tracked append
 * blob only complete lines are sent and *done is the offset past the last
 * one; otherwise the whole blob counts. Returns 0, or -1 (not done).
 */
static int
read_blob(struct storage *s, const struct blobinfo *b, int64_t from,
	  int tracked, int64_t *done)
{
	struct fetcher *f = s->f;
	struct storage_kv h[2];
	struct http_resp r = {0};
	struct buf path;
	char range[64], etag[256], err[512], when[DATE_STRLEN];
	int json_file = f->o.format && strcmp(f->o.format, "json_file") == 0;
	int rc = -1;
	size_t nh;

	date_format(b->modified, when);
	s->time = when;
	s->blob = b;
	s->from = from;
	s->nth = 0;
	id_head(s);
	buf_init(&path, 8192);
	buf_printf(&path, "/%s/%s", s->container, b->name);
	do {
		storage_lines_init(&s->lines, LINE_MAX_LEN);
		buf_init(&s->doc, (size_t)f->o.max_json);
		s->failed_line = 0;
		f->http.sink = json_file ? sink_doc : sink_lines;
		f->http.sink_arg = s;
		nh = 0;
		snprintf(etag, sizeof(etag), "%s", b->etag);
		h[nh++] = (struct storage_kv){"If-Match", etag};
		if (from > 0) {
			snprintf(range, sizeof(range), "bytes=%lld-",
				 (long long)from);
			h[nh++] = (struct storage_kv){"x-ms-range", range};
		}
		log_info("Storage: Getting data from blob %s%s", b->name,
			 from > 0 ? " from its last offset" : "");
		if (storage_get(s, path.data, NULL, 0, h, nh, &r) == -1) {
			if (json_file && r.sink_failed)
				log_errorx("Storage: blob %s is larger than "
					   "--max-json-bytes (%lld): not read",
					   b->name, (long long)f->o.max_json);
			else if (s->failed_line)
				log_errorx("Storage: blob %s has a line over "
					   "%d bytes",
					   b->name, LINE_MAX_LEN);
			else
				log_errorx("Storage: Error reading the blob "
					   "data: %s: %s",
					   b->name, r.curl_err);
			break;
		}
		if (r.status == 412) {
			/* Changed since it was listed: not done; the next
			 * run lists it again (its offset, or the window, stays
			 * where it was). */
			log_errorx(
			    "Storage: blob %s was modified while it was "
			    "read; it will be read again at the next run",
			    b->name);
			break;
		}
		if (r.status == 416) { /* nothing after the offset */
			*done = from;
			rc = 0;
			break;
		}
		if (r.status != 200 && r.status != 206) {
			error_text(&r, err, sizeof(err));
			log_errorx(
			    "Storage: Error reading the blob data: %s: %s",
			    b->name, err);
			break;
		}
		report_page(f);
		if (json_file) {
			rc = storage_json_file_events(s->doc.data, s->doc.len,
						      f->o.tag, emit_payload, s,
						      err, sizeof(err));
			if (rc == -1)
				log_errorx("Storage: Error reading the "
					   "contents of the blob %s: %s",
					   b->name, err);
			*done = from + (int64_t)s->doc.len;
		} else if (tracked) {
			rc = 0;
			*done = from + s->lines.done;
		} else {
			rc = storage_lines_finish(&s->lines, on_line, s);
			*done = from + s->lines.fed;
		}
	} while (0);
	f->http.sink = NULL;
	storage_lines_free(&s->lines);
	buf_free(&s->doc);
	http_resp_free(&r);
	buf_free(&path);
	return rc;
}

/* Whether do_blob() asks the statekeeper what was delivered of b. */
static int
needs_state(const struct storage *s, const struct blobinfo *b)
{
	const struct fetcher *f = s->f;
	const char *ext = f->o.blobs;
	int json_file = f->o.format && strcmp(f->o.format, "json_file") == 0;

	return b->append && !json_file && !f->o.reparse && !f->o.json &&
	       b->size != 0 && !(ext && *ext && strstr(b->name, ext) == NULL);
}

/* Queue BLOBQs for the next blobs that need one, BLOBQ_AHEAD at most. */
static void
ask_ahead(struct storage *s)
{
	for (; s->next_ask < s->nblobs && s->asked < BLOBQ_AHEAD; s->next_ask++)
		if (needs_state(s, &s->blobs[s->next_ask])) {
			fetcher_blob_ask(s->f, s->container,
					 s->blobs[s->next_ask].name);
			s->asked++;
		}
}

/*
 * BLOBSTATE of b (asked ahead, in the order of the blobs): bytes already
 * delivered of this blob, or -1.
 */
static int64_t
delivered(struct storage *s, const struct blobinfo *b)
{
	struct fetcher *f = s->f;
	int64_t bytes;
	char *ctime;

	if (s->next_ask <= (size_t)(b - s->blobs))
		ask_ahead(s);
	if (s->asked == 0 || s->next_ask <= (size_t)(b - s->blobs))
		fatalx("Storage: no BLOBQ asked for blob %s", b->name);
	bytes = fetcher_blob_answer(f, &ctime);
	s->asked--;
	ask_ahead(s);
	if (bytes >= 0 && strcmp(ctime, b->ctime) != 0)
		bytes = 0; /* created again since: read it all */
	free(ctime);
	return bytes;
}

/* Wazuh's selection, then the read; reports the blob to the statekeeper. */
static void
do_blob(struct storage *s, const struct blobinfo *b, const struct window *w,
	int64_t desired)
{
	struct fetcher *f = s->f;
	const char *ext = f->o.blobs;
	int json_file = f->o.format && strcmp(f->o.format, "json_file") == 0;
	int tracked = b->append && !json_file;
	int64_t processed = -1, done = -1;

	if (b->size == 0) {
		log_debug("Empty blob %s, skipping", b->name);
		goto report;
	}
	if (ext && *ext && strstr(b->name, ext) == NULL) {
		log_debug(
		    "Skipped blob, name %s does not match with the format "
		    "\"%s\"",
		    b->name, ext);
		goto report;
	}
	if (needs_state(s, b))
		processed = delivered(s, b);
	if (!f->o.json && !f->o.reparse && w->lag_secs > 0 &&
	    b->modified >= window_end(w)) {
		/* Still being written: the next run reads it (--lag). */
		log_debug("Blob %s was modified within the lag: left for the "
			  "next run",
			  b->name);
		done = processed;
		goto report;
	}
	if (processed >= 0) {
		if (b->size == processed) {
			log_info("Storage: Skipping blob %s due to being "
				 "already processed",
				 b->name);
			done = processed;
			goto report;
		}
	} else if (!f->o.reparse && !f->o.json &&
		   (b->modified < desired ||
		    (w->min <= b->modified && b->modified < window_after(w)))) {
		log_info("Storage: Skipping blob %s due to being already "
			 "processed",
			 b->name);
		goto report;
	}
	if (read_blob(s, b, processed > 0 ? processed : 0, tracked, &done) ==
	    -1) {
		f->failed = 1;
		return; /* not reported: its offset stays as it was */
	}
report:
	fetcher_blob_done(f, s->container, b->name, b->ctime,
			  tracked ? done : -1);
}

static void
free_blobs(struct storage *s)
{
	size_t i;

	for (i = 0; i < s->nblobs; i++) {
		free(s->blobs[i].name);
		free(s->blobs[i].etag);
		free(s->blobs[i].ctime);
	}
	s->nblobs = 0;
}

/* One container: its window, its blobs, its DONE. */
static void
do_container(struct storage *s, const char *container)
{
	struct fetcher *f = s->f;
	char key[MD5_HEXLEN], legacy[MD5_HEXLEN], *mn = NULL, *mx = NULL;
	struct window w = {0};
	struct buf k;
	int64_t desired;
	long status;
	size_t i;
	int failed_before = f->failed;

	s->container = container;
	f->failed = 0;
	buf_init(&k, 8192);
	buf_printf(&k, "account=%s|container=%s", s->account, container);
	md5_hex(k.data, k.len, key);
	md5_hex(s->account, strlen(s->account), legacy);
	buf_free(&k);
	if (list(s, container, f->o.prefix, &status) == -1) {
		if (status == 404)
			log_errorx("Storage: The \"%s\" container does not "
				   "exists.",
				   container);
		f->failed = 1;
		goto out;
	}
	if (f->o.json) {
		date_parse(f->o.since, &desired);
		w.min = w.max = desired;
		w.max--; /* an empty [min, max]: nothing counts as seen */
	} else {
		f->o.query = container;
		fetcher_checkpoint(f, key, legacy, &w, &mn, &mx);
		desired = window_desired(&w);
	}
	log_info("Storage: The search starts from the date: %s for blobs in "
		 "container: \"%s\" and prefix: \"/%s\"",
		 mn ? mn : f->o.since, container,
		 f->o.prefix ? f->o.prefix : "");
	s->next_ask = s->asked = 0;
	ask_ahead(s);
	for (i = 0; i < s->nblobs; i++)
		do_blob(s, &s->blobs[i], &w, desired);
	if (s->asked != 0)
		fatalx("Storage: %zu BLOBSTATE answers not read", s->asked);
	fetcher_blob_prune(f, container, f->o.prefix ? f->o.prefix : "");
out:
	fetcher_done(f, !f->failed);
	free_blobs(s);
	free(mn);
	free(mx);
	f->failed |= failed_before;
}

static void
read_account(struct storage *s)
{
	struct fetcher *f = s->f;
	static struct buf base;

	s->account = f->cred.first;
	if (f->cred.second_alt == 1)
		s->sas = f->cred.second;
	else if (storage_decode_key(f->cred.second, &s->key, &s->keylen) == -1)
		fatalx("Error: The account_key of the authentication file is "
		       "not base64.");
	if (f->o.api_url == NULL) {
		buf_init(&base, 1024);
		buf_printf(&base, "https://%s.%s", s->account,
			   f->o.cloud->blob); /* --cloud */
		s->base = base.data;
	} else
		s->base = f->o.api_url;
}

static void
storage_run(struct fetcher *f)
{
	struct storage s = {.f = f};
	long status;
	size_t i;

	buf_init(&s.id, 8192);
	s.inline_json = f->o.format && strcmp(f->o.format, "json_inline") == 0;
	read_account(&s);
	log_info("Storage: Authenticated.");
	if (f->o.check) { /* one page of the listing proves the credentials */
		s.one_page = 1;
		f->o.page_size = 1;
		if (list(&s,
			 strcmp(f->o.container, "*") == 0 ? NULL
							  : f->o.container,
			 NULL, &status) == -1) {
			if (status == 404)
				log_errorx("Storage: The \"%s\" container does "
					   "not exists.",
					   f->o.container);
			f->failed = 1;
		} else
			printf("ok: Storage: account %s can list %s with its "
			       "%s\n",
			       s.account,
			       strcmp(f->o.container, "*") == 0
				   ? "its containers"
				   : f->o.container,
			       s.sas ? "SAS token" : "Shared Key");
		free_blobs(&s);
		for (i = 0; i < s.ncontainers; i++)
			free(s.containers[i]);
		s.ncontainers = 0;
	} else if (strcmp(f->o.container, "*") == 0) {
		log_info("Storage: Getting all containers.");
		if (list(&s, NULL, NULL, &status) == -1)
			f->failed = 1;
	} else
		on_container(&s, f->o.container);
	for (i = 0; i < s.ncontainers; i++)
		do_container(&s, s.containers[i]);
	for (i = 0; i < s.ncontainers; i++)
		free(s.containers[i]);
	free(s.containers);
	free(s.blobs);
	buf_free(&s.id);
	if (s.key) {
		explicit_bzero(s.key, s.keylen);
		free(s.key);
	}
	log_info("Storage: End");
}

static const struct fetcher_ops storage_ops = {
    .prog = "azure-storage",
    .service = "Storage",
    .table = "storage",
    .url_option = "blob-url",
    .usage = usage,
    .storage = 1,
    .overlap = 300, /* Last-Modified has one-second steps */
    .auth_first = "account_name",
    .auth_second = "account_key|sas_token",
    .run = storage_run,
};

int
main(int argc, char **argv)
{
	return fetcher_main(argc, argv, &storage_ops);
}
