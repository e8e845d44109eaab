/*
 * Logging in the shape Wazuh's wm_azure expects on the script's stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

static const char *log_prog = "azure";
static int log_verbosity; /* 0 warning, 1 info, 2 debug */
/* The last ERROR or CRITICAL message; a live line on the terminal. */
static char log_error_text[512];
static int log_live;

void
log_init(const char *prog, int debug_level)
{
	log_prog = prog;
	log_verbosity = debug_level;
}

int
log_level(void)
{
	return log_verbosity;
}

/* Cut s, n bytes long, before a UTF-8 character its end splits. */
static void
utf8_cut(char *s, size_t n)
{
	size_t i = n, need;
	unsigned char c;

	while (i > 0 && n - i < 3 && ((unsigned char)s[i - 1] & 0xc0) == 0x80)
		i--;
	if (i == 0 || (c = (unsigned char)s[i - 1]) < 0xc0)
		return;
	need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
	if (n - (i - 1) < need)
		s[i - 1] = '\0';
}

/*
 * Write one line. The whole line goes out in a single write so lines of
 * concurrent roles sharing stderr never interleave.
 */
static void __attribute__((format(printf, 2, 0)))
log_vemit(const char *level, const char *fmt, va_list ap, int errnum)
{
	char line[2048], stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	int n, m, start;

	localtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y/%m/%d %H:%M:%S", &tm);
	n = snprintf(line, sizeof(line), "%s azure: %s: ", stamp, level);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	start = n;
	m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (m < 0)
		return;
	n += m;
	if ((size_t)n >= sizeof(line) - 64)
		n = sizeof(line) - 64;
	if (errnum)
		n += snprintf(line + n, sizeof(line) - n, ": %s",
			      strerror(errnum));
	if ((level[0] == 'E' || level[0] == 'C') && /* ERROR, CRITICAL */
	    snprintf(log_error_text, sizeof(log_error_text), "%.*s", n - start,
		     line + start) >= (int)sizeof(log_error_text))
		utf8_cut(log_error_text, sizeof(log_error_text) - 1);
	line[n++] = '\n';
	if (log_live)
		fputs("\r\033[K", stderr);
	fwrite(line, 1, n, stderr);
	fflush(stderr);
}

#define LOG_FN(name, level, min, with_errno)                                   \
	void name(const char *fmt, ...)                                        \
	{                                                                      \
		int saved = errno;                                             \
		va_list ap;                                                    \
		if (log_verbosity < (min))                                     \
			return;                                                \
		va_start(ap, fmt);                                             \
		log_vemit(level, fmt, ap, (with_errno) ? saved : 0);           \
		va_end(ap);                                                    \
		errno = saved;                                                 \
	}

LOG_FN(log_debug, "DEBUG", 2, 0)
LOG_FN(log_info_always, "INFO", 0, 0) /* whatever -d: a run's summary */
LOG_FN(log_info, "INFO", 1, 0)
LOG_FN(log_warnx, "WARNING", 0, 0)
LOG_FN(log_warn, "WARNING", 0, 1)
LOG_FN(log_errorx, "ERROR", 0, 0)
LOG_FN(log_error, "ERROR", 0, 1)

/* The text of the last ERROR or CRITICAL line, "" if none. */
const char *
log_last_error(void)
{
	return log_error_text;
}

/* A live progress line is on the terminal: clear it before a message. */
void
log_set_live(int on)
{
	log_live = on;
}

void
fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vemit("CRITICAL", fmt, ap, saved);
	va_end(ap);
	exit(EXIT_RUNTIME);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit("CRITICAL", fmt, ap, 0);
	va_end(ap);
	exit(EXIT_RUNTIME);
}

/* A bad option of this program: say so in the usual shape, exit 100. */
void
usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", log_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (try --help)\n");
	exit(EXIT_USAGE);
}
