/* log: logfmt lines on stderr or in a file, one write() per line. */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static atomic_int current_level = LOG_LEVEL_INFO;
/* The log file's fd, -1 for stderr.  Set by log_open before other threads
 * log; log_reopen swaps the file under the same number (dup3), so a writer
 * never sees a closed fd. */
static atomic_int log_fd = -1;
static char *log_path; /* log_open's copy; NULL on stderr */
static atomic_bool prefixed;

static const char *const level_names[] = {"error", "warn", "info", "debug"};
/* syslog(3) priorities: LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG. */
static const char level_prio[] = {'3', '4', '6', '7'};

void log_set_level(enum log_level level)
{
	atomic_store(&current_level, (int)level);
}

int log_parse_level(const char *name)
{
	for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++)
		if (strcmp(name, level_names[i]) == 0)
			return (int)i;
	return -1;
}

/* systemd sets JOURNAL_STREAM to "DEV:INO" of the stream it connects to
 * stderr; a child whose stderr was redirected elsewhere inherits the
 * variable, hence the comparison. */
static bool stderr_is_journal(void)
{
	const char *v = getenv("JOURNAL_STREAM");
	struct stat st;
	if (!v || !*v || fstat(STDERR_FILENO, &st) < 0)
		return false;
	char *end;
	errno = 0;
	unsigned long long dev = strtoull(v, &end, 10);
	if (errno || end == v || *end != ':')
		return false;
	const char *p = end + 1;
	unsigned long long ino = strtoull(p, &end, 10);
	if (errno || end == p || *end)
		return false;
	return (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

static int open_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY,
	              0640);
	return fd < 0 ? -errno : fd;
}

int log_open(const char *path)
{
	if (!path) {
		log_close();
		atomic_store(&prefixed, stderr_is_journal());
		return 0;
	}
	char *copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	int fd = open_file(path);
	if (fd < 0) {
		free(copy);
		return fd;
	}
	log_close();
	log_path = copy;
	atomic_store(&prefixed, false);
	atomic_store(&log_fd, fd);
	return 0;
}

int log_reopen(void)
{
	int cur = atomic_load(&log_fd);
	if (cur < 0 || !log_path)
		return 0;
	int fd = open_file(log_path);
	if (fd < 0)
		return fd;
	int rc = 0;
	if (dup3(fd, cur, O_CLOEXEC) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

bool log_prefixed(void)
{
	return atomic_load(&prefixed);
}

void log_close(void)
{
	int fd = atomic_exchange(&log_fd, -1);
	if (fd >= 0)
		close(fd);
	free(log_path);
	log_path = NULL;
	atomic_store(&prefixed, false);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	if ((int)level > atomic_load(&current_level))
		return;

	char line[1024];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = 0;
	if (atomic_load(&prefixed)) {
		line[0] = '<';
		line[1] = level_prio[level];
		line[2] = '>';
		n = 3;
	}
	n += snprintf(line + n, sizeof line - (size_t)n,
	              "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s ",
	              tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	              tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
	              level_names[level]);
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	va_end(ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
	if (len > sizeof line - 2)
		len = sizeof line - 2; /* truncated: still end the line */
	line[len++] = '\n';
	int fd = atomic_load(&log_fd);
	/* A failed log write has nowhere to be reported. */
	ssize_t w = write(fd < 0 ? STDERR_FILENO : fd, line, len);
	(void)w;
}

char *log_quote(char *dst, size_t cap, const char *src)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)src; *p; p++) {
		char esc[4];
		size_t k = 0;
		if (*p == '"' || *p == '\\') {
			esc[k++] = '\\';
			esc[k++] = (char)*p;
		} else if (*p == '\n' || *p == '\t') {
			esc[k++] = '\\';
			esc[k++] = *p == '\n' ? 'n' : 't';
		} else if (*p < 0x20 || *p == 0x7f) {
			esc[k++] = '\\';
			esc[k++] = 'x';
			esc[k++] = hex[*p >> 4];
			esc[k++] = hex[*p & 15];
		} else {
			esc[k++] = (char)*p;
		}
		if (n + k >= cap)
			break;
		memcpy(dst + n, esc, k);
		n += k;
	}
	dst[n] = '\0';
	return dst;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

bool log_limit_allow(struct log_limit *l, unsigned per_second,
                     unsigned long *suppressed)
{
	uint64_t t = now_ms();
	pthread_mutex_lock(&l->mu);
	if (l->window_ms == 0 || t - l->window_ms >= 1000) {
		l->window_ms = t;
		l->used = 0;
	}
	bool ok = l->used < per_second;
	if (ok) {
		l->used++;
		*suppressed = l->suppressed;
		l->suppressed = 0;
	} else {
		l->suppressed++;
	}
	pthread_mutex_unlock(&l->mu);
	return ok;
}

unsigned long log_limit_take_suppressed(struct log_limit *l)
{
	pthread_mutex_lock(&l->mu);
	unsigned long n = l->suppressed;
	l->suppressed = 0;
	pthread_mutex_unlock(&l->mu);
	return n;
}
