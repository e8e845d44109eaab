/*
 * List Containers and List Blobs answers, streamed through expat in any
 * chunks. As rpki-client does, a DOCTYPE (and with it every entity
 * declaration: billion laughs, XXE) stops the parse; every text field and
 * the nesting depth are capped; unknown elements are skipped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <expat.h>

#include "buf.h"
#include "date.h"
#include "log.h"
#include "storage.h"

/* The elements we read; anything else is E_OTHER. */
enum elem {
	E_OTHER,
	E_ENUM, /* EnumerationResults */
	E_CONTAINERS,
	E_CONTAINER,
	E_BLOBS,
	E_BLOB,
	E_NAME,
	E_PROPERTIES,
	E_CREATED,
	E_MODIFIED,
	E_ETAG,
	E_LENGTH,
	E_BLOBTYPE,
	E_NEXTMARKER,
	E_ERROR,
	E_CODE,
	E_MESSAGE,
};

static const struct {
	const char *name;
	enum elem e;
} elem_names[] = {
    {"EnumerationResults", E_ENUM},
    {"Containers", E_CONTAINERS},
    {"Container", E_CONTAINER},
    {"Blobs", E_BLOBS},
    {"Blob", E_BLOB},
    {"Name", E_NAME},
    {"Properties", E_PROPERTIES},
    {"Creation-Time", E_CREATED},
    {"Last-Modified", E_MODIFIED},
    {"Etag", E_ETAG},
    {"Content-Length", E_LENGTH},
    {"BlobType", E_BLOBTYPE},
    {"NextMarker", E_NEXTMARKER},
    {"Error", E_ERROR},
    {"Code", E_CODE},
    {"Message", E_MESSAGE},
};

/* Text fields collected while parsing. */
enum field {
	F_NAME, /* Blob or Container name */
	F_CREATED,
	F_MODIFIED,
	F_ETAG,
	F_LENGTH,
	F_BLOBTYPE,
	F_MARKER,
	F_CODE,
	F_MESSAGE,
	F_COUNT
};

struct storage_list {
	XML_Parser parser;
	struct storage_list_cb cb;
	enum elem stack[STORAGE_XML_DEPTH_MAX];
	int depth;
	int field;    /* the field whose text is being read, or -1 */
	int truncate; /* that field is cut at its maximum, not an error */
	int failed;   /* the parse stopped: error says why */
	int is_error; /* the root is <Error> */
	struct buf f[F_COUNT];
	struct buf error;
};

/* Stop the parse with a message (the first one is kept). */
static void
list_fail(struct storage_list *l, const char *why)
{
	if (!l->failed) {
		buf_reset(&l->error);
		buf_puts(&l->error, why);
	}
	l->failed = 1;
	XML_StopParser(l->parser, XML_FALSE);
}

static enum elem
elem_lookup(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(elem_names) / sizeof(elem_names[0]); i++)
		if (strcmp(elem_names[i].name, name) == 0)
			return elem_names[i].e;
	return E_OTHER;
}

/* Is the element stack exactly a, b, c, ... (up to 5 levels)? */
static int
at(const struct storage_list *l, int n, enum elem a, enum elem b, enum elem c,
   enum elem d, enum elem e)
{
	const enum elem want[5] = {a, b, c, d, e};
	int i;

	if (l->depth != n)
		return 0;
	for (i = 0; i < n; i++)
		if (l->stack[i] != want[i])
			return 0;
	return 1;
}

/* The field the element just opened holds, or -1. */
static int
field_of(const struct storage_list *l, int *truncate)
{
	enum elem top = l->stack[l->depth - 1];

	*truncate = 0;
	if (at(l, 4, E_ENUM, E_CONTAINERS, E_CONTAINER, E_NAME, 0) ||
	    at(l, 4, E_ENUM, E_BLOBS, E_BLOB, E_NAME, 0))
		return F_NAME;
	if (at(l, 2, E_ENUM, E_NEXTMARKER, 0, 0, 0))
		return F_MARKER;
	if (l->depth == 2 && l->stack[0] == E_ERROR &&
	    (top == E_CODE || top == E_MESSAGE)) {
		*truncate = 1;
		return top == E_CODE ? F_CODE : F_MESSAGE;
	}
	if (l->depth == 5 && l->stack[0] == E_ENUM && l->stack[1] == E_BLOBS &&
	    l->stack[2] == E_BLOB && l->stack[3] == E_PROPERTIES) {
		switch (top) {
		case E_CREATED:
			return F_CREATED;
		case E_MODIFIED:
			return F_MODIFIED;
		case E_ETAG:
			return F_ETAG;
		case E_LENGTH:
			return F_LENGTH;
		case E_BLOBTYPE:
			return F_BLOBTYPE;
		default:
			break;
		}
	}
	return -1;
}

static void XMLCALL
on_start(void *arg, const XML_Char *name, const XML_Char **attrs)
{
	struct storage_list *l = arg;
	enum elem e = elem_lookup(name);

	(void)attrs;
	if (l->failed)
		return;
	if (l->depth == 0) {
		if (e != E_ENUM && e != E_ERROR) {
			list_fail(l, "unexpected XML document");
			return;
		}
		l->is_error = e == E_ERROR;
	}
	if (l->depth >= STORAGE_XML_DEPTH_MAX) {
		list_fail(l, "XML nested too deeply");
		return;
	}
	l->stack[l->depth++] = e;
	if (e == E_BLOB && l->depth == 3) {
		for (int i = F_NAME; i <= F_BLOBTYPE; i++)
			buf_reset(&l->f[i]);
	} else if (e == E_CONTAINER && l->depth == 3)
		buf_reset(&l->f[F_NAME]);
	l->field = field_of(l, &l->truncate);
	if (l->field >= 0)
		buf_reset(&l->f[l->field]);
}

static void XMLCALL
on_text(void *arg, const XML_Char *s, int len)
{
	struct storage_list *l = arg;
	struct buf *b;
	size_t room;

	if (l->failed || l->field < 0 || len <= 0)
		return;
	b = &l->f[l->field];
	if (buf_append(b, s, (size_t)len) == 0)
		return;
	if (!l->truncate) {
		list_fail(l, "XML field too long");
		return;
	}
	room = b->max - b->len;
	buf_append(b, s, room < (size_t)len ? room : (size_t)len);
}

/* Read exactly n digits at s into *v. */
static int
read_digits(const char *s, int n, int *v)
{
	*v = 0;
	for (; n > 0; n--, s++) {
		if (*s < '0' || *s > '9')
			return -1;
		*v = *v * 10 + (*s - '0');
	}
	return 0;
}

/*
 * Parse an RFC 1123 date of Azure ("Thu, 16 Jan 2020 21:38:42 GMT") into
 * ticks. Returns 0 or -1.
 */
static int
parse_rfc1123(const char *s, int64_t *ticks)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	char iso[32];
	int d, y, h, mi, sec, m;

	if (strlen(s) != 29 || s[3] != ',' || s[4] != ' ' ||
	    read_digits(s + 5, 2, &d) == -1 || s[7] != ' ' || s[11] != ' ' ||
	    s[16] != ' ' || s[19] != ':' || s[22] != ':' ||
	    strcmp(s + 25, " GMT") != 0)
		return -1;
	for (m = 0; m < 12; m++)
		if (strncmp(months + 3 * m, s + 8, 3) == 0)
			break;
	if (m == 12 || read_digits(s + 12, 4, &y) == -1 ||
	    read_digits(s + 17, 2, &h) == -1 ||
	    read_digits(s + 20, 2, &mi) == -1 ||
	    read_digits(s + 23, 2, &sec) == -1)
		return -1;
	snprintf(iso, sizeof(iso), "%04d-%02d-%02dT%02d:%02d:%02dZ", y % 10000,
		 (m + 1) % 100, d % 100, h % 100, mi % 100, sec % 100);
	return date_parse(iso, ticks);
}

/* Content-Length: decimal digits only. */
static int
parse_size(const char *s, int64_t *v)
{
	int64_t n = 0;

	if (*s == '\0')
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || n > (INT64_MAX - (*s - '0')) / 10)
			return -1;
		n = n * 10 + (*s - '0');
	}
	*v = n;
	return 0;
}

/* A </Blob> ended: check its fields and hand it to the callback. */
static void
blob_done(struct storage_list *l)
{
	struct storage_blob b;

	memset(&b, 0, sizeof(b));
	b.name = buf_cstr(&l->f[F_NAME]);
	b.etag = buf_cstr(&l->f[F_ETAG]);
	b.blob_type = buf_cstr(&l->f[F_BLOBTYPE]);
	b.created_str = buf_cstr(&l->f[F_CREATED]);
	b.size = b.created = b.modified = -1;
	if (l->f[F_LENGTH].len && parse_size(l->f[F_LENGTH].data, &b.size)) {
		list_fail(l, "bad Content-Length in a blob list");
		return;
	}
	if (l->f[F_CREATED].len &&
	    parse_rfc1123(l->f[F_CREATED].data, &b.created) == -1) {
		list_fail(l, "bad Creation-Time in a blob list");
		return;
	}
	if (l->f[F_MODIFIED].len &&
	    parse_rfc1123(buf_cstr(&l->f[F_MODIFIED]), &b.modified) == -1) {
		list_fail(l, "bad Last-Modified in a blob list");
		return;
	}
	if (l->cb.blob && l->cb.blob(l->cb.arg, &b) == -1)
		list_fail(l, "blob callback failed");
}

/* The <Error> document ended: "Code: Message" becomes the error. */
static void
error_done(struct storage_list *l)
{
	buf_reset(&l->error);
	buf_printf(&l->error, "%s: %s", buf_cstr(&l->f[F_CODE]),
		   buf_cstr(&l->f[F_MESSAGE]));
	l->failed = 1;
	XML_StopParser(l->parser, XML_FALSE);
}

static void XMLCALL
on_end(void *arg, const XML_Char *name)
{
	struct storage_list *l = arg;

	(void)name;
	if (l->failed || l->depth == 0)
		return;
	if (at(l, 3, E_ENUM, E_BLOBS, E_BLOB, 0, 0))
		blob_done(l);
	else if (at(l, 3, E_ENUM, E_CONTAINERS, E_CONTAINER, 0, 0) &&
		 l->cb.container &&
		 l->cb.container(l->cb.arg, buf_cstr(&l->f[F_NAME])) == -1)
		list_fail(l, "container callback failed");
	else if (at(l, 1, E_ERROR, 0, 0, 0, 0))
		error_done(l);
	l->depth--;
	l->field = -1;
}

static void XMLCALL
on_doctype(void *arg, const XML_Char *name, const XML_Char *sysid,
	   const XML_Char *pubid, int has_internal_subset)
{
	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal_subset;
	list_fail(arg, "XML DOCTYPE refused");
}

static void XMLCALL
on_entity(void *arg, const XML_Char *name, int is_param, const XML_Char *value,
	  int value_len, const XML_Char *base, const XML_Char *sysid,
	  const XML_Char *pubid, const XML_Char *notation)
{
	(void)name;
	(void)is_param;
	(void)value;
	(void)value_len;
	(void)base;
	(void)sysid;
	(void)pubid;
	(void)notation;
	list_fail(arg, "XML entity declaration refused");
}

/*
 * A new parser of one List Containers or List Blobs answer calling cb's
 * functions. Freed by storage_list_free().
 */
struct storage_list *
storage_list_new(const struct storage_list_cb *cb)
{
	struct storage_list *l = xcalloc(1, sizeof(*l));
	int i;

	if ((l->parser = XML_ParserCreate(NULL)) == NULL)
		fatalx("XML_ParserCreate failed");
	l->cb = *cb;
	l->field = -1;
	for (i = 0; i < F_COUNT; i++)
		buf_init(&l->f[i], i == F_NAME || i == F_MARKER
				       ? STORAGE_XML_NAME_MAX
				       : STORAGE_XML_FIELD_MAX);
	buf_init(&l->error, 2 * STORAGE_XML_FIELD_MAX + 64);
	XML_SetUserData(l->parser, l);
	XML_SetElementHandler(l->parser, on_start, on_end);
	XML_SetCharacterDataHandler(l->parser, on_text);
	XML_SetStartDoctypeDeclHandler(l->parser, on_doctype);
	XML_SetEntityDeclHandler(l->parser, on_entity);
	XML_SetParamEntityParsing(l->parser, XML_PARAM_ENTITY_PARSING_NEVER);
	return l;
}

/*
 * Feed n bytes (final: the last ones). Returns 0, or -1 with the reason in
 * storage_list_error(); after -1 every feed fails.
 */
int
storage_list_feed(struct storage_list *l, const char *p, size_t n, int final)
{
	size_t chunk;

	if (l->failed)
		return -1;
	do {
		chunk = n > (1 << 20) ? (1 << 20) : n;
		if (XML_Parse(l->parser, p, (int)chunk, final && chunk == n) !=
		    XML_STATUS_OK) {
			if (!l->failed) {
				buf_reset(&l->error);
				buf_printf(
				    &l->error, "XML error at line %lu: %s",
				    (unsigned long)XML_GetCurrentLineNumber(
					l->parser),
				    XML_ErrorString(
					XML_GetErrorCode(l->parser)));
				l->failed = 1;
			}
			return -1;
		}
		p += chunk;
		n -= chunk;
	} while (n > 0);
	return 0;
}

const char *
storage_list_error(const struct storage_list *l)
{
	return l->error.len ? l->error.data : "";
}

const char *
storage_list_next_marker(const struct storage_list *l)
{
	return l->f[F_MARKER].len ? l->f[F_MARKER].data : "";
}

void
storage_list_free(struct storage_list *l)
{
	int i;

	if (l == NULL)
		return;
	XML_ParserFree(l->parser);
	for (i = 0; i < F_COUNT; i++)
		buf_free(&l->f[i]);
	buf_free(&l->error);
	free(l);
}
