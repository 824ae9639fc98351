/* addr.c - backend addresses: unix:PATH, tcp:HOST:PORT, udp:HOST:PORT */

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "addr.h"
#include "util.h"

int addr_parse(const char *s, int socktype, struct vmf_addr *a, const char **why)
{
	struct addrinfo hints = { 0 }, *res = NULL;
	char host[256], *port;
	const char *rest;

	memset(a, 0, sizeof(*a));
	a->socktype = socktype;
	snprintf(a->text, sizeof(a->text), "%s", s);
	if (!strncmp(s, "unix:", 5)) {
		struct sockaddr_un *un = (struct sockaddr_un *)&a->ss;

		rest = s + 5;
		if (!*rest || strlen(rest) >= sizeof(un->sun_path)) {
			*why = "unix socket path empty or longer than 107 bytes";
			return -EINVAL;
		}
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, rest, strlen(rest) + 1);
		a->family = AF_UNIX;
		a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(rest) + 1);
		return 0;
	}
	if (!strncmp(s, "tcp:", 4) && socktype == SOCK_STREAM) {
		rest = s + 4;
	} else if (!strncmp(s, "udp:", 4) && socktype == SOCK_DGRAM) {
		rest = s + 4;
	} else {
		*why = socktype == SOCK_STREAM ? "expected unix:PATH or tcp:HOST:PORT"
					       : "expected unix:PATH or udp:HOST:PORT";
		return -EINVAL;
	}
	if (*rest == '[') {
		const char *e = strchr(rest, ']');

		if (!e || e[1] != ':' || (size_t)(e - rest - 1) >= sizeof(host)) {
			*why = "expected [IPv6]:PORT";
			return -EINVAL;
		}
		memcpy(host, rest + 1, (size_t)(e - rest - 1));
		host[e - rest - 1] = '\0';
		port = (char *)(uintptr_t)(e + 2);
	} else {
		if (str_copy(host, rest, sizeof(host))) {
			*why = "host name too long";
			return -EINVAL;
		}
		port = strrchr(host, ':');
		if (!port) {
			*why = "missing :PORT";
			return -EINVAL;
		}
		*port++ = '\0';
	}
	/* getaddrinfo() takes any number and truncates it to 16 bits */
	if (!*port || strspn(port, "0123456789") != strlen(port) || strlen(port) > 5 ||
	    strtol(port, NULL, 10) > 65535) {
		*why = "PORT must be a number from 0 to 65535";
		return -EINVAL;
	}
	hints.ai_socktype = socktype;
	hints.ai_flags = AI_NUMERICSERV;
	if (getaddrinfo(*host ? host : NULL, port, &hints, &res) || !res) {
		*why = "cannot resolve host";
		return -EINVAL;
	}
	memcpy(&a->ss, res->ai_addr, res->ai_addrlen);
	a->len = res->ai_addrlen;
	a->family = res->ai_family;
	freeaddrinfo(res);
	return 0;
}
