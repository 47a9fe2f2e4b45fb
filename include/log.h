/*
 * log: logfmt lines on stderr ("ts=... level=info msg=... key=value").
 *
 * Each line goes out in one write(), so lines from several threads never
 * interleave.  Safe from any thread.
 */
#ifndef FCGI_APP_LOG_H
#define FCGI_APP_LOG_H

enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

void log_set_level(enum log_level level);
/* Parses "error", "warn", "info" or "debug"; -1 when unknown. */
int log_parse_level(const char *name);
/* `fmt` is the rest of the line after level=, e.g. "msg=listening path=%s". */
void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
