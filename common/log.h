/*
 * Wazuh-style logging on stderr:
 *   YYYY/MM/DD HH:MM:SS azure: LEVEL: message
 * wm_azure re-logs only lines of exactly this shape into ossec.log, so every
 * role logs this way. Levels follow Wazuh's -d: 0 warnings, 1 info, 2 debug.
 */
#ifndef AZURE_LOG_H
#define AZURE_LOG_H

#include <stdarg.h>

#define EXIT_RUNTIME 1	 /* Wazuh's status for run-time failures */
#define EXIT_USAGE   100 /* s6-style: permanent usage error */

void log_init(const char *prog, int debug_level);
int log_level(void);
void log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_info_always(const char *, ...) __attribute__((format(printf, 1, 2)));
const char *log_last_error(void);
void log_set_live(int);
void log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_errorx(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void usage_error(const char *, ...)
    __attribute__((format(printf, 1, 2), noreturn));

#endif
