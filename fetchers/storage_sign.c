/*
 * Shared Key authorization of Blob Storage requests: the StringToSign of
 * the Storage services (version 2009-09-19 and later), HMAC-SHA256 over it
 * with the decoded account key, and the percent-encoding of URL parts.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "buf.h"
#include "storage.h"

/* The standard headers of the StringToSign, in order. */
static const char *const std_headers[] = {
    "Content-Encoding",
    "Content-Language",
    "Content-Length",
    "Content-MD5",
    "Content-Type",
    "Date",
    "If-Modified-Since",
    "If-Match",
    "If-None-Match",
    "If-Unmodified-Since",
    "Range",
};

/* Value of the first header called name (any case), or NULL. */
static const char *
header_value(const struct storage_signreq *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return r->headers[i].value;
	return NULL;
}

/* Append s lowercased. */
static int
put_lower(struct buf *out, const char *s)
{
	unsigned char c;

	for (; *s; s++) {
		c = (unsigned char)*s;
		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		if (buf_append(out, &c, 1) == -1)
			return -1;
	}
	return 0;
}

/* Append s without its leading and trailing blanks. */
static int
put_trimmed(struct buf *out, const char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' ||
			 s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	return buf_append(out, s, n);
}

/* A header or query parameter, with its position for a stable sort. */
struct kvref {
	const struct storage_kv *kv;
	size_t pos;
};

/* qsort order of query parameters: name (any case), then value. */
static int
kv_cmp_name_value(const void *a, const void *b)
{
	const struct kvref *x = a, *y = b;
	int c;

	if ((c = strcasecmp(x->kv->name, y->kv->name)) != 0)
		return c;
	return strcmp(x->kv->value, y->kv->value);
}

/* qsort order of headers: name (any case), then position. */
static int
kv_cmp_name_pos(const void *a, const void *b)
{
	const struct kvref *x = a, *y = b;
	int c;

	if ((c = strcasecmp(x->kv->name, y->kv->name)) != 0)
		return c;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/*
 * Append "name:v1,v2\n" (headers) or "\nname:v1,v2" (query) for the sorted
 * v[0..n), one entry per distinct name (case-insensitive).
 */
static int
put_sorted(struct buf *out, const struct kvref *v, size_t n, int headers)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (i > 0 &&
		    strcasecmp(v[i - 1].kv->name, v[i].kv->name) == 0) {
			if (buf_append(out, ",", 1) == -1)
				return -1;
		} else {
			if ((i > 0 || !headers) &&
			    buf_append(out, "\n", 1) == -1)
				return -1;
			if (put_lower(out, v[i].kv->name) == -1 ||
			    buf_append(out, ":", 1) == -1)
				return -1;
		}
		if ((headers ? put_trimmed(out, v[i].kv->value)
			     : buf_puts(out, v[i].kv->value)) == -1)
			return -1;
	}
	if (headers && n > 0 && buf_append(out, "\n", 1) == -1)
		return -1;
	return 0;
}

/* CanonicalizedHeaders: the x-ms-* headers, lowercased and sorted. */
static int
put_canon_headers(const struct storage_signreq *r, struct buf *out)
{
	struct kvref *v;
	size_t i, n = 0;
	int rc;

	v = xcalloc(r->nheaders ? r->nheaders : 1, sizeof(struct kvref));
	for (i = 0; i < r->nheaders; i++)
		if (strncasecmp(r->headers[i].name, "x-ms-", 5) == 0) {
			v[n].kv = &r->headers[i];
			v[n].pos = i;
			n++;
		}
	qsort(v, n, sizeof(struct kvref), kv_cmp_name_pos);
	rc = put_sorted(out, v, n, 1);
	free(v);
	return rc;
}

/* CanonicalizedResource: "/" account path, then the sorted query. */
static int
put_canon_resource(const struct storage_signreq *r, struct buf *out)
{
	struct kvref *v;
	size_t i;
	int rc;

	if (buf_append(out, "/", 1) == -1 || buf_puts(out, r->account) == -1 ||
	    storage_url_encode(r->path, 1, out) == -1)
		return -1;
	v = xcalloc(r->nquery ? r->nquery : 1, sizeof(struct kvref));
	for (i = 0; i < r->nquery; i++) {
		v[i].kv = &r->query[i];
		v[i].pos = i;
	}
	qsort(v, r->nquery, sizeof(struct kvref), kv_cmp_name_value);
	rc = put_sorted(out, v, r->nquery, 0);
	free(v);
	return rc;
}

/*
 * Append the StringToSign of a Shared Key request to out. Returns 0, or -1
 * when out's maximum was reached.
 */
int
storage_string_to_sign(const struct storage_signreq *r, struct buf *out)
{
	const char *v;
	size_t i;

	if (buf_puts(out, r->verb) == -1 || buf_append(out, "\n", 1) == -1)
		return -1;
	for (i = 0; i < sizeof(std_headers) / sizeof(std_headers[0]); i++) {
		v = header_value(r, std_headers[i]);
		if (v != NULL &&
		    strcmp(std_headers[i], "Content-Length") == 0 &&
		    strcmp(v, "0") == 0)
			v = NULL;
		if (v != NULL && strcmp(std_headers[i], "Date") == 0 &&
		    header_value(r, "x-ms-date") != NULL)
			v = NULL;
		if ((v != NULL && put_trimmed(out, v) == -1) ||
		    buf_append(out, "\n", 1) == -1)
			return -1;
	}
	if (put_canon_headers(r, out) == -1)
		return -1;
	return put_canon_resource(r, out);
}

static int
b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Decode a base64 account key into a new buffer (*key, *keylen) that the
 * caller wipes and frees. Returns 0, or -1 if the text is not canonical
 * padded base64 or is empty.
 */
int
storage_decode_key(const char *base64, unsigned char **key, size_t *keylen)
{
	size_t len = strlen(base64), i, pad = 0;
	unsigned char *k;
	int n;

	*key = NULL;
	*keylen = 0;
	if (len == 0 || len % 4 != 0 || len > 4096)
		return -1;
	if (base64[len - 1] == '=')
		pad = base64[len - 2] == '=' ? 2 : 1;
	for (i = 0; i < len - pad; i++)
		if (b64_value(base64[i]) == -1)
			return -1;
	k = xmalloc(len / 4 * 3 + 1);
	n = EVP_DecodeBlock(k, (const unsigned char *)base64, (int)len);
	if (n < 0 || (size_t)n < pad) {
		explicit_bzero(k, len / 4 * 3 + 1);
		free(k);
		return -1;
	}
	*key = k;
	*keylen = (size_t)n - pad;
	return 0;
}

/*
 * Append "SharedKey <account>:<signature>" for request r to out. Returns
 * 0, or -1 if out is full or HMAC failed.
 */
int
storage_authorization(const struct storage_signreq *r, const unsigned char *key,
		      size_t keylen, struct buf *out)
{
	unsigned char md[EVP_MAX_MD_SIZE], b64[4 * EVP_MAX_MD_SIZE / 3 + 8];
	unsigned int mdlen = 0;
	struct buf sts;
	int rc = -1;

	buf_init(&sts, (size_t)1 << 20);
	if (storage_string_to_sign(r, &sts) == -1 || keylen > INT32_MAX)
		goto out;
	if (HMAC(EVP_sha256(), key, (int)keylen,
		 (const unsigned char *)buf_cstr(&sts), sts.len, md,
		 &mdlen) == NULL)
		goto out;
	if (EVP_EncodeBlock(b64, md, (int)mdlen) < 0)
		goto out;
	rc = buf_printf(out, "SharedKey %s:%s", r->account, (const char *)b64);
out:
	buf_free(&sts);
	return rc;
}

/*
 * Append s percent-encoded: RFC 3986 unreserved characters (and "/" when
 * keep_slash) as they are, every other byte as %XX. Returns 0 or -1.
 */
int
storage_url_encode(const char *s, int keep_slash, struct buf *out)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;
	char e[3];

	for (p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
		    *p == '_' || *p == '~' || (keep_slash && *p == '/')) {
			if (buf_append(out, p, 1) == -1)
				return -1;
			continue;
		}
		e[0] = '%';
		e[1] = hex[*p >> 4];
		e[2] = hex[*p & 15];
		if (buf_append(out, e, 3) == -1)
			return -1;
	}
	return 0;
}
