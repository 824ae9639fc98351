/* addr.h - backend addresses: unix:PATH, tcp:HOST:PORT, udp:HOST:PORT */
#ifndef VMF_ADDR_H
#define VMF_ADDR_H

#include <sys/socket.h>

struct vmf_addr {
	int family;		/* AF_UNIX, AF_INET, AF_INET6 */
	int socktype;		/* SOCK_STREAM or SOCK_DGRAM */
	struct sockaddr_storage ss;
	socklen_t len;
	char text[256];		/* as given, for messages */
};

/**
 * addr_parse() - parse "unix:PATH", "tcp:HOST:PORT" or "udp:HOST:PORT"
 * @s:		text; HOST is numeric IPv4, [IPv6] or a name resolved now
 * @socktype:	SOCK_STREAM for unix/tcp, SOCK_DGRAM for unix/udp
 * @a:		result
 *
 * Return: 0, or -EINVAL with a reason in @why
 */
int addr_parse(const char *s, int socktype, struct vmf_addr *a, const char **why);

#endif /* VMF_ADDR_H */
