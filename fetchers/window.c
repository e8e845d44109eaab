/*
 * Request windows from a checkpoint: Wazuh's, except that the part after
 * the checkpoint reaches back by the overlap (and includes events at the
 * checkpoint's own time), and the window ends a lag before now.
 */
#include "date.h"
#include "fetch.h"

/* now - offset, or the checkpoint's max without an offset. */
int64_t
window_desired(const struct window *w)
{
	return w->offset_secs >= 0
		   ? w->now - w->offset_secs * DATE_TICKS_PER_SEC
		   : w->max;
}

/* The oldest time the part of the window after the checkpoint holds
 * (inclusive): max - overlap. Events there already delivered are
 * recognised by the statekeeper. */
int64_t
window_after(const struct window *w)
{
	return w->max - w->overlap_secs * DATE_TICKS_PER_SEC;
}

/* The end of the window (exclusive): now - lag. */
int64_t
window_end(const struct window *w)
{
	return w->now - w->lag_secs * DATE_TICKS_PER_SEC;
}
