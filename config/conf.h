/*
 * azure-config: the <wodle name="azure-logs"> blocks of an ossec.conf as
 * shell lines for the launcher (see config/conf.c for the rules).
 */
#ifndef AZURE_CONF_H
#define AZURE_CONF_H

#include <stddef.h>

#include "buf.h"

#define CONF_INPUT_MAX	  (16u << 20) /* bytes of ossec.conf */
#define CONF_OUTPUT_MAX	  (64u << 20) /* bytes of shell lines */
#define CONF_REQUESTS_MAX 10000	      /* requests and containers */
#define CONF_SHORT_MAX	  4096	      /* paths, domains, tags, ... */

struct conf_result {
	int wodles;   /* <wodle name="azure-logs"> blocks seen */
	int requests; /* azure_request lines written */
	int skipped;  /* requests, containers and blocks skipped */
};

/*
 * Parses the ossec.conf DATA (LEN bytes; FILE names it in messages) and
 * appends to OUT (which the caller owns) the azure_global line, if any,
 * then one azure_request line per valid request. Skipped blocks are
 * logged. Returns 0 when the file parsed, -1 when it is not usable (not
 * well-formed, no azure-logs wodle, over a limit; logged, OUT unchanged).
 */
int conf_parse(const char *file, const char *data, size_t len, struct buf *out,
	       struct conf_result *res);

#endif
