/* conf.h - command line and config file, one option table per program */
#ifndef VMF_CONF_H
#define VMF_CONF_H

#include <netinet/in.h>
#include <stdio.h>

enum conf_type {
	CONF_STR,	/* char ** */
	CONF_INT,	/* long *, bounded by min..max */
	CONF_BOOL,	/* int *; takes no argument on the command line */
	CONF_LIST,	/* struct conf_list *, repeatable */
	CONF_ONOFF,	/* int *: 1 on, 0 off (also yes/no, true/false, 1/0); the program's
			 * default stays when the option is not given (e.g. -1: "unset") */
	CONF_MAC,	/* struct conf_mac *: aa:bb:cc:dd:ee:ff */
	CONF_IP4,	/* struct conf_ip4 *: an IPv4 address */
	CONF_IP6,	/* struct conf_ip6 *: an IPv6 address */
	CONF_NET4,	/* struct conf_net4 *: ADDR/LEN, ADDR/MASK or a bare ADDR (its classful
			 * mask, as QEMU's net=); LEN within min..max; no host bits */
	CONF_NET6,	/* struct conf_net6 *: ADDR[/LEN] (64 if not given); LEN within min..max */
};

/* A CONF_MAC option's value; @set: it was given */
struct conf_mac {
	unsigned char mac[6];
	int set;
};

/* CONF_IP4, CONF_IP6, CONF_NET4, CONF_NET6 values; @set: given (else the program's default stands) */
struct conf_ip4 {
	struct in_addr a;
	int set;
};

struct conf_ip6 {
	struct in6_addr a;
	int set;
};

struct conf_net4 {
	struct in_addr net, mask;
	int set;
};

struct conf_net6 {
	struct in6_addr a;
	unsigned char len;
	int set;
};

struct conf_list {
	char **v;
	size_t n;
};

/**
 * struct conf_opt - one option: a long option and the same key in -c FILE
 * @name:	long option / config key
 * @short_opt:	short option letter, or 0
 * @type:	value type
 * @var:	where the value goes
 * @arg:	argument name shown in --help
 * @help:	one line of help
 * @min, @max:	bounds for CONF_INT; prefix length bounds for CONF_NET4 and CONF_NET6
 *
 * The row that ends a table has a NULL @name; its @help, if any, is printed
 * after the options in --help (what the options alone do not explain).
 */
struct conf_opt {
	const char *name;
	int short_opt;
	enum conf_type type;
	void *var;
	const char *arg;
	const char *help;
	long min, max;
};

/*
 * Options every program has: rows conf_parse() adds to each table (-c FILE,
 * -n, -f, -d, --pidfile FILE, -h, -V), parsed, checked, printed and
 * documented like the program's own (config, check, help and version are
 * command-line only: not config file keys, not printed by -n). A program row of the same name
 * replaces the standard one (its own help text; its @var must be the
 * matching field here, or NULL for help and version).
 */
struct conf_std {
	char *config;
	int check;
	int foreground;
	int debug;
	char *pidfile;
};

/* conf_parse() results besides 0 */
#define CONF_DONE	1	/* --help or --version printed: exit 0 */

/**
 * conf_parse() - parse -c FILE (if given) then the command line
 * @prog:	program name for messages
 * @synopsis:	usage line(s) after the program name
 * @opts:	option table, terminated by an entry with a NULL name
 * @std:	standard options
 * @argc, @argv: command line
 * @first_arg:	set to the index of the first non-option argument (may be NULL
 *		if the program takes none, then extra arguments are an error)
 *
 * Return: 0; CONF_DONE; -EINVAL for a bad command line; another -errno for
 * the config file (-EBADMSG: a bad line; or why it could not be read). The
 * message is printed (naming the option, or the file and line); conf_exit()
 * turns the result into the program's exit status.
 */
int conf_parse(const char *prog, const char *synopsis, const struct conf_opt *opts,
	       struct conf_std *std, int argc, char **argv, int *first_arg);

/** conf_load_file() - apply config file @path; Return: 0, -EBADMSG (a bad line) or -errno (unreadable) */
int conf_load_file(const char *prog, const char *path, const struct conf_opt *opts,
		   struct conf_std *std);

/** conf_onoff() - "on"/"off" (also yes/no, true/false, 1/0, any case) into *@out. Return: 0 or -EINVAL */
int conf_onoff(const char *v, int *out);

/** conf_mac_parse() - "aa:bb:cc:dd:ee:ff" (hex digits, either case) into @mac. Return: 0 or -EINVAL */
int conf_mac_parse(const char *v, unsigned char mac[6]);

/**
 * conf_mac_list() - "MAC[,MAC...]", unicast MACs only, appended to @macs
 * (which holds *@n of at most @max). Return: 0; -E2BIG over @max; -EINVAL
 * for bad syntax, a multicast MAC, an empty list or a trailing comma
 */
int conf_mac_list(const char *v, unsigned char (*macs)[6], unsigned int max, unsigned int *n);

/**
 * conf_net4_parse() - ADDR/LEN, ADDR/MASK or ADDR (classful mask) into @n,
 * LEN within @min..@max. Return: 0, or -EINVAL with *@why set
 */
int conf_net4_parse(const char *v, struct conf_net4 *n, long min, long max, const char **why);

/** conf_net6_parse() - ADDR[/LEN] (64 if absent) into @n, LEN within @min..@max; as conf_net4_parse() */
int conf_net6_parse(const char *v, struct conf_net6 *n, long min, long max, const char **why);

/** conf_print() - the effective configuration, in config file syntax */
void conf_print(FILE *f, const struct conf_opt *opts, const struct conf_std *std);

/** conf_exit() - exit status for a conf_parse() result: 0 (CONF_DONE), 64 (-EINVAL), 78 (the file's) */
int conf_exit(int rc);

/**
 * conf_std_detach() - what -f and --pidfile ask for: without -f, fork to the
 * background and log to syslog (daemonize() writes the pidfile); with -f and
 * --pidfile, write it. Dies on failure.
 */
void conf_std_detach(const struct conf_std *std);

/** conf_usage() - the --help text: synopsis, every row (the standard ones too), the epilogue */
void conf_usage(FILE *f, const char *prog, const char *synopsis, const struct conf_opt *opts,
		struct conf_std *std);

#endif /* VMF_CONF_H */
