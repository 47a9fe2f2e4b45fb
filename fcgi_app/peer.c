/* peer: FCGI_WEB_SERVER_ADDRS on an accepted connection (see peer.h). */
#include "peer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"

bool peer_allowed(int fd)
{
	const char *list = getenv("FCGI_WEB_SERVER_ADDRS");
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	if (!list || !*list || getpeername(fd, (struct sockaddr *)&ss, &len) < 0 ||
	    ss.ss_family == AF_UNIX)
		return true;
	struct in_addr v4;
	if (ss.ss_family == AF_INET) {
		v4 = ((struct sockaddr_in *)&ss)->sin_addr;
	} else if (ss.ss_family == AF_INET6 &&
	           IN6_IS_ADDR_V4MAPPED(&((struct sockaddr_in6 *)&ss)->sin6_addr)) {
		memcpy(&v4, &((struct sockaddr_in6 *)&ss)->sin6_addr.s6_addr[12], 4);
	} else {
		log_warn("msg=\"non-IPv4 peer refused: FCGI_WEB_SERVER_ADDRS lists IPv4 only\"");
		return false;
	}
	char peer[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &v4, peer, sizeof peer);
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ",");
		char item[INET_ADDRSTRLEN];
		struct in_addr allowed;
		if (n < sizeof item) {
			memcpy(item, p, n);
			item[n] = '\0';
			if (inet_pton(AF_INET, item, &allowed) == 1 &&
			    allowed.s_addr == v4.s_addr)
				return true;
		}
		p += n + (p[n] == ',');
	}
	log_warn("msg=\"peer not in FCGI_WEB_SERVER_ADDRS\" peer=%s", peer);
	return false;
}
