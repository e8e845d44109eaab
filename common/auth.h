/*
 * Wazuh authentication files: lines "field = value" (spaces ignored, split
 * at the first "=", empty values skipped). The file must not be readable by
 * group or others.
 */
#ifndef AZURE_AUTH_H
#define AZURE_AUTH_H

#include <stddef.h>

struct auth_pair {
	char *first;	/* e.g. application_id */
	char *second;	/* e.g. application_key: a secret */
	int second_alt; /* which alternative of "a|b" named the second */
};

int auth_read_fd(int fd, const char *path, const char *f1, const char *f2,
		 struct auth_pair *, char *err, size_t errlen);
int auth_read_file(const char *path, const char *f1, const char *f2,
		   struct auth_pair *, char *err, size_t errlen);
void auth_wipe(struct auth_pair *);
void secret_free(char *);

#endif
