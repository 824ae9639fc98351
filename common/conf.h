/* conf.h - command line and config file, one option table per program */
#ifndef VMF_CONF_H
#define VMF_CONF_H

#include <stdio.h>

enum conf_type {
	CONF_STR,	/* char ** */
	CONF_INT,	/* long *, bounded by min..max */
	CONF_BOOL,	/* int *; takes no argument on the command line */
	CONF_LIST,	/* struct conf_list *, repeatable */
	CONF_ONOFF,	/* int *: 1 on, 0 off (also yes/no, true/false, 1/0); the program's
			 * default stays when the option is not given (e.g. -1: "unset") */
	CONF_MAC,	/* struct conf_mac *: aa:bb:cc:dd:ee:ff */
};

/* A CONF_MAC option's value; @set: it was given */
struct conf_mac {
	unsigned char mac[6];
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
 * @min, @max:	bounds for CONF_INT
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

/* Options every program has. */
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
 * Return: 0, CONF_DONE, -EXIT_USAGE (bad command line, message printed) or
 * -EXIT_CONFIG (bad config file, message printed naming file and line)
 */
int conf_parse(const char *prog, const char *synopsis, const struct conf_opt *opts,
	       struct conf_std *std, int argc, char **argv, int *first_arg);

/** conf_load_file() - apply config file @path; Return: 0 or -EXIT_CONFIG */
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

/** conf_print() - the effective configuration, in config file syntax */
void conf_print(FILE *f, const struct conf_opt *opts, const struct conf_std *std);

/**
 * conf_std_detach() - what -f and --pidfile ask for: without -f, fork to the
 * background and log to syslog (daemonize() writes the pidfile); with -f and
 * --pidfile, write it. Dies on failure.
 */
void conf_std_detach(const struct conf_std *std);

/** conf_usage() - the --help text */
void conf_usage(FILE *f, const char *prog, const char *synopsis, const struct conf_opt *opts);

#endif /* VMF_CONF_H */
