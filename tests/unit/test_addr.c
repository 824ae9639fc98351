/* test_addr.c - unit tests for backend address parsing (common/addr.c) */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cmocka.h>

#include "unit.h"

#include "addr.h"

static void addr_expect_bad(const char *s, int socktype)
{
	struct vmf_addr a;
	const char *why = NULL;

	if (addr_parse(s, socktype, &a, &why) != -EINVAL)
		fail_msg("'%s' accepted", s);
	assert_non_null(why);
	assert_true(strlen(why) > 0);
}

static void test_addr_unix(void **state)
{
	const struct sockaddr_un *un;
	struct vmf_addr a;
	const char *why = NULL;
	char path[200], s[210];

	(void)state;
	assert_int_equal(addr_parse("unix:/run/vm1.sock", SOCK_STREAM, &a, &why), 0);
	un = (const struct sockaddr_un *)&a.ss;
	assert_int_equal(a.family, AF_UNIX);
	assert_int_equal(un->sun_family, AF_UNIX);
	assert_int_equal(a.socktype, SOCK_STREAM);
	assert_string_equal(un->sun_path, "/run/vm1.sock");
	assert_int_equal(a.len, offsetof(struct sockaddr_un, sun_path) + strlen("/run/vm1.sock") + 1);
	assert_string_equal(a.text, "unix:/run/vm1.sock");

	assert_int_equal(addr_parse("unix:rel/path", SOCK_DGRAM, &a, &why), 0);
	assert_int_equal(a.socktype, SOCK_DGRAM);
	assert_string_equal(((const struct sockaddr_un *)&a.ss)->sun_path, "rel/path");

	/* sun_path holds 107 bytes and the NUL */
	memset(path, 'p', sizeof(path));
	path[107] = '\0';
	snprintf(s, sizeof(s), "unix:%s", path);
	assert_int_equal(addr_parse(s, SOCK_STREAM, &a, &why), 0);
	assert_string_equal(((const struct sockaddr_un *)&a.ss)->sun_path, path);
	path[107] = 'p';
	path[108] = '\0';
	snprintf(s, sizeof(s), "unix:%s", path);
	addr_expect_bad(s, SOCK_STREAM);
	addr_expect_bad("unix:", SOCK_STREAM);
}

static void test_addr_inet(void **state)
{
	const struct sockaddr_in *in4;
	const struct sockaddr_in6 *in6;
	struct vmf_addr a;
	const char *why = NULL;
	char text[INET6_ADDRSTRLEN];

	(void)state;
	assert_int_equal(addr_parse("tcp:127.0.0.1:80", SOCK_STREAM, &a, &why), 0);
	in4 = (const struct sockaddr_in *)&a.ss;
	assert_int_equal(a.family, AF_INET);
	assert_int_equal(in4->sin_family, AF_INET);
	assert_int_equal(a.len, sizeof(struct sockaddr_in));
	assert_int_equal(ntohs(in4->sin_port), 80);
	assert_string_equal(inet_ntop(AF_INET, &in4->sin_addr, text, sizeof(text)), "127.0.0.1");

	assert_int_equal(addr_parse("tcp:[::1]:8080", SOCK_STREAM, &a, &why), 0);
	in6 = (const struct sockaddr_in6 *)&a.ss;
	assert_int_equal(a.family, AF_INET6);
	assert_int_equal(a.len, sizeof(struct sockaddr_in6));
	assert_int_equal(ntohs(in6->sin6_port), 8080);
	assert_string_equal(inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text)), "::1");

	assert_int_equal(addr_parse("udp:10.0.2.15:5555", SOCK_DGRAM, &a, &why), 0);
	in4 = (const struct sockaddr_in *)&a.ss;
	assert_int_equal(a.family, AF_INET);
	assert_int_equal(a.socktype, SOCK_DGRAM);
	assert_int_equal(ntohs(in4->sin_port), 5555);
	assert_string_equal(inet_ntop(AF_INET, &in4->sin_addr, text, sizeof(text)), "10.0.2.15");

	assert_int_equal(addr_parse("udp:[fe80::1]:0", SOCK_DGRAM, &a, &why), 0);
	assert_int_equal(a.family, AF_INET6);
	assert_int_equal(addr_parse("tcp:127.0.0.1:65535", SOCK_STREAM, &a, &why), 0);
	assert_int_equal(ntohs(((const struct sockaddr_in *)&a.ss)->sin_port), 65535);
}

static void test_addr_bad(void **state)
{
	char s[400];

	(void)state;
	/* the scheme must fit the socket type */
	addr_expect_bad("tcp:127.0.0.1:80", SOCK_DGRAM);
	addr_expect_bad("udp:127.0.0.1:80", SOCK_STREAM);
	addr_expect_bad("127.0.0.1:80", SOCK_STREAM);
	addr_expect_bad("http://127.0.0.1:80", SOCK_STREAM);
	addr_expect_bad("", SOCK_STREAM);
	/* missing port */
	addr_expect_bad("tcp:127.0.0.1", SOCK_STREAM);
	addr_expect_bad("tcp:127.0.0.1:", SOCK_STREAM);
	addr_expect_bad("tcp:[::1]", SOCK_STREAM);
	addr_expect_bad("tcp:[::1]:", SOCK_STREAM);
	addr_expect_bad("tcp:[::1", SOCK_STREAM);
	addr_expect_bad("udp:[::1]80", SOCK_DGRAM);
	/* non-numeric or out of range port */
	addr_expect_bad("tcp:127.0.0.1:http", SOCK_STREAM);
	addr_expect_bad("tcp:127.0.0.1:80x", SOCK_STREAM);
	addr_expect_bad("tcp:127.0.0.1:-1", SOCK_STREAM);
	addr_expect_bad("tcp:127.0.0.1: 80", SOCK_STREAM);
	addr_expect_bad("tcp:127.0.0.1:65536", SOCK_STREAM);
	addr_expect_bad("udp:[::1]:99999", SOCK_DGRAM);
	/* host too long */
	memset(s, 'h', sizeof(s));
	memcpy(s, "tcp:", 4);
	strcpy(s + 300, ":80");
	addr_expect_bad(s, SOCK_STREAM);
}

UNIT_MAIN("addr", NULL, NULL,
	    U(test_addr_unix), U(test_addr_inet), U(test_addr_bad))
