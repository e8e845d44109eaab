/*
 * Checkpoint keys: the md5 hex digest Wazuh uses as primary key; and the
 * raw digest that identifies a delivered event.
 */
#include <openssl/evp.h>

#include "log.h"
#include "util.h"

/*
 * One digest context and one fetched MD5 implementation for the process
 * (each role is single-threaded): a statekeeper hashes every event's id, a
 * fetcher every payload. EVP_md5() would make OpenSSL 3 look the
 * implementation up again (a lock and a free) at every EVP_DigestInit_ex().
 */
void
md5_raw(const void *p, size_t n, uint8_t out[MD5_LEN])
{
	static EVP_MD_CTX *ctx;
	static const EVP_MD *md;
	unsigned int len = 0;

	if (md == NULL) {
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
		if ((md = EVP_MD_fetch(NULL, "MD5", NULL)) == NULL)
			fatalx("md5: no MD5 implementation");
#else
		md = EVP_md5();
#endif
	}
	if (ctx == NULL && (ctx = EVP_MD_CTX_new()) == NULL)
		fatalx("md5: out of memory");
	if (EVP_DigestInit_ex(ctx, md, NULL) != 1 ||
	    EVP_DigestUpdate(ctx, p, n) != 1 ||
	    EVP_DigestFinal_ex(ctx, out, &len) != 1 || len != MD5_LEN)
		fatalx("md5 digest failed");
}

void
md5_hex(const void *p, size_t n, char out[MD5_HEXLEN])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t d[MD5_LEN];
	size_t i;

	md5_raw(p, n, d);
	for (i = 0; i < MD5_LEN; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[2 * MD5_LEN] = '\0';
}
