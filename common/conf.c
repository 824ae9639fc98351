/* conf.c - command line and config file, one option table per program */

/*
 * DOC: Theory of operation
 *
 * A program describes its options once, in a table of struct conf_opt.
 * The same names serve as long options and as keys in the config file
 * given with -c FILE, so "--switch tcp://h:1" and "switch = tcp://h:1"
 * mean the same thing. The file is applied first, the command line
 * second, so a flag overrides the file; repeatable options (CONF_LIST)
 * collect values from both. File syntax, one setting per line:
 *
 *	# comment
 *	key = value
 *	key value
 *	key			(boolean: on)
 *	key = yes|no|true|false|on|off|1|0
 *	key = "value with spaces"
 *
 * Errors name the file and line; unknown keys are errors, never ignored,
 * so a typo cannot silently fall back to a default. A single-valued option
 * given twice in the file, or twice on the command line, is an error too
 * (the second would silently replace the first); only the command line
 * overriding the file is intended. Repeatable options (CONF_LIST) collect
 * every value, as --listen, --hostfwd or --lock-mac want.
 */

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "log.h"
#include "util.h"

static const struct conf_opt *find_opt(const struct conf_opt *opts, const char *name)
{
	for (; opts->name; opts++)
		if (!strcmp(opts->name, name))
			return opts;
	return NULL;
}

int conf_onoff(const char *v, int *out)
{
	static const char *const yes[] = { "1", "yes", "true", "on" };
	static const char *const no[] = { "0", "no", "false", "off" };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(yes); i++) {
		if (!strcasecmp(v, yes[i])) {
			*out = 1;
			return 0;
		}
		if (!strcasecmp(v, no[i])) {
			*out = 0;
			return 0;
		}
	}
	return -EINVAL;
}

/* The 17 characters at @v as a MAC; what follows them is the caller's to check. */
static int mac_at(const char *v, unsigned char mac[6])
{
	for (int i = 0; i < 6; i++, v += 3) {
		char hex[3] = { v[0], v[0] ? v[1] : 0, 0 };

		if (!isxdigit((unsigned char)hex[0]) || !isxdigit((unsigned char)hex[1]) ||
		    (i < 5 && v[2] != ':'))
			return -EINVAL;
		mac[i] = (unsigned char)strtoul(hex, NULL, 16);
	}
	return 0;
}

int conf_mac_parse(const char *v, unsigned char mac[6])
{
	return mac_at(v, mac) || v[17] ? -EINVAL : 0;
}

int conf_mac_list(const char *v, unsigned char (*macs)[6], unsigned int max, unsigned int *n)
{
	while (*v) {
		if (*n == max)
			return -E2BIG;
		if (mac_at(v, macs[*n]) || (v[17] && v[17] != ',') || (macs[*n][0] & 1))
			return -EINVAL;
		++*n;
		v += 17;
		if (*v == ',' && !*++v)
			return -EINVAL;	/* a trailing comma */
	}
	return *n ? 0 : -EINVAL;
}

/*
 * A string option given twice (twice in the file, or in the file and again on
 * the command line) replaces a string conf allocated: free it then. Defaults
 * set by the program are not ours and are left alone.
 */
static struct {
	char **var;
	char *val;
} owned[128];

static void set_str(char **var, char *val, int ours)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(owned) && owned[i].var && owned[i].var != var; i++)
		;
	if (i == ARRAY_SIZE(owned)) {
		*var = val;
		return;
	}
	if (owned[i].var == var && owned[i].val && *var == owned[i].val)
		free(*var);
	owned[i].var = var;
	owned[i].val = ours ? val : NULL;
	*var = val;
}

/*
 * Where each single-valued option was set in the current source (a line of
 * the file, or 1 for the command line), indexed by its row in the table;
 * the last three rows stand for pidfile, debug and foreground.
 */
#define SEEN_MAX	128
#define SEEN_PIDFILE	(SEEN_MAX - 1)
#define SEEN_DEBUG	(SEEN_MAX - 2)
#define SEEN_FG		(SEEN_MAX - 3)
static unsigned int seen[SEEN_MAX];

/* Refuse a single-valued option set a second time from the same source. */
static int once(const char *prog, size_t idx, const char *name, unsigned int at, const char *where)
{
	if (idx >= SEEN_MAX)
		return 0;
	if (seen[idx]) {
		if (at > 1 || seen[idx] > 1)
			fprintf(stderr, "%s: %s: '%s' given twice (first at line %u); it takes one "
				"value\n", prog, where, name, seen[idx]);
		else
			fprintf(stderr, "%s: --%s given twice; it takes one value\n", prog, name);
		return -EINVAL;
	}
	seen[idx] = at;
	return 0;
}

/* Set one option from text; @where is "--name" or "FILE:LINE" for messages. */
static int set_opt(const char *prog, const struct conf_opt *o, const char *val,
		   const char *where)
{
	char *end;
	long n;

	switch (o->type) {
	case CONF_STR:
		set_str(o->var, strdup(val), 1);
		return 0;
	case CONF_LIST: {
		struct conf_list *l = o->var;
		char **v = realloc(l->v, (l->n + 1) * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->v[l->n++] = strdup(val);
		return 0;
	}
	case CONF_BOOL:
		if (conf_onoff(val, o->var)) {
			fprintf(stderr, "%s: %s: '%s' is not a boolean for %s (use yes or no)\n",
				prog, where, val, o->name);
			return -EINVAL;
		}
		return 0;
	case CONF_ONOFF:
		if (conf_onoff(val, o->var)) {
			fprintf(stderr, "%s: %s: '%s' is not on or off for %s\n", prog, where, val, o->name);
			return -EINVAL;
		}
		return 0;
	case CONF_MAC: {
		struct conf_mac *m = o->var;

		if (conf_mac_parse(val, m->mac)) {
			fprintf(stderr, "%s: %s: '%s' is not a MAC address for %s (aa:bb:cc:dd:ee:ff)\n",
				prog, where, val, o->name);
			return -EINVAL;
		}
		m->set = 1;
		return 0;
	}
	case CONF_INT:
		errno = 0;
		n = strtol(val, &end, 0);
		if (errno || end == val || *end || n < o->min || n > o->max) {
			fprintf(stderr, "%s: %s: '%s' is not a valid %s (an integer from %ld to %ld)\n",
				prog, where, val, o->name, o->min, o->max);
			return -EINVAL;
		}
		*(long *)o->var = n;
		return 0;
	}
	return -EINVAL;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

int conf_load_file(const char *prog, const char *path, const struct conf_opt *opts,
		   struct conf_std *std)
{
	char line[4096], where[4200];
	unsigned int lineno = 0;
	int rc = 0;
	FILE *f;

	f = fopen(path, "re");
	if (!f) {
		fprintf(stderr, "%s: cannot read config file %s: %s\n", prog, path, strerror(errno));
		return -EXIT_CONFIG;
	}
	memset(seen, 0, sizeof(seen));
	while (fgets(line, sizeof(line), f)) {
		char *key, *val, *p;
		const struct conf_opt *o;

		lineno++;
		snprintf(where, sizeof(where), "%s:%u", path, lineno);
		if (!strchr(line, '\n') && !feof(f)) {
			fprintf(stderr, "%s: %s: line too long\n", prog, where);
			rc = -EXIT_CONFIG;
			break;
		}
		key = trim(line);
		if (!*key || *key == '#')
			continue;
		p = key + strcspn(key, " \t=");
		val = p;
		if (*p) {
			*p++ = '\0';
			val = trim(p);
			if (*val == '=')
				val = trim(val + 1);
		}
		if (*val == '"') {
			size_t n = strlen(val);

			if (n < 2 || val[n - 1] != '"') {
				fprintf(stderr, "%s: %s: unterminated quote\n", prog, where);
				rc = -EXIT_CONFIG;
				break;
			}
			val[n - 1] = '\0';
			val++;
		} else if ((p = strstr(val, " #")) || (p = strstr(val, "\t#"))) {
			*p = '\0';
			val = trim(val);
		}

		if (!strcmp(key, "debug") || !strcmp(key, "foreground")) {
			int *b = !strcmp(key, "debug") ? &std->debug : &std->foreground;

			if (once(prog, b == &std->debug ? SEEN_DEBUG : SEEN_FG, key, lineno, where)) {
				rc = -EXIT_CONFIG;
				break;
			}
			if (*val ? conf_onoff(val, b) : (*b = 1, 0)) {
				fprintf(stderr, "%s: %s: '%s' is not a boolean\n", prog, where, val);
				rc = -EXIT_CONFIG;
				break;
			}
			continue;
		}
		if (!strcmp(key, "pidfile") && *val) {
			if (once(prog, SEEN_PIDFILE, key, lineno, where)) {
				rc = -EXIT_CONFIG;
				break;
			}
			set_str(&std->pidfile, strdup(val), 1);
			continue;
		}
		o = find_opt(opts, key);
		if (!o) {
			fprintf(stderr, "%s: %s: unknown option '%s'\n", prog, where, key);
			rc = -EXIT_CONFIG;
			break;
		}
		if (!*val && o->type == CONF_BOOL)
			val = "yes";
		if (!*val) {
			fprintf(stderr, "%s: %s: option '%s' needs a value\n", prog, where, key);
			rc = -EXIT_CONFIG;
			break;
		}
		if ((o->type != CONF_LIST && once(prog, (size_t)(o - opts), key, lineno, where)) ||
		    set_opt(prog, o, val, where)) {
			rc = -EXIT_CONFIG;
			break;
		}
	}
	fclose(f);
	return rc;
}

void conf_usage(FILE *f, const char *prog, const char *synopsis, const struct conf_opt *opts)
{
	const struct conf_opt *o;
	char left[64];

	fprintf(f, "usage: %s %s\n\noptions:\n", prog, synopsis);
	for (o = opts; o->name; o++) {
		if (o->short_opt)
			snprintf(left, sizeof(left), "-%c, --%s%s%s", o->short_opt, o->name,
				 o->type == CONF_BOOL ? "" : " ", o->type == CONF_BOOL ? "" : o->arg);
		else
			snprintf(left, sizeof(left), "    --%s%s%s", o->name,
				 o->type == CONF_BOOL ? "" : " ", o->type == CONF_BOOL ? "" : o->arg);
		if (strlen(left) > 30)
			fprintf(f, "  %s\n  %-30s %s\n", left, "", o->help);
		else
			fprintf(f, "  %-30s %s\n", left, o->help);
	}
	fprintf(f, "  %-30s %s\n", "-c, --config FILE", "read options from FILE (keys = long options)");
	fprintf(f, "  %-30s %s\n", "-n, --check", "print the effective configuration and exit");
	fprintf(f, "  %-30s %s\n", "-f, --foreground", "stay in the foreground, log to stderr");
	fprintf(f, "  %-30s %s\n", "-d, --debug", "debug logging");
	fprintf(f, "  %-30s %s\n", "    --pidfile FILE", "write the process id to FILE");
	fprintf(f, "  %-30s %s\n", "-h, --help", "this help");
	fprintf(f, "  %-30s %s\n", "-V, --version", "print the version");
}

/* "name = value", quoted if the file parser would otherwise trim or cut it */
static void print_kv(FILE *f, const char *name, const char *v)
{
	size_t n = strlen(v);
	int q = n && (strchr(" \t\"", v[0]) || strchr(" \t\r", v[n - 1]) || strchr(v, '#'));

	fprintf(f, "%s = %s%s%s\n", name, q ? "\"" : "", v, q ? "\"" : "");
}

void conf_print(FILE *f, const struct conf_opt *opts, const struct conf_std *std)
{
	const struct conf_opt *o;
	size_t i;

	for (o = opts; o->name; o++) {
		switch (o->type) {
		case CONF_STR: {
			const char *s = *(char **)o->var;

			if (s)
				print_kv(f, o->name, s);
			else
				fprintf(f, "# %s (unset)\n", o->name);
			break;
		}
		case CONF_INT:
			fprintf(f, "%s = %ld\n", o->name, *(long *)o->var);
			break;
		case CONF_BOOL:
			fprintf(f, "%s = %s\n", o->name, *(int *)o->var ? "yes" : "no");
			break;
		case CONF_ONOFF: {
			int v = *(int *)o->var;

			if (v < 0)
				fprintf(f, "# %s (unset)\n", o->name);
			else
				fprintf(f, "%s = %s\n", o->name, v ? "on" : "off");
			break;
		}
		case CONF_MAC: {
			const struct conf_mac *m = o->var;

			if (m->set)
				fprintf(f, "%s = %02x:%02x:%02x:%02x:%02x:%02x\n", o->name, m->mac[0],
					m->mac[1], m->mac[2], m->mac[3], m->mac[4], m->mac[5]);
			else
				fprintf(f, "# %s (unset)\n", o->name);
			break;
		}
		case CONF_LIST: {
			const struct conf_list *l = o->var;

			if (!l->n)
				fprintf(f, "# %s (none)\n", o->name);
			for (i = 0; i < l->n; i++)
				print_kv(f, o->name, l->v[i]);
			break;
		}
		}
	}
	fprintf(f, "debug = %s\n", std->debug ? "yes" : "no");
	fprintf(f, "foreground = %s\n", std->foreground ? "yes" : "no");
	if (std->pidfile)
		print_kv(f, "pidfile", std->pidfile);
}

enum { OPT_PIDFILE = 1000, OPT_BASE = 1100 };

int conf_parse(const char *prog, const char *synopsis, const struct conf_opt *opts,
	       struct conf_std *std, int argc, char **argv, int *first_arg)
{
	struct option lopts[128];
	char shorts[128] = "+:c:nfdhV";	/* ":" so a missing argument returns ':' */
	size_t n = 0, i;
	int c, rc;

	/* The config file comes first, so that flags override it. */
	for (i = 1; i < (size_t)argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--"))
			break;
		if ((!strcmp(a, "-c") || !strcmp(a, "--config")) && i + 1 < (size_t)argc)
			std->config = argv[++i];
		else if (!strncmp(a, "--config=", 9))
			std->config = (char *)(uintptr_t)(a + 9);
	}
	if (std->config) {
		rc = conf_load_file(prog, std->config, opts, std);
		if (rc)
			return rc;
	}

	for (i = 0; opts[i].name && n < ARRAY_SIZE(lopts) - 8; i++, n++) {
		lopts[n] = (struct option){ opts[i].name,
			opts[i].type == CONF_BOOL ? no_argument : required_argument,
			NULL, opts[i].short_opt ? opts[i].short_opt : OPT_BASE + (int)i };
		if (opts[i].short_opt) {
			size_t l = strlen(shorts);

			shorts[l] = (char)opts[i].short_opt;
			shorts[l + 1] = opts[i].type == CONF_BOOL ? '\0' : ':';
			shorts[l + 2] = '\0';
		}
	}
	lopts[n++] = (struct option){ "config", required_argument, NULL, 'c' };
	lopts[n++] = (struct option){ "check", no_argument, NULL, 'n' };
	lopts[n++] = (struct option){ "foreground", no_argument, NULL, 'f' };
	lopts[n++] = (struct option){ "debug", no_argument, NULL, 'd' };
	lopts[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	lopts[n++] = (struct option){ "version", no_argument, NULL, 'V' };
	lopts[n++] = (struct option){ "pidfile", required_argument, NULL, OPT_PIDFILE };
	lopts[n] = (struct option){ NULL, 0, NULL, 0 };

	optind = 0;
	opterr = 0;
	memset(seen, 0, sizeof(seen));	/* the command line may override the file, once */
	while ((c = getopt_long(argc, argv, shorts, lopts, NULL)) != -1) {
		const struct conf_opt *o = NULL;
		char where[96];

		switch (c) {
		case 'c':
			/* the pre-scan loaded std->config: refuse spellings it missed */
			if (optarg != std->config) {
				fprintf(stderr, "%s: give the config file once, as -c FILE or "
					"--config FILE\n", prog);
				return -EXIT_USAGE;
			}
			continue;
		case 'n':
			std->check = 1;
			continue;
		case 'f':
			std->foreground = 1;
			continue;
		case 'd':
			std->debug = 1;
			continue;
		case 'h':
			conf_usage(stdout, prog, synopsis, opts);
			return CONF_DONE;
		case 'V':
			printf("%s %s\n", prog, VMFABRIC_VERSION);
			return CONF_DONE;
		case OPT_PIDFILE:
			if (once(prog, SEEN_PIDFILE, "pidfile", 1, "--pidfile"))
				return -EXIT_USAGE;
			set_str(&std->pidfile, optarg, 0);
			continue;
		case '?':
		case ':':
			if (optopt && optopt < 256)
				fprintf(stderr, "%s: option -%c %s\n", prog, optopt,
					c == ':' ? "needs an argument" : "is unknown");
			else
				fprintf(stderr, "%s: option '%s' is unknown or needs an argument\n",
					prog, argv[optind - 1]);
			fprintf(stderr, "Try '%s --help'.\n", prog);
			return -EXIT_USAGE;
		}
		if (c >= OPT_BASE)
			o = &opts[c - OPT_BASE];
		else
			for (i = 0; opts[i].name; i++)
				if (opts[i].short_opt == c)
					o = &opts[i];
		if (!o)
			return -EXIT_USAGE;
		snprintf(where, sizeof(where), "--%s", o->name);
		if ((o->type != CONF_LIST && o->type != CONF_BOOL &&
		     once(prog, (size_t)(o - opts), o->name, 1, where)) ||
		    set_opt(prog, o, o->type == CONF_BOOL ? "yes" : optarg, where))
			return -EXIT_USAGE;
	}
	if (first_arg) {
		*first_arg = optind;
	} else if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\nTry '%s --help'.\n",
			prog, argv[optind], prog);
		return -EXIT_USAGE;
	}
	return 0;
}

void conf_std_detach(const struct conf_std *std)
{
	if (!std->foreground && daemonize(std->pidfile))
		die(1, "cannot daemonize: %s", strerror(errno));
	if (!std->foreground)
		log_to_syslog();
	else if (std->pidfile && write_pidfile(std->pidfile))
		die(1, "cannot write pidfile %s", std->pidfile);
}
