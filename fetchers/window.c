/*
 * Request windows from a checkpoint, as Wazuh computes them.
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
