/* floor_responder: the stack's floor for `make bench`.
 *
 * The smallest libfcgi responder that answers like fcgi_app's /coro: every
 * request gets 200, text/html; charset=utf-8 and the /coro body.  N threads
 * each run the classic FCGX_Accept_r loop on one listening socket (libfcgi's
 * examples/threaded.c, without its accept mutex: Linux accept() is thread
 * safe).  With nginx's `fastcgi_keep_conn on`, libfcgi keeps a thread blocked
 * on each kept connection, so that mode needs a thread per connection.
 *
 *   floor_responder --socket PATH [--threads N] [--backlog N]
 */
#include <fcgiapp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static const char body[] =
    "<html><body><strong><i>This is a coroutine-like function!</i>"
    "</strong></body></html>";

static char head[256];
static int head_len;
static int listen_fd = -1;

static void *serve(void *arg)
{
	(void)arg;
	FCGX_Request req;
	if (FCGX_InitRequest(&req, listen_fd, 0) != 0)
		return NULL;
	for (;;) {
		int rc = FCGX_Accept_r(&req);
		if (rc < 0) {
			/* EMFILE and friends: back off instead of spinning. */
			usleep(1000);
			continue;
		}
		FCGX_PutStr(head, head_len, req.out);
		FCGX_PutStr(body, (int)sizeof body - 1, req.out);
	}
	return NULL;
}

static int open_socket(const char *path, int backlog)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sa.sun_path) {
		fprintf(stderr, "floor_responder: socket path too long\n");
		return -1;
	}
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	unlink(path);
	mode_t old = umask(0);
	int rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
	umask(old);
	if (rc != 0 || listen(fd, backlog) != 0) {
		perror("floor_responder: bind/listen");
		close(fd);
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	int threads = 4, backlog = 4096;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--socket") && i + 1 < argc)
			path = argv[++i];
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			threads = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--backlog") && i + 1 < argc)
			backlog = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: floor_responder --socket PATH "
			                "[--threads N] [--backlog N]\n");
			return 2;
		}
	}
	if (!path || threads < 1) {
		fprintf(stderr, "floor_responder: --socket PATH is required\n");
		return 2;
	}
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (FCGX_Init() != 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, SIG_DFL); /* FCGX_Init took it; let SIGTERM end us */
	listen_fd = open_socket(path, backlog);
	if (listen_fd < 0)
		return 1;
	head_len = snprintf(head, sizeof head,
	                    "Status: 200 OK\r\n"
	                    "Content-Type: text/html; charset=utf-8\r\n"
	                    "Content-Length: %zu\r\n\r\n",
	                    sizeof body - 1);

	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	for (int i = 1; i < threads; i++) {
		pthread_t t;
		if (pthread_create(&t, &attr, serve, NULL) != 0) {
			fprintf(stderr, "floor_responder: only %d threads\n", i);
			break;
		}
		pthread_detach(t);
	}
	pthread_attr_destroy(&attr);
	serve(NULL);
	return 0;
}
