/*
 * Certificate credentials: the JWT client assertion that replaces a client
 * secret in the token request (RFC 7523), signed RS256 with the private
 * key of the authentication file, a new one for every token request.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "auth.h"
#include "date.h"
#include "fetch.h"

#define ASSERTION_LIFETIME 600 /* seconds: Azure accepts at most 10 min */

/* Append the base64url form of p[0..n) to out. */
static int
put_b64url(struct buf *out, const unsigned char *p, size_t n)
{
	char *tmp;
	size_t cap = (n + 2) / 3 * 4 + 1;
	int rc;

	tmp = xmalloc(cap);
	rc = auth_base64url(p, n, tmp, cap) == -1 ? -1 : buf_puts(out, tmp);
	free(tmp);
	return rc;
}

/* Append the base64url form of a JSON object (compact) to out. */
static int
put_json(struct buf *out, json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	int rc;

	if (s == NULL)
		return -1;
	rc = put_b64url(out, (const unsigned char *)s, strlen(s));
	free(s);
	return rc;
}

/*
 * Append to out a signed assertion for client_id, valid from now (Unix
 * seconds) for ten minutes, for the token endpoint aud. Returns 0, or -1
 * with a message in err.
 */
int
assertion_make(const struct auth_pair *a, const char *client_id,
	       const char *aud, int64_t now, struct buf *out, char *err,
	       size_t errlen)
{
	unsigned char rnd[16], sig[1024];
	size_t siglen = sizeof(sig);
	char jti[40];
	json_t *hdr, *claims;
	EVP_MD_CTX *md = NULL;
	size_t start = out->len;
	int rc = -1;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		snprintf(err, errlen,
			 "Error: no random bytes for the "
			 "client assertion");
		return -1;
	}
	rnd[6] = (rnd[6] & 0x0f) | 0x40; /* a version 4 UUID */
	rnd[8] = (rnd[8] & 0x3f) | 0x80;
	snprintf(jti, sizeof(jti),
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x",
		 rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7],
		 rnd[8], rnd[9], rnd[10], rnd[11], rnd[12], rnd[13], rnd[14],
		 rnd[15]);
	hdr = json_pack("{s:s, s:s, s:s}", "alg", "RS256", "typ", "JWT", "x5t",
			a->x5t);
	claims = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "aud", aud,
			   "iss", client_id, "sub", client_id, "jti", jti,
			   "nbf", (json_int_t)now, "iat", (json_int_t)now,
			   "exp", (json_int_t)now + ASSERTION_LIFETIME);
	if (put_json(out, hdr) == -1 || buf_append(out, ".", 1) == -1 ||
	    put_json(out, claims) == -1) {
		snprintf(err, errlen,
			 "Error: the client assertion is too long");
		goto out;
	}
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, a->key) != 1 ||
	    EVP_DigestSign(md, sig, &siglen,
			   (const unsigned char *)out->data + start,
			   out->len - start) != 1) {
		snprintf(err, errlen,
			 "Error: the client assertion could not be signed "
			 "with the private key of the authentication file");
		goto out;
	}
	if (buf_append(out, ".", 1) == -1 ||
	    put_b64url(out, sig, siglen) == -1) {
		snprintf(err, errlen,
			 "Error: the client assertion is too long");
		goto out;
	}
	rc = 0;
out:
	EVP_MD_CTX_free(md);
	json_decref(hdr);
	json_decref(claims);
	return rc;
}
