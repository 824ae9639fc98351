/* lvdomain.c - vmfabric-libvirt-hook: the vmfabric NICs of a libvirt domain's XML */

/*
 * DOC: Theory of operation
 *
 * libvirt hands the hook the domain's XML on stdin. vmfabric's settings live
 * in the domain's <metadata>, in the namespace urn:vmfabric:libvirt:1:
 *
 *   <metadata>
 *     <vmfabric:fabric xmlns:vmfabric="urn:vmfabric:libvirt:1"
 *                      switch="tcp://192.0.2.1:7000" server-key="/etc/vmfabric/switch"
 *                      key="/etc/vmfabric/web1_secret" network="lab">
 *       <vmfabric:nic mac="52:54:00:00:00:01"/>
 *       <vmfabric:nic mac="52:54:00:00:00:02" network="dmz" name="web1/dmz"/>
 *     </vmfabric:fabric>
 *   </metadata>
 *
 * <fabric> attributes (defaults for every <nic>): switch, server-key, key,
 * network, mtu (default 1500), insecure ("yes": no CURVE), admission-timeout
 * (seconds prepare waits for the switch's answer, 0-30, default 5). <nic>
 * attributes: mac (required; matches the <interface>'s <mac address>), network,
 * name (the port name, default DOMAIN/nicI with I counting the domain's
 * vmfabric interfaces from 0 in <devices> order), key, server-key, switch.
 * Unknown elements or attributes in the namespace, a <nic> without its
 * <interface>, two <nic> with one MAC, a bad MAC, name or path are errors:
 * the hook refuses to start the domain rather than guess.
 *
 * Interfaces of other types or without a <nic> entry are not ours and are
 * left alone. Ours must be one of (addresses must be loopback, 127.0.0.0/8:
 * a NIC process bound elsewhere would take frames from the network):
 *
 *   type='udp'     <source address= port=> is where QEMU sends, <local address=
 *                  port=> where QEMU binds (QEMU: -netdev socket,udp=SOURCE,
 *                  localaddr=LOCAL). The NIC binds SOURCE and sends to LOCAL
 *                  (vmfabric-nic --dgram udp:SOURCE,udp:LOCAL).
 *   type='server'  QEMU listens on TCP <source>; the NIC connects (--stream).
 *   type='client'  the NIC listens on TCP <source> before QEMU starts; QEMU
 *                  connects once (--stream-listen).
 *
 * Limits: 16 vmfabric NICs, 4 MiB of XML, no network access while parsing
 * (XML_PARSE_NONET), no entity substitution, and no <!DOCTYPE> at all (libvirt
 * never sends one; its entities would be expanded by reading text content).
 */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "lvdomain.h"
#include "nicsup.h"
#include "util.h"

/* Where the settings of one <nic> come from while the domain is read. */
struct lvd_meta {
	char mac[18], network[VMF_NAME_MAX], name[VMF_NAME_MAX];
	char sw[LVD_EP_MAX], server_key[LVD_PATH_MAX], key[LVD_PATH_MAX];
	int matched;
};

static void lvd_why(char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void lvd_why(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

/* libxml2 would print parse errors to stderr, which libvirt shows as ours: keep quiet. */
static void lvd_xml_quiet(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

static xmlDocPtr lvd_read(const char *xml, size_t len, char *why, size_t whylen)
{
	xmlDocPtr doc;
	xmlNodePtr root;

	if (len > LVD_MAX_XML || len > (size_t)INT32_MAX) {
		lvd_why(why, whylen, "domain XML larger than %d bytes", LVD_MAX_XML);
		return NULL;
	}
	xmlSetGenericErrorFunc(NULL, lvd_xml_quiet);
	doc = xmlReadMemory(xml, (int)len, "domain.xml", NULL,
			    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!doc) {
		lvd_why(why, whylen, "the domain XML is not well-formed");
		return NULL;
	}
	/* libvirt never sends a DTD; its entities could expand without bound in xmlNodeGetContent */
	if (doc->intSubset || doc->extSubset) {
		lvd_why(why, whylen, "the domain XML has a <!DOCTYPE>: not from libvirt");
		xmlFreeDoc(doc);
		return NULL;
	}
	root = xmlDocGetRootElement(doc);
	if (!root || xmlStrcmp(root->name, BAD_CAST "domain") || root->ns) {
		lvd_why(why, whylen, "the XML is not a libvirt <domain>");
		xmlFreeDoc(doc);
		return NULL;
	}
	return doc;
}

/* True if @n is element @name, in namespace @ns (NULL: in none). */
static int lvd_is(const xmlNode *n, const char *name, const char *ns)
{
	if (n->type != XML_ELEMENT_NODE || xmlStrcmp(n->name, BAD_CAST name))
		return 0;
	if (!ns)
		return !n->ns;
	return n->ns && n->ns->href && !xmlStrcmp(n->ns->href, BAD_CAST ns);
}

static xmlNodePtr lvd_child(const xmlNode *parent, const char *name, const char *ns)
{
	for (xmlNodePtr c = parent ? parent->children : NULL; c; c = c->next)
		if (lvd_is(c, name, ns))
			return c;
	return NULL;
}

/* Attribute @name of @n into @buf. Return: 1 present, 0 absent, -1 too long (empty is absent). */
static int lvd_prop(const xmlNode *n, const char *name, char *buf, size_t size)
{
	xmlChar *v = n ? xmlGetNoNsProp(n, BAD_CAST name) : NULL;
	int rc;

	*buf = '\0';
	if (!v)
		return 0;
	rc = str_copy(buf, (const char *)v, size) ? -1 : !!*buf;
	xmlFree(v);
	if (rc < 0)
		*buf = '\0';
	return rc;
}

/* The text of child element @name of @parent into @buf. Return: 0, -ENOENT if missing, -ENAMETOOLONG */
static int lvd_text(const xmlNode *parent, const char *name, char *buf, size_t size)
{
	xmlNodePtr c = lvd_child(parent, name, NULL);
	xmlChar *v = c ? xmlNodeGetContent(c) : NULL;
	int rc;

	*buf = '\0';
	if (!v)
		return -ENOENT;
	rc = str_copy(buf, (const char *)v, size);
	xmlFree(v);
	return rc;
}

/* Every attribute of @n is one of @known (NULL-terminated) and carries no namespace. */
static int lvd_known_attrs(const xmlNode *n, const char *const *known, const char *what,
			   char *why, size_t whylen)
{
	for (const xmlAttr *a = n->properties; a; a = a->next) {
		int k;

		for (k = 0; known[k] && (a->ns || xmlStrcmp(a->name, BAD_CAST known[k])); k++)
			;
		if (!known[k]) {
			lvd_why(why, whylen, "<vmfabric:%s>: unknown attribute '%.40s'", what,
				(const char *)a->name);
			return -EINVAL;
		}
	}
	return 0;
}

/* Attribute @name of @n into @buf, with "too long" as an error. */
static int lvd_attr(const xmlNode *n, const char *what, const char *name, char *buf, size_t size,
		    char *why, size_t whylen)
{
	if (lvd_prop(n, name, buf, size) < 0) {
		lvd_why(why, whylen, "<vmfabric:%s %s=...>: longer than %zu characters", what, name,
			size - 1);
		return -EINVAL;
	}
	return 0;
}

/* True for a dotted IPv4 address in 127.0.0.0/8. */
static int lvd_loopback(const char *a)
{
	struct in_addr in;

	return inet_pton(AF_INET, a, &in) == 1 && (ntohl(in.s_addr) >> 24) == 127;
}

/* Port 1..65535 as a decimal string. */
static int lvd_port(const char *p)
{
	char *end;
	long v;

	if (!*p)
		return 0;
	errno = 0;
	v = strtol(p, &end, 10);
	return !errno && !*end && v >= 1 && v <= 65535 ? (int)v : 0;
}

/* The loopback address and port of @n (its address= and port=), as "A:P", into @buf. */
static int lvd_endpoint(const xmlNode *n, const char *elem, const char *mac, char *buf, size_t size,
			char *why, size_t whylen)
{
	char addr[INET_ADDRSTRLEN], port[8];

	if (!n) {
		lvd_why(why, whylen, "<interface> with mac %s: no <%s address='127.0.0.1' port='N'/> "
			"(vmfabric-libvirt-hook --fill-ports chooses free ports)", mac, elem);
		return -EINVAL;
	}
	lvd_prop(n, "address", addr, sizeof(addr));
	lvd_prop(n, "port", port, sizeof(port));
	if (!lvd_loopback(addr)) {
		lvd_why(why, whylen, "<interface> with mac %s: <%s address='%s'>: vmfabric needs a "
			"loopback address (127.0.0.1): the NIC process must not take frames from the "
			"network", mac, elem, addr);
		return -EINVAL;
	}
	if (!lvd_port(port)) {
		lvd_why(why, whylen, "<interface> with mac %s: <%s port='%s'>: not a port 1-65535 "
			"(vmfabric-libvirt-hook --fill-ports chooses free ports)", mac, elem, port);
		return -EINVAL;
	}
	snprintf(buf, size, "%s:%s", addr, port);
	return 0;
}

/* The backend of NIC @v from its <interface> @ifc. */
static int lvd_backend(struct lvd_nic *v, const xmlNode *ifc, char *why, size_t whylen)
{
	xmlNodePtr src = lvd_child(ifc, "source", NULL);
	char type[16], a[40], b[40];

	lvd_prop(ifc, "type", type, sizeof(type));
	if (!strcmp(type, "udp")) {
		if (lvd_endpoint(src, "source", v->mac, a, sizeof(a), why, whylen) ||
		    lvd_endpoint(lvd_child(src, "local", NULL), "local", v->mac, b, sizeof(b), why,
				 whylen))
			return -EINVAL;
		if (!strcmp(a, b)) {
			lvd_why(why, whylen, "<interface> with mac %s: <source> and <local> are both %s",
				v->mac, a);
			return -EINVAL;
		}
		v->kind = LVD_UDP;
		snprintf(v->backend_opt, sizeof(v->backend_opt), "--dgram");
		snprintf(v->backend_arg, sizeof(v->backend_arg), "udp:%s,udp:%s", a, b);
		return 0;
	}
	if (!strcmp(type, "server") || !strcmp(type, "client")) {
		if (lvd_endpoint(src, "source", v->mac, a, sizeof(a), why, whylen))
			return -EINVAL;
		v->kind = type[0] == 's' ? LVD_SERVER : LVD_CLIENT;
		snprintf(v->backend_opt, sizeof(v->backend_opt), "%s",
			 v->kind == LVD_SERVER ? "--stream" : "--stream-listen");
		snprintf(v->backend_arg, sizeof(v->backend_arg), "tcp:%s", a);
		return 0;
	}
	lvd_why(why, whylen, "<interface type='%s'> with mac %s: vmfabric serves type='udp' "
		"(recommended), 'server' or 'client' (see the README's libvirt section)", type, v->mac);
	return -EINVAL;
}

/* One spelling of a MAC in messages and comparisons: 52:54:00:aa:bb:cc */
static void lvd_mac_norm(char *mac)
{
	for (char *p = mac; *p; p++)
		*p = *p == '-' ? ':' : (char)((*p >= 'A' && *p <= 'F') ? *p | 0x20 : *p);
}

/* The <vmfabric:nic> entries of @fabric into @meta. Return: their number, or -EINVAL. */
static int lvd_read_meta(const xmlNode *fabric, struct lvd_meta *meta, char *why, size_t whylen)
{
	static const char *const known[] = { "mac", "network", "name", "key", "server-key",
					     "switch", NULL };
	int n = 0;

	for (xmlNodePtr c = fabric->children; c; c = c->next) {
		struct lvd_meta *m = &meta[n];

		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (!lvd_is(c, "nic", LVD_NS)) {
			lvd_why(why, whylen, "<vmfabric:fabric>: unexpected element <%.40s> (only "
				"<vmfabric:nic>)", (const char *)c->name);
			return -EINVAL;
		}
		if (n == LVD_MAX_NICS) {
			lvd_why(why, whylen, "more than %d <vmfabric:nic>", LVD_MAX_NICS);
			return -EINVAL;
		}
		memset(m, 0, sizeof(*m));
		if (lvd_known_attrs(c, known, "nic", why, whylen) ||
		    lvd_attr(c, "nic", "mac", m->mac, sizeof(m->mac), why, whylen) ||
		    lvd_attr(c, "nic", "network", m->network, sizeof(m->network), why, whylen) ||
		    lvd_attr(c, "nic", "name", m->name, sizeof(m->name), why, whylen) ||
		    lvd_attr(c, "nic", "key", m->key, sizeof(m->key), why, whylen) ||
		    lvd_attr(c, "nic", "server-key", m->server_key, sizeof(m->server_key), why, whylen) ||
		    lvd_attr(c, "nic", "switch", m->sw, sizeof(m->sw), why, whylen))
			return -EINVAL;
		if (!nicsup_valid_mac(m->mac)) {
			lvd_why(why, whylen, "<vmfabric:nic mac='%s'>: not a unicast MAC like "
				"52:54:00:12:34:56", m->mac);
			return -EINVAL;
		}
		lvd_mac_norm(m->mac);
		for (int j = 0; j < n; j++) {
			if (!strcmp(meta[j].mac, m->mac)) {
				lvd_why(why, whylen, "two <vmfabric:nic> with mac %s", m->mac);
				return -EINVAL;
			}
		}
		n++;
	}
	return n;
}

/* The <fabric> defaults (already in @fab) under the <nic>'s own settings; then the checks. */
static int lvd_finish(struct lvd_domain *d, struct lvd_nic *v, const struct lvd_meta *m,
		      const struct lvd_meta *fab, char *why, size_t whylen)
{
	memcpy(v->mac, m->mac, sizeof(v->mac));
	snprintf(v->network, sizeof(v->network), "%s", *m->network ? m->network : fab->network);
	snprintf(v->sw, sizeof(v->sw), "%s", *m->sw ? m->sw : fab->sw);
	snprintf(v->key, sizeof(v->key), "%s", *m->key ? m->key : fab->key);
	snprintf(v->server_key, sizeof(v->server_key), "%s",
		 *m->server_key ? m->server_key : fab->server_key);
	if (*m->name)
		memcpy(v->name, m->name, sizeof(v->name));
	else
		nicsup_port_name(v->name, sizeof(v->name), d->name, v->index);
	if (!*v->network) {
		lvd_why(why, whylen, "NIC %s: no network (set network= on <vmfabric:nic> or "
			"<vmfabric:fabric>)", v->mac);
		return -EINVAL;
	}
	if (!codec_valid_name(v->network)) {
		lvd_why(why, whylen, "NIC %s: network '%s': 1-63 characters of A-Z a-z 0-9 - _ . / : @",
			v->mac, v->network);
		return -EINVAL;
	}
	if (!codec_valid_name(v->name)) {
		lvd_why(why, whylen, "NIC %s: port name '%s': 1-63 characters of A-Z a-z 0-9 - _ . / "
			": @ (set name= on its <vmfabric:nic>)", v->mac, v->name);
		return -EINVAL;
	}
	if (strncmp(v->sw, "tcp://", 6) && strncmp(v->sw, "ipc://", 6)) {
		lvd_why(why, whylen, "NIC %s: switch '%s': set switch='tcp://HOST:PORT' or "
			"'ipc://PATH'", v->mac, v->sw);
		return -EINVAL;
	}
	if (d->insecure)
		return 0;
	if (*v->key != '/' || *v->server_key != '/') {
		lvd_why(why, whylen, "NIC %s: key='%s' server-key='%s': both must be absolute paths "
			"(the secret certificate of the port, the switch's public certificate)",
			v->mac, v->key, v->server_key);
		return -EINVAL;
	}
	return 0;
}

/* The <fabric> element's own attributes into @fab and @d. */
static int lvd_read_fabric(struct lvd_domain *d, const xmlNode *fabric, struct lvd_meta *fab,
			   char *why, size_t whylen)
{
	static const char *const known[] = { "switch", "server-key", "key", "network", "mtu",
					     "insecure", "admission-timeout", NULL };
	char mtu[16], insecure[8], admit[8];
	char *end;

	memset(fab, 0, sizeof(*fab));
	if (lvd_known_attrs(fabric, known, "fabric", why, whylen) ||
	    lvd_attr(fabric, "fabric", "switch", fab->sw, sizeof(fab->sw), why, whylen) ||
	    lvd_attr(fabric, "fabric", "server-key", fab->server_key, sizeof(fab->server_key), why,
		     whylen) ||
	    lvd_attr(fabric, "fabric", "key", fab->key, sizeof(fab->key), why, whylen) ||
	    lvd_attr(fabric, "fabric", "network", fab->network, sizeof(fab->network), why, whylen) ||
	    lvd_attr(fabric, "fabric", "mtu", mtu, sizeof(mtu), why, whylen) ||
	    lvd_attr(fabric, "fabric", "insecure", insecure, sizeof(insecure), why, whylen) ||
	    lvd_attr(fabric, "fabric", "admission-timeout", admit, sizeof(admit), why, whylen))
		return -EINVAL;
	d->mtu = 1500;
	if (*mtu) {
		errno = 0;
		d->mtu = strtol(mtu, &end, 10);
		if (errno || *end || d->mtu < VMF_MTU_MIN || d->mtu > 65000) {
			lvd_why(why, whylen, "<vmfabric:fabric mtu='%s'>: a number %d..65000", mtu,
				VMF_MTU_MIN);
			return -EINVAL;
		}
	}
	if (*insecure && strcmp(insecure, "yes") && strcmp(insecure, "no")) {
		lvd_why(why, whylen, "<vmfabric:fabric insecure='%s'>: yes or no", insecure);
		return -EINVAL;
	}
	d->insecure = !strcmp(insecure, "yes");
	d->admit_timeout_s = 5;
	if (*admit) {
		errno = 0;
		d->admit_timeout_s = (int)strtol(admit, &end, 10);
		if (errno || *end || d->admit_timeout_s < 0 || d->admit_timeout_s > 30) {
			lvd_why(why, whylen, "<vmfabric:fabric admission-timeout='%s'>: seconds, 0..30",
				admit);
			return -EINVAL;
		}
	}
	return 0;
}

/* The single <vmfabric:fabric> of the domain, or NULL; -EINVAL (in @rc) for two. */
static xmlNodePtr lvd_fabric(const xmlNode *root, int *rc, char *why, size_t whylen)
{
	xmlNodePtr meta = lvd_child(root, "metadata", NULL), found = NULL;

	*rc = 0;
	for (xmlNodePtr c = meta ? meta->children : NULL; c; c = c->next) {
		if (!lvd_is(c, "fabric", LVD_NS))
			continue;
		if (found) {
			lvd_why(why, whylen, "two <vmfabric:fabric> elements in <metadata>");
			*rc = -EINVAL;
			return NULL;
		}
		found = c;
	}
	return found;
}

/* The <mac address=> of <interface> @ifc into @mac (empty if none or unusable). */
static void lvd_ifc_mac(const xmlNode *ifc, char *mac, size_t size)
{
	if (lvd_prop(lvd_child(ifc, "mac", NULL), "address", mac, size) <= 0)
		*mac = '\0';
	lvd_mac_norm(mac);
}

static int lvd_parse_doc(struct lvd_domain *d, xmlDocPtr doc, char *why, size_t whylen)
{
	struct lvd_meta meta[LVD_MAX_NICS], fab;
	xmlNodePtr root = xmlDocGetRootElement(doc), fabric, devices;
	int nmeta, rc;

	if (lvd_text(root, "name", d->name, sizeof(d->name)) || !*d->name) {
		lvd_why(why, whylen, "<domain>: no <name> (or longer than %zu characters)",
			sizeof(d->name) - 1);
		return -EINVAL;
	}
	/* no <uuid> before virsh define (--check); libvirt always gives one to the hook */
	if (!lvd_child(root, "uuid", NULL)) {
		*d->uuid = '\0';
	} else if (lvd_text(root, "uuid", d->uuid, sizeof(d->uuid)) || strlen(d->uuid) != 36 ||
		   strspn(d->uuid, "0123456789abcdefABCDEF-") != 36) {
		*d->uuid = '\0';
		lvd_why(why, whylen, "<domain>: no <uuid> like 8c2f6f1e-8bc5-4e39-9a0b-5d0f6c3f2a11");
		return -EINVAL;
	}
	for (char *p = d->uuid; *p; p++)
		*p = (char)(*p | ((*p >= 'A' && *p <= 'F') ? 0x20 : 0));
	fabric = lvd_fabric(root, &rc, why, whylen);
	if (rc || !fabric)
		return rc;
	d->has_fabric = 1;
	if (lvd_read_fabric(d, fabric, &fab, why, whylen))
		return -EINVAL;
	nmeta = lvd_read_meta(fabric, meta, why, whylen);
	if (nmeta < 0)
		return -EINVAL;
	devices = lvd_child(root, "devices", NULL);
	for (xmlNodePtr c = devices ? devices->children : NULL; c; c = c->next) {
		char mac[32];
		int k;

		if (!lvd_is(c, "interface", NULL))
			continue;
		lvd_ifc_mac(c, mac, sizeof(mac));
		for (k = 0; k < nmeta && strcmp(meta[k].mac, mac); k++)
			;
		if (k == nmeta)
			continue;	/* not a vmfabric interface */
		if (meta[k].matched) {
			lvd_why(why, whylen, "two <interface> with mac %s", mac);
			return -EINVAL;
		}
		meta[k].matched = 1;
		memset(&d->nics[d->n], 0, sizeof(d->nics[d->n]));
		d->nics[d->n].index = d->n;
		memcpy(d->nics[d->n].mac, meta[k].mac, sizeof(d->nics[d->n].mac));
		if (lvd_backend(&d->nics[d->n], c, why, whylen) ||
		    lvd_finish(d, &d->nics[d->n], &meta[k], &fab, why, whylen))
			return -EINVAL;
		/* port names must differ within a network: the switch would refuse the second */
		for (int j = 0; j < d->n; j++) {
			if (!strcmp(d->nics[j].name, d->nics[d->n].name) &&
			    !strcmp(d->nics[j].network, d->nics[d->n].network)) {
				lvd_why(why, whylen, "two NICs named %s in network %s",
					d->nics[j].name, d->nics[j].network);
				return -EINVAL;
			}
		}
		d->n++;
	}
	for (int k = 0; k < nmeta; k++) {
		if (!meta[k].matched) {
			lvd_why(why, whylen, "<vmfabric:nic mac='%s'>: the domain has no <interface> "
				"with <mac address='%s'/>", meta[k].mac, meta[k].mac);
			return -EINVAL;
		}
	}
	return 0;
}

int lvd_parse(struct lvd_domain *d, const char *xml, size_t len, char *why, size_t whylen)
{
	xmlDocPtr doc;
	int rc;

	memset(d, 0, sizeof(*d));
	*why = '\0';
	doc = lvd_read(xml, len, why, whylen);
	if (!doc)
		return -EINVAL;
	rc = lvd_parse_doc(d, doc, why, whylen);
	xmlFreeDoc(doc);
	if (rc)
		d->n = 0;
	return rc;
}

/* A free loopback port of @type (SOCK_DGRAM or SOCK_STREAM); the socket stays open in @fd. */
static int lvd_free_port(int type, int *fd)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t slen = sizeof(sin);
	int s = socket(AF_INET, type | SOCK_CLOEXEC, 0);

	if (s < 0)
		return -errno;
	if (bind(s, (struct sockaddr *)&sin, sizeof(sin)) ||
	    getsockname(s, (struct sockaddr *)&sin, &slen)) {
		int rc = -errno;

		close(s);
		return rc;
	}
	*fd = s;
	return ntohs(sin.sin_port);
}

/* Element @name under @parent, created if missing. */
static xmlNodePtr lvd_ensure(xmlNodePtr parent, const char *name)
{
	xmlNodePtr c = lvd_child(parent, name, NULL);

	return c ? c : xmlNewChild(parent, NULL, BAD_CAST name, NULL);
}

/* Give @n address='127.0.0.1' if it has none, and a free port if its port is missing or 0. */
static int lvd_fill_one(xmlNodePtr n, int type, int *fds, int *nfds)
{
	char addr[64], port[16];
	int p;

	if (!n)
		return -ENOMEM;
	if (lvd_prop(n, "address", addr, sizeof(addr)) <= 0)
		xmlSetProp(n, BAD_CAST "address", BAD_CAST "127.0.0.1");
	lvd_prop(n, "port", port, sizeof(port));
	if (lvd_port(port))
		return 0;
	p = lvd_free_port(type, &fds[*nfds]);
	if (p < 0)
		return p;
	(*nfds)++;
	snprintf(port, sizeof(port), "%d", p);
	xmlSetProp(n, BAD_CAST "port", BAD_CAST port);
	return 0;
}

int lvd_fill_ports(const char *xml, size_t len, char **out, size_t *outlen, char *why,
		   size_t whylen)
{
	struct lvd_meta meta[LVD_MAX_NICS], fab;
	struct lvd_domain d;
	int fds[2 * LVD_MAX_NICS], nfds = 0, nmeta, rc = 0;
	xmlNodePtr root, fabric, devices;
	xmlChar *buf = NULL;
	xmlDocPtr doc;
	int size = 0;

	*out = NULL;
	*outlen = 0;
	memset(&d, 0, sizeof(d));
	doc = lvd_read(xml, len, why, whylen);
	if (!doc)
		return -EINVAL;
	root = xmlDocGetRootElement(doc);
	fabric = lvd_fabric(root, &rc, why, whylen);
	if (!rc && !fabric) {
		lvd_why(why, whylen, "no <vmfabric:fabric xmlns:vmfabric='%s'> in <metadata>", LVD_NS);
		rc = -EINVAL;
	}
	if (rc || lvd_read_fabric(&d, fabric, &fab, why, whylen) ||
	    (nmeta = lvd_read_meta(fabric, meta, why, whylen)) < 0) {
		rc = -EINVAL;
		goto out;
	}
	devices = lvd_child(root, "devices", NULL);
	for (xmlNodePtr c = devices ? devices->children : NULL; c && !rc; c = c->next) {
		char mac[32], type[16];
		xmlNodePtr src;
		int k;

		if (!lvd_is(c, "interface", NULL))
			continue;
		lvd_ifc_mac(c, mac, sizeof(mac));
		for (k = 0; k < nmeta && strcmp(meta[k].mac, mac); k++)
			;
		if (k == nmeta || meta[k].matched)
			continue;
		meta[k].matched = 1;
		lvd_prop(c, "type", type, sizeof(type));
		src = lvd_ensure(c, "source");
		if (!strcmp(type, "udp")) {
			rc = lvd_fill_one(src, SOCK_DGRAM, fds, &nfds);
			if (!rc)
				rc = lvd_fill_one(lvd_ensure(src, "local"), SOCK_DGRAM, fds, &nfds);
		} else if (!strcmp(type, "server") || !strcmp(type, "client"))
			rc = lvd_fill_one(src, SOCK_STREAM, fds, &nfds);
		if (rc)
			lvd_why(why, whylen, "cannot find a free port for mac %s: %s", mac, strerror(-rc));
	}
	if (rc)
		goto out;
	xmlDocDumpMemory(doc, &buf, &size);
	if (!buf) {
		lvd_why(why, whylen, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	*out = malloc((size_t)size + 1);
	if (!*out) {
		rc = -ENOMEM;
		lvd_why(why, whylen, "out of memory");
		goto out;
	}
	memcpy(*out, buf, (size_t)size);
	(*out)[size] = '\0';
	*outlen = (size_t)size;
out:
	while (nfds)
		close(fds[--nfds]);
	xmlFree(buf);
	xmlFreeDoc(doc);
	return rc;
}
