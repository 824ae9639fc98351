/* policy.c - what a port key may do, stated in its certificate's metadata */

/*
 * DOC: Theory of operation
 *
 * Admission says who may connect; policy says what an admitted key may do
 * once connected. Both live with the key: the public certificate the
 * switch admits (a file in --authorized) may carry, in its zcert
 * "metadata" section:
 *
 *	metadata
 *	    name = "vm1"
 *	    networks = "lab,lab-*"		networks its ports may join
 *	    names = "vm1-*"			port names they may use
 *	    macs = "52:54:00:00:01:01"		source MACs they may send from
 *	    max-macs = "16"			MAC entries per port (port security)
 *	    create = "no"			may not create a network
 *	    trunk = "no"			may not join as a switch trunk
 *	    vlans = "access 10"			802.1Q: its ports are access ports of
 *						VLAN 10 (or "trunk 10,20 native 1")
 *	    impair = "delay=50ms,loss=1%"	link impairment of its ports (switch/impair.c)
 *
 * Patterns are fnmatch(3) globs, comma-separated. A field that is absent
 * keeps the open default, which is what a switch did before policies: any
 * network, any name, any source MAC, the switch's --port-macs limit,
 * creating networks allowed, trunking refused. The switch re-reads every
 * certificate on SIGHUP and applies the new policy to live ports (a port
 * that lost its network or name is dropped). An unknown metadata key is an
 * error that keeps the key out (fail closed), except czmq's informational
 * ones. Values are bounded: a list longer than 255 bytes, more than 64
 * MACs or a malformed line refuse the certificate with the line named.
 */

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "policy.h"

#define POLICY_FILE_MAX	65536
#define POLICY_LINE_MAX	1280	/* 64 MACs with their commas, the key and quotes */

static const char *const informational[] = {
	"name", "email", "organization", "created-by", "created", "date", "comment", "host",
};

int (*policy_impair_check)(const char *spec, char *why, size_t whylen);

void policy_default(struct key_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->create = 1;
}

static int fail(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int parse_yesno(const char *v, int *out)
{
	if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcasecmp(v, "on") || !strcmp(v, "1"))
		*out = 1;
	else if (!strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcasecmp(v, "off") || !strcmp(v, "0"))
		*out = 0;
	else
		return -EINVAL;
	return 0;
}

/* "aa:bb:..,.." into p->macs */
static int parse_macs(const char *v, struct key_policy *p)
{
	return conf_mac_list(v, p->macs, POLICY_MACS_MAX, &p->n_macs);
}

/* A pattern list: printable, no spaces, quotes or backslashes, no empty pattern. */
static int valid_list(const char *v)
{
	size_t n = strlen(v);

	if (!n || n >= POLICY_LIST_MAX || *v == ',' || v[n - 1] == ',' || strstr(v, ",,"))
		return 0;
	/* printable, and nothing a JSON string or a log line would need to escape */
	for (; *v; v++)
		if ((unsigned char)*v <= ' ' || (unsigned char)*v >= 0x7f || *v == '"' || *v == '\\')
			return 0;
	return 1;
}

static int set_field(struct key_policy *p, const char *k, const char *v, int line, char *why,
		     size_t whylen)
{
	char *end;
	unsigned long n;

	if (!strcmp(k, "networks") || !strcmp(k, "names")) {
		int nets = k[1] == 'e';

		if (!valid_list(v))
			return fail(why, whylen, "line %d: %s wants comma-separated patterns, "
				    "at most %d bytes", line, k, POLICY_LIST_MAX - 1);
		strcpy(nets ? p->networks : p->names, v);
		p->set |= nets ? POLICY_NETWORKS : POLICY_NAMES;
	} else if (!strcmp(k, "macs")) {
		int rc = parse_macs(v, p);

		if (rc)
			return fail(why, whylen, "line %d: macs wants up to %d unicast MACs "
				    "xx:xx:xx:xx:xx:xx separated by commas", line, POLICY_MACS_MAX);
		p->set |= POLICY_MACS;
	} else if (!strcmp(k, "max-macs")) {
		errno = 0;
		n = strtoul(v, &end, 10);
		if (errno || *end || end == v || !n || n > 1048576)
			return fail(why, whylen, "line %d: max-macs wants a number 1..1048576", line);
		p->max_macs = (uint32_t)n;
		p->set |= POLICY_MAX_MACS;
	} else if (!strcmp(k, "create") || !strcmp(k, "trunk")) {
		int *dst = k[0] == 'c' ? &p->create : &p->trunk;

		if (parse_yesno(v, dst))
			return fail(why, whylen, "line %d: %s wants yes or no", line, k);
		p->set |= k[0] == 'c' ? POLICY_CREATE : POLICY_TRUNK;
	} else if (!strcmp(k, "vlans")) {
		const char *vwhy;

		if (vlan_parse(v, &p->vlans, &vwhy))
			return fail(why, whylen, "line %d: vlans: %s", line, vwhy);
		p->set |= POLICY_VLANS;
	} else if (!strcmp(k, "impair")) {
		char iwhy[256] = "";

		if (!valid_list(v) || (policy_impair_check && policy_impair_check(v, iwhy, sizeof(iwhy))))
			return fail(why, whylen, "line %d: impair wants a link impairment as --impair "
				    "(delay=50ms,loss=1%%,...)%s%s", line, *iwhy ? ": " : "", iwhy);
		strcpy(p->impair, v);
		p->set |= POLICY_IMPAIR;
	} else {
		for (size_t i = 0; i < sizeof(informational) / sizeof(informational[0]); i++)
			if (!strcmp(k, informational[i]))
				return 0;
		return fail(why, whylen, "line %d: unknown metadata key '%.40s' (policy keys: "
			    "networks, names, macs, max-macs, create, trunk, vlans, impair)", line, k);
	}
	return 0;
}

int policy_parse(const char *text, struct key_policy *p, char *why, size_t whylen)
{
	int in_meta = 0, line = 0;

	policy_default(p);
	while (*text) {
		const char *eol = strchr(text, '\n'), *ln = text, *s;
		size_t len = eol ? (size_t)(eol - text) : strlen(text);
		char buf[POLICY_LINE_MAX], key[48], *v, *e;
		size_t kl;

		line++;
		text = eol ? eol + 1 : text + len;
		if (len >= sizeof(buf)) {
			if (*ln != ' ' && *ln != '\t')
				in_meta = 0;
			else if (in_meta)
				return fail(why, whylen, "line %d: longer than %zu bytes", line,
					    sizeof(buf) - 1);
			continue;
		}
		memcpy(buf, ln, len);
		buf[len] = '\0';
		if (len && buf[len - 1] == '\r')
			buf[--len] = '\0';
		if (!*buf || *buf == '#')
			continue;
		if (*buf != ' ' && *buf != '\t') {
			in_meta = !strcmp(buf, "metadata");
			continue;
		}
		if (!in_meta)
			continue;
		for (s = buf; *s == ' ' || *s == '\t'; s++)
			;
		if (*s == '#' || !*s)
			continue;
		kl = strcspn(s, " \t=");
		if (!kl || kl >= sizeof(key))
			return fail(why, whylen, "line %d: malformed metadata line", line);
		memcpy(key, s, kl);
		key[kl] = '\0';
		v = (char *)(uintptr_t)(s + kl);
		v += strspn(v, " \t");
		if (*v != '=')
			return fail(why, whylen, "line %d: '%s' wants = VALUE", line, key);
		v++;
		v += strspn(v, " \t");
		e = v + strlen(v);
		while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		if (*v == '"') {
			if (e - v < 2 || e[-1] != '"')
				return fail(why, whylen, "line %d: unbalanced quotes", line);
			e[-1] = '\0';
			v++;
		}
		if (set_field(p, key, v, line, why, whylen))
			return -EINVAL;
	}
	return 0;
}

int policy_load(const char *path, struct key_policy *p, char *why, size_t whylen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	char *text = NULL;
	struct stat st;
	ssize_t r;
	int rc;

	if (fd < 0) {
		rc = -errno;
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return rc;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > POLICY_FILE_MAX) {
		close(fd);
		snprintf(why, whylen, "%s: not a regular file of at most %d bytes", path, POLICY_FILE_MAX);
		return -EINVAL;
	}
	text = malloc((size_t)st.st_size + 1);
	if (!text) {
		close(fd);
		return -ENOMEM;
	}
	r = read(fd, text, (size_t)st.st_size);
	close(fd);
	if (r < 0 || r != st.st_size) {
		free(text);
		snprintf(why, whylen, "%s: short read", path);
		return -EIO;
	}
	text[r] = '\0';
	if (strlen(text) != (size_t)r) {
		free(text);
		snprintf(why, whylen, "%s: contains a NUL byte", path);
		return -EINVAL;
	}
	{
		char sub[400];

		rc = policy_parse(text, p, sub, sizeof(sub));
		if (rc)
			snprintf(why, whylen, "%s: %s", path, sub);
	}
	free(text);
	return rc;
}

int policy_match(const char *list, const char *s)
{
	char pat[POLICY_LIST_MAX];

	while (*list) {
		size_t n = strcspn(list, ",");

		if (n < sizeof(pat)) {
			memcpy(pat, list, n);
			pat[n] = '\0';
			if (!fnmatch(pat, s, 0))
				return 1;
		}
		list += n + (list[n] == ',');
	}
	return 0;
}

int policy_allows_network(const struct key_policy *p, const char *net)
{
	return !p || !(p->set & POLICY_NETWORKS) || policy_match(p->networks, net);
}

int policy_allows_name(const struct key_policy *p, const char *name)
{
	return !p || !(p->set & POLICY_NAMES) || policy_match(p->names, name);
}

int policy_allows_mac(const struct key_policy *p, const uint8_t mac[6])
{
	if (!p || !p->n_macs)
		return 1;
	for (unsigned int i = 0; i < p->n_macs; i++)
		if (!memcmp(p->macs[i], mac, 6))
			return 1;
	return 0;
}

void policy_json(const struct key_policy *p, FILE *f)
{
	const char *sep = "";

	fputc('{', f);
	if (p && (p->set & POLICY_NETWORKS)) {
		fprintf(f, "\"networks\":\"%s\"", p->networks);	/* printable, no quotes: checked */
		sep = ",";
	}
	if (p && (p->set & POLICY_NAMES)) {
		fprintf(f, "%s\"names\":\"%s\"", sep, p->names);
		sep = ",";
	}
	if (p && p->n_macs) {
		fprintf(f, "%s\"macs\":[", sep);
		for (unsigned int i = 0; i < p->n_macs; i++)
			fprintf(f, "%s\"%02x:%02x:%02x:%02x:%02x:%02x\"", i ? "," : "", p->macs[i][0],
				p->macs[i][1], p->macs[i][2], p->macs[i][3], p->macs[i][4], p->macs[i][5]);
		fputc(']', f);
		sep = ",";
	}
	if (p && (p->set & POLICY_MAX_MACS)) {
		fprintf(f, "%s\"max_macs\":%u", sep, p->max_macs);
		sep = ",";
	}
	if (p && (p->set & POLICY_VLANS)) {
		char spec[VLAN_SPEC_MAX];

		vlan_format(&p->vlans, spec, sizeof(spec), ' ');
		fprintf(f, "%s\"vlans\":\"%s\"", sep, spec);
		sep = ",";
	}
	if (p && (p->set & POLICY_IMPAIR)) {
		fprintf(f, "%s\"impair\":\"%s\"", sep, p->impair);	/* checked as the lists */
		sep = ",";
	}
	fprintf(f, "%s\"create\":%s,\"trunk\":%s}", sep, !p || p->create ? "true" : "false",
		p && p->trunk ? "true" : "false");
}

void policy_text(const struct key_policy *p, FILE *f)
{
	if (!p || !p->set) {
		fputs("-", f);
		return;
	}
	if (p->set & POLICY_NETWORKS)
		fprintf(f, "networks=%s ", p->networks);
	if (p->set & POLICY_NAMES)
		fprintf(f, "names=%s ", p->names);
	if (p->n_macs)
		fprintf(f, "macs=%u ", p->n_macs);
	if (p->set & POLICY_MAX_MACS)
		fprintf(f, "max-macs=%u ", p->max_macs);
	if (p->set & POLICY_CREATE)
		fprintf(f, "create=%s ", p->create ? "yes" : "no");
	if (p->set & POLICY_TRUNK)
		fprintf(f, "trunk=%s ", p->trunk ? "yes" : "no");
	if (p->set & POLICY_VLANS) {
		char spec[VLAN_SPEC_MAX];

		vlan_format(&p->vlans, spec, sizeof(spec), ':');
		fprintf(f, "vlans=%s ", spec);
	}
	if (p->set & POLICY_IMPAIR)
		fprintf(f, "impair=%s", p->impair);
}
