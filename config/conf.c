/*
 * The <wodle name="azure-logs"> blocks of an ossec.conf, read with expat
 * the way Wazuh's wm_azure reads them, as shell lines for the launcher:
 *
 *   azure_global 'WORD' ...           our global settings (at most one)
 *   azure_request LINE 'WORD' ...     one per valid <request>/<container>
 *
 * Every word is single-quoted (a ' is written '\''), so the launcher can
 * eval the lines and get each text back intact: quotes, spaces, newlines,
 * any length.
 *
 * An ossec.conf has several <ossec_config> roots: the input is parsed
 * inside a synthetic root that adds no newline (expat's line numbers stay
 * the file's), after its <?xml?> declaration was blanked. A DOCTYPE cannot
 * appear inside an element, so entities are only the predefined ones.
 *
 * The parse streams: a wodle, a block (<graph>, <log_analytics>,
 * <storage>) and a request (<request>, <container>) are nodes that collect
 * their elements' text and our attributes; a request is checked at its
 * end tag, a block at its end tag (its <auth_path> may come after its
 * requests), a wodle at its end tag (its <disabled> may come last). A
 * fault skips the node it belongs to (logged with the file's line) and
 * everything inside it; the others still come out.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <expat.h>

#include "buf.h"
#include "conf.h"
#include "log.h"

#define ROOT_OPEN  "<azure-config.root>"
#define ROOT_CLOSE "</azure-config.root>"

enum kind { K_WODLE, K_BLOCK, K_ITEM };
enum svc { SVC_NONE, SVC_GRAPH, SVC_LA, SVC_STORAGE };

/* The text elements, wherever they are. */
enum field {
	F_TAG,
	F_QUERY,
	F_WORKSPACE,
	F_TIME_OFFSET,
	F_TIMEOUT,
	F_BLOBS,
	F_CONTENT_TYPE,
	F_PATH,
	F_AUTH_PATH,
	F_TENANT,
	F_DISABLED,
	F_RUN_ON_START,
	F_IGNORED, /* Wazuh's scheduling; <workspace> of a <graph> request */
	NFIELDS
};

struct elem_def {
	const char *name;
	enum field field;
};

static const struct elem_def wodle_elems[] = {
    {"disabled", F_DISABLED}, {"run_on_start", F_RUN_ON_START},
    {"timeout", F_TIMEOUT},   {"interval", F_IGNORED},
    {"day", F_IGNORED},	      {"wday", F_IGNORED},
    {"time", F_IGNORED},      {NULL, 0}};
static const struct elem_def api_elems[] = {
    {"auth_path", F_AUTH_PATH}, {"tenantdomain", F_TENANT}, {NULL, 0}};
static const struct elem_def storage_elems[] = {
    {"auth_path", F_AUTH_PATH}, {"tag", F_TAG}, {NULL, 0}};
static const struct elem_def request_elems[] = {{"tag", F_TAG},
						{"query", F_QUERY},
						{"workspace", F_WORKSPACE},
						{"time_offset", F_TIME_OFFSET},
						{"timeout", F_TIMEOUT},
						{NULL, 0}};
static const struct elem_def container_elems[] = {
    {"blobs", F_BLOBS},
    {"content_type", F_CONTENT_TYPE},
    {"time_offset", F_TIME_OFFSET},
    {"path", F_PATH},
    {"timeout", F_TIMEOUT},
    {NULL, 0}};

/* Wazuh's deprecated elements that put a secret on our command line. */
static const char *const legacy_elems[] = {"application_id", "application_key",
					   "account_name", "account_key", NULL};

/* Our settings: attributes named as the launcher's long options. */
enum attr_check {
	A_TEXT,
	A_JOBS,
	A_SOCKET_WAIT,
	A_LA_WAIT,
	A_BYTES,
	A_DURATION,
	A_LA_CHECKPOINT,
	A_CLOUD,
	A_USER
};

static const struct attr_def {
	const char *name;
	int global; /* on the <wodle> only; in azure_global */
	enum attr_check check;
	int hide; /* may hold a password: its value is never logged */
} attr_defs[] = {
    {"jobs", 1, A_JOBS, 0},
    {"db", 1, A_TEXT, 0},
    {"last-dates", 1, A_TEXT, 0},
    {"socket", 1, A_TEXT, 0},
    {"socket-wait", 1, A_SOCKET_WAIT, 0},
    {"output", 1, A_TEXT, 0},
    {"dead-letter", 1, A_TEXT, 0},
    {"stats-json", 1, A_TEXT, 0},
    {"fetcher-user", 1, A_USER, 0},
    {"statekeeper-user", 1, A_USER, 0},
    {"forwarder-user", 1, A_USER, 0},
    {"cloud", 0, A_CLOUD, 0},
    {"proxy", 0, A_TEXT, 1},
    {"login-url", 0, A_TEXT, 0},
    {"graph-url", 0, A_TEXT, 0},
    {"la-url", 0, A_TEXT, 0},
    {"blob-url", 0, A_TEXT, 0},
    {"identity-url", 0, A_TEXT, 0},
    {"la-wait", 0, A_LA_WAIT, 0},
    {"max-json-bytes", 0, A_BYTES, 0},
    {"overlap", 0, A_DURATION, 0},
    {"lag", 0, A_DURATION, 0},
    {"la-checkpoint", 0, A_LA_CHECKPOINT, 0},
    {"timeout", 0, A_DURATION, 0},
};
#define NATTRS	     (sizeof(attr_defs) / sizeof(attr_defs[0]))
#define ATTR_TIMEOUT (NATTRS - 1)

struct node {
	enum kind kind;
	enum svc svc;
	const char *elem; /* its element's name (static) */
	unsigned long line;
	int depth;
	int bad;	   /* skipped: logged once */
	int items;	   /* blocks: <request>/<container> seen */
	char *f[NFIELDS];  /* element texts, trimmed */
	char *a[NATTRS];   /* attributes */
	char *name;	   /* <container name="..."> */
	struct node *head; /* valid children, in file order */
	struct node **tail;
	struct node *next;
};

struct conf {
	const char *file;
	XML_Parser xp;
	int depth;
	int ignore; /* > 0: what is deeper than this depth is skipped */
	struct node *wodle, *block, *item; /* open, not yet attached */
	struct node *leaf_owner;	   /* open text element */
	const char *leaf_elem;
	enum field leaf_field;
	int leaf_depth;
	struct buf text;
	char *global[NATTRS]; /* of the wodles read so far */
	struct buf reqs;      /* azure_request lines */
	struct conf_result *res;
	int items;     /* valid requests so far */
	int bare_amps; /* & taken as characters */
	int failed;    /* the file is not usable: stop */
};

static void
node_free(struct node *n)
{
	struct node *c, *next;
	size_t i;

	if (n == NULL)
		return;
	for (c = n->head; c != NULL; c = next) {
		next = c->next;
		node_free(c);
	}
	for (i = 0; i < NFIELDS; i++)
		free(n->f[i]);
	for (i = 0; i < NATTRS; i++)
		free(n->a[i]);
	free(n->name);
	free(n);
}

static struct node *
node_new(struct conf *c, enum kind kind, enum svc svc, const char *elem,
	 unsigned long line)
{
	struct node *n = xcalloc(1, sizeof(*n));

	n->kind = kind;
	n->svc = svc;
	n->elem = elem;
	n->line = line;
	n->depth = c->depth;
	n->tail = &n->head;
	return n;
}

static void
node_attach(struct node *parent, struct node *n)
{
	*parent->tail = n;
	parent->tail = &n->next;
}

static unsigned long
cur_line(struct conf *c)
{
	return (unsigned long)XML_GetCurrentLineNumber(c->xp);
}

/* The file cannot be used at all: say why, stop the parser. */
static void __attribute__((format(printf, 3, 4)))
file_fail(struct conf *c, unsigned long line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_errorx("%s:%lu: %s", c->file, line, msg);
	c->failed = 1;
	XML_StopParser(c->xp, XML_FALSE);
}

/*
 * Node N is skipped: say why (once), skip what is inside it, and drop the
 * open nodes below it (they are not attached to anything yet).
 */
static void __attribute__((format(printf, 4, 5)))
node_fail(struct conf *c, struct node *n, unsigned long line, const char *fmt,
	  ...)
{
	char msg[1024];
	va_list ap;

	if (!n->bad) {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		log_errorx("%s:%lu: %s; the <%s> %sis skipped", c->file, line,
			   msg, n->elem, n->kind == K_ITEM ? "" : "block ");
		c->res->skipped++;
		n->bad = 1;
	}
	if (c->ignore == 0 || n->depth < c->ignore)
		c->ignore = n->depth;
	if (c->leaf_depth > n->depth)
		c->leaf_depth = 0;
	if (n->kind == K_WODLE) {
		node_free(c->block);
		c->block = NULL;
	}
	if (n->kind != K_ITEM) {
		node_free(c->item);
		c->item = NULL;
	}
}

static const struct elem_def *
elem_find(const struct elem_def *defs, const char *name)
{
	for (; defs->name != NULL; defs++)
		if (strcmp(defs->name, name) == 0)
			return defs;
	return NULL;
}

static int
is_legacy(const char *name)
{
	const char *const *p;

	for (p = legacy_elems; *p != NULL; p++)
		if (strcmp(*p, name) == 0)
			return 1;
	return 0;
}

static int
attr_index(const char *name)
{
	size_t i;

	for (i = 0; i < NATTRS; i++)
		if (strcmp(attr_defs[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* S is 1 to 10 digits whose value is within [MIN, MAX]. */
static int
is_number(const char *s, uint64_t min, uint64_t max)
{
	uint64_t v = 0;
	size_t n;

	for (n = 0; s[n] >= '0' && s[n] <= '9'; n++)
		v = v * 10 + (uint64_t)(s[n] - '0');
	return n > 0 && n <= 10 && s[n] == '\0' && v >= min && v <= max;
}

/* N, Ns, Nm, Nh or Nd (the launcher's durations). */
static int
is_duration(const char *s)
{
	size_t n = strspn(s, "0123456789");

	return n > 0 && n <= 10 &&
	       (s[n] == '\0' || (strchr("smhd", s[n]) && s[n + 1] == '\0'));
}

/* A user name as the launcher takes it (not digits only: not a uid). */
static int
is_user(const char *s)
{
	return s[0] != '-' &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789._-") == strlen(s) &&
	       strspn(s, "0123456789") != strlen(s);
}

/* Why the value V of attribute D is not one, or NULL when it is. */
static const char *
attr_check(const struct attr_def *d, const char *v)
{
	if (*v == '\0')
		return "it is empty";
	if (strlen(v) > CONF_SHORT_MAX)
		return "it is longer than 4096 bytes";
	switch (d->check) {
	case A_TEXT:
		return NULL;
	case A_JOBS:
		return is_number(v, 1, 64) ? NULL : "a number from 1 to 64";
	case A_SOCKET_WAIT:
		return is_number(v, 0, 86400) ? NULL : "seconds, 0 to 86400";
	case A_LA_WAIT:
		return is_number(v, 0, 600) ? NULL : "seconds, 0 to 600";
	case A_BYTES:
		return is_number(v, 1024, 1073741824)
			   ? NULL
			   : "bytes, 1024 to 1073741824";
	case A_DURATION:
		return is_duration(v)
			   ? NULL
			   : "a duration: N seconds, or Ns, Nm, Nh, Nd";
	case A_LA_CHECKPOINT:
		return strcmp(v, "generated") == 0 ||
			       strcmp(v, "ingestion") == 0
			   ? NULL
			   : "generated or ingestion";
	case A_CLOUD:
		return strcmp(v, "public") == 0 || strcmp(v, "usgov") == 0 ||
			       strcmp(v, "usgov-dod") == 0 ||
			       strcmp(v, "china") == 0
			   ? NULL
			   : "public, usgov, usgov-dod or china";
	case A_USER:
		return is_user(v) ? NULL : "a user name";
	}
	return "unknown";
}

static char *
trimmed_dup(const char *s, size_t len)
{
	char *p;

	while (len > 0 && strchr(" \t\r\n", s[0]) != NULL) {
		s++;
		len--;
	}
	while (len > 0 && strchr(" \t\r\n", s[len - 1]) != NULL)
		len--;
	p = xmalloc(len + 1);
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

/*
 * Our attributes of node N (and Wazuh's name="..." of a <wodle> or a
 * <container>). Returns -1 when N was skipped.
 */
static int
attrs_read(struct conf *c, struct node *n, const XML_Char **atts,
	   unsigned long line)
{
	const struct attr_def *d;
	const char *why;
	int i, k;

	for (i = 0; atts[i] != NULL; i += 2) {
		if (n->kind == K_WODLE && strcmp(atts[i], "name") == 0)
			continue;
		if (n->kind == K_ITEM && n->svc == SVC_STORAGE &&
		    strcmp(atts[i], "name") == 0) {
			free(n->name);
			n->name = trimmed_dup(atts[i + 1], strlen(atts[i + 1]));
			continue;
		}
		if ((k = attr_index(atts[i])) == -1) {
			node_fail(c, n, line, "unknown attribute %s on <%s>",
				  atts[i], n->elem);
			return -1;
		}
		d = &attr_defs[k];
		if (d->global && n->kind != K_WODLE) {
			node_fail(c, n, line,
				  "the attribute %s belongs on the <wodle>",
				  atts[i]);
			return -1;
		}
		if ((why = attr_check(d, atts[i + 1])) != NULL) {
			if (d->hide)
				node_fail(c, n, line, "invalid %s: %s", d->name,
					  why);
			else
				node_fail(c, n, line,
					  "invalid %s=\"%.100s\": %s", d->name,
					  atts[i + 1], why);
			return -1;
		}
		free(n->a[k]);
		n->a[k] = xstrdup(atts[i + 1]);
	}
	return 0;
}

/* <wodle name="azure-logs" ...> */
static void
wodle_start(struct conf *c, const XML_Char **atts, unsigned long line)
{
	struct node *n = node_new(c, K_WODLE, SVC_NONE, "wodle", line);
	size_t i;

	c->wodle = n;
	c->res->wodles++;
	log_debug("%s:%lu: <wodle name=\"azure-logs\">", c->file, line);
	if (attrs_read(c, n, atts, line) == -1)
		return;
	for (i = 0; i < NATTRS; i++)
		if (attr_defs[i].global && n->a[i] != NULL &&
		    c->global[i] != NULL &&
		    strcmp(n->a[i], c->global[i]) != 0) {
			node_fail(c, n, line,
				  "%s=\"%.100s\" differs from the earlier "
				  "<wodle>'s %s=\"%.100s\"",
				  attr_defs[i].name, n->a[i], attr_defs[i].name,
				  c->global[i]);
			return;
		}
}

static void
leaf_start(struct conf *c, struct node *owner, const struct elem_def *d,
	   const XML_Char **atts, unsigned long line)
{
	if (atts[0] != NULL) {
		node_fail(c, owner, line, "unknown attribute %s on <%s>",
			  atts[0], d->name);
		return;
	}
	c->leaf_owner = owner;
	c->leaf_elem = d->name;
	c->leaf_field = d->field;
	c->leaf_depth = c->depth;
	buf_reset(&c->text);
}

static void
wodle_child(struct conf *c, const XML_Char *name, const XML_Char **atts,
	    unsigned long line)
{
	const struct elem_def *d;
	struct node *n;
	enum svc svc;

	if (strcmp(name, "graph") == 0)
		svc = SVC_GRAPH;
	else if (strcmp(name, "log_analytics") == 0)
		svc = SVC_LA;
	else if (strcmp(name, "storage") == 0)
		svc = SVC_STORAGE;
	else if ((d = elem_find(wodle_elems, name)) != NULL) {
		leaf_start(c, c->wodle, d, atts, line);
		return;
	} else {
		node_fail(c, c->wodle, line, "unknown element <%s>", name);
		return;
	}
	n = node_new(c, K_BLOCK, svc,
		     svc == SVC_GRAPH ? "graph"
		     : svc == SVC_LA  ? "log_analytics"
				      : "storage",
		     line);
	c->block = n;
	attrs_read(c, n, atts, line);
}

static void
block_child(struct conf *c, const XML_Char *name, const XML_Char **atts,
	    unsigned long line)
{
	struct node *b = c->block, *n;
	const struct elem_def *d;
	const char *item = b->svc == SVC_STORAGE ? "container" : "request";

	if (strcmp(name, item) == 0) {
		n = node_new(c, K_ITEM, b->svc, item, line);
		c->item = n;
		b->items++;
		if (attrs_read(c, n, atts, line) == -1)
			return;
		if (b->svc == SVC_STORAGE && (n->name == NULL || *n->name == 0))
			node_fail(c, n, line,
				  "no container name "
				  "(<container name=\"NAME\">)");
	} else if (is_legacy(name))
		node_fail(c, b, line,
			  "<%s> is refused: it puts a secret on the command "
			  "line; write it in the authentication file named "
			  "by <auth_path>",
			  name);
	else if ((d = elem_find(b->svc == SVC_STORAGE ? storage_elems
						      : api_elems,
				name)) != NULL)
		leaf_start(c, b, d, atts, line);
	else
		node_fail(c, b, line, "unknown element <%s>", name);
}

static void
item_child(struct conf *c, const XML_Char *name, const XML_Char **atts,
	   unsigned long line)
{
	struct node *r = c->item;
	const struct elem_def *d;
	static const struct elem_def ignored = {"workspace", F_IGNORED};

	d = elem_find(r->svc == SVC_STORAGE ? container_elems : request_elems,
		      name);
	if (d == NULL) {
		node_fail(c, r, line, "unknown element <%s>", name);
		return;
	}
	if (d->field == F_WORKSPACE && r->svc == SVC_GRAPH) {
		log_warnx("%s:%lu: <workspace> is only for Log Analytics: "
			  "ignored",
			  c->file, line);
		d = &ignored;
	}
	leaf_start(c, r, d, atts, line);
}

static void XMLCALL
on_start(void *arg, const XML_Char *name, const XML_Char **atts)
{
	struct conf *c = arg;
	unsigned long line = cur_line(c);
	int i;

	c->depth++;
	if (c->failed || (c->ignore && c->depth > c->ignore))
		return;
	if (c->wodle == NULL) {
		if (strcmp(name, "wodle") != 0)
			return;
		for (i = 0; atts[i] != NULL; i += 2)
			if (strcmp(atts[i], "name") == 0 &&
			    strcmp(atts[i + 1], "azure-logs") == 0)
				wodle_start(c, atts, line);
		return;
	}
	log_debug("%s:%lu: <%s>", c->file, line, name);
	if (c->leaf_depth)
		node_fail(c, c->leaf_owner, line, "<%s> holds an element <%s>",
			  c->leaf_elem, name);
	else if (c->item)
		item_child(c, name, atts, line);
	else if (c->block)
		block_child(c, name, atts, line);
	else
		wodle_child(c, name, atts, line);
}

static void XMLCALL
on_text(void *arg, const XML_Char *s, int len)
{
	struct conf *c = arg;

	if (c->failed || c->leaf_depth == 0 || c->depth != c->leaf_depth)
		return;
	if (buf_append(&c->text, s, (size_t)len) == -1)
		node_fail(c, c->leaf_owner, cur_line(c), "<%s> is too long",
			  c->leaf_elem);
}

/* A text of an element of a time offset: <N>m, <N>h or <N>d, N > 0. */
static int
is_offset(const char *s)
{
	size_t n = strspn(s, "0123456789");

	return n > 0 && n <= 9 && strspn(s, "0") < n &&
	       strchr("mhd", s[n]) != NULL && s[n] != '\0' && s[n + 1] == '\0';
}

/* The end of a text element: check it, keep it in its owner. */
static void
leaf_end(struct conf *c)
{
	struct node *o = c->leaf_owner;
	enum field f = c->leaf_field;
	const char *e = c->leaf_elem;
	unsigned long line = cur_line(c);
	char *v = trimmed_dup(c->text.data ? c->text.data : "", c->text.len);

	c->leaf_depth = 0;
	if (f != F_QUERY && f != F_BLOBS && f != F_PATH &&
	    strlen(v) > CONF_SHORT_MAX)
		node_fail(c, o, line, "<%s> is longer than 4096 bytes", e);
	else if ((f == F_DISABLED || f == F_RUN_ON_START) &&
		 strcmp(v, "yes") != 0 && strcmp(v, "no") != 0)
		node_fail(c, o, line, "<%s> is yes or no", e);
	else if (f == F_TIMEOUT && !is_number(v, 1, 4294967294ULL))
		node_fail(c, o, line, "<timeout> is a number of seconds");
	else if (f == F_TIME_OFFSET && !is_offset(v))
		node_fail(c, o, line,
			  "invalid <time_offset> \"%.100s\": it is <N>m, <N>h "
			  "or <N>d",
			  v);
	else if (f == F_CONTENT_TYPE && strcmp(v, "json_file") != 0 &&
		 strcmp(v, "json_inline") != 0 && strcmp(v, "text") != 0)
		node_fail(c, o, line,
			  "invalid <content_type> \"%.100s\": it is json_file, "
			  "json_inline or text",
			  v);
	else if (*v == '\0' && o->kind == K_BLOCK && o->svc == SVC_STORAGE)
		node_fail(c, o, line, "<%s> is empty", e);
	if (o->bad || *v == '\0') {
		free(v);
		return;
	}
	if (o->f[f] != NULL)
		log_debug("%s:%lu: a second <%s>: it replaces the first",
			  c->file, line, e);
	free(o->f[f]);
	o->f[f] = v;
}

/* The end of a <request> or <container>: complete, it joins its block. */
static void
item_end(struct conf *c)
{
	struct node *r = c->item;

	c->item = NULL;
	if (!r->bad && r->svc != SVC_STORAGE && r->f[F_QUERY] == NULL)
		node_fail(c, r, r->line, "no <query>");
	if (!r->bad && r->svc == SVC_LA && r->f[F_WORKSPACE] == NULL)
		node_fail(c, r, r->line, "no <workspace>");
	if (r->bad) {
		node_free(r);
		return;
	}
	if (r->svc != SVC_STORAGE && r->f[F_TAG] == NULL) {
		if (asprintf(&r->f[F_TAG], "request_%lu", r->line) == -1)
			fatal("asprintf");
		log_info("%s:%lu: no <tag> in the <request>: it is %s", c->file,
			 r->line, r->f[F_TAG]);
	}
	if (++c->items > CONF_REQUESTS_MAX) {
		file_fail(c, r->line, "more than %d requests and containers",
			  CONF_REQUESTS_MAX);
		node_free(r);
		return;
	}
	node_attach(c->block, r);
}

static void
block_end(struct conf *c)
{
	struct node *b = c->block;
	const char *item = b->svc == SVC_STORAGE ? "container" : "request";

	c->block = NULL;
	if (!b->bad && b->f[F_AUTH_PATH] == NULL)
		node_fail(c, b, b->line, "no <auth_path>");
	if (!b->bad && b->svc != SVC_STORAGE && b->f[F_TENANT] == NULL)
		node_fail(c, b, b->line, "no <tenantdomain>");
	if (!b->bad && b->head == NULL) {
		if (b->items > 0)
			node_fail(c, b, b->line, "no valid <%s> left", item);
		else
			node_fail(c, b, b->line, "no <%s>", item);
	}
	if (b->bad) {
		node_free(b);
		return;
	}
	if (b->svc == SVC_STORAGE && b->f[F_TAG] == NULL) {
		if (asprintf(&b->f[F_TAG], "storage_%lu", b->line) == -1)
			fatal("asprintf");
		log_info("%s:%lu: no <tag> in the <storage>: it is %s", c->file,
			 b->line, b->f[F_TAG]);
	}
	node_attach(c->wodle, b);
}

/* Appends WORD single-quoted, after a space. */
static int
put_word(struct buf *out, const char *w)
{
	const char *q;

	if (buf_append(out, " '", 2) == -1)
		return -1;
	while ((q = strchr(w, '\'')) != NULL) {
		if (buf_append(out, w, (size_t)(q - w)) == -1 ||
		    buf_append(out, "'\\''", 4) == -1)
			return -1;
		w = q + 1;
	}
	return buf_puts(out, w) == -1 || buf_append(out, "'", 1) == -1 ? -1 : 0;
}

static int
put_opt(struct buf *out, const char *opt, const char *value)
{
	if (value == NULL)
		return 0;
	return put_word(out, opt) == -1 || put_word(out, value) == -1 ? -1 : 0;
}

/* The words of a Wazuh command line for request R of block B. */
static int
put_service(struct buf *o, const struct node *b, const struct node *r)
{
	const char *ct = r->f[F_CONTENT_TYPE];

	switch (b->svc) {
	case SVC_GRAPH:
		return put_word(o, "--graph") ||
		       put_opt(o, "--graph_auth_path", b->f[F_AUTH_PATH]) ||
		       put_opt(o, "--graph_tenant_domain", b->f[F_TENANT]) ||
		       put_opt(o, "--graph_tag", r->f[F_TAG]) ||
		       put_opt(o, "--graph_query", r->f[F_QUERY]) ||
		       put_opt(o, "--graph_time_offset", r->f[F_TIME_OFFSET]);
	case SVC_LA:
		return put_word(o, "--log_analytics") ||
		       put_opt(o, "--la_auth_path", b->f[F_AUTH_PATH]) ||
		       put_opt(o, "--la_tenant_domain", b->f[F_TENANT]) ||
		       put_opt(o, "--la_tag", r->f[F_TAG]) ||
		       put_opt(o, "--la_query", r->f[F_QUERY]) ||
		       put_opt(o, "--workspace", r->f[F_WORKSPACE]) ||
		       put_opt(o, "--la_time_offset", r->f[F_TIME_OFFSET]);
	case SVC_STORAGE:
		return put_word(o, "--storage") ||
		       put_opt(o, "--storage_auth_path", b->f[F_AUTH_PATH]) ||
		       put_opt(o, "--container", r->name) ||
		       put_opt(o, "--blobs", r->f[F_BLOBS]) ||
		       put_opt(o, "--storage_tag", b->f[F_TAG]) ||
		       (ct != NULL && strcmp(ct, "json_file") == 0 &&
			put_word(o, "--json_file")) ||
		       (ct != NULL && strcmp(ct, "json_inline") == 0 &&
			put_word(o, "--json_inline")) ||
		       put_opt(o, "--storage_time_offset",
			       r->f[F_TIME_OFFSET]) ||
		       put_opt(o, "--prefix", r->f[F_PATH]);
	case SVC_NONE:
		break;
	}
	return -1;
}

/*
 * One azure_request line: Wazuh's words, then our settings (the request's,
 * else its block's, else its wodle's), then the time limit: a timeout
 * attribute, else Wazuh's <timeout> of the request or the wodle.
 */
static int
put_request(struct buf *o, const struct node *w, const struct node *b,
	    const struct node *r)
{
	const struct node *lv[3] = {r, b, w};
	const char *v, *secs;
	char opt[64], tmo[32];
	size_t i, j;

	if (buf_printf(o, "azure_request %lu", r->line) == -1 ||
	    put_service(o, b, r) != 0)
		return -1;
	for (i = 0; i < NATTRS; i++) {
		if (attr_defs[i].global || i == ATTR_TIMEOUT)
			continue;
		for (v = NULL, j = 0; j < 3 && v == NULL; j++)
			v = lv[j]->a[i];
		snprintf(opt, sizeof(opt), "--%s", attr_defs[i].name);
		if (put_opt(o, opt, v) == -1)
			return -1;
	}
	for (v = NULL, j = 0; j < 3 && v == NULL; j++)
		v = lv[j]->a[ATTR_TIMEOUT];
	if (v == NULL &&
	    (secs = r->f[F_TIMEOUT] ? r->f[F_TIMEOUT] : w->f[F_TIMEOUT])) {
		snprintf(tmo, sizeof(tmo), "%ss", secs);
		v = tmo;
	}
	if (put_opt(o, "--timeout", v) == -1)
		return -1;
	return buf_append(o, "\n", 1);
}

/* The end of a wodle: unless disabled, its settings and requests go out. */
static void
wodle_end(struct conf *c)
{
	struct node *w = c->wodle, *b, *r;
	size_t i;

	c->wodle = NULL;
	if (w->bad) {
		node_free(w);
		return;
	}
	if (w->f[F_DISABLED] && strcmp(w->f[F_DISABLED], "yes") == 0) {
		log_info("%s:%lu: the <wodle name=\"azure-logs\"> is disabled: "
			 "skipped",
			 c->file, w->line);
		node_free(w);
		return;
	}
	for (i = 0; i < NATTRS; i++)
		if (attr_defs[i].global && w->a[i] && c->global[i] == NULL)
			c->global[i] = xstrdup(w->a[i]);
	if (w->head == NULL)
		log_warnx("%s:%lu: the <wodle name=\"azure-logs\"> has no "
			  "valid <graph>, <log_analytics> or <storage> block",
			  c->file, w->line);
	for (b = w->head; b != NULL && !c->failed; b = b->next)
		for (r = b->head; r != NULL; r = r->next) {
			if (put_request(&c->reqs, w, b, r) == -1) {
				file_fail(c, r->line,
					  "the requests take more than %u MiB",
					  CONF_OUTPUT_MAX >> 20);
				break;
			}
			c->res->requests++;
			log_info("%s:%lu: <%s> of <%s>, tag %s", c->file,
				 r->line, r->elem, b->elem,
				 r->svc == SVC_STORAGE ? b->f[F_TAG]
						       : r->f[F_TAG]);
		}
	node_free(w);
}

static void XMLCALL
on_end(void *arg, const XML_Char *name)
{
	struct conf *c = arg;

	(void)name;
	if (!c->failed && c->wodle != NULL &&
	    !(c->ignore && c->depth > c->ignore)) {
		if (c->leaf_depth == c->depth)
			leaf_end(c);
		else if (c->item != NULL && c->item->depth == c->depth)
			item_end(c);
		else if (c->block != NULL && c->block->depth == c->depth)
			block_end(c);
		else if (c->wodle->depth == c->depth)
			wodle_end(c);
	}
	if (c->ignore == c->depth)
		c->ignore = 0;
	c->depth--;
}

/*
 * Where the document starts: past a UTF-8 byte order mark. A <?xml ...?>
 * declaration (after blanks) is turned into blanks, its newlines kept;
 * its encoding, if any, is copied to ENC. Returns the offset of the text
 * to feed, the declaration's length in *DECL_LEN (0 without one).
 */
static size_t
prolog(const char *data, size_t len, size_t *decl_at, size_t *decl_len,
       char *enc, size_t enclen)
{
	size_t start = 0, i, end, k;
	const char *e;
	char q;

	*decl_len = 0;
	*enc = '\0';
	if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
		start = 3;
	for (i = start; i < len && strchr(" \t\r\n", data[i]) && data[i]; i++)
		;
	if (len - i < 6 || memcmp(data + i, "<?xml", 5) != 0 ||
	    strchr(" \t\r\n", data[i + 5]) == NULL || data[i + 5] == '\0')
		return start;
	for (end = i + 5; end + 1 < len; end++)
		if (data[end] == '?' && data[end + 1] == '>')
			break;
	if (end + 1 >= len)
		return start; /* expat will say what is wrong */
	*decl_at = i;
	*decl_len = end + 2 - i;
	e = memmem(data + i, end - i, "encoding", 8);
	if (e != NULL) {
		k = (size_t)(e - data) + 8;
		while (k < end && strchr(" \t\r\n=", data[k]) && data[k])
			k++;
		if (k < end && (data[k] == '"' || data[k] == '\'')) {
			q = data[k++];
			for (i = 0; k < end && data[k] != q && i + 1 < enclen;)
				enc[i++] = data[k++];
			enc[i] = '\0';
		}
	}
	return start;
}

/* The number of the file's last line (a final newline ends it). */
static unsigned long
last_line(const char *data, size_t len)
{
	unsigned long n = 1;
	size_t i;

	for (i = 0; i < len; i++)
		if (data[i] == '\n' && i + 1 < len)
			n++;
	return n;
}

static int
feed(struct conf *c, const char *p, size_t n, int final)
{
	return XML_Parse(c->xp, p, (int)n, final) == XML_STATUS_OK ? 0 : -1;
}

/*
 * A reference expat decodes, at P (N bytes): &#N; &#xH; or one of the
 * five predefined entities (a DOCTYPE, which could define others, is not
 * taken).
 */
static int
is_reference(const char *p, size_t n)
{
	static const char *const named[] = {"&amp;", "&lt;", "&gt;", "&apos;",
					    "&quot;"};
	size_t i, k;

	for (k = 0; k < sizeof(named) / sizeof(named[0]); k++)
		if (n >= strlen(named[k]) &&
		    memcmp(p, named[k], strlen(named[k])) == 0)
			return 1;
	if (n < 4 || p[1] != '#')
		return 0;
	if (p[2] == 'x') {
		for (i = 3; i < n && isxdigit((unsigned char)p[i]); i++)
			;
		return i > 3 && i < n && p[i] == ';';
	}
	for (i = 2; i < n && isdigit((unsigned char)p[i]); i++)
		;
	return i > 2 && i < n && p[i] == ';';
}

/*
 * Feeds the body of the file. Wazuh's reader decodes no entity, so an
 * ossec.conf may hold a bare & (a <command> with 2>&1, a query with &):
 * outside comments, CDATA sections and processing instructions, a & that
 * starts no reference is fed as &amp;, the character itself.
 */
static int
feed_body(struct conf *c, const char *p, size_t n)
{
	size_t i = 0, from = 0, skip;
	const char *end, *q;

	while (i < n) {
		if (p[i] == '&' && !is_reference(p + i, n - i)) {
			if (feed(c, p + from, i - from, 0) == -1 ||
			    feed(c, "&amp;", 5, 0) == -1)
				return -1;
			c->bare_amps++;
			from = ++i;
			continue;
		}
		if (p[i] != '<' || i + 1 == n) {
			i++;
			continue;
		}
		if (n - i >= 4 && memcmp(p + i, "<!--", 4) == 0) {
			end = "-->";
			skip = 4;
		} else if (n - i >= 9 && memcmp(p + i, "<![CDATA[", 9) == 0) {
			end = "]]>";
			skip = 9;
		} else if (p[i + 1] == '?') {
			end = "?>";
			skip = 2;
		} else {
			i++;
			continue;
		}
		q = memmem(p + i + skip, n - i - skip, end, strlen(end));
		i = q != NULL ? (size_t)(q - p) + strlen(end) : n;
	}
	return feed(c, p + from, n - from, 0);
}

/* Parses the document (see conf.h); the wodles' lines go to c->reqs. */
static int
parse_document(struct conf *c, const char *data, size_t len)
{
	size_t start, decl_at = 0, decl_len, i;
	char enc[32], *blank;
	int rc;

	start = prolog(data, len, &decl_at, &decl_len, enc, sizeof(enc));
	if (*enc && strcasecmp(enc, "UTF-8") != 0 &&
	    strcasecmp(enc, "US-ASCII") != 0 &&
	    strcasecmp(enc, "ISO-8859-1") != 0) {
		log_errorx("%s:1: the encoding %s is not one of UTF-8, "
			   "US-ASCII and ISO-8859-1",
			   c->file, enc);
		return -1;
	}
	if ((c->xp = XML_ParserCreate(*enc ? enc : "UTF-8")) == NULL)
		fatalx("XML_ParserCreate failed");
	XML_SetUserData(c->xp, c);
	XML_SetElementHandler(c->xp, on_start, on_end);
	XML_SetCharacterDataHandler(c->xp, on_text);
	XML_SetParamEntityParsing(c->xp, XML_PARAM_ENTITY_PARSING_NEVER);
	if (decl_len > 0) {
		blank = xmalloc(decl_len);
		for (i = 0; i < decl_len; i++)
			blank[i] = data[decl_at + i] == '\n' ? '\n' : ' ';
		rc = feed(c, ROOT_OPEN, strlen(ROOT_OPEN), 0) ||
		     feed(c, data + start, decl_at - start, 0) ||
		     feed(c, blank, decl_len, 0) ||
		     feed_body(c, data + decl_at + decl_len,
			       len - decl_at - decl_len);
		free(blank);
	} else
		rc = feed(c, ROOT_OPEN, strlen(ROOT_OPEN), 0) ||
		     feed_body(c, data + start, len - start);
	if (rc == 0 && feed(c, ROOT_CLOSE, strlen(ROOT_CLOSE), 1) != 0 &&
	    XML_GetErrorCode(c->xp) == XML_ERROR_TAG_MISMATCH) {
		log_errorx("%s:%lu: not well-formed XML: the file ends before "
			   "its elements are closed",
			   c->file, last_line(data, len));
		return -1;
	}
	if (c->failed)
		return -1;
	if (XML_GetErrorCode(c->xp) != XML_ERROR_NONE) {
		log_errorx("%s:%lu: not well-formed XML: %s", c->file,
			   cur_line(c),
			   XML_ErrorString(XML_GetErrorCode(c->xp)));
		return -1;
	}
	if (c->bare_amps > 0)
		log_debug("%s: %d bare & taken as the character", c->file,
			  c->bare_amps);
	if (c->res->wodles == 0) {
		log_errorx("%s:%lu: no <wodle name=\"azure-logs\"> block",
			   c->file, last_line(data, len));
		return -1;
	}
	return 0;
}

int
conf_parse(const char *file, const char *data, size_t len, struct buf *out,
	   struct conf_result *res)
{
	struct conf c;
	size_t i, mark = out->len;
	char opt[64];
	int rc = -1;

	memset(&c, 0, sizeof(c));
	memset(res, 0, sizeof(*res));
	c.file = file;
	c.res = res;
	buf_init(&c.text, CONF_INPUT_MAX);
	buf_init(&c.reqs, CONF_OUTPUT_MAX);
	if (len > CONF_INPUT_MAX)
		log_errorx("%s: larger than %u MiB: refused", file,
			   CONF_INPUT_MAX >> 20);
	else if (parse_document(&c, data, len) == 0) {
		rc = 0;
		for (i = 0; i < NATTRS && rc == 0; i++)
			if (c.global[i] != NULL) {
				snprintf(opt, sizeof(opt), "--%s",
					 attr_defs[i].name);
				if (out->len == mark)
					rc = buf_puts(out, "azure_global");
				if (rc == 0)
					rc = put_opt(out, opt, c.global[i]);
			}
		if (rc == 0 && out->len > mark)
			rc = buf_append(out, "\n", 1);
		if (rc == 0)
			rc = buf_append(out, c.reqs.data, c.reqs.len);
		if (rc == -1) {
			log_errorx("%s: the requests take more than the output "
				   "allows",
				   file);
			out->len = mark;
		}
	}
	if (c.xp != NULL)
		XML_ParserFree(c.xp);
	node_free(c.item);
	node_free(c.block);
	node_free(c.wodle);
	for (i = 0; i < NATTRS; i++)
		free(c.global[i]);
	buf_free(&c.text);
	buf_free(&c.reqs);
	return rc;
}
