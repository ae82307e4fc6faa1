/* vigild's own log. One line per event on stderr:
 *   2026-12-02T04:10:33.123+01:00 vigild: info: web: started pid 4536
 * (local time, RFC 3339 with milliseconds, then the level), with
 * colours on a terminal unless NO_COLOR is set. When stderr is the
 * journal (JOURNAL_STREAM) the prefix is the <N> syslog-priority form
 * the journal understands, and the journal adds the time. A message of
 * several lines is that many lines, each with the prefix: under the
 * journal each is an entry at the message's level. */
#ifndef VIGIL_LOG_H
#define VIGIL_LOG_H

#include <stdbool.h>
#include <syslog.h>

void log_init(void);
void log_set_level(int level);
int log_get_level(void);
/* "debug", "info", "notice", "warning", "err" -> LOG_*; -1 if unknown. */
int log_level_from_name(const char *name);
/* stderr is the journal's stream */
bool log_to_journal(void);

void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Each line of text as a log line at level. */
void log_lines(int level, const char *text);
/* Each line of text on stderr as it is (a tool's report, `--check`),
 * but with the <N> prefix of level when stderr is the journal. */
void log_report(int level, const char *text);

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)

#endif
