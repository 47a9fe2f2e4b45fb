/*
 * log: logfmt lines ("ts=... level=info msg=... key=value") on stderr or
 * in a log file.
 *
 * Each line goes out in one write(), so lines from several threads never
 * interleave.  Safe from any thread, except log_open and log_close (at
 * start and exit, with no other thread logging).
 *
 * When stderr is the systemd journal (JOURNAL_STREAM names stderr's
 * device and inode, systemd.exec(5)), each line starts with its syslog
 * priority, "<3>" error, "<4>" warn, "<6>" info, "<7>" debug: journald
 * takes it as the entry's priority and strips it, so `journalctl -p
 * warning` works.
 */
#ifndef FCGI_APP_LOG_H
#define FCGI_APP_LOG_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

void log_set_level(enum log_level level);
/* Parses "error", "warn", "info" or "debug"; -1 when unknown. */
int log_parse_level(const char *name);

/* Where lines go from now on.  `path` NULL: stderr, with priority prefixes
 * when stderr is the journal.  Else the file at `path` (copied), opened for
 * appending and created 0640 if missing.  0, or -errno when the file cannot
 * be opened (lines then stay where they went). */
int log_open(const char *path);
/* Opens the log file's path again, for logrotate (SIGHUP/SIGUSR1): lines
 * written after it returns go to the file now at that path.  A line being
 * written meanwhile goes whole to the old file or the new one.  0 (also on
 * stderr, where there is nothing to reopen), or -errno: the old file stays
 * in use. */
int log_reopen(void);
/* Whether lines carry syslog priority prefixes. */
bool log_prefixed(void);
/* Back to stderr; closes the log file. */
void log_close(void);

/* `fmt` is the rest of the line after level=, e.g. "msg=listening path=%s". */
void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Writes `src` into `dst` (size `cap` > 0, always terminated) as the
 * inside of a logfmt "quoted value": \ and " escaped, control characters
 * as \n, \t or \xHH; cut short rather than overflow.  Returns dst. */
char *log_quote(char *dst, size_t cap, const char *src);

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

/* A rate limit for lines that may come in floods (one per 503 while the
 * app sheds load): at most `per_second` lines in any one-second window,
 * the rest counted.  Static storage: LOG_LIMIT_INIT.  Any thread. */
struct log_limit {
	pthread_mutex_t mu;
	uint64_t window_ms; /* start of the current window (monotonic) */
	unsigned long used;       /* lines let through in it */
	unsigned long suppressed; /* lines refused since the last one let through */
};
#define LOG_LIMIT_INIT {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0}

/* True when a line may go out now (per_second 0: never).  Then
 * *suppressed is the count refused since the previous line let through
 * (and is reset), for that line to report. */
bool log_limit_allow(struct log_limit *l, unsigned per_second,
                     unsigned long *suppressed);
/* The count refused and not yet reported; resets it.  For a last line at
 * exit. */
unsigned long log_limit_take_suppressed(struct log_limit *l);

#endif
