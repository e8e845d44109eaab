/*
 * National clouds: the endpoints and token audiences of each (see
 * ../shared/reference/azure-apis.md), and the checks of --proxy and
 * --identity-url.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <bsd/string.h>

#include "fetch.h"
#include "util.h"

static const struct cloud clouds[] = {
    {"public", "https://login.microsoftonline.com",
     "https://graph.microsoft.com", "https://api.loganalytics.io",
     "blob.core.windows.net"},
    {"usgov", "https://login.microsoftonline.us", "https://graph.microsoft.us",
     "https://api.loganalytics.us", "blob.core.usgovcloudapi.net"},
    {"usgov-dod", "https://login.microsoftonline.us",
     "https://dod-graph.microsoft.us", "https://api.loganalytics.us",
     "blob.core.usgovcloudapi.net"},
    {"china", "https://login.chinacloudapi.cn",
     "https://microsoftgraph.chinacloudapi.cn",
     "https://api.loganalytics.azure.cn", "blob.core.chinacloudapi.cn"},
};

const char cloud_names[] = "public, usgov, usgov-dod, china";

/* The cloud called name, or NULL. */
const struct cloud *
cloud_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(clouds) / sizeof(clouds[0]); i++)
		if (strcmp(clouds[i].name, name) == 0)
			return &clouds[i];
	return NULL;
}

/*
 * The token audience of a service's API in a cloud: "https://HOST/.default"
 * for the identity platform (scope), "https://HOST/" for the instance
 * metadata service (resource). Log Analytics' audience is its host in
 * every cloud (api.loganalytics.io in the public one, even when queries
 * go to api.loganalytics.azure.com).
 */
void
cloud_audience(const struct cloud *c, int la, int resource, char *out,
	       size_t outlen)
{
	snprintf(out, outlen, "%s/%s", la ? c->la : c->graph,
		 resource ? "" : ".default");
}

/* The scheme://[user[:password]@] prefix of a URL, if any. */
static size_t
userinfo_end(const char *url, const char **host)
{
	const char *p = strstr(url, "://"), *at, *end;

	p = p ? p + 3 : url;
	*host = p;
	end = p + strcspn(p, "/?#");
	at = memchr(p, '@', (size_t)(end - p));
	if (at == NULL)
		return 0;
	/* the last "@" before the path ends the user information */
	while (memchr(at + 1, '@', (size_t)(end - at - 1)) != NULL)
		at = memchr(at + 1, '@', (size_t)(end - at - 1));
	*host = at + 1;
	return (size_t)(at + 1 - url);
}

/*
 * A proxy URL fit for logs: its password (anything after "user:" before
 * the last "@": a password may hold an unencoded "/") becomes "***".
 */
void
proxy_redact(const char *url, char *out, size_t outlen)
{
	const char *p = strstr(url, "://"), *at, *colon;

	p = p ? p + 3 : url;
	if ((at = strrchr(p, '@')) == NULL) {
		strlcpy(out, url, outlen);
		return;
	}
	colon = memchr(p, ':', (size_t)(at - p));
	snprintf(out, outlen, "%.*s%s@%s", (int)((colon ? colon : at) - url),
		 url, colon ? ":***" : "", at + 1);
}

/*
 * --proxy: http://, https://, socks4://, socks4a://, socks5:// or
 * socks5h://, a host, no spaces. Returns 0, or -1 with a message in err
 * (the URL in it redacted).
 */
int
proxy_check(const char *url, char *err, size_t errlen)
{
	static const char *const schemes[] = {"http://",   "https://",
					      "socks4://", "socks4a://",
					      "socks5://", "socks5h://"};
	char shown[512];
	const char *host;
	size_t i;

	proxy_redact(url, shown, sizeof(shown));
	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (strncasecmp(url, schemes[i], strlen(schemes[i])) == 0)
			break;
	if (i == sizeof(schemes) / sizeof(schemes[0])) {
		snprintf(err, errlen,
			 "--proxy \"%s\" must start with http://, https://, "
			 "socks4://, socks4a://, socks5:// or socks5h://",
			 shown);
		return -1;
	}
	userinfo_end(url, &host);
	if (strchr(":/?#", *host) != NULL || strpbrk(url, " \t\r\n") != NULL) {
		snprintf(err, errlen,
			 "--proxy \"%s\" is not a valid URL (no host, or "
			 "spaces in it)",
			 shown);
		return -1;
	}
	return 0;
}

/*
 * --identity-url: an endpoint as url_check_endpoint() accepts them, or
 * plain http:// to the instance metadata address (169.254.169.254), which
 * is how Azure serves it.
 */
int
identity_url_check(const char *url, char *err, size_t errlen)
{
	static const char imds[] = "http://169.254.169.254";
	size_t n = sizeof(imds) - 1;

	if (strncmp(url, imds, n) == 0 &&
	    (url[n] == '\0' || url[n] == '/' || url[n] == ':') &&
	    strpbrk(url, " \t\r\n@") == NULL)
		return 0;
	return url_check_endpoint(url, err, errlen);
}
