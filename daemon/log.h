/* vigild's own log. One line per event, to stderr with a level prefix;
 * when stderr is the journal (JOURNAL_STREAM) the prefix is the <N>
 * syslog-priority form the journal understands. */
#ifndef VIGIL_LOG_H
#define VIGIL_LOG_H

#include <syslog.h>

void log_init(void);
void log_set_level(int level);
int log_get_level(void);
/* "debug", "info", "notice", "warning", "err" -> LOG_*; -1 if unknown. */
int log_level_from_name(const char *name);

void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)

#endif
