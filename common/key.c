/*
 * Checkpoint keys: the md5 hex digest Wazuh uses as primary key.
 */
#include <stdio.h>

#include <openssl/evp.h>

#include "log.h"
#include "util.h"

void
md5_hex(const void *p, size_t n, char out[MD5_HEXLEN])
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int len = 0, i;

	if (EVP_Digest(p, n, d, &len, EVP_md5(), NULL) != 1 || len != 16)
		fatalx("md5 digest failed");
	for (i = 0; i < len; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}
