/* test_log.c - unit tests for common/log.c: peer text cannot forge log lines */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit.h"

#include "log.h"

static void test_escape(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(log_escape(out, sizeof(out), "plain text: 1-2_3/4@x"), 21);
	assert_string_equal(out, "plain text: 1-2_3/4@x");
	log_escape(out, sizeof(out), "a\nb\rc\td\\e");
	assert_string_equal(out, "a\\nb\\rc\\td\\\\e");
	log_escape(out, sizeof(out), "\x1b[31mred\x7f\xc2\x9b");
	assert_string_equal(out, "\\x1b[31mred\\x7f\\xc2\\x9b");
}

/* cut to the buffer, never in the middle of an escape */
static void test_escape_cut(void **state)
{
	char out[6];

	(void)state;
	assert_int_equal(log_escape(out, sizeof(out), "abc\ndef"), 5);
	assert_string_equal(out, "abc\\n");
	assert_int_equal(log_escape(out, sizeof(out), "abcd\x01"), 4);
	assert_string_equal(out, "abcd");
	assert_int_equal(log_escape(out, 1, "abc"), 0);
	assert_string_equal(out, "");
}

/* what logmsg() writes to stderr while the test runs */
static char *capture(void (*fn)(void))
{
	static char buf[16384];
	FILE *f = tmpfile();
	int saved = dup(2);
	size_t n;

	assert_non_null(f);
	fflush(stderr);
	dup2(fileno(f), 2);
	fn();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void bye_with_newlines(void)
{
	/* a Bye reason as a peer may send it (up to 1023 bytes) */
	char reason[1024];

	memset(reason, '\n', sizeof(reason) - 1);
	memcpy(reason, "bye\nvmfabric-switch: port x joined", 34);
	reason[sizeof(reason) - 1] = '\0';
	info("port p left network n: %s", reason);
	warn("%s", "\x1b]0;owned\x07");
}

/* one message, one line, whatever the peer put into it */
static void test_one_line(void **state)
{
	char *out;

	(void)state;
	log_init("test");
	out = capture(bye_with_newlines);
	assert_non_null(strstr(out, "port p left network n: bye\\nvmfabric-switch: port x joined\\n\\n"));
	assert_non_null(strstr(out, "warning: \\x1b]0;owned\\x07\n"));
	assert_non_null(strchr(out, '\n'));
	/* two messages: exactly two newlines, both at line ends */
	assert_ptr_equal(strchr(strchr(out, '\n') + 1, '\n'), out + strlen(out) - 1);
	assert_null(strchr(out, '\x1b'));
}

static void flood(void)
{
	struct ratelimit rl = { 0, 60000, 3, 0, 0 };

	for (int i = 0; i < 100; i++)
		log_rl(&rl, LOG_INFO, "port p%d joined", i);
}

static void test_ratelimit(void **state)
{
	char *out, *p;
	int lines = 0;

	(void)state;
	out = capture(flood);
	for (p = out; (p = strchr(p, '\n')); p++)
		lines++;
	assert_int_equal(lines, 3);
}

UNIT_MAIN("log", NULL, NULL,
	    U(test_escape), U(test_escape_cut), U(test_one_line), U(test_ratelimit))
