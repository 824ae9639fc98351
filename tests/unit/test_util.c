/* test_util.c - unit tests for the file helpers of common/util.c: links planted by another user */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <cmocka.h>

#include "unit.h"

#include "util.h"

static char dir[64];
static char path[128], victim[128];

#define VICTIM_TEXT "precious\n"

static int setup(void **state)
{
	int fd;

	(void)state;
	strcpy(dir, "/tmp/vmf-test-util-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/file", dir);
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	fd = open(victim, O_WRONLY | O_CREAT | O_EXCL, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, VICTIM_TEXT, strlen(VICTIM_TEXT)), (int)strlen(VICTIM_TEXT));
	close(fd);
	umask(022);
	return 0;
}

static int teardown(void **state)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[512];

	(void)state;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(dir);
	return 0;
}

static void read_text(const char *p, char *buf, size_t size)
{
	int fd = open(p, O_RDONLY | O_NOFOLLOW);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, size - 1);
	assert_true(n >= 0);
	buf[n] = '\0';
	close(fd);
}

/* the victim a planted link pointed to is exactly as it was */
static void assert_victim_intact(void)
{
	struct stat st;
	char buf[64];

	read_text(victim, buf, sizeof(buf));
	assert_string_equal(buf, VICTIM_TEXT);
	assert_int_equal(stat(victim, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
}

/* entries in the test directory: a helper that leaves a temp file behind shows here */
static int entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* a link at the target's name is replaced, never followed */
static void test_replace_link_at_target(void **state)
{
	struct stat st;
	char buf[64];

	(void)state;
	assert_int_equal(symlink(victim, path), 0);
	assert_int_equal(file_replace(path, "new\n", 4, 0644, 0), 0);
	assert_victim_intact();
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0644);
	read_text(path, buf, sizeof(buf));
	assert_string_equal(buf, "new\n");
	assert_int_equal(entries(), 2);
}

/* the old fixed temp name (PATH.tmp) holds a link: nothing follows it */
static void test_replace_link_at_tmp(void **state)
{
	char tmp[160], buf[64];

	(void)state;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_int_equal(symlink(victim, tmp), 0);
	assert_int_equal(file_replace(path, "stats\n", 6, 0644, 0), 0);
	assert_victim_intact();
	read_text(path, buf, sizeof(buf));
	assert_string_equal(buf, "stats\n");
	assert_int_equal(entries(), 3);		/* victim, the link, the file */
}

/* a pidfile path holding a link to another file: the pidfile gets the pid, the other file nothing */
static void test_pidfile_link(void **state)
{
	char buf[64], want[32];

	(void)state;
	assert_int_equal(symlink(victim, path), 0);
	assert_int_equal(write_pidfile(path), 0);
	assert_victim_intact();
	read_text(path, buf, sizeof(buf));
	snprintf(want, sizeof(want), "%d\n", (int)getpid());
	assert_string_equal(buf, want);
}

/* the mode asked for, less the umask; an existing file's mode does not carry over */
static void test_replace_mode(void **state)
{
	struct stat st;

	(void)state;
	assert_int_equal(file_replace(path, "a", 1, 0644, 0), 0);
	assert_int_equal(file_replace(path, "secret", 6, 0600, 0), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	umask(077);
	assert_int_equal(file_replace(path, "b", 1, 0644, 0), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	umask(022);
}

/* FILE_NOREPLACE: an existing file (or link) stays, -EEXIST, no temp file left */
static void test_noreplace(void **state)
{
	char buf[64];

	(void)state;
	assert_int_equal(file_replace(path, "first\n", 6, 0600, FILE_NOREPLACE), 0);
	assert_int_equal(file_replace(path, "second\n", 7, 0600, FILE_NOREPLACE), -EEXIST);
	read_text(path, buf, sizeof(buf));
	assert_string_equal(buf, "first\n");
	unlink(path);
	assert_int_equal(symlink(victim, path), 0);
	assert_int_equal(file_replace(path, "x", 1, 0600, FILE_NOREPLACE), -EEXIST);
	assert_victim_intact();
	assert_int_equal(entries(), 2);
}

/* a directory that does not exist: an error, nothing created */
static void test_replace_error(void **state)
{
	char p[160];

	(void)state;
	snprintf(p, sizeof(p), "%s/nodir/file", dir);
	assert_int_equal(file_replace(p, "x", 1, 0644, 0), -ENOENT);
	assert_int_equal(entries(), 1);
}

/* an ipc:// socket is created with the mode asked for, whatever the umask */
static void test_ep_bind_mode(void **state)
{
	void *ctx = zmq_ctx_new(), *s;
	char ep[160];
	struct stat st;
	mode_t old = umask(0);

	(void)state;
	s = zmq_socket(ctx, ZMQ_ROUTER);
	snprintf(ep, sizeof(ep), "ipc://%s", path);
	assert_int_equal(ep_bind(s, ep, 0600), 0);
	assert_int_equal(umask(old), 0);	/* the umask is back as it was */
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	zmq_close(s);
	s = zmq_socket(ctx, ZMQ_ROUTER);
	assert_int_equal(ep_bind(s, "tcp://256.0.0.1:1", 0600) < 0, 1);
	zmq_close(s);
	zmq_ctx_term(ctx);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
UNIT_MAIN("util", NULL, NULL,
	    T(test_replace_link_at_target), T(test_replace_link_at_tmp), T(test_pidfile_link),
	    T(test_replace_mode), T(test_noreplace), T(test_replace_error), T(test_ep_bind_mode))
