/*
 * Endpoint overrides: https anywhere, plain http only to loopback.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util.h"

static int
host_is_loopback(const char *h, size_t n)
{
	if (n == 9 && strncasecmp(h, "localhost", 9) == 0)
		return 1;
	if (n == 5 && strncmp(h, "[::1]", 5) == 0)
		return 1;
	return n >= 4 && strncmp(h, "127.", 4) == 0 &&
	       strspn(h, "0123456789.") == n;
}

/*
 * Check an endpoint URL given on the command line. Returns 0 if usable,
 * else -1 with a message in err.
 */
int
url_check_endpoint(const char *url, char *err, size_t errlen)
{
	const char *host, *end;

	if (strncasecmp(url, "https://", 8) == 0)
		host = url + 8;
	else if (strncasecmp(url, "http://", 7) == 0)
		host = url + 7;
	else {
		snprintf(err, errlen,
			 "endpoint \"%s\" must start with "
			 "https:// (or http:// for a loopback host)",
			 url);
		return -1;
	}
	if (*host == '[') {
		end = strchr(host, ']') ? strchr(host, ']') + 1 : host;
		if (end != host && *end != '\0' && strchr(":/?#", *end) == NULL)
			end = host; /* "[::1]evil.com" */
	} else
		end = host + strcspn(host, ":/?#");
	if (end == host || strpbrk(url, " \t\r\n@") != NULL) {
		snprintf(err, errlen,
			 "endpoint \"%s\" is not a valid URL "
			 "(no host, or spaces or credentials in it)",
			 url);
		return -1;
	}
	if (host == url + 7 && !host_is_loopback(host, (size_t)(end - host))) {
		snprintf(err, errlen,
			 "endpoint \"%s\": plain http:// is only "
			 "accepted for loopback hosts; use https://",
			 url);
		return -1;
	}
	return 0;
}
