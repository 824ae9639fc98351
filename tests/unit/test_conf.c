/* test_conf.c - unit tests for command line and config file parsing (common/conf.c) */

#include <arpa/inet.h>
#include <errno.h>
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

#include "conf.h"
#include "util.h"

/* The option table of a made-up program, one option of every type. */
static char *conf_switch;
static char *conf_name;
static long conf_mtu;
static int conf_insecure;
static int conf_tap;
static struct conf_list conf_fwd;
static int conf_offload;
static struct conf_mac conf_gwmac;
static struct conf_net4 conf_net;
static struct conf_ip4 conf_host;
static struct conf_net6 conf_net6;
static struct conf_ip6 conf_host6;

static const struct conf_opt conf_opts[] = {
	{ "switch", 's', CONF_STR, &conf_switch, "URL", "switch endpoint", 0, 0 },
	{ "name", 0, CONF_STR, &conf_name, "NAME", "port name", 0, 0 },
	{ "mtu", 'm', CONF_INT, &conf_mtu, "BYTES", "MTU", 68, 9000 },
	{ "insecure", 'k', CONF_BOOL, &conf_insecure, NULL, "no CURVE", 0, 0 },
	{ "tap", 0, CONF_BOOL, &conf_tap, NULL, "TAP backend", 0, 0 },
	{ "hostfwd", 'F', CONF_LIST, &conf_fwd, "RULE", "port forward", 0, 0 },
	{ "offload", 0, CONF_ONOFF, &conf_offload, "on|off", "offloads", 0, 0 },
	{ "mac", 0, CONF_MAC, &conf_gwmac, "MAC", "a MAC", 0, 0 },
	{ "net", 0, CONF_NET4, &conf_net, "ADDR[/MASK]", "a network", 8, 30 },
	{ "host", 0, CONF_IP4, &conf_host, "ADDR", "an address", 0, 0 },
	{ "ipv6-net", 0, CONF_NET6, &conf_net6, "ADDR/LEN", "a prefix", 0, 126 },
	{ "ipv6-host", 0, CONF_IP6, &conf_host6, "ADDR", "an address", 0, 0 },
	{ NULL, 0, CONF_STR, NULL, NULL, NULL, 0, 0 },
};

static struct conf_std conf_std_opts;
static char conf_file[64];		/* a temporary config file */
static char conf_err[8192];		/* what the last call wrote to stderr */
static char conf_out[8192];		/* ... and to stdout */

static void conf_reset(void)
{
	for (size_t i = 0; i < conf_fwd.n; i++)
		free(conf_fwd.v[i]);
	free(conf_fwd.v);
	conf_fwd.v = NULL;
	conf_fwd.n = 0;
	free(conf_switch);	/* conf_parse() strdup()s string options */
	free(conf_name);
	conf_switch = NULL;
	conf_name = NULL;
	conf_mtu = 1500;
	conf_insecure = 0;
	conf_tap = 0;
	conf_offload = -1;
	memset(&conf_gwmac, 0, sizeof(conf_gwmac));
	memset(&conf_net, 0, sizeof(conf_net));
	memset(&conf_host, 0, sizeof(conf_host));
	memset(&conf_net6, 0, sizeof(conf_net6));
	memset(&conf_host6, 0, sizeof(conf_host6));
	memset(&conf_std_opts, 0, sizeof(conf_std_opts));
}

static int conf_setup(void **state)
{
	int fd;

	(void)state;
	strcpy(conf_file, "/tmp/vmf-test-conf-XXXXXX");
	fd = mkstemp(conf_file);
	assert_true(fd >= 0);
	close(fd);
	conf_reset();
	return 0;
}

static int conf_teardown(void **state)
{
	(void)state;
	unlink(conf_file);
	conf_reset();
	return 0;
}

static void conf_write_file(const char *text)
{
	FILE *f = fopen(conf_file, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Read what @fd received since conf_capture() into @buf. */
static void conf_collect(FILE *tmp, char *buf, size_t size)
{
	size_t n;

	rewind(tmp);
	n = fread(buf, 1, size - 1, tmp);
	buf[n] = '\0';
	fclose(tmp);
}

/*
 * Run conf_parse() on a NULL-terminated argument list (argv[0] included),
 * with stdout and stderr captured into conf_out and conf_err.
 */
static int conf_run(int *first_arg, ...)
{
	static char *argv[32];
	static char store[32][256];
	FILE *out = tmpfile(), *errf = tmpfile();
	int argc = 0, saved_out, saved_err, rc;
	const char *a;
	va_list ap;

	assert_non_null(out);
	assert_non_null(errf);
	va_start(ap, first_arg);
	while ((a = va_arg(ap, const char *)) && argc < 31) {
		/* copies: conf_parse may keep pointers into argv (config, pidfile) */
		snprintf(store[argc], sizeof(store[argc]), "%s", a);
		argv[argc] = store[argc];
		argc++;
	}
	va_end(ap);
	argv[argc] = NULL;

	fflush(stdout);
	fflush(stderr);
	saved_out = dup(1);
	saved_err = dup(2);
	dup2(fileno(out), 1);
	dup2(fileno(errf), 2);
	rc = conf_parse("prog", "[options]", conf_opts, &conf_std_opts, argc, argv, first_arg);
	fflush(stdout);
	fflush(stderr);
	dup2(saved_out, 1);
	dup2(saved_err, 2);
	close(saved_out);
	close(saved_err);
	conf_collect(out, conf_out, sizeof(conf_out));
	conf_collect(errf, conf_err, sizeof(conf_err));
	return rc;
}

static void conf_assert_err(const char *needle)
{
	if (!strstr(conf_err, needle))
		fail_msg("stderr lacks '%s': %s", needle, conf_err);
}

static void test_conf_long_options(void **state)
{
	(void)state;
	assert_int_equal(conf_run(NULL, "prog", "--switch", "tcp://sw:5555", "--name=vm1/eth0",
				  "--mtu", "9000", "--insecure", "--hostfwd", "tcp::2222-:22",
				  "--hostfwd=udp::53-:53", "--foreground", "--debug", "--check",
				  "--pidfile", "/run/x.pid", NULL), 0);
	assert_string_equal(conf_switch, "tcp://sw:5555");
	assert_string_equal(conf_name, "vm1/eth0");
	assert_int_equal(conf_mtu, 9000);
	assert_true(conf_insecure);
	assert_false(conf_tap);
	assert_int_equal(conf_fwd.n, 2);
	assert_string_equal(conf_fwd.v[0], "tcp::2222-:22");
	assert_string_equal(conf_fwd.v[1], "udp::53-:53");
	assert_true(conf_std_opts.foreground);
	assert_true(conf_std_opts.debug);
	assert_true(conf_std_opts.check);
	assert_string_equal(conf_std_opts.pidfile, "/run/x.pid");
	assert_string_equal(conf_err, "");
}

static void test_conf_short_options(void **state)
{
	int first = -1;

	(void)state;
	assert_int_equal(conf_run(&first, "prog", "-s", "ipc:///tmp/sw", "-m1400", "-k", "-F", "a",
				  "-Fb", "-fd", "-n", "arg1", "arg2", NULL), 0);
	assert_string_equal(conf_switch, "ipc:///tmp/sw");
	assert_int_equal(conf_mtu, 1400);
	assert_true(conf_insecure);
	assert_int_equal(conf_fwd.n, 2);
	assert_string_equal(conf_fwd.v[0], "a");
	assert_string_equal(conf_fwd.v[1], "b");
	assert_true(conf_std_opts.foreground);
	assert_true(conf_std_opts.debug);
	assert_true(conf_std_opts.check);
	assert_null(conf_name);
	/* options stop at the first argument */
	assert_int_equal(first, 10);
	conf_reset();
	assert_int_equal(conf_run(&first, "prog", "x", "--mtu", "100", NULL), 0);
	assert_int_equal(first, 1);
	assert_int_equal(conf_mtu, 1500);
}

static void test_conf_file_then_cmdline(void **state)
{
	(void)state;
	conf_write_file("# a comment\n"
			"   # an indented comment\n"
			"\n"
			"switch = tcp://file:1\n"
			"mtu 1400\n"
			"insecure\n"
			"hostfwd = f1\n"
			"name = \"two words # not a comment\"\n"
			"hostfwd\tf2   # a trailing comment\n"
			"tap = off\n"
			"debug\n"
			"foreground = no\n"
			"pidfile = /run/file.pid\n");
	assert_int_equal(conf_run(NULL, "prog", "--mtu", "9000", "-c", conf_file, "--hostfwd", "c1",
				  "--switch", "tcp://cli:2", NULL), 0);
	assert_string_equal(conf_std_opts.config, conf_file);
	assert_string_equal(conf_switch, "tcp://cli:2");
	assert_int_equal(conf_mtu, 9000);
	assert_true(conf_insecure);
	assert_false(conf_tap);
	assert_string_equal(conf_name, "two words # not a comment");
	assert_int_equal(conf_fwd.n, 3);
	assert_string_equal(conf_fwd.v[0], "f1");
	assert_string_equal(conf_fwd.v[1], "f2");
	assert_string_equal(conf_fwd.v[2], "c1");
	assert_true(conf_std_opts.debug);
	assert_false(conf_std_opts.foreground);
	assert_string_equal(conf_std_opts.pidfile, "/run/file.pid");
	free(conf_std_opts.pidfile);	/* the file's value: strdup()ed */
	conf_std_opts.pidfile = NULL;

	/* --config=FILE, and the file's values stand where the command line is silent */
	conf_reset();
	assert_int_equal(conf_run(NULL, "prog", "--config=", NULL), -ENOENT);
	conf_reset();
	{
		char arg[128];

		snprintf(arg, sizeof(arg), "--config=%s", conf_file);
		assert_int_equal(conf_run(NULL, "prog", arg, NULL), 0);
	}
	assert_string_equal(conf_switch, "tcp://file:1");
	assert_int_equal(conf_mtu, 1400);
	assert_int_equal(conf_fwd.n, 2);
	free(conf_std_opts.pidfile);
	conf_std_opts.pidfile = NULL;
}

static void test_conf_file_booleans(void **state)
{
	static const char *const yes[] = { "yes", "YES", "true", "on", "1" };
	static const char *const no[] = { "no", "False", "off", "0" };
	char text[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		conf_reset();
		snprintf(text, sizeof(text), "insecure = %s\n", yes[i]);
		conf_write_file(text);
		assert_int_equal(conf_run(NULL, "prog", "-c", conf_file, NULL), 0);
		assert_true(conf_insecure);
	}
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		conf_reset();
		conf_insecure = 1;
		snprintf(text, sizeof(text), "insecure %s\n", no[i]);
		conf_write_file(text);
		assert_int_equal(conf_run(NULL, "prog", "-c", conf_file, NULL), 0);
		assert_false(conf_insecure);
	}
	/* the command line turns on what the file turned off */
	assert_int_equal(conf_run(NULL, "prog", "-c", conf_file, "-k", NULL), 0);
	assert_true(conf_insecure);
}

static void test_conf_usage_errors(void **state)
{
	int first;

	(void)state;
	assert_int_equal(conf_run(NULL, "prog", "--bogus", NULL), -EINVAL);
	conf_assert_err("--bogus");
	conf_assert_err("Try 'prog --help'");
	assert_int_equal(conf_run(NULL, "prog", "-z", NULL), -EINVAL);
	conf_assert_err("-z is unknown");
	assert_int_equal(conf_run(NULL, "prog", "--mtu", NULL), -EINVAL);
	conf_assert_err("needs an argument");
	assert_int_equal(conf_run(NULL, "prog", "--name", NULL), -EINVAL);
	conf_assert_err("'--name' is unknown or needs an argument");
	assert_int_equal(conf_run(NULL, "prog", "-m", NULL), -EINVAL);
	conf_assert_err("-m needs an argument");
	assert_int_equal(conf_run(NULL, "prog", "--insecure=yes", NULL), -EINVAL);
	/* integers: range and syntax */
	assert_int_equal(conf_run(NULL, "prog", "--mtu", "67", NULL), -EINVAL);
	conf_assert_err("'67' is not a valid mtu (an integer from 68 to 9000)");
	assert_int_equal(conf_run(NULL, "prog", "--mtu", "9001", NULL), -EINVAL);
	assert_int_equal(conf_run(NULL, "prog", "-m", "1500x", NULL), -EINVAL);
	assert_int_equal(conf_run(NULL, "prog", "-m", "", NULL), -EINVAL);
	assert_int_equal(conf_run(NULL, "prog", "-m", "99999999999999999999999", NULL), -EINVAL);
	assert_int_equal(conf_run(NULL, "prog", "-m", "0x400", NULL), 0);
	assert_int_equal(conf_mtu, 1024);
	assert_int_equal(conf_run(NULL, "prog", "-m", "68", NULL), 0);
	assert_int_equal(conf_run(NULL, "prog", "-m", "9000", NULL), 0);
	assert_int_equal(conf_mtu, 9000);
	/* arguments where the program takes none */
	assert_int_equal(conf_run(NULL, "prog", "-k", "extra", NULL), -EINVAL);
	conf_assert_err("unexpected argument 'extra'");
	assert_int_equal(conf_run(&first, "prog", "-k", "--", "-m", NULL), 0);
	assert_int_equal(first, 3);
}

/* Write @text as the config file; expect -EBADMSG and a message with @needle. */
static void conf_expect_file_error(const char *text, const char *needle)
{
	char where[128];

	conf_reset();
	conf_write_file(text);
	assert_int_equal(conf_run(NULL, "prog", "-c", conf_file, NULL), -EBADMSG);
	snprintf(where, sizeof(where), "%s:", conf_file);
	conf_assert_err(where);
	conf_assert_err(needle);
}

static void test_conf_file_errors(void **state)
{
	char where[128];

	(void)state;
	snprintf(where, sizeof(where), "%s:3: unknown option 'swtich'", conf_file);
	conf_expect_file_error("# typo below\nmtu 1500\nswtich = tcp://x:1\n", where);
	snprintf(where, sizeof(where), "%s:1:", conf_file);
	conf_expect_file_error("insecure = maybe\n", "'maybe' is not a boolean");
	conf_expect_file_error("insecure = maybe\n", where);
	conf_expect_file_error("debug = sometimes\n", "'sometimes' is not a boolean");
	conf_expect_file_error("\n\nname = \"vm1\n", ":3: unterminated quote");
	conf_expect_file_error("name = \"\n", "unterminated quote");
	conf_expect_file_error("mtu = 65\n", "not a valid mtu");
	conf_expect_file_error("mtu = big\n", "not a valid mtu");
	conf_expect_file_error("mtu\n", "needs a value");
	conf_expect_file_error("switch =\n", "needs a value");
	/* the command line is not read after a bad file */
	conf_reset();
	conf_write_file("mtu = big\n");
	assert_int_equal(conf_run(NULL, "prog", "-c", conf_file, "--bogus", NULL), -EBADMSG);

	/* a missing file */
	conf_reset();
	assert_int_equal(conf_run(NULL, "prog", "-c", "/nonexistent/vmf.conf", NULL), -ENOENT);
	conf_assert_err("/nonexistent/vmf.conf");
}

/* -cFILE, --conf FILE and a second -c are accepted by getopt: never ignore the file silently. */
static void test_conf_config_spellings(void **state)
{
	char attached[128];
	int rc;

	(void)state;
	conf_write_file("mtu 1400\n");
	snprintf(attached, sizeof(attached), "-c%s", conf_file);
	conf_reset();
	rc = conf_run(NULL, "prog", attached, NULL);
	assert_true(rc == 0 ? conf_mtu == 1400 : rc == -EINVAL);
	conf_reset();
	rc = conf_run(NULL, "prog", "--conf", conf_file, NULL);
	assert_true(rc == 0 ? conf_mtu == 1400 : rc == -EINVAL);
	conf_reset();
	rc = conf_run(NULL, "prog", "-c", "/nonexistent", "-c", conf_file, NULL);
	assert_true(rc == 0 ? conf_mtu == 1400 : rc == -EINVAL);
}

static void test_conf_help_version(void **state)
{
	(void)state;
	assert_int_equal(conf_run(NULL, "prog", "--help", NULL), CONF_DONE);
	assert_non_null(strstr(conf_out, "usage: prog [options]"));
	assert_non_null(strstr(conf_out, "-m, --mtu BYTES"));
	assert_non_null(strstr(conf_out, "--name NAME"));
	assert_non_null(strstr(conf_out, "-c, --config FILE"));
	assert_int_equal(conf_run(NULL, "prog", "-k", "-h", "--bogus", NULL), CONF_DONE);
	assert_int_equal(conf_run(NULL, "prog", "-V", NULL), CONF_DONE);
	assert_string_equal(conf_out, "prog " VMFABRIC_VERSION "\n");
	assert_int_equal(conf_run(NULL, "prog", "--version", NULL), CONF_DONE);
	assert_string_equal(conf_err, "");
}

/* conf_print() output, used as a config file, gives back the same configuration. */
static void conf_check_reparse(void)
{
	char *sw = conf_switch, *name = conf_name, *pid = conf_std_opts.pidfile;
	long mtu = conf_mtu;
	int insecure = conf_insecure, tap = conf_tap, debug = conf_std_opts.debug;
	int fg = conf_std_opts.foreground;
	struct conf_list fwd = conf_fwd;
	FILE *f = fopen(conf_file, "w");

	assert_non_null(f);
	conf_print(f, conf_opts, &conf_std_opts);
	fclose(f);

	memset(&conf_fwd, 0, sizeof(conf_fwd));
	conf_switch = conf_name = NULL;	/* kept in sw and name, freed below */
	conf_reset();
	conf_mtu = 0;
	conf_insecure = !insecure;
	conf_tap = !tap;
	if (conf_run(NULL, "prog", "-c", conf_file, NULL))
		fail_msg("conf_print output does not parse: %s", conf_err);
	if (sw)
		assert_string_equal(conf_switch, sw);
	else
		assert_null(conf_switch);
	if (name)
		assert_string_equal(conf_name, name);
	else
		assert_null(conf_name);
	assert_int_equal(conf_mtu, mtu);
	assert_int_equal(conf_insecure, insecure);
	assert_int_equal(conf_tap, tap);
	assert_int_equal(conf_std_opts.debug, debug);
	assert_int_equal(conf_std_opts.foreground, fg);
	if (pid)
		assert_string_equal(conf_std_opts.pidfile, pid);
	else
		assert_null(conf_std_opts.pidfile);
	assert_int_equal(conf_fwd.n, fwd.n);
	for (size_t i = 0; i < fwd.n; i++) {
		assert_string_equal(conf_fwd.v[i], fwd.v[i]);
		free(fwd.v[i]);
	}
	free(fwd.v);
	free(sw);
	free(name);
}

static void test_conf_print_reparse(void **state)
{
	(void)state;
	/* every value set */
	assert_int_equal(conf_run(NULL, "prog", "-s", "tcp://[::1]:5555", "--name", "vm 1/eth0",
				  "-m", "9000", "-k", "--tap", "-F", "tcp::2222-:22", "-F", "x y",
				  "-d", "-f", "--pidfile", "/run/p.pid", NULL), 0);
	conf_check_reparse();
	/* defaults: unset strings, an empty list, booleans off */
	conf_reset();
	assert_int_equal(conf_run(NULL, "prog", NULL), 0);
	conf_check_reparse();
	/* values a config file line would otherwise read differently (an empty value has no spelling) */
	conf_reset();
	assert_int_equal(conf_run(NULL, "prog", "--name", "a #b", "-s", "\"quoted\"",
				  "-F", " lead", "-F", "trail\t", NULL), 0);
	conf_check_reparse();
}

/* on/off and MAC options: parsed, refused with a clear message, printed back */
static void test_conf_onoff_mac(void **state)
{
	static const unsigned char want[6] = { 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef };
	char *text;
	size_t len;
	FILE *f;

	(void)state;
	assert_int_equal(conf_run(NULL, "prog", "--offload", "off", "--mac", "52:54:00:AB:cd:ef", NULL), 0);
	assert_int_equal(conf_offload, 0);
	assert_true(conf_gwmac.set);
	assert_memory_equal(conf_gwmac.mac, want, 6);
	conf_reset();
	assert_int_equal(conf_run(NULL, "prog", "--offload", "YES", NULL), 0);
	assert_int_equal(conf_offload, 1);
	assert_false(conf_gwmac.set);
	conf_reset();
	assert_int_equal(conf_run(NULL, "prog", "--offload", "maybe", NULL), -EINVAL);
	assert_non_null(strstr(conf_err, "'maybe' is not on or off for offload"));
	conf_reset();
	for (const char *const *bad = (const char *const[]){ "52:54:00:ab:cd", "52:54:00:ab:cd:ef:",
			"52-54-00-ab-cd-ef", "5:54:00:ab:cd:ef", "52:54:00:ab:cd:eg", "", NULL }; *bad; bad++) {
		assert_int_equal(conf_run(NULL, "prog", "--mac", *bad, NULL), -EINVAL);
		assert_non_null(strstr(conf_err, "is not a MAC address for mac"));
		conf_reset();
	}
	/* printed back as a file conf_parse() reads again; unset ones as comments */
	assert_int_equal(conf_run(NULL, "prog", NULL), 0);
	f = open_memstream(&text, &len);
	conf_print(f, conf_opts, &conf_std_opts);
	fclose(f);
	assert_non_null(strstr(text, "# offload (unset)\n"));
	assert_non_null(strstr(text, "# mac (unset)\n"));
	free(text);
	assert_int_equal(conf_run(NULL, "prog", "--offload", "on", "--mac", "02:00:00:00:00:01", NULL), 0);
	f = open_memstream(&text, &len);
	conf_print(f, conf_opts, &conf_std_opts);
	fclose(f);
	assert_non_null(strstr(text, "offload = on\n"));
	assert_non_null(strstr(text, "mac = 02:00:00:00:00:01\n"));
	conf_write_file(text);
	free(text);
	conf_reset();
	assert_int_equal(conf_run(NULL, "prog", "-c", conf_file, NULL), 0);
	assert_int_equal(conf_offload, 1);
	assert_true(conf_gwmac.set);
	assert_int_equal(conf_gwmac.mac[5], 1);
}

/* address and network options: parsed, bounded, refused with the reason, printed back */
static void test_conf_addresses(void **state)
{
	static const struct {
		const char *arg, *err;
	} bad[] = {
		{ "--host=10.0.2", "'10.0.2' is not an IPv4 address for host" },
		{ "--ipv6-host=fec0::2::3", "is not an IPv6 address for ipv6-host" },
		{ "--net=10.0.2.1/24", "host bits set" },
		{ "--net=10.0.0.0/31", "prefix length out of range (8..30)" },
		{ "--net=10.0.0.0/255.0.255.0", "not a contiguous netmask" },
		{ "--net=10.0.0.0/", "prefix length out of range" },
		{ "--net=ten", "not an IPv4 network" },
		{ "--ipv6-net=fd00::/127", "prefix length out of range (0..126)" },
	};
	char *text;
	size_t len;
	FILE *f;

	(void)state;
	assert_int_equal(conf_run(NULL, "prog", "--net", "10.1.0.0/255.255.0.0", "--host", "10.1.0.1",
				  "--ipv6-net", "fd00:1::/48", "--ipv6-host", "fd00:1::5", NULL), 0);
	assert_int_equal(ntohl(conf_net.net.s_addr), 0x0a010000);
	assert_int_equal(ntohl(conf_net.mask.s_addr), 0xffff0000);
	assert_int_equal(ntohl(conf_host.a.s_addr), 0x0a010001);
	assert_int_equal(conf_net6.len, 48);
	assert_int_equal(conf_host6.a.s6_addr[15], 5);
	f = open_memstream(&text, &len);
	conf_print(f, conf_opts, &conf_std_opts);
	fclose(f);
	assert_non_null(strstr(text, "net = 10.1.0.0/16\n"));
	assert_non_null(strstr(text, "host = 10.1.0.1\n"));
	assert_non_null(strstr(text, "ipv6-net = fd00:1::/48\n"));
	assert_non_null(strstr(text, "ipv6-host = fd00:1::5\n"));
	free(text);
	/* a bare address gets its classful mask, as QEMU's net= */
	conf_reset();
	assert_int_equal(conf_run(NULL, "prog", "--net", "172.16.0.0", "--ipv6-net", "fd00::", NULL), 0);
	assert_int_equal(ntohl(conf_net.mask.s_addr), 0xffff0000);
	assert_int_equal(conf_net6.len, 64);
	conf_reset();
	assert_int_equal(conf_run(NULL, "prog", NULL), 0);
	assert_false(conf_net.set || conf_host.set || conf_net6.set || conf_host6.set);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		conf_reset();
		assert_int_equal(conf_run(NULL, "prog", bad[i].arg, NULL), -EINVAL);
		conf_assert_err(bad[i].err);
	}
}

/* conf_mac_list(): unicast MACs, comma-separated, bounded */
static void test_conf_mac_list(void **state)
{
	unsigned char macs[2][6];
	unsigned int n = 0;

	(void)state;
	assert_int_equal(conf_mac_list("02:00:00:00:00:01,02:00:00:00:00:02", macs, 2, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(macs[1][5], 2);
	n = 0;
	assert_int_equal(conf_mac_list("02:00:00:00:00:01,02:00:00:00:00:02,02:00:00:00:00:03",
				       macs, 2, &n), -E2BIG);
	for (const char *const *bad = (const char *const[]){ "", "01:00:5e:00:00:01",
			"02:00:00:00:00:01,", "02:00:00:00:00:01;02:00:00:00:00:02", "02:00:00:00:00",
			",02:00:00:00:00:01", NULL }; *bad; bad++) {
		n = 0;
		assert_int_equal(conf_mac_list(*bad, macs, 2, &n), -EINVAL);
	}
}

#define T(f) cmocka_unit_test_setup_teardown(f, conf_setup, conf_teardown)
UNIT_MAIN("conf", NULL, NULL,
	    T(test_conf_long_options), T(test_conf_short_options),
	    T(test_conf_file_then_cmdline), T(test_conf_file_booleans),
	    T(test_conf_usage_errors), T(test_conf_file_errors), T(test_conf_config_spellings),
	    T(test_conf_help_version), T(test_conf_print_reparse), T(test_conf_onoff_mac),
	    T(test_conf_mac_list), T(test_conf_addresses))
