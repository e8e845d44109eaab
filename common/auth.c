/*
 * Authentication files, parsed by Wazuh's rules (azure_utils.read_auth_file),
 * plus a check that nobody but the owner can read them.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "auth.h"
#include "buf.h"

#define AUTH_MAX 65536
#define AUTH_APP 1 /* a Graph / Log Analytics file: three kinds */

/* The PEM blocks of a file (AUTH_APP): the private key is a secret. */
struct auth_pem {
	struct buf key, cert;
	int nkeys;
};

void
secret_free(char *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

void
auth_wipe(struct auth_pair *a)
{
	secret_free(a->first);
	secret_free(a->second);
	a->first = a->second = NULL;
	EVP_PKEY_free(a->key); /* OpenSSL clears private numbers it frees */
	a->key = NULL;
}

const char *
auth_kind_name(int kind)
{
	switch (kind) {
	case AUTH_CERT:
		return "a certificate";
	case AUTH_IDENTITY:
		return "a managed identity";
	default:
		return "a secret";
	}
}

int
auth_base64url(const unsigned char *p, size_t n, char *out, size_t outlen)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
	    "vwxyz0123456789-_";
	size_t i, o = 0;
	uint32_t v;

	if (outlen < (n + 2) / 3 * 4 + 1)
		return -1;
	for (i = 0; i + 2 < n; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = tab[(v >> 6) & 63];
		out[o++] = tab[v & 63];
	}
	if (i < n) {
		v = (uint32_t)p[i] << 16 |
		    (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
		if (i + 1 < n)
			out[o++] = tab[(v >> 6) & 63];
	}
	out[o] = '\0';
	return (int)o;
}

/* Set *slot to a copy of value if key names it (the last line wins). */
static void
auth_take(const char *key, const char *want, const char *value, char **slot)
{
	if (strcmp(key, want) != 0)
		return;
	secret_free(*slot);
	*slot = xstrdup(value);
}

/*
 * The second field may have alternatives, "account_key|sas_token": take
 * the value of any of them and remember which (the last line wins).
 */
static void
auth_take_alt(const char *key, const char *want, const char *value,
	      struct auth_pair *a)
{
	size_t n, len = strlen(key);
	int i;

	for (i = 0; *want != '\0'; i++) {
		n = strcspn(want, "|");
		if (n == len && strncmp(key, want, n) == 0) {
			secret_free(a->second);
			a->second = xstrdup(value);
			a->second_alt = i;
			return;
		}
		want += n + (want[n] == '|');
	}
}

/*
 * The label of a "-----BEGIN LABEL-----" line (len in *n), or NULL. The
 * closing dashes are looked for on this line only: never in the lines
 * after it, which may be a private key's.
 */
static const char *
pem_begin(const char *line, size_t *n)
{
	const char *end;

	while (*line == ' ' || *line == '\t')
		line++;
	if (strncmp(line, "-----BEGIN ", 11) != 0)
		return NULL;
	line += 11;
	end = memmem(line, strcspn(line, "\n"), "-----", 5);
	if (end == NULL)
		return NULL;
	*n = (size_t)(end - line);
	return line;
}

/* A label fit for a message: letters and spaces only, at most 64. */
static int
label_plain(const char *label, size_t n)
{
	size_t i;

	if (n == 0 || n > 64)
		return 0;
	for (i = 0; i < n; i++)
		if (!(label[i] == ' ' || (label[i] >= 'A' && label[i] <= 'Z') ||
		      (label[i] >= 'a' && label[i] <= 'z')))
			return 0;
	return 1;
}

static int
label_ends(const char *label, size_t n, const char *suffix)
{
	size_t m = strlen(suffix);

	return n >= m && memcmp(label + n - m, suffix, m) == 0;
}

/*
 * A PEM block starting at *line (its BEGIN line): its lines up to the END
 * line go to the key or certificate buffer (the first certificate only: a
 * chain may follow). *next moves past the END line. Returns 0, or -1 with
 * a message.
 */
static int
pem_take(char *line, char **next, const char *label, size_t n,
	 struct auth_pem *p, char *err, size_t errlen)
{
	struct buf *to = NULL;
	char *l, *nl, *e;
	int done = 0;

	if (label_ends(label, n, "ENCRYPTED PRIVATE KEY")) {
		snprintf(err, errlen,
			 "Error: The private key of the authentication file is "
			 "encrypted: store it without a passphrase (openssl "
			 "pkey -in KEY.pem -out PLAIN.pem).");
		return -1;
	}
	if (label_ends(label, n, "PRIVATE KEY")) {
		if (p->nkeys++ > 0) {
			snprintf(err, errlen,
				 "Error: The authentication file holds more "
				 "than one private key.");
			return -1;
		}
		to = &p->key;
	} else if (n == 11 && memcmp(label, "CERTIFICATE", 11) == 0 &&
		   p->cert.len == 0)
		to = &p->cert;
	for (l = line; l != NULL && !done; l = nl) {
		if ((nl = strchr(l, '\n')) != NULL)
			*nl++ = '\0';
		while (*l == ' ' || *l == '\t')
			l++;
		for (e = l + strlen(l); e > l && strchr(" \t\r", e[-1]); e--)
			;
		done = l != line && strncmp(l, "-----END ", 9) == 0;
		if (e == l)
			continue; /* a blank line: nothing for the key */
		if (to != NULL && (buf_append(to, l, (size_t)(e - l)) == -1 ||
				   buf_append(to, "\n", 1) == -1)) {
			snprintf(err, errlen,
				 "Error: The authentication file "
				 "is too large.");
			return -1;
		}
	}
	if (!done && label_plain(label, n)) {
		snprintf(err, errlen,
			 "Error: The authentication file has a \"-----BEGIN "
			 "%.*s-----\" line and no END line.",
			 (int)n, label);
		return -1;
	}
	if (!done) {
		snprintf(err, errlen,
			 "Error: The authentication file has a \"-----BEGIN\" "
			 "line and no END line.");
		return -1;
	}
	*next = l;
	return 0;
}

static void
format_error(char *err, size_t errlen)
{
	snprintf(err, errlen,
		 "Error: The authentication file "
		 "format is not valid. Make sure that it is "
		 "composed "
		 "of only 2 lines with \"field = value\" format.");
}

/*
 * Parse the text of an authentication file. Each line loses its spaces and
 * line end; a line without "=" is a format error, as in Wazuh. With
 * AUTH_APP, PEM blocks (a private key, a certificate) and managed_identity
 * are allowed too. Fills a and, for the caller to load, p.
 */
static int
auth_parse(char *text, const char *f1, const char *f2, int flags,
	   struct auth_pair *a, struct auth_pem *p, char *err, size_t errlen)
{
	char *line, *next, *r, *w, *eq, *identity = NULL;
	const char *label;
	size_t n;
	int rc = -1;

	for (line = text; line != NULL; line = next) {
		if ((flags & AUTH_APP) && (label = pem_begin(line, &n))) {
			if (pem_take(line, &next, label, n, p, err, errlen) ==
			    -1)
				goto out;
			continue;
		}
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		else if (*line == '\0')
			break; /* nothing after the last line end */
		for (r = w = line; *r; r++)
			if (*r != ' ' && *r != '\r')
				*w++ = *r;
		*w = '\0';
		if ((eq = strchr(line, '=')) == NULL) {
			format_error(err, errlen);
			goto out;
		}
		*eq++ = '\0';
		if (*eq == '\0')
			continue;
		auth_take(line, f1, eq, &a->first);
		auth_take_alt(line, f2, eq, a);
		if (flags & AUTH_APP)
			auth_take(line, "managed_identity", eq, &identity);
	}
	a->kind = AUTH_SECRET;
	if (identity != NULL) {
		if (strcasecmp(identity, "yes") != 0 &&
		    strcasecmp(identity, "true") != 0) {
			if (strcasecmp(identity, "no") != 0 &&
			    strcasecmp(identity, "false") != 0) {
				snprintf(err, errlen,
					 "Error: managed_identity in the "
					 "authentication file must be yes or "
					 "no.");
				goto out;
			}
		} else if (a->second != NULL || p->key.len || p->cert.len) {
			snprintf(err, errlen,
				 "Error: The authentication file says "
				 "managed_identity = yes and also holds %s: "
				 "keep one kind of credential.",
				 a->second ? "an application_key"
					   : "a key or certificate");
			goto out;
		} else {
			a->kind = AUTH_IDENTITY;
			rc = 0;
			goto out;
		}
	}
	if (p->key.len || p->cert.len) {
		if (a->second != NULL) {
			snprintf(err, errlen,
				 "Error: The authentication file holds both "
				 "an application_key and a %s: keep one kind "
				 "of credential.",
				 p->key.len ? "private key" : "certificate");
			goto out;
		}
		if (p->key.len == 0 || p->cert.len == 0) {
			snprintf(
			    err, errlen,
			    "Error: The authentication file holds a %s "
			    "but no %s: a certificate credential needs "
			    "both, as PEM blocks (\"-----BEGIN %s-----\").",
			    p->key.len ? "private key" : "certificate",
			    p->key.len ? "certificate" : "private key",
			    p->key.len ? "CERTIFICATE" : "PRIVATE KEY");
			goto out;
		}
		if (a->first == NULL) {
			snprintf(err, errlen,
				 "Error: The authentication file does not "
				 "contains the expected \"%s\" field.",
				 f1);
			goto out;
		}
		a->kind = AUTH_CERT;
		rc = 0;
		goto out;
	}
	if (a->first == NULL || a->second == NULL) {
		snprintf(err, errlen,
			 "Error: The authentication file does not "
			 "contains the expected \"%s\" and \"%.*s\" fields.",
			 f1, (int)strcspn(f2, "|"), f2);
		goto out;
	}
	rc = 0;
out:
	secret_free(identity);
	return rc;
}

static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* OpenSSL's reason for the last failure, for messages. */
static const char *
ssl_reason(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	return r ? r : "not PEM";
}

/*
 * Load the key and certificate of a certificate credential: an RSA key
 * that belongs to the certificate; a->x5t gets the certificate's
 * thumbprint. Returns 0, or -1 with a message.
 */
static int
auth_load_cert(struct auth_pair *a, struct auth_pem *p, char *err,
	       size_t errlen)
{
	unsigned char md[SHA_DIGEST_LENGTH], *der = NULL;
	EVP_PKEY *k = NULL;
	X509 *x = NULL;
	BIO *b;
	int derlen, rc = -1;

	ERR_clear_error();
	if ((b = BIO_new_mem_buf(p->key.data, (int)p->key.len)) == NULL)
		goto oom;
	k = PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL);
	BIO_free(b);
	if (k == NULL) {
		snprintf(err, errlen,
			 "Error: The private key of the authentication file "
			 "cannot be read (%s).",
			 ssl_reason());
		goto out;
	}
	if (EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA) {
		snprintf(err, errlen,
			 "Error: The private key of the authentication file is "
			 "a %s key: only RSA keys are supported (RS256).",
			 EVP_PKEY_get0_type_name(k) ? EVP_PKEY_get0_type_name(k)
						    : "non-RSA");
		goto out;
	}
	if ((b = BIO_new_mem_buf(p->cert.data, (int)p->cert.len)) == NULL)
		goto oom;
	x = PEM_read_bio_X509(b, NULL, no_passphrase, NULL);
	BIO_free(b);
	if (x == NULL) {
		snprintf(err, errlen,
			 "Error: The certificate of the authentication file "
			 "cannot be read (%s).",
			 ssl_reason());
		goto out;
	}
	if (X509_check_private_key(x, k) != 1) {
		snprintf(err, errlen,
			 "Error: The private key and the certificate of the "
			 "authentication file do not match (the key is not the "
			 "certificate's).");
		goto out;
	}
	if ((derlen = i2d_X509(x, &der)) <= 0)
		goto oom;
	SHA1(der, (size_t)derlen, md);
	OPENSSL_free(der);
	auth_base64url(md, sizeof(md), a->x5t, sizeof(a->x5t));
	a->key = k;
	k = NULL;
	rc = 0;
	goto out;
oom:
	snprintf(err, errlen, "Error: OpenSSL failed: %s", ssl_reason());
out:
	EVP_PKEY_free(k);
	X509_free(x);
	ERR_clear_error();
	return rc;
}

/*
 * Read an authentication file from an open descriptor (not closed here);
 * path (or NULL) names it in messages. It must be a regular file of root
 * or of the user running us, closed to group and others. On success fills
 * *a (free with auth_wipe) and returns 0; otherwise writes Wazuh's message
 * into err and returns -1.
 */
static int
auth_read(int fd, const char *path, const char *f1, const char *f2, int flags,
	  struct auth_pair *a, char *err, size_t errlen)
{
	char name[4096 + 8] = "";
	struct auth_pem pem;
	struct buf b;
	struct stat st;
	char tmp[4096];
	ssize_t n;
	int rc;

	memset(a, 0, sizeof(*a));
	if (path != NULL)
		snprintf(name, sizeof(name), ": '%s'", path);
	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen,
			 "Error: The authentication file could "
			 "not be opened: %s%s",
			 strerror(errno), name);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen,
			 "Error: The authentication file could "
			 "not be opened: not a regular file%s",
			 name);
		return -1;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		snprintf(err, errlen,
			 "Error: The authentication file belongs to uid %lu, "
			 "neither root nor the user running azure-logs (uid "
			 "%lu): chown it%s.",
			 (unsigned long)st.st_uid, (unsigned long)geteuid(),
			 name);
		return -1;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(
		    err, errlen,
		    "Error: The authentication file can be "
		    "read or written by group or others (mode %04o): restrict "
		    "it with \"chmod 600\"%s.",
		    (unsigned)(st.st_mode & 07777), name);
		return -1;
	}
	buf_init(&b, AUTH_MAX);
	buf_init(&pem.key, AUTH_MAX);
	buf_init(&pem.cert, AUTH_MAX);
	pem.nkeys = 0;
	for (;;) {
		n = read(fd, tmp, sizeof(tmp));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0 || buf_append(&b, tmp, (size_t)n) == -1)
			break;
	}
	explicit_bzero(tmp, sizeof(tmp));
	if (n != 0) {
		snprintf(err, errlen,
			 "Error: The authentication file could "
			 "not be opened: %s",
			 n == -1 ? strerror(errno) : "file too large");
		rc = -1;
	} else
		rc = auth_parse(buf_cstr(&b), f1, f2, flags, a, &pem, err,
				errlen);
	if (rc == 0 && a->kind == AUTH_CERT)
		rc = auth_load_cert(a, &pem, err, errlen);
	if (b.data != NULL)
		explicit_bzero(b.data, b.cap);
	buf_free(&b);
	if (pem.key.data != NULL)
		explicit_bzero(pem.key.data, pem.key.cap);
	buf_free(&pem.key);
	buf_free(&pem.cert);
	if (rc == -1)
		auth_wipe(a);
	return rc;
}

/* PATH (or NULL) names the file that the caller opened on FD. */
int
auth_read_fd(int fd, const char *path, const char *f1, const char *f2,
	     struct auth_pair *a, char *err, size_t errlen)
{
	return auth_read(fd, path, f1, f2, 0, a, err, errlen);
}

static int
auth_open_read(const char *path, const char *f1, const char *f2, int flags,
	       struct auth_pair *a, char *err, size_t errlen)
{
	int fd, rc;

	memset(a, 0, sizeof(*a));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen,
			 "Error: The authentication file could "
			 "not be opened: [Errno %d] %s: '%s'",
			 errno, strerror(errno), path);
		return -1;
	}
	rc = auth_read(fd, path, f1, f2, flags, a, err, errlen);
	close(fd);
	return rc;
}

int
auth_read_file(const char *path, const char *f1, const char *f2,
	       struct auth_pair *a, char *err, size_t errlen)
{
	return auth_open_read(path, f1, f2, 0, a, err, errlen);
}

/*
 * A Graph / Log Analytics file: application_id with application_key (a
 * secret), or with a PEM private key and certificate (loaded and checked
 * here), or managed_identity = yes (application_id optional).
 */
int
auth_read_app_fd(int fd, const char *path, struct auth_pair *a, char *err,
		 size_t errlen)
{
	return auth_read(fd, path, "application_id", "application_key",
			 AUTH_APP, a, err, errlen);
}

int
auth_read_app_file(const char *path, struct auth_pair *a, char *err,
		   size_t errlen)
{
	return auth_open_read(path, "application_id", "application_key",
			      AUTH_APP, a, err, errlen);
}
