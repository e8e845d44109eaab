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
 *   D < min:        (F lt MIN and F ge D) or (F ge AFTER)
 *   D > max:        F ge D
 *   otherwise:      F ge AFTER
 * where D is now - offset, or max without an offset, and AFTER is max -
 * overlap (Wazuh: F gt MAX, which loses events at MAX and late ones).
 * With a lag, the whole is bounded by "and F lt now - lag". MIN is the
 * stored string, D has Wazuh's 6 digits, AFTER and the end Azure's 7;
 * spaces are "+", as Wazuh sends them.
 * Returns 0 or -1 if out is full.
 */
int
graph_build_filter(const char *f, const struct window *w, struct buf *out)
{
	char d[DATE_STRLEN], after[DATE_STRLEN], end[DATE_STRLEN];
	int64_t desired;
	int rc, lag = w->lag_secs > 0;

	desired = window_desired(w);
	date_format(desired, d);
	date_format_iso(window_after(w), after);
	date_format_iso(window_end(w), end);
	rc = buf_puts(out, lag ? "(" : "");
	if (!w->reparse && desired < w->min)
		rc |= buf_printf(out, "(%s+lt+%s+and+%s+ge+%s)+or+(%s+ge+%s)",
				 f, w->min_str, f, d, f, after);
	else if (w->reparse || desired > w->max)
		rc |= buf_printf(out, "%s+ge+%s", f, d);
	else
		rc |= buf_printf(out, "%s+ge+%s", f, after);
	if (lag)
		rc |= buf_printf(out, ")+and+%s+lt+%s", f, end);
	return rc;
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
