/*
 * Wazuh authentication files: lines "field = value" (spaces ignored, split
 * at the first "=", empty values skipped). The file must not be readable by
 * group or others.
 */
#ifndef AZURE_AUTH_H
#define AZURE_AUTH_H

#include <stddef.h>

/* What a Graph / Log Analytics file holds (auth_read_app_*). */
enum {
	AUTH_SECRET,  /* application_id + application_key */
	AUTH_CERT,    /* application_id + PEM private key and certificate */
	AUTH_IDENTITY /* managed_identity = yes [+ application_id] */
};

struct evp_pkey_st; /* OpenSSL's EVP_PKEY */

struct auth_pair {
	char *first;	/* e.g. application_id (identity: may be NULL) */
	char *second;	/* e.g. application_key: a secret (else NULL) */
	int second_alt; /* which alternative of "a|b" named the second */
	int kind;	/* AUTH_SECRET, AUTH_CERT, AUTH_IDENTITY */
	struct evp_pkey_st *key; /* AUTH_CERT: the RSA private key */
	char x5t[32]; /* AUTH_CERT: base64url SHA-1 of the certificate DER */
};

int auth_read_fd(int fd, const char *path, const char *f1, const char *f2,
		 struct auth_pair *, char *err, size_t errlen);
int auth_read_file(const char *path, const char *f1, const char *f2,
		   struct auth_pair *, char *err, size_t errlen);
/* Graph / Log Analytics: any of the three kinds above. */
int auth_read_app_fd(int fd, const char *path, struct auth_pair *, char *err,
		     size_t errlen);
int auth_read_app_file(const char *path, struct auth_pair *, char *err,
		       size_t errlen);
const char *auth_kind_name(int kind);
void auth_wipe(struct auth_pair *);
/* base64url without padding into out (NUL-terminated); -1 if too small */
int auth_base64url(const unsigned char *, size_t, char *out, size_t outlen);
void secret_free(char *);

#endif
