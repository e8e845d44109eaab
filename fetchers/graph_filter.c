/*
 * Graph request windows and URLs, with the semantics of Wazuh's
 * build_graph_url().
 */
#include <stdlib.h>
#include <string.h>

#include "date.h"
#include "fetch.h"

/* createdDateTime for sign-ins, activityDateTime for everything else. */
const char *
graph_filter_field(const char *query)
{
	return strcasestr(query, "signins") ? "createdDateTime"
					    : "activityDateTime";
}

/*
 * Build the $filter value for a window:
 *   reparse:        F ge D
 *   D < min:        (F lt MIN and F ge D) or (F gt MAX)
 *   D > max:        F ge D
 *   otherwise:      F gt MAX
 * where D is now - offset, or max without an offset. Spaces are "+", as
 * Wazuh sends them. Returns 0 or -1 if out is full.
 */
int
graph_build_filter(const char *f, const struct window *w, struct buf *out)
{
	char d[DATE_STRLEN];
	int64_t desired;

	desired = window_desired(w);
	date_format(desired, d);
	if (!w->reparse && desired < w->min)
		return buf_printf(out, "(%s+lt+%s+and+%s+ge+%s)+or+(%s+gt+%s)",
				  f, w->min_str, f, d, f, w->max_str);
	if (w->reparse || desired > w->max)
		return buf_printf(out, "%s+ge+%s", f, d);
	return buf_printf(out, "%s+gt+%s", f, w->max_str);
}

/*
 * {base}/v1.0/{query}[?]&$filter={filter}, as Wazuh builds it; characters
 * that may not appear in a URL are percent-encoded, the rest is verbatim.
 */
int
graph_build_url(const char *base, const char *query, const char *filter,
		struct buf *out)
{
	char *q = url_encode_path(query);
	int rc;

	rc = buf_printf(out, "%s/v1.0/%s%s&$filter=%s", base, q,
			strchr(query, '?') ? "" : "?", filter);
	free(q);
	return rc;
}
