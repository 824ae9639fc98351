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

#include <arpa/inet.h>
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

int conf_net4_parse(const char *v, struct conf_net4 *n, long min, long max, const char **why)
{
	char buf[64], *slash, *end;
	uint32_t h, m;
	long len;

	*why = "too long";
	if (snprintf(buf, sizeof(buf), "%s", v) >= (int)sizeof(buf))
		return -EINVAL;
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = '\0';
	*why = "not an IPv4 network (ADDR/LEN, ADDR/MASK or ADDR)";
	if (inet_pton(AF_INET, buf, &n->net) != 1)
		return -EINVAL;
	h = ntohl(n->net.s_addr);
	if (!slash) {
		m = h < 0x80000000u ? 0xff000000u : h < 0xc0000000u ? 0xffff0000u : 0xffffff00u;
	} else if (strchr(slash, '.')) {
		if (inet_pton(AF_INET, slash, &n->mask) != 1)
			return -EINVAL;
		m = ntohl(n->mask.s_addr);
		*why = "not a contiguous netmask";
		if (m & (~m >> 1))
			return -EINVAL;
	} else {
		len = strtol(slash, &end, 10);
		*why = "prefix length out of range";
		if (*end || end == slash || len < 1 || len > 32)
			return -EINVAL;
		m = 0xffffffffu << (32 - len);
	}
	len = __builtin_popcount(m);
	*why = "prefix length out of range";
	if (len < min || len > max)
		return -EINVAL;
	*why = "host bits set";
	if (h & ~m)
		return -EINVAL;
	n->mask.s_addr = htonl(m);
	n->set = 1;
	return 0;
}

int conf_net6_parse(const char *v, struct conf_net6 *n, long min, long max, const char **why)
{
	char buf[80], *slash, *end;
	long len = 64;

	*why = "too long";
	if (snprintf(buf, sizeof(buf), "%s", v) >= (int)sizeof(buf))
		return -EINVAL;
	slash = strchr(buf, '/');
	if (slash) {
		*slash++ = '\0';
		len = strtol(slash, &end, 10);
		*why = "prefix length out of range";
		if (*end || end == slash || len < min || len > max)
			return -EINVAL;
	}
	*why = "not an IPv6 address";
	if (inet_pton(AF_INET6, buf, &n->a) != 1)
		return -EINVAL;
	n->len = (unsigned char)len;
	n->set = 1;
	return 0;
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
 * the file, or 1 for the command line), indexed by its row in all_rows().
 */
#define ROWS_MAX	128
static unsigned int seen[ROWS_MAX];

/* config, check, help, version: the command line's only */
static int cmdline_only(const struct conf_opt *o)
{
	return !strcmp(o->name, "config") || !strcmp(o->name, "check") ||
	       !strcmp(o->name, "help") || !strcmp(o->name, "version");
}

/*
 * The program's rows, then the standard rows it does not replace, then its
 * terminating row (which carries the --help epilogue). Return: rows before
 * the terminator
 */
static size_t all_rows(const struct conf_opt *opts, struct conf_std *std, struct conf_opt *all)
{
	const struct conf_opt std_rows[] = {
		{ "config", 'c', CONF_STR, &std->config, "FILE", "read options from FILE (keys = long options)", 0, 0 },
		{ "check", 'n', CONF_BOOL, &std->check, NULL, "print the effective configuration and exit", 0, 0 },
		{ "foreground", 'f', CONF_BOOL, &std->foreground, NULL, "stay in the foreground, log to stderr", 0, 0 },
		{ "debug", 'd', CONF_BOOL, &std->debug, NULL, "debug logging", 0, 0 },
		{ "pidfile", 0, CONF_STR, &std->pidfile, "FILE", "write the process id to FILE", 0, 0 },
		{ "help", 'h', CONF_BOOL, NULL, NULL, "this help", 0, 0 },
		{ "version", 'V', CONF_BOOL, NULL, NULL, "print the version", 0, 0 },
	};
	const struct conf_opt *end;
	size_t n = 0, i;

	for (; opts[n].name; n++) {
		if (n == ROWS_MAX - ARRAY_SIZE(std_rows) - 1)
			die(1, "conf: more than %zu options", n);
		all[n] = opts[n];
	}
	end = &opts[n];		/* the terminator, with its --help epilogue */
	for (i = 0; i < ARRAY_SIZE(std_rows); i++)
		if (!find_opt(opts, std_rows[i].name))
			all[n++] = std_rows[i];
	all[n] = *end;
	return n;
}

/* Refuse a single-valued option set a second time from the same source. */
static int once(const char *prog, size_t idx, const char *name, unsigned int at, const char *where)
{
	if (idx >= ROWS_MAX)
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
	case CONF_IP4:
	case CONF_IP6: {
		int v6 = o->type == CONF_IP6;
		void *a = v6 ? (void *)&((struct conf_ip6 *)o->var)->a : (void *)&((struct conf_ip4 *)o->var)->a;

		if (inet_pton(v6 ? AF_INET6 : AF_INET, val, a) != 1) {
			fprintf(stderr, "%s: %s: '%s' is not an IPv%c address for %s\n", prog, where, val,
				v6 ? '6' : '4', o->name);
			return -EINVAL;
		}
		*(v6 ? &((struct conf_ip6 *)o->var)->set : &((struct conf_ip4 *)o->var)->set) = 1;
		return 0;
	}
	case CONF_NET4:
	case CONF_NET6: {
		const char *why;

		if (o->type == CONF_NET4 ? conf_net4_parse(val, o->var, o->min, o->max, &why) :
					   conf_net6_parse(val, o->var, o->min, o->max, &why)) {
			fprintf(stderr, "%s: %s: '%s' for %s: %s", prog, where, val, o->name, why);
			if (!strncmp(why, "prefix", 6))
				fprintf(stderr, " (%ld..%ld)", o->min, o->max);
			fputc('\n', stderr);
			return -EINVAL;
		}
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
	struct conf_opt all[ROWS_MAX];
	char line[4096], where[4200];
	unsigned int lineno = 0;
	int rc = 0;
	FILE *f;

	all_rows(opts, std, all);
	f = fopen(path, "re");
	if (!f) {
		rc = errno == EINVAL ? -EBADMSG : -errno;
		fprintf(stderr, "%s: cannot read config file %s: %s\n", prog, path, strerror(-rc));
		return rc;
	}
	memset(seen, 0, sizeof(seen));
	while (fgets(line, sizeof(line), f)) {
		char *key, *val, *p;
		const struct conf_opt *o;

		lineno++;
		snprintf(where, sizeof(where), "%s:%u", path, lineno);
		if (!strchr(line, '\n') && !feof(f)) {
			fprintf(stderr, "%s: %s: line too long\n", prog, where);
			rc = -EBADMSG;
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
				rc = -EBADMSG;
				break;
			}
			val[n - 1] = '\0';
			val++;
		} else if ((p = strstr(val, " #")) || (p = strstr(val, "\t#"))) {
			*p = '\0';
			val = trim(val);
		}

		o = find_opt(all, key);
		if (!o || cmdline_only(o)) {
			fprintf(stderr, "%s: %s: unknown option '%s'\n", prog, where, key);
			rc = -EBADMSG;
			break;
		}
		if (!*val && o->type == CONF_BOOL)
			val = "yes";
		if (!*val) {
			fprintf(stderr, "%s: %s: option '%s' needs a value\n", prog, where, key);
			rc = -EBADMSG;
			break;
		}
		if ((o->type != CONF_LIST && once(prog, (size_t)(o - all), key, lineno, where)) ||
		    set_opt(prog, o, val, where)) {
			rc = -EBADMSG;
			break;
		}
	}
	fclose(f);
	return rc;
}

void conf_usage(FILE *f, const char *prog, const char *synopsis, const struct conf_opt *opts,
		struct conf_std *std)
{
	struct conf_opt all[ROWS_MAX];
	const struct conf_opt *o;
	char left[64];

	all_rows(opts, std, all);
	fprintf(f, "usage: %s %s\n\noptions:\n", prog, synopsis);
	for (o = all; o->name; o++) {
		int arg = o->type != CONF_BOOL;

		snprintf(left, sizeof(left), "%c%c%c --%s%s%s", o->short_opt ? '-' : ' ',
			 o->short_opt ? o->short_opt : ' ', o->short_opt ? ',' : ' ', o->name,
			 arg ? " " : "", arg ? o->arg : "");
		if (strlen(left) > 30)
			fprintf(f, "  %s\n  %-30s %s\n", left, "", o->help);
		else
			fprintf(f, "  %-30s %s\n", left, o->help);
	}
	if (o->help)
		fprintf(f, "\n%s", o->help);
}

/* "name = value", quoted if the file parser would otherwise trim or cut it */
static void print_kv(FILE *f, const char *name, const char *v)
{
	size_t n = strlen(v);
	int q = n && (strchr(" \t\"", v[0]) || strchr(" \t\r", v[n - 1]) || strchr(v, '#'));

	fprintf(f, "%s = %s%s%s\n", name, q ? "\"" : "", v, q ? "\"" : "");
}

/* An address option back in the syntax it was given in (a network as ADDR/LEN). */
static void print_addr(FILE *f, const struct conf_opt *o)
{
	const struct conf_net4 *n4 = o->var;
	const struct conf_net6 *n6 = o->var;
	const struct conf_ip4 *a4 = o->var;
	const struct conf_ip6 *a6 = o->var;
	int v6 = o->type == CONF_IP6 || o->type == CONF_NET6, len = -1, set;
	char a[INET6_ADDRSTRLEN];
	const void *addr;

	if (o->type == CONF_NET4) {
		set = n4->set;
		addr = &n4->net;
		len = __builtin_popcount(n4->mask.s_addr);
	} else if (o->type == CONF_NET6) {
		set = n6->set;
		addr = &n6->a;
		len = n6->len;
	} else {
		set = v6 ? a6->set : a4->set;
		addr = v6 ? (const void *)&a6->a : (const void *)&a4->a;
	}
	if (!set) {
		fprintf(f, "# %s (unset)\n", o->name);
		return;
	}
	inet_ntop(v6 ? AF_INET6 : AF_INET, addr, a, sizeof(a));
	if (len >= 0)
		fprintf(f, "%s = %s/%d\n", o->name, a, len);
	else
		fprintf(f, "%s = %s\n", o->name, a);
}

void conf_print(FILE *f, const struct conf_opt *opts, const struct conf_std *std)
{
	struct conf_opt all[ROWS_MAX];
	const struct conf_opt *o;
	size_t i;

	all_rows(opts, (struct conf_std *)(uintptr_t)std, all);
	for (o = all; o->name; o++) {
		if (cmdline_only(o))
			continue;
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
		case CONF_IP4:
		case CONF_IP6:
		case CONF_NET4:
		case CONF_NET6:
			print_addr(f, o);
			break;
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
}

/* An option getopt refused: unknown, or (a known one) missing its argument. */
static int bad_option(const char *prog, const struct conf_opt *all, int c, const char *arg)
{
	char name[64];

	if (optopt && optopt < 256) {
		fprintf(stderr, "%s: option -%c %s\n", prog, optopt,
			c == ':' ? "needs an argument" : "is unknown");
	} else {
		snprintf(name, sizeof(name), "%s", arg + strspn(arg, "-"));
		name[strcspn(name, "=")] = '\0';
		if (find_opt(all, name))
			fprintf(stderr, "%s: option '%s' is unknown or needs an argument\n", prog, arg);
		else
			fprintf(stderr, "%s: unrecognized option '%s'\n", prog, arg);
	}
	fprintf(stderr, "Try '%s --help'.\n", prog);
	return -EINVAL;
}

enum { OPT_BASE = 1000 };

int conf_parse(const char *prog, const char *synopsis, const struct conf_opt *opts,
	       struct conf_std *std, int argc, char **argv, int *first_arg)
{
	struct conf_opt all[ROWS_MAX];
	struct option lopts[ROWS_MAX];
	char shorts[2 + 2 * ROWS_MAX] = "+:";	/* ":" so a missing argument returns ':' */
	size_t n, i;
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

	n = all_rows(opts, std, all);
	for (i = 0; i < n; i++) {
		lopts[i] = (struct option){ all[i].name,
			all[i].type == CONF_BOOL ? no_argument : required_argument,
			NULL, all[i].short_opt ? all[i].short_opt : OPT_BASE + (int)i };
		if (all[i].short_opt) {
			size_t l = strlen(shorts);

			shorts[l] = (char)all[i].short_opt;
			shorts[l + 1] = all[i].type == CONF_BOOL ? '\0' : ':';
			shorts[l + 2] = '\0';
		}
	}
	lopts[n] = (struct option){ NULL, 0, NULL, 0 };

	optind = 0;
	opterr = 0;
	memset(seen, 0, sizeof(seen));	/* the command line may override the file, once */
	while ((c = getopt_long(argc, argv, shorts, lopts, NULL)) != -1) {
		const struct conf_opt *o = NULL;
		char where[96];

		if (c == '?' || c == ':')
			return bad_option(prog, all, c, argv[optind - 1]);
		if (c >= OPT_BASE)
			o = &all[c - OPT_BASE];
		else
			for (i = 0; i < n && !o; i++)
				if (all[i].short_opt == c)
					o = &all[i];
		if (!o)
			return -EINVAL;
		if (!strcmp(o->name, "help")) {
			conf_usage(stdout, prog, synopsis, opts, std);
			return CONF_DONE;
		}
		if (!strcmp(o->name, "version")) {
			printf("%s %s\n", prog, VMFABRIC_VERSION);
			return CONF_DONE;
		}
		if (o->var == &std->config) {
			/* the pre-scan loaded std->config: refuse spellings it missed */
			if (optarg != std->config) {
				fprintf(stderr, "%s: give the config file once, as -c FILE or "
					"--config FILE\n", prog);
				return -EINVAL;
			}
			continue;
		}
		snprintf(where, sizeof(where), "--%s", o->name);
		if (o->type != CONF_LIST && o->type != CONF_BOOL &&
		    once(prog, (size_t)(o - all), o->name, 1, where))
			return -EINVAL;
		if (o->var == &std->pidfile) {
			set_str(&std->pidfile, optarg, 0);	/* argv's: not ours to free */
			continue;
		}
		if (set_opt(prog, o, o->type == CONF_BOOL ? "yes" : optarg, where))
			return -EINVAL;
	}
	if (first_arg) {
		*first_arg = optind;
	} else if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\nTry '%s --help'.\n",
			prog, argv[optind], prog);
		return -EINVAL;
	}
	return 0;
}

int conf_exit(int rc)
{
	return rc == CONF_DONE ? 0 : rc == -EINVAL ? EXIT_USAGE : rc < 0 ? EXIT_CONFIG : 0;
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
