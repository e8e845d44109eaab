/*
 * Fuzz target: authentication files (common/auth.c), read through a
 * private 0600 file as the fetchers read them: as a storage file (two
 * fields) and as a Graph / Log Analytics file (a secret, PEM blocks of a
 * certificate credential, or a managed identity).
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "auth.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct auth_pair a;
	char err[512];
	int fd = memfd_create("auth", 0);

	if (fd == -1)
		return 0;
	if (fchmod(fd, 0600) == 0 && write_all(fd, data, size) == 0 &&
	    lseek(fd, 0, SEEK_SET) == 0 &&
	    auth_read_fd(fd, NULL, "account_name", "account_key|sas_token", &a,
			 err, sizeof(err)) == 0)
		auth_wipe(&a);
	if (lseek(fd, 0, SEEK_SET) == 0 &&
	    auth_read_app_fd(fd, NULL, &a, err, sizeof(err)) == 0)
		auth_wipe(&a);
	close(fd);
	return 0;
}
