/*
 * Least privilege for the roles (OpenBSD ntpd's drop, OpenSSH's seccomp
 * filter, rpki-client's unveil mapped to Landlock): a role started as root
 * does its privileged setup, then priv_drop() to its own user, then
 * sandbox_enter() with the system calls and file access it needs, and
 * nothing else.
 */
#ifndef AZURE_SANDBOX_H
#define AZURE_SANDBOX_H

#include <stddef.h>

enum sandbox_role {
	SANDBOX_FETCHER,     /* network; reads CA and name-service files */
	SANDBOX_STATEKEEPER, /* the database folder; no network */
	SANDBOX_FORWARDER    /* Wazuh's Unix socket; no file at all */
};

/* Landlock access to a path (and what is beneath it). */
enum sandbox_access {
	SANDBOX_READ,	   /* read files */
	SANDBOX_READ_WRITE /* read, write, create and remove files */
};

struct sandbox_path {
	const char *path; /* a missing path is skipped */
	enum sandbox_access access;
};

void priv_drop(const char *user);
void sandbox_enter(enum sandbox_role, const struct sandbox_path *, size_t,
		   int disabled);

#endif
