/*
 * Building blocks of the Blob Storage fetcher: Shared Key signing
 * (storage_sign.c), the streamed List Containers / List Blobs XML
 * (storage_xml.c), and the line splitter and event payloads of Wazuh's
 * storage collector (storage_lines.c).
 */
#ifndef AZURE_STORAGE_H
#define AZURE_STORAGE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* storage_sign.c */
struct storage_kv {
	const char *name, *value; /* values DECODED */
};

struct storage_signreq {
	const char *verb;    /* "GET" */
	const char *account; /* "devstoreaccount1" */
	/*
	 * Decoded URL path as requested, starting with "/" (path-style
	 * Azurite: "/devstoreaccount1/container"). It is signed as
	 * storage_url_encode(path, 1) encodes it, which must be how it is
	 * sent (Azure signs the path as it appears on the wire).
	 */
	const char *path;
	const struct storage_kv *query; /* decoded query parameters */
	size_t nquery;
	/* every header sent: standard ones (Content-Length, If-Match,
	 * Range...) and x-ms-*; names match case-insensitively */
	const struct storage_kv *headers;
	size_t nheaders;
};

int storage_string_to_sign(const struct storage_signreq *, struct buf *out);
/* caller wipes (explicit_bzero) and frees *key; -1 if not base64 */
int storage_decode_key(const char *base64, unsigned char **key, size_t *keylen);
/* appends "SharedKey <account>:<base64 HMAC-SHA256>" */
int storage_authorization(const struct storage_signreq *,
			  const unsigned char *key, size_t keylen,
			  struct buf *out);
/* percent-encode for a URL path (keep_slash=1: blob names) or a query value
 * (keep_slash=0); unreserved RFC 3986 characters are kept */
int storage_url_encode(const char *s, int keep_slash, struct buf *out);

/* storage_xml.c */
#define STORAGE_XML_NAME_MAX  4096 /* Name, NextMarker */
#define STORAGE_XML_FIELD_MAX 1024 /* every other field */
#define STORAGE_XML_DEPTH_MAX 32

struct storage_blob { /* one <Blob> of a List Blobs answer */
	const char *name, *etag,
	    *blob_type; /* "BlockBlob", "AppendBlob", "PageBlob" */
	int64_t size;	/* Content-Length; -1 when absent */
	/* Creation-Time, Last-Modified as 100 ns ticks (common/date.h), from
	 * RFC 1123 "Thu, 16 Jan 2020 21:38:42 GMT"; -1 when absent */
	int64_t created, modified;
	const char *created_str; /* Creation-Time text as sent */
	/* absent strings are ""; every pointer is valid during the callback
	 * only */
};

struct storage_list_cb {
	/* List Containers: one <Container><Name> */
	int (*container)(void *arg, const char *name);
	int (*blob)(void *arg, const struct storage_blob *); /* List Blobs */
	void *arg; /* a callback returning -1 stops the parse (error) */
};

struct storage_list;
struct storage_list *storage_list_new(const struct storage_list_cb *);
/* 0, or -1: not XML, DOCTYPE/entity refused, a callback failed, a field too
 * long, or an <Error> document */
int storage_list_feed(struct storage_list *, const char *p, size_t n,
		      int final);
/* why, after -1; for an <Error> answer "Code: Message" */
const char *storage_list_error(const struct storage_list *);
/* NextMarker text, "" when absent/empty */
const char *storage_list_next_marker(const struct storage_list *);
void storage_list_free(struct storage_list *);

/* storage_lines.c */
typedef int (*storage_line_cb)(void *arg, const char *line, size_t len);

struct storage_lines {	    /* incremental splitter */
	struct buf partial; /* bytes of an unfinished line */
	/* offset (from the first byte fed) just past the last complete
	 * line's terminator */
	int64_t done;
	int64_t fed;	/* bytes fed so far */
	int pending_cr; /* a "\r" ended the last chunk: "\r\n" may continue */
	/* additions */
	size_t max_line; /* longest line accepted, in bytes */
	size_t hold;	 /* the last 1-2 bytes of partial may begin a UTF-8
			    separator (C2, E2, E2 80) */
};

void storage_lines_init(struct storage_lines *, size_t max_line);
/* calls cb for each complete non-empty line (without its terminator); -1 if
 * a line exceeds max_line or cb returns -1 */
int storage_lines_feed(struct storage_lines *, const char *p, size_t n,
		       storage_line_cb, void *arg);
/* at the end of a complete blob: the unterminated last line counts (as
 * Python's splitlines); then done = fed */
int storage_lines_finish(struct storage_lines *, storage_line_cb, void *arg);
void storage_lines_free(struct storage_lines *);

int storage_plain_event(const char *line, size_t len, const char *tag,
			struct buf *out);
int storage_inline_event(const char *line, size_t len, const char *tag,
			 struct buf *out);
/* -1 with a Wazuh-like message: not JSON / no "records" / records not a
 * list */
int storage_json_file_events(const char *doc, size_t len, const char *tag,
			     int (*emit)(void *arg, const struct buf *payload),
			     void *arg, char *err, size_t errlen);

#endif
