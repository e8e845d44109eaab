/*
 * Checkpoint keys: the md5 hex digest Wazuh uses as primary key; and the
 * raw digest that identifies a delivered event.
 */
#include <openssl/evp.h>

#include "log.h"
#include "util.h"

void
md5_raw(const void *p, size_t n, uint8_t out[MD5_LEN])
{
	unsigned int len = 0;

	if (EVP_Digest(p, n, out, &len, EVP_md5(), NULL) != 1 || len != MD5_LEN)
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
