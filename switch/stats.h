/* stats.h - the switch's counters rendered: JSON, ctl text, Prometheus */
#ifndef VMF_STATS_H
#define VMF_STATS_H

#include <stdio.h>

#include "switch.h"

/** stats_json() - every counter, as one JSON document (the --stats-file) */
void stats_json(struct vswitch *sw, FILE *f);

/* Parts of it, for the management channel; each writes one JSON value. */
void stats_json_totals(struct vswitch *sw, FILE *f);
void stats_json_networks(struct vswitch *sw, FILE *f);
void stats_json_ports(struct vswitch *sw, FILE *f);
/** stats_json_macs() - MAC table of network @net (every network if NULL) */
void stats_json_macs(struct vswitch *sw, FILE *f, const char *net);

/* The same for people ("vmfabric-ctl" without --json). */
void stats_text_ports(struct vswitch *sw, FILE *f);
void stats_text_macs(struct vswitch *sw, FILE *f, const char *net);
void stats_text_networks(struct vswitch *sw, FILE *f);
void stats_text_totals(struct vswitch *sw, FILE *f);

/** stats_prometheus() - every counter in Prometheus text format (@arg: the switch) */
void stats_prometheus(void *arg, FILE *f);

enum { STATS_TEXT, STATS_JSON, STATS_DOT };

/** stats_tree() - the switches above this one, itself and its trunks (text, JSON or Graphviz) */
void stats_tree(struct vswitch *sw, FILE *f, int fmt);

/** json_str() - @s as a JSON string */
void json_str(FILE *f, const char *s);

#endif /* VMF_STATS_H */
