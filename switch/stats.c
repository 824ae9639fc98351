/* stats.c - the switch's counters rendered: JSON, ctl text, Prometheus */

/*
 * DOC: Counters
 *
 * Every counter is described once, in switch.h: PORT_COUNTERS,
 * DROP_REASONS and SWITCH_COUNTERS (X-macros: field, help). This file
 * renders them for the --stats-file and "vmfabric-ctl --json" (JSON), for
 * people ("vmfabric-ctl" text) and for Prometheus (--metrics), so a new
 * counter is one line in switch.h. Rendering runs between passes, never
 * inside one.
 */

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "capture.h"
#include "impair.h"
#include "metrics.h"
#include "portconf.h"
#include "stats.h"
#include "util.h"
#include "vlanport.h"

void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

#define U(x) ((unsigned long long)(x))

void stats_json_totals(struct vswitch *sw, FILE *f)
{
	const char *sep = "";

	fputc('{', f);
#define X(fld, kind, prom, help) fprintf(f, "%s\"" #fld "\":%llu", sep, U(sw->ctr.fld)); sep = ",";
	SWITCH_COUNTERS(X)
#undef X
	if (sw->zap)
		fprintf(f, ",\"zap_allowed\":%llu,\"zap_denied\":%llu", U(sw->zap->allowed),
			U(sw->zap->denied));
	fputc('}', f);
}

void stats_json_networks(struct vswitch *sw, FILE *f)
{
	int first = 1;

	fputc('[', f);
	for (long i = 0; i < sw->conf.max_networks; i++) {
		struct network *n = &sw->nets[i];

		if (!n->used)
			continue;
		fprintf(f, "%s{\"name\":", first ? "" : ",");
		json_str(f, n->name);
		fprintf(f, ",\"mtu\":%u,\"ports\":%u,\"macs\":%zu,\"max_macs\":%zu,\"flooded\":%llu,"
			"\"giants\":%llu}", n->mtu, n->n_ports, n->fdb.count, n->fdb.max, U(n->flooded),
			U(n->giants));
		first = 0;
	}
	fputc(']', f);
}

static const char *const port_type[] = { "port", "trunk", "uplink" };

/* MAC entries behind @p, in every network it is in. */
static uint32_t port_macs(const struct vswitch *sw, const struct port *p)
{
	uint32_t n = 0;

	for (long i = 0; i < sw->conf.max_networks; i++)
		if (sw->nets[i].used && (p->net == &sw->nets[i] || p->kind != PORT_PLAIN))
			n += fdb_port_count(&sw->nets[i].fdb, p->idx);
	return n;
}

void stats_json_ports(struct vswitch *sw, FILE *f)
{
	uint64_t now = now_ms();
	int first = 1;

	fputc('[', f);
	for (long i = 0; i < sw->conf.max_ports; i++) {
		struct port *p = &sw->ports[i];

		if (!p->used)
			continue;
		fprintf(f, "%s{\"id\":%u,\"name\":", first ? "" : ",", p->id);
		json_str(f, p->name);
		fprintf(f, ",\"type\":\"%s\",\"network\":", port_type[p->kind]);
		json_str(f, p->kind == PORT_PLAIN ? p->net->name : "*");
		if (p->kind != PORT_PLAIN) {
			fprintf(f, ",\"switch_id\":");
			json_str(f, p->kind == PORT_TRUNK ? p->switch_id :
				    sw->n_ancestors ? sw->ancestors[0] : "");
			fprintf(f, ",\"carries\":[");
			for (uint32_t k = 0; k < p->n_carry; k++) {
				fputs(k ? "," : "", f);
				json_str(f, p->carry[k]);
			}
			fputc(']', f);
		}
		fprintf(f, ",\"key\":\"%s\",\"peer\":", p->key);
		json_str(f, p->peer);
		fprintf(f, ",\"uptime_ms\":%llu,\"macs\":%u,\"mac_limit\":%u,\"policy\":",
			U(now - p->since_ms), port_macs(sw, p),
			p->kind == PORT_PLAIN && p->idx < p->net->fdb.n_ports ?
				p->net->fdb.ports[p->idx].limit : 0);
		policy_json(p->pol, f);
		fprintf(f, ",\"link\":\"%s\"", p->pconf && p->pconf->link_down ? "down" : "up");
		vlan_port_json(p, f);
		fprintf(f, ",\"impair\":");
		impair_json(p, f);
#define X(fld, prom, help) fprintf(f, ",\"" #fld "\":%llu", U(p->ctr.fld));
		PORT_COUNTERS(X)
#undef X
		fprintf(f, ",\"batch\":{\"rx_frames_per_msg\":%.2f,\"tx_frames_per_msg\":%.2f},\"drops\":{",
			p->ctr.rx_msgs ? (double)p->ctr.rx_frames / (double)p->ctr.rx_msgs : 0.0,
			p->ctr.tx_msgs ? (double)p->ctr.tx_frames / (double)p->ctr.tx_msgs : 0.0);
		for (int d = 0; d < DROP_MAX; d++)
			fprintf(f, "%s\"%s\":%llu", d ? "," : "", drop_names[d], U(p->ctr.drops[d]));
		fprintf(f, "}}");
		first = 0;
	}
	fputc(']', f);
}

/* The MAC table of network @net (every network if NULL), as JSON or text. */
static void macs(struct vswitch *sw, FILE *f, const char *net, int json)
{
	uint64_t now = now_ms();
	int first = 1;

	if (json)
		fputc('[', f);
	else
		fprintf(f, "%-12s %-17s %4s %-20s %8s\n", "NETWORK", "MAC", "VLAN", "PORT", "AGE");
	for (long i = 0; i < sw->conf.max_networks; i++) {
		struct network *n = &sw->nets[i];
		const struct fdb_entry *e;
		size_t pos = 0;

		if (!n->used || (net && strcmp(net, n->name)))
			continue;
		while ((e = fdb_next(&n->fdb, &pos, now))) {
			char mac[18];

			if (!json) {
				fprintf(f, "%-12s %-17s %4u %-20s %7.1fs\n", n->name, mac_fmt(e->mac, mac),
					e->vlan, sw->ports[e->port].name, (double)(now - e->seen_ms) / 1000);
				continue;
			}
			fprintf(f, "%s{\"network\":", first ? "" : ",");
			json_str(f, n->name);
			fprintf(f, ",\"mac\":\"%s\",\"vlan\":%u,\"port\":", mac_fmt(e->mac, mac), e->vlan);
			json_str(f, sw->ports[e->port].name);
			fprintf(f, ",\"age_ms\":%llu}", U(now - e->seen_ms));
			first = 0;
		}
	}
	if (json)
		fputc(']', f);
}

void stats_json_macs(struct vswitch *sw, FILE *f, const char *net)
{
	macs(sw, f, net, 1);
}

void stats_json(struct vswitch *sw, FILE *f)
{
	fprintf(f, "{\"uptime_ms\":%llu,\"switch\":", U(now_ms() - sw->start_ms));
	stats_json_totals(sw, f);
	fprintf(f, ",\"networks\":");
	stats_json_networks(sw, f);
	fprintf(f, ",\"ports\":");
	stats_json_ports(sw, f);
	fprintf(f, "}\n");
}

static const char *human_bytes(uint64_t b, char *buf)
{
	static const char *const u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)b;
	int i = 0;

	while (v >= 1024 && i < 4) {
		v /= 1024;
		i++;
	}
	snprintf(buf, 16, i ? "%.1f%s" : "%.0f%s", v, u[i]);
	return buf;
}

void stats_text_ports(struct vswitch *sw, FILE *f)
{
	uint64_t now = now_ms();

	fprintf(f, "%-20s %-12s %5s %-10s %-22s %8s %10s %9s %10s %9s %7s %9s\n", "PORT", "NETWORK",
		"ID", "KEY", "PEER", "UPTIME", "RX-FRAMES", "RX-BYTES", "TX-FRAMES", "TX-BYTES",
		"DROPS", "BATCH-IN");
	for (long i = 0; i < sw->conf.max_ports; i++) {
		const struct port *p = &sw->ports[i];
		uint64_t drops = 0;
		char rb[16], tb[16], up[24];

		if (!p->used)
			continue;
		for (int d = 0; d < DROP_MAX; d++)
			drops += p->ctr.drops[d];
		snprintf(up, sizeof(up), "%llus", U((now - p->since_ms) / 1000));
		fprintf(f, "%-20s %-12s %5u %-10.8s %-22s %8s %10llu %9s %10llu %9s %7llu %9.1f\n",
			p->name, p->kind == PORT_PLAIN ? p->net->name : p->kind == PORT_TRUNK ? "(trunk)" : "(uplink)",
			p->id, *p->key ? p->key : "-", *p->peer ? p->peer : "-",
			up, U(p->ctr.rx_frames), human_bytes(p->ctr.rx_bytes, rb),
			U(p->ctr.tx_frames), human_bytes(p->ctr.tx_bytes, tb), U(drops),
			p->ctr.rx_msgs ? (double)p->ctr.rx_frames / (double)p->ctr.rx_msgs : 0.0);
		if (p->pconf && p->pconf->link_down)
			fputs("    link down (vmfabric-ctl link NAME up)\n", f);
		if (p->pol && p->pol->set) {
			fputs("    policy ", f);
			policy_text(p->pol, f);
			fputc('\n', f);
		}
		vlan_port_text(p, f);
		impair_text(p, f);
		for (int d = 0; d < DROP_MAX; d++)
			if (p->ctr.drops[d])
				fprintf(f, "    drop %-16s %llu\n", drop_names[d], U(p->ctr.drops[d]));
	}
}

void stats_text_macs(struct vswitch *sw, FILE *f, const char *net)
{
	macs(sw, f, net, 0);
}

void stats_text_networks(struct vswitch *sw, FILE *f)
{
	fprintf(f, "%-16s %6s %6s %8s %10s %8s\n", "NETWORK", "MTU", "PORTS", "MACS", "FLOODED",
		"GIANTS");
	for (long i = 0; i < sw->conf.max_networks; i++) {
		const struct network *n = &sw->nets[i];

		if (n->used)
			fprintf(f, "%-16s %6u %6u %8zu %10llu %8llu\n", n->name, n->mtu, n->n_ports,
				n->fdb.count, U(n->flooded), U(n->giants));
	}
}

void stats_text_totals(struct vswitch *sw, FILE *f)
{
	static const char *const kinds[] = { "dropped", "port events", "sent" };

	for (int k = SC_DROP; k <= SC_OUT; k++) {
		const char *sep = ": ";

		fputs(kinds[k], f);
#define X(fld, kind, prom, help) if (kind == k) { fprintf(f, "%s%s %llu", sep, prom, U(sw->ctr.fld)); sep = ", "; }
		SWITCH_COUNTERS(X)
#undef X
		fputc('\n', f);
	}
	if (sw->zap)
		fprintf(f, "admission: %llu allowed, %llu denied\n", U(sw->zap->allowed),
			U(sw->zap->denied));
}

/* One Prometheus metric family header. */
static void prom_family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One gauge per network: @what of each. */
static void prom_networks(FILE *f, struct vswitch *sw, const char *name, const char *help,
			  size_t (*what)(const struct network *))
{
	prom_family(f, name, "gauge", help);
	for (long k = 0; k < sw->conf.max_networks; k++) {
		if (!sw->nets[k].used)
			continue;
		fprintf(f, "%s{network=", name);
		metrics_label(f, sw->nets[k].name);
		fprintf(f, "} %zu\n", what(&sw->nets[k]));
	}
}

static size_t net_ports(const struct network *n) { return n->n_ports; }
static size_t net_macs(const struct network *n) { return n->fdb.count; }
static size_t net_macs_max(const struct network *n) { return n->fdb.max; }

static void prom_port_labels(FILE *f, const struct port *p)
{
	fprintf(f, "{network=");
	metrics_label(f, p->kind == PORT_PLAIN ? p->net->name : "*");
	fprintf(f, ",port=");
	metrics_label(f, p->name);
}

void stats_prometheus(void *arg, FILE *f)
{
	static const char *const fam[] = {
		"vmfabric_switch_dropped_messages_total", "vmfabric_switch_port_events_total",
		"vmfabric_switch_sent_total",
	};
	static const char *const lbl[] = { "reason", "event", "what" };
	static const char *const fam_help[] = {
		"Messages dropped that no port can be charged with, by reason",
		"Ports that ended or were refused, by cause", "Batches and frames sent",
	};
	struct vswitch *sw = arg;

	prom_family(f, "vmfabric_switch_uptime_seconds", "gauge", "Seconds since the switch started");
	fprintf(f, "vmfabric_switch_uptime_seconds %.3f\n", (double)(now_ms() - sw->start_ms) / 1000);
	prom_family(f, "vmfabric_switch_loop_utilisation", "gauge", "Share of the last second the loop was busy");
	fprintf(f, "vmfabric_switch_loop_utilisation %.4f\n",
		sw->total_us ? (double)sw->busy_us / (double)sw->total_us : 0.0);
	for (int k = SC_DROP; k <= SC_OUT; k++) {
		prom_family(f, fam[k], "counter", fam_help[k]);
#define X(fld, kind, prom, help) if (kind == k) fprintf(f, "%s{%s=\"%s\"} %llu\n", fam[k], lbl[k], prom, U(sw->ctr.fld));
		SWITCH_COUNTERS(X)
#undef X
	}
	if (sw->zap) {
		prom_family(f, "vmfabric_switch_admissions_total", "counter", "ZAP answers, by result");
		fprintf(f, "vmfabric_switch_admissions_total{result=\"allowed\"} %llu\n", U(sw->zap->allowed));
		fprintf(f, "vmfabric_switch_admissions_total{result=\"denied\"} %llu\n", U(sw->zap->denied));
	}
	prom_networks(f, sw, "vmfabric_network_ports", "Ports in the network", net_ports);
	prom_networks(f, sw, "vmfabric_network_macs", "Entries in the network's MAC table", net_macs);
	prom_networks(f, sw, "vmfabric_network_macs_max", "Bound of the network's MAC table", net_macs_max);

#define X(fld, prom, help)							\
	prom_family(f, "vmfabric_port_" prom "_total", "counter", help);		\
	for (long k = 0; k < sw->conf.max_ports; k++) {				\
		const struct port *p = &sw->ports[k];				\
		if (!p->used)							\
			continue;						\
		fprintf(f, "vmfabric_port_" prom "_total");			\
		prom_port_labels(f, p);						\
		fprintf(f, "} %llu\n", U(p->ctr.fld));				\
	}
	PORT_COUNTERS(X)
#undef X
	prom_family(f, "vmfabric_port_drops_total", "counter", "Frames dropped, by port and reason");
	for (long k = 0; k < sw->conf.max_ports; k++) {
		const struct port *p = &sw->ports[k];

		if (!p->used)
			continue;
		for (int d = 0; d < DROP_MAX; d++) {
			fprintf(f, "vmfabric_port_drops_total");
			prom_port_labels(f, p);
			fprintf(f, ",reason=\"%s\"} %llu\n", drop_names[d], U(p->ctr.drops[d]));
		}
	}
}

/* The tree as this switch sees it: the switches above it, itself, its trunks. */
void stats_tree(struct vswitch *sw, FILE *f, int fmt)
{
	const struct port *up = sw->up;

	if (fmt == STATS_JSON) {
		fprintf(f, "{\"ok\":true,\"id\":");
		json_str(f, sw->conf.id);
		fprintf(f, ",\"above\":[");
		for (uint32_t i = 0; i < sw->n_ancestors; i++) {
			fputs(i ? "," : "", f);
			json_str(f, sw->ancestors[i]);
		}
		fprintf(f, "],\"uplink\":");
		if (up)
			fprintf(f, "{\"state\":\"%s\",\"tx_frames\":%llu,\"rx_frames\":%llu}",
				sw->n_ancestors ? "up" : "down", U(up->ctr.tx_frames), U(up->ctr.rx_frames));
		else
			fputs("null", f);
		fprintf(f, ",\"trunks\":[");
		for (long i = 0, first = 1; i < sw->conf.max_ports; i++) {
			const struct port *p = &sw->ports[i];

			if (!p->used || p->kind != PORT_TRUNK)
				continue;
			fprintf(f, "%s{\"name\":", first ? "" : ",");
			json_str(f, p->name);
			fprintf(f, ",\"switch_id\":");
			json_str(f, p->switch_id);
			fprintf(f, ",\"peer\":");
			json_str(f, p->peer);
			fprintf(f, ",\"macs\":%u}", port_macs(sw, p));
			first = 0;
		}
		fprintf(f, "]}\n");
		return;
	}
	if (fmt == STATS_DOT) {
		fprintf(f, "digraph vmfabric {\n\trankdir=TB;\n\tnode [shape=box];\n");
		fprintf(f, "\t\"%s\" [style=bold];\n", sw->conf.id);
		for (uint32_t i = 0; i < sw->n_ancestors; i++)
			fprintf(f, "\t\"%s\" -> \"%s\";\n", sw->ancestors[i],
				i ? sw->ancestors[i - 1] : sw->conf.id);
		for (long i = 0; i < sw->conf.max_ports; i++) {
			const struct port *p = &sw->ports[i];

			if (p->used && p->kind == PORT_TRUNK)
				fprintf(f, "\t\"%s\" -> \"%s\" [label=\"%u MACs\"];\n", sw->conf.id,
					p->switch_id, port_macs(sw, p));
		}
		fprintf(f, "}\n");
		return;
	}
	for (uint32_t i = sw->n_ancestors; i > 0; i--)
		fprintf(f, "%*s%s\n", (int)(2 * (sw->n_ancestors - i)), "", sw->ancestors[i - 1]);
	fprintf(f, "%*s%s (this switch%s)\n", (int)(2 * sw->n_ancestors), "", sw->conf.id,
		up ? (sw->n_ancestors ? ", uplink up" : ", uplink down") : "");
	for (long i = 0; i < sw->conf.max_ports; i++) {
		const struct port *p = &sw->ports[i];

		if (p->used && p->kind == PORT_TRUNK)
			fprintf(f, "%*s%-20s trunk %-20s %s, %u MACs\n", (int)(2 * sw->n_ancestors + 2), "",
				p->switch_id, p->name, *p->peer ? p->peer : "-", port_macs(sw, p));
	}
}
