/*
 * Authentication files (common/auth.h), parsed as Wazuh's
 * azure_utils.read_auth_file() does, refused when others can read them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "auth.h"
#include "buf.h"
#include "fetch.h"

#define F1 "application_id"
#define F2 "application_key"

#define MSG_MISSING                                                            \
	"Error: The authentication file does not contains the expected "       \
	"\"application_id\" and \"application_key\" fields."
#define MSG_FORMAT                                                             \
	"Error: The authentication file format is not valid. Make sure that "  \
	"it is composed of only 2 lines with \"field = value\" format."
#define MSG_OPEN "Error: The authentication file could not be opened:"

static char dir[] = "/tmp/test_auth.XXXXXX";
static char path[256];

static int
setup(void **state)
{
	(void)state;
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/credentials", dir);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	unlink(path);
	rmdir(dir);
	return 0;
}

static void
write_auth(const char *text, size_t n, mode_t mode)
{
	int fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, n), (ssize_t)n);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void
expect_ok(const char *text, const char *id, const char *key)
{
	struct auth_pair a;
	char err[512] = "";

	write_auth(text, strlen(text), 0600);
	if (auth_read_file(path, F1, F2, &a, err, sizeof(err)) != 0)
		fail_msg("refused %s: %s", text, err);
	assert_string_equal(a.first, id);
	assert_string_equal(a.second, key);
	auth_wipe(&a);
	assert_null(a.first);
	assert_null(a.second);
}

static void
expect_err(const char *text, size_t n, const char *msg)
{
	struct auth_pair a;
	char err[512] = "";

	write_auth(text, n, 0600);
	assert_int_equal(auth_read_file(path, F1, F2, &a, err, sizeof(err)),
			 -1);
	assert_string_equal(err, msg);
	assert_null(a.first);
	assert_null(a.second);
}

static void
test_valid(void **state)
{
	(void)state;
	expect_ok("application_id = 2f2a1b3c-aaaa-bbbb-cccc-0123456789ab\n"
		  "application_key = s3cr3t~Value.With-Symbols_\n",
		  "2f2a1b3c-aaaa-bbbb-cccc-0123456789ab",
		  "s3cr3t~Value.With-Symbols_");
	/* order does not matter */
	expect_ok("application_key = K\napplication_id = I\n", "I", "K");
}

static void
test_value_with_equals(void **state)
{
	(void)state;
	expect_ok("application_id = a=b\napplication_key = abc==def=\n", "a=b",
		  "abc==def=");
}

static void
test_spaces_removed(void **state)
{
	(void)state;
	expect_ok("  application_id   =   x y z  \n"
		  "application_key=  k  e  y\n",
		  "xyz", "key");
	expect_ok("appli cation_id = X\napplication_key = Y\n", "X", "Y");
}

static void
test_no_trailing_newline(void **state)
{
	(void)state;
	expect_ok("application_id = X\napplication_key = Y", "X", "Y");
}

static void
test_crlf(void **state)
{
	(void)state;
	expect_ok("application_id = X\r\napplication_key = Y\r\n", "X", "Y");
	expect_ok("application_id = X\r\napplication_key = Y", "X", "Y");
}

static void
test_extra_fields_ignored(void **state)
{
	(void)state;
	expect_ok("tenant = contoso\napplication_id = X\nfoo = bar\n"
		  "application_key = Y\n",
		  "X", "Y");
}

static void
test_empty_value_skipped(void **state)
{
	(void)state;
	expect_err("application_id =\napplication_key = Y\n",
		   strlen("application_id =\napplication_key = Y\n"),
		   MSG_MISSING);
	expect_err("application_id = X\napplication_key =   \n",
		   strlen("application_id = X\napplication_key =   \n"),
		   MSG_MISSING);
	/* an empty value does not erase an earlier one */
	expect_ok("application_id = X\napplication_id = \n"
		  "application_key = Y\n",
		  "X", "Y");
}

static void
test_duplicate_last_wins(void **state)
{
	(void)state;
	expect_ok("application_id = old\napplication_key = K1\n"
		  "application_id = new\napplication_key = K2\n",
		  "new", "K2");
}

static void
test_missing_field(void **state)
{
	static const char only_id[] = "application_id = X\n";
	static const char wrong[] = "account_name = X\naccount_key = Y\n";

	(void)state;
	expect_err(only_id, strlen(only_id), MSG_MISSING);
	expect_err(wrong, strlen(wrong), MSG_MISSING);
}

static void
test_other_field_names(void **state)
{
	struct auth_pair a;
	char err[512] = "";
	static const char text[] =
	    "account_name = acct\naccount_key = a/b+c==\n";

	(void)state;
	write_auth(text, strlen(text), 0600);
	assert_int_equal(auth_read_file(path, "account_name", "account_key", &a,
					err, sizeof(err)),
			 0);
	assert_string_equal(a.first, "acct");
	assert_string_equal(a.second, "a/b+c==");
	auth_wipe(&a);
	write_auth("account_name = acct\n", 20, 0600);
	assert_int_equal(auth_read_file(path, "account_name", "account_key", &a,
					err, sizeof(err)),
			 -1);
	assert_string_equal(
	    err, "Error: The authentication file does not "
		 "contains the expected \"account_name\" and \"account_key\" "
		 "fields.");
}

static void
test_format_errors(void **state)
{
	static const char no_eq[] = "application_id X\napplication_key = Y\n";
	static const char blank_mid[] =
	    "application_id = X\n\napplication_key = Y\n";
	static const char blank_end[] =
	    "application_id = X\napplication_key = Y\n\n";
	static const char spaces_line[] =
	    "application_id = X\n   \napplication_key = Y\n";
	static const char crlf_blank[] =
	    "application_id = X\r\n\r\napplication_key = Y\r\n";

	(void)state;
	expect_err(no_eq, strlen(no_eq), MSG_FORMAT);
	expect_err(blank_mid, strlen(blank_mid), MSG_FORMAT);
	expect_err(blank_end, strlen(blank_end), MSG_FORMAT);
	expect_err(spaces_line, strlen(spaces_line), MSG_FORMAT);
	expect_err(crlf_blank, strlen(crlf_blank), MSG_FORMAT);
}

static void
test_empty_file(void **state)
{
	(void)state;
	expect_err("", 0, MSG_MISSING);
}

static void
test_nonexistent(void **state)
{
	struct auth_pair a;
	char err[512] = "", missing[300];

	(void)state;
	snprintf(missing, sizeof(missing), "%s/nope", dir);
	assert_int_equal(auth_read_file(missing, F1, F2, &a, err, sizeof(err)),
			 -1);
	assert_memory_equal(err, MSG_OPEN, strlen(MSG_OPEN));
	assert_non_null(strstr(err, "No such file"));
	assert_null(a.first);
	assert_null(a.second);
}

static void
expect_mode_refused(mode_t mode, const char *mode_str)
{
	static const char text[] = "application_id = X\napplication_key = Y\n";
	struct auth_pair a;
	char err[512] = "";

	write_auth(text, strlen(text), mode);
	assert_int_equal(auth_read_file(path, F1, F2, &a, err, sizeof(err)),
			 -1);
	if (strstr(err, mode_str) == NULL || strstr(err, "chmod 600") == NULL)
		fail_msg("mode %s: message \"%s\"", mode_str, err);
	assert_null(a.first);
	assert_null(a.second);
}

static void
test_mode_refused(void **state)
{
	(void)state;
	expect_mode_refused(0640, "0640");
	expect_mode_refused(0604, "0604");
	expect_mode_refused(0660, "0660");
	expect_mode_refused(0644, "0644");
	expect_mode_refused(0620, "0620"); /* group may write it */
}

static void
test_mode_owner_only_ok(void **state)
{
	static const char text[] = "application_id = X\napplication_key = Y\n";
	struct auth_pair a;
	char err[512] = "";

	(void)state;
	write_auth(text, strlen(text), 0400);
	assert_int_equal(auth_read_file(path, F1, F2, &a, err, sizeof(err)), 0);
	assert_string_equal(a.second, "Y");
	auth_wipe(&a);
}

static void
test_directory_refused(void **state)
{
	struct auth_pair a;
	char err[512] = "";

	(void)state;
	assert_int_equal(auth_read_file(dir, F1, F2, &a, err, sizeof(err)), -1);
	assert_memory_equal(err, MSG_OPEN, strlen(MSG_OPEN));
	assert_null(a.first);
}

static void
test_read_fd(void **state)
{
	static const char text[] = "application_id = X\napplication_key = Y=\n";
	struct auth_pair a;
	char err[512] = "";
	int fd;

	(void)state;
	write_auth(text, strlen(text), 0600);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(auth_read_fd(fd, NULL, F1, F2, &a, err, sizeof(err)),
			 0);
	assert_string_equal(a.first, "X");
	assert_string_equal(a.second, "Y=");
	auth_wipe(&a);
	/* the descriptor is left open for the caller */
	assert_int_not_equal(fcntl(fd, F_GETFD), -1);
	close(fd);

	/* the mode check applies to descriptors too */
	write_auth(text, strlen(text), 0644);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(auth_read_fd(fd, NULL, F1, F2, &a, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "chmod 600"));
	close(fd);

	/* a closed descriptor */
	assert_int_equal(auth_read_fd(fd, NULL, F1, F2, &a, err, sizeof(err)),
			 -1);
	assert_memory_equal(err, MSG_OPEN, strlen(MSG_OPEN));
}

/* A file of another user (not root) is refused, named when the caller
 * passes its path with the descriptor. Needs root to chown; skipped
 * otherwise. */
static void
test_owner_refused(void **state)
{
	static const char text[] = "application_id = X\napplication_key = Y\n";
	struct auth_pair a;
	char err[512] = "";
	int fd;

	(void)state;
	if (geteuid() != 0)
		skip();
	write_auth(text, strlen(text), 0600);
	assert_int_equal(chown(path, 65534, 65534), 0);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(auth_read_fd(fd, path, F1, F2, &a, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "belongs to uid 65534, neither root nor"));
	assert_non_null(strstr(err, path));
	assert_null(a.first);
	close(fd);
	assert_int_equal(chown(path, 0, 0), 0); /* root's own: accepted */
	assert_int_equal(auth_read_file(path, F1, F2, &a, err, sizeof(err)), 0);
	auth_wipe(&a);
}

/* Long secrets and a file over 4 KiB (several reads). */
static void
test_long_file(void **state)
{
	char *text = malloc(20000), key[3001];
	size_t n = 0;
	int i;
	struct auth_pair a;
	char err[512] = "";

	(void)state;
	assert_non_null(text);
	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	for (i = 0; i < 400; i++)
		n += (size_t)sprintf(text + n, "extra%d = v\n", i);
	n += (size_t)sprintf(text + n, "application_id = X\n");
	n += (size_t)sprintf(text + n, "application_key = %s\n", key);
	write_auth(text, n, 0600);
	assert_int_equal(auth_read_file(path, F1, F2, &a, err, sizeof(err)), 0);
	assert_string_equal(a.first, "X");
	assert_string_equal(a.second, key);
	auth_wipe(&a);
	free(text);
}

/* ------------------------------------------------ issue 8: credentials */

/* A PEM key (RSA 2048, or EC P-256 when ec) and a self-signed certificate
 * of it; the caller frees both. */
static void
make_pem(int ec, char **key, char **cert)
{
	EVP_PKEY *k = ec ? EVP_EC_gen("P-256") : EVP_RSA_gen(2048);
	X509 *x = X509_new();
	BIO *b;
	char *p;
	long n;

	assert_non_null(k);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, k);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)"test", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	b = BIO_new(BIO_s_mem());
	assert_int_equal(
	    PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL), 1);
	n = BIO_get_mem_data(b, &p);
	*key = strndup(p, (size_t)n);
	BIO_free(b);
	b = BIO_new(BIO_s_mem());
	assert_int_equal(PEM_write_bio_X509(b, x), 1);
	n = BIO_get_mem_data(b, &p);
	*cert = strndup(p, (size_t)n);
	BIO_free(b);
	X509_free(x);
	EVP_PKEY_free(k);
}

static char *key_a, *cert_a, *key_b, *cert_b, *key_ec, *cert_ec;

static int
app_read(const char *text, struct auth_pair *a, char *err, size_t errlen)
{
	write_auth(text, strlen(text), 0600);
	return auth_read_app_file(path, a, err, errlen);
}

static void
expect_app_error(const char *text, const char *want)
{
	struct auth_pair a;
	char err[1024];

	assert_int_equal(app_read(text, &a, err, sizeof(err)), -1);
	if (strstr(err, want) == NULL)
		fail_msg("\"%s\" not in \"%s\"", want, err);
	assert_null(a.first);
	assert_null(a.key);
}

static char *
cat3(const char *a, const char *b, const char *c)
{
	size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
	char *out = malloc(la + lb + lc + 1);

	assert_non_null(out);
	memcpy(out, a, la);
	memcpy(out + la, b, lb);
	memcpy(out + la + lb, c, lc + 1);
	return out;
}

static void
test_app_secret(void **state)
{
	struct auth_pair a;
	char err[512];

	(void)state;
	assert_int_equal(app_read("application_id = I\napplication_key = K\n",
				  &a, err, sizeof(err)),
			 0);
	assert_int_equal(a.kind, AUTH_SECRET);
	assert_string_equal(a.second, "K");
	auth_wipe(&a);
	expect_app_error("application_id = I\n", MSG_MISSING);
}

static void
test_app_identity(void **state)
{
	struct auth_pair a;
	char err[512];

	(void)state;
	assert_int_equal(
	    app_read("managed_identity = yes\n", &a, err, sizeof(err)), 0);
	assert_int_equal(a.kind, AUTH_IDENTITY);
	assert_null(a.first);
	auth_wipe(&a);
	assert_int_equal(app_read("managed_identity=YES\napplication_id=C\n",
				  &a, err, sizeof(err)),
			 0);
	assert_int_equal(a.kind, AUTH_IDENTITY);
	assert_string_equal(a.first, "C");
	auth_wipe(&a);
	/* "no" is as if absent */
	expect_app_error("managed_identity = no\napplication_id = C\n",
			 MSG_MISSING);
	expect_app_error("managed_identity = maybe\n",
			 "managed_identity in the authentication file must be "
			 "yes or no");
	expect_app_error("managed_identity = yes\napplication_id = C\n"
			 "application_key = K\n",
			 "managed_identity = yes and also holds an "
			 "application_key");
	/* PEM blocks and managed_identity are for Graph / Log Analytics */
	write_auth("managed_identity = yes\n", 23, 0600);
	assert_int_equal(auth_read_file(path, "account_name", "account_key", &a,
					err, sizeof(err)),
			 -1);
}

static void
test_app_certificate(void **state)
{
	struct auth_pair a;
	char err[1024], *t, *u;

	(void)state;
	/* key and certificate in either order, blanks around the lines */
	t = cat3("application_id = I\n", key_a, cert_a);
	assert_int_equal(app_read(t, &a, err, sizeof(err)), 0);
	assert_int_equal(a.kind, AUTH_CERT);
	assert_non_null(a.key);
	assert_null(a.second);
	assert_int_equal(strlen(a.x5t), 27); /* 20 bytes, base64url */
	assert_int_equal(strspn(a.x5t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklm"
				       "nopqrstuvwxyz0123456789-_"),
			 27);
	auth_wipe(&a);
	assert_null(a.key);
	free(t);
	u = cat3(cert_a, "  application_id = I\r\n", key_a);
	assert_int_equal(app_read(u, &a, err, sizeof(err)), 0);
	assert_int_equal(a.kind, AUTH_CERT);
	auth_wipe(&a);
	free(u);
	/* a chain: the first certificate is the one */
	t = cat3(key_a, cert_a, cert_b);
	u = cat3("application_id = I\n", t, "");
	assert_int_equal(app_read(u, &a, err, sizeof(err)), 0);
	auth_wipe(&a);
	free(t);
	free(u);
}

static void
test_app_certificate_errors(void **state)
{
	char *t, *cut;

	(void)state;
	t = cat3("application_id = I\n", key_b, cert_a);
	expect_app_error(t, "The private key and the certificate of the "
			    "authentication file do not match");
	free(t);
	t = cat3("application_id = I\n", key_ec, cert_ec);
	expect_app_error(t, "is a EC key: only RSA keys are supported (RS256)");
	free(t);
	t = cat3("application_id = I\n", key_a, "");
	expect_app_error(t, "holds a private key but no certificate");
	free(t);
	t = cat3("application_id = I\n", cert_a, "");
	expect_app_error(t, "holds a certificate but no private key");
	free(t);
	t = cat3(key_a, cert_a, "");
	expect_app_error(t, "the expected \"application_id\" field");
	free(t);
	t = cat3("application_id = I\napplication_key = K\n", key_a, cert_a);
	expect_app_error(t, "holds both an application_key and a private key");
	free(t);
	t = cat3("application_id = I\n", key_a, key_a);
	expect_app_error(t, "more than one private key");
	free(t);
	/* the END line missing */
	t = cat3("application_id = I\n", cert_a, key_a);
	cut = strstr(t, "-----END PRIVATE KEY");
	assert_non_null(cut);
	*cut = '\0';
	expect_app_error(t, "has a \"-----BEGIN PRIVATE KEY-----\" line and no "
			    "END line");
	free(t);
	/* damaged base64 */
	t = cat3("application_id = I\n", key_a, cert_a);
	cut = strchr(strchr(t, '\n') + 1, '\n') + 5;
	memcpy(cut, "!!!!", 4);
	expect_app_error(t, "The private key of the authentication file cannot "
			    "be read (");
	free(t);
	expect_app_error(
	    "application_id = I\n-----BEGIN ENCRYPTED PRIVATE "
	    "KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
	    "is encrypted: store it without a passphrase");
}

/* An indented blank line inside a key block is no "too large" file. */
static void
test_app_pem_blank_line(void **state)
{
	struct auth_pair a;
	char err[1024], *t, *u, *mid;

	(void)state;
	t = cat3("application_id = I\n", key_a, cert_a);
	/* after the second line of the key: a line of blanks only */
	mid = strchr(strchr(strchr(t, '\n') + 1, '\n') + 1, '\n') + 1;
	*(mid - 1) = '\0';
	u = cat3(t, "\n   \n\t\r\n\n", mid);
	if (app_read(u, &a, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(a.kind, AUTH_CERT);
	auth_wipe(&a);
	free(t);
	free(u);
}

/* No message holds anything from inside a key block. */
static void
test_app_pem_malformed_begin(void **state)
{
	struct auth_pair a;
	char err[1024], *t, *body, *end, *line;
	size_t n;
	static const char *begins[] = {
	    "-----BEGIN PRIVATE KEY\n",		 "-----BEGIN PRIVATE KEY----\n",
	    "  -----BEGIN PRIVATE KEY -- x\n",	 "-----BEGIN PRIVATE KEY=\n",
	    "-----BEGIN PRIV\x01ATE KEY-----\n", "-----BEGIN ",
	};
	size_t i;

	(void)state;
	body = strchr(key_a, '\n') + 1; /* the base64, and the END line */
	end = strstr(body, "-----END");
	assert_non_null(end);
	for (i = 0; i < sizeof(begins) / sizeof(begins[0]); i++) {
		/* the key's lines, with a bare "-----" for its END line */
		t = cat3("application_id = I\n", begins[i], body);
		memcpy(strstr(t, "-----END"), "-----\n", 7);
		assert_int_equal(app_read(t, &a, err, sizeof(err)), -1);
		assert_null(strchr(err, '\n'));
		/* no 8 characters of any of the key's lines */
		for (line = body; line < end; line += n + 1) {
			n = strcspn(line, "\n");
			for (size_t k = 0; k + 8 <= n; k++) {
				char piece[9];

				memcpy(piece, line + k, 8);
				piece[8] = '\0';
				if (strstr(err, piece) != NULL)
					fail_msg("key text \"%s\" in \"%s\"",
						 piece, err);
			}
		}
		free(t);
	}
	/* a plain label is named; any other is not */
	expect_app_error(
	    "application_id = I\n-----BEGIN PRIVATE KEY-----\n"
	    "AAAA\n",
	    "has a \"-----BEGIN PRIVATE KEY-----\" line and no END "
	    "line");
	expect_app_error("application_id = I\n-----BEGIN A\x01B-----\nAAAA\n",
			 "has a \"-----BEGIN\" line and no END line");
}

static void
test_base64url(void **state)
{
	char out[16];

	(void)state;
	assert_int_equal(auth_base64url((const unsigned char *)"\xfb\xff", 2,
					out, sizeof(out)),
			 3);
	assert_string_equal(out, "-_8");
	assert_int_equal(
	    auth_base64url((const unsigned char *)"abc", 3, out, sizeof(out)),
	    4);
	assert_string_equal(out, "YWJj");
	assert_int_equal(
	    auth_base64url((const unsigned char *)"a", 1, out, sizeof(out)), 2);
	assert_string_equal(out, "YQ");
	assert_int_equal(
	    auth_base64url((const unsigned char *)"abcdefghijkl", 12, out, 16),
	    -1);
}

/* base64url text of n bytes to a NUL-terminated string (caller frees). */
static char *
unb64url(const char *s, size_t n, size_t *len)
{
	char *t = calloc(1, n + 4), *out = calloc(1, n + 4);
	size_t i;
	int k;

	for (i = 0; i < n; i++)
		t[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
	while (i % 4)
		t[i++] = '=';
	k = EVP_DecodeBlock((unsigned char *)out, (unsigned char *)t, (int)i);
	assert_true(k >= 0);
	*len = (size_t)k - (n % 4 == 2 ? 2 : n % 4 == 3 ? 1 : 0);
	free(t);
	return out;
}

static void
test_assertion(void **state)
{
	struct auth_pair a;
	struct buf jwt;
	char err[512], *t, *h, *c, *sig;
	const char *d1, *d2;
	size_t hl, cl, sl;
	json_t *hj, *cj;
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	(void)state;
	t = cat3("application_id = I\n", key_a, cert_a);
	assert_int_equal(app_read(t, &a, err, sizeof(err)), 0);
	free(t);
	buf_init(&jwt, 65536);
	assert_int_equal(assertion_make(&a, "client-1", "https://login/t/token",
					1700000000, &jwt, err, sizeof(err)),
			 0);
	d1 = strchr(jwt.data, '.');
	d2 = strchr(d1 + 1, '.');
	h = unb64url(jwt.data, (size_t)(d1 - jwt.data), &hl);
	c = unb64url(d1 + 1, (size_t)(d2 - d1 - 1), &cl);
	sig = unb64url(d2 + 1, strlen(d2 + 1), &sl);
	hj = json_loads(h, 0, NULL);
	cj = json_loads(c, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(hj, "alg")),
			    "RS256");
	assert_string_equal(json_string_value(json_object_get(hj, "typ")),
			    "JWT");
	assert_string_equal(json_string_value(json_object_get(hj, "x5t")),
			    a.x5t);
	assert_string_equal(json_string_value(json_object_get(cj, "aud")),
			    "https://login/t/token");
	assert_string_equal(json_string_value(json_object_get(cj, "iss")),
			    "client-1");
	assert_string_equal(json_string_value(json_object_get(cj, "sub")),
			    "client-1");
	assert_int_equal(json_integer_value(json_object_get(cj, "nbf")),
			 1700000000);
	assert_int_equal(json_integer_value(json_object_get(cj, "iat")),
			 1700000000);
	assert_int_equal(json_integer_value(json_object_get(cj, "exp")),
			 1700000600);
	assert_int_equal(strlen(json_string_value(json_object_get(cj, "jti"))),
			 36);
	/* the signature verifies with the key over header.claims */
	assert_int_equal(sl, 256);
	assert_int_equal(
	    EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, a.key), 1);
	assert_int_equal(EVP_DigestVerify(md, (unsigned char *)sig, sl,
					  (const unsigned char *)jwt.data,
					  (size_t)(d2 - jwt.data)),
			 1);
	/* another one: another jti */
	buf_reset(&jwt);
	assert_int_equal(assertion_make(&a, "client-1", "x", 1700000000, &jwt,
					err, sizeof(err)),
			 0);
	free(h);
	free(c);
	free(sig);
	json_decref(hj);
	json_decref(cj);
	EVP_MD_CTX_free(md);
	buf_free(&jwt);
	auth_wipe(&a);
}

static void
test_clouds(void **state)
{
	static const char *const want[][5] = {
	    {"public", "https://login.microsoftonline.com",
	     "https://graph.microsoft.com", "https://api.loganalytics.io",
	     "blob.core.windows.net"},
	    {"usgov", "https://login.microsoftonline.us",
	     "https://graph.microsoft.us", "https://api.loganalytics.us",
	     "blob.core.usgovcloudapi.net"},
	    {"usgov-dod", "https://login.microsoftonline.us",
	     "https://dod-graph.microsoft.us", "https://api.loganalytics.us",
	     "blob.core.usgovcloudapi.net"},
	    {"china", "https://login.chinacloudapi.cn",
	     "https://microsoftgraph.chinacloudapi.cn",
	     "https://api.loganalytics.azure.cn", "blob.core.chinacloudapi.cn"},
	};
	const struct cloud *c;
	char out[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_non_null(c = cloud_find(want[i][0]));
		assert_string_equal(c->login, want[i][1]);
		assert_string_equal(c->graph, want[i][2]);
		assert_string_equal(c->la, want[i][3]);
		assert_string_equal(c->blob, want[i][4]);
	}
	assert_null(cloud_find("Public"));
	assert_null(cloud_find("germany"));
	cloud_audience(cloud_find("public"), 0, 0, out, sizeof(out));
	assert_string_equal(out, "https://graph.microsoft.com/.default");
	cloud_audience(cloud_find("public"), 1, 0, out, sizeof(out));
	assert_string_equal(out, "https://api.loganalytics.io/.default");
	cloud_audience(cloud_find("public"), 1, 1, out, sizeof(out));
	assert_string_equal(out, "https://api.loganalytics.io/");
	cloud_audience(cloud_find("usgov-dod"), 0, 1, out, sizeof(out));
	assert_string_equal(out, "https://dod-graph.microsoft.us/");
	cloud_audience(cloud_find("china"), 1, 0, out, sizeof(out));
	assert_string_equal(out, "https://api.loganalytics.azure.cn/.default");
}

static void
test_proxy_urls(void **state)
{
	char out[256], err[512];

	(void)state;
	proxy_redact("http://proxy:3128", out, sizeof(out));
	assert_string_equal(out, "http://proxy:3128");
	proxy_redact("http://u:p%40ss@proxy:3128/", out, sizeof(out));
	assert_string_equal(out, "http://u:***@proxy:3128/");
	proxy_redact("http://u:p@ss@proxy:3128", out, sizeof(out));
	assert_string_equal(out, "http://u:***@proxy:3128");
	proxy_redact("socks5h://user@proxy", out, sizeof(out));
	assert_string_equal(out, "socks5h://user@proxy");
	assert_int_equal(proxy_check("http://10.0.0.1:3128", err, sizeof(err)),
			 0);
	assert_int_equal(proxy_check("HTTPS://u:pw@proxy", err, sizeof(err)),
			 0);
	assert_int_equal(proxy_check("socks5://proxy:1080", err, sizeof(err)),
			 0);
	assert_int_equal(proxy_check("ftp://u:secret@proxy", err, sizeof(err)),
			 -1);
	assert_null(strstr(err, "secret"));
	assert_int_equal(proxy_check("http://", err, sizeof(err)), -1);
	assert_int_equal(proxy_check("http://u:secret@:80", err, sizeof(err)),
			 -1);
	assert_null(strstr(err, "secret"));
	assert_int_equal(proxy_check("http://a b", err, sizeof(err)), -1);
	assert_int_equal(
	    identity_url_check(IDENTITY_URL_DEFAULT, err, sizeof(err)), 0);
	assert_int_equal(
	    identity_url_check("http://127.0.0.1:8080/x", err, sizeof(err)), 0);
	assert_int_equal(identity_url_check("http://169.254.169.254.evil/", err,
					    sizeof(err)),
			 -1);
	assert_int_equal(
	    identity_url_check("http://10.1.1.1/metadata", err, sizeof(err)),
	    -1);
}

static int
setup_keys(void **state)
{
	make_pem(0, &key_a, &cert_a);
	make_pem(0, &key_b, &cert_b);
	make_pem(1, &key_ec, &cert_ec);
	return setup(state);
}

static int
teardown_keys(void **state)
{
	free(key_a);
	free(cert_a);
	free(key_b);
	free(cert_b);
	free(key_ec);
	free(cert_ec);
	return teardown(state);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid),
	    cmocka_unit_test(test_value_with_equals),
	    cmocka_unit_test(test_spaces_removed),
	    cmocka_unit_test(test_no_trailing_newline),
	    cmocka_unit_test(test_crlf),
	    cmocka_unit_test(test_extra_fields_ignored),
	    cmocka_unit_test(test_empty_value_skipped),
	    cmocka_unit_test(test_duplicate_last_wins),
	    cmocka_unit_test(test_missing_field),
	    cmocka_unit_test(test_other_field_names),
	    cmocka_unit_test(test_format_errors),
	    cmocka_unit_test(test_empty_file),
	    cmocka_unit_test(test_nonexistent),
	    cmocka_unit_test(test_mode_refused),
	    cmocka_unit_test(test_mode_owner_only_ok),
	    cmocka_unit_test(test_directory_refused),
	    cmocka_unit_test(test_read_fd),
	    cmocka_unit_test(test_owner_refused),
	    cmocka_unit_test(test_long_file),
	    cmocka_unit_test(test_app_secret),
	    cmocka_unit_test(test_app_identity),
	    cmocka_unit_test(test_app_certificate),
	    cmocka_unit_test(test_app_certificate_errors),
	    cmocka_unit_test(test_app_pem_blank_line),
	    cmocka_unit_test(test_app_pem_malformed_begin),
	    cmocka_unit_test(test_base64url),
	    cmocka_unit_test(test_assertion),
	    cmocka_unit_test(test_clouds),
	    cmocka_unit_test(test_proxy_urls),
	};

	return cmocka_run_group_tests(tests, setup_keys, teardown_keys);
}
