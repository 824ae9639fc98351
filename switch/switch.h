/* switch.h - the L2 switch: its state, counters, and the API of its loop */
#ifndef VMF_SWITCH_H
#define VMF_SWITCH_H

#include <stdint.h>
#include <stdio.h>

#include "codec.h"
#include "fdb.h"
#include "policy.h"
#include "vlan.h"
#include "zap.h"

/*
 * The switch in files: port.c (ports, networks, Hello, admission, policy,
 * removal), fwd.c (the forwarding pass: input, forward, enqueue, flush),
 * portconf.c (settings kept by port name), vlan.c (the 802.1Q rules) and
 * vlanport.c (them on ports), impair.c (link impairment), capture.c (live
 * capture), stats.c (counters rendered), control.c (the management
 * channel), main.c (options, sockets, the event loop).
 */

#define RID_MAX		256	/* ZeroMQ routing ids are 1..255 bytes */
#define RID_FREE	UINT32_MAX	/* routing id table: empty slot, "no port" */
#define SWITCH_PASS_BUDGET	256	/* messages handled per input pass */

/* Per-port drop reasons; every dropped frame or message lands in one. */
#define DROP_REASONS(X)							\
	X(runt, "frame shorter than 14 bytes")				\
	X(giant, "frame longer than MTU + 18")				\
	X(src_mcast, "multicast source MAC")				\
	X(hairpin, "destination is the source port")			\
	X(tx_full, "receiving port's queue full (tail drop)")		\
	X(tx_unreachable, "receiving port gone")			\
	X(malformed, "undecodable or out-of-order message")		\
	X(locked_mac, "source MAC not allowed (--lock-mac, or the key's macs policy)") \
	X(mac_limit, "new source MAC over the port's limit (--port-macs, or max-macs)") \
	X(not_carried, "trunk frame for a network the trunk does not carry, or untagged") \
	X(link_down, "the port's link is down (vmfabric-ctl link PORT down)") \
	X(vlan_tagged_on_access, "tagged frame (priority tags too) on an access port") \
	X(vlan_denied, "VLAN not allowed on the port (or a priority or S-tag on a trunk port)") \
	X(vlan_untagged, "untagged frame on a trunk port without a native VLAN") \
	X(vlan_double_tag, "double-tagged frame kept from leaving a port untagged (VLAN hopping)") \
	X(impair_loss, "lost by the port's impairment (loss, loss-burst, ge)")	\
	X(impair_queue, "the port's impairment queue full (queue, queue-bytes)")

enum drop_reason {
#define X(name, text) DROP_##name,
	DROP_REASONS(X)
#undef X
	DROP_MAX
};

extern const char *const drop_names[DROP_MAX];

/*
 * Per-port counters besides drops: field (also the JSON key), Prometheus
 * name (vmfabric_port_NAME_total), help.
 */
#define PORT_COUNTERS(X)							\
	X(rx_msgs, "rx_messages", "Messages received from the port")		\
	X(rx_frames, "rx_frames", "Frames received from the port and accepted") \
	X(rx_bytes, "rx_bytes", "Bytes of accepted frames from the port")	\
	X(tx_msgs, "tx_messages", "Batches sent to the port")			\
	X(tx_frames, "tx_frames", "Frames sent to the port")			\
	X(tx_bytes, "tx_bytes", "Bytes sent to the port")			\
	X(mac_moves, "mac_moves", "Known MACs that moved to the port")		\
	X(fdb_full, "fdb_full", "Source MACs not learnt: table full (frame still forwarded)") \
	X(flooded, "flooded", "Frames from the port flooded to the network")	\
	X(impair_dup, "impair_duplicated", "Frames the port's impairment duplicated (dup)") \
	X(impair_reorder, "impair_reordered", "Frames the port's impairment sent ahead of held ones (reorder)")

struct port_ctr {
#define X(f, prom, help) uint64_t f;
	PORT_COUNTERS(X)
#undef X
	uint64_t drops[DROP_MAX];
};

/*
 * Switch-wide counters, for what cannot be charged to a port: field (also
 * the JSON key), kind, Prometheus label, help. Kinds: SC_DROP messages
 * dropped (vmfabric_switch_dropped_messages_total{reason}), SC_EVENT ports
 * that ended or were refused (vmfabric_switch_port_events_total{event}),
 * SC_OUT what the switch sent (vmfabric_switch_sent_total{what}).
 */
#define SWITCH_COUNTERS(X)							\
	X(unknown_port, SC_DROP, "unknown_port", "data or keepalive from a routing id without Hello") \
	X(bad_version, SC_DROP, "bad_version", "Hello with a protocol version the switch does not speak") \
	X(bad_hello, SC_DROP, "bad_hello", "Hello with a bad name, or a name held by another key") \
	X(key_mismatch, SC_DROP, "key_mismatch", "message whose User-Id is not the port's key") \
	X(malformed, SC_DROP, "malformed", "undecodable message from a routing id without a port") \
	X(multipart, SC_DROP, "multipart", "message with more than one part")	\
	X(hello_limited, SC_DROP, "hello_limited", "Hello over its key's rate")	\
	X(expired, SC_EVENT, "expired", "ports that missed 3 keepalives")	\
	X(revoked, SC_EVENT, "revoked", "ports and Hellos whose key is not admitted") \
	X(policy, SC_EVENT, "policy", "ports and Hellos refused by their key's policy") \
	X(takeovers, SC_EVENT, "taken_over", "ports taken over by a new session of the same key") \
	X(loops, SC_EVENT, "loop", "trunks refused or dropped: the switch was on their path") \
	X(impair_flushed, SC_DROP, "impair_flushed", "frames an impairment held when its port ended or its setting changed") \
	X(batches_out, SC_OUT, "batches", "frame batches sent")		\
	X(frames_out, SC_OUT, "frames", "frames sent")

enum switch_ctr_kind { SC_DROP, SC_EVENT, SC_OUT };

struct switch_ctr {
#define X(f, kind, prom, help) uint64_t f;
	SWITCH_COUNTERS(X)
#undef X
};

struct network;
struct port_conf;
struct impair;

#define LOCK_MACS_MAX	16

/**
 * struct mac_lock - port security: the only source MACs port @port may send
 * (--lock-mac PORTNAME=MAC[,MAC...]); other frames are dropped (locked_mac)
 */
struct mac_lock {
	char port[VMF_NAME_MAX];
	uint8_t macs[LOCK_MACS_MAX][6];
	unsigned int n;
};

/** mac_lock_parse() - "PORTNAME=MAC[,MAC...]" into @l. Return: 0, or -EINVAL with *@why set */
int mac_lock_parse(const char *spec, struct mac_lock *l, const char **why);

/*
 * Kinds of port. A plain port belongs to one network. A trunk is a child
 * switch's connection to us, the uplink our connection to our parent: both
 * carry several networks, every frame tagged with its own, and both are
 * members of every network they carry.
 */
enum port_kind { PORT_PLAIN, PORT_TRUNK, PORT_UPLINK };

/**
 * struct port - one admitted, welcomed port
 * @out:	frames queued for this port during the current loop pass
 */
struct port {
	int used;		/* a live port */
	int dying;		/* removed; the slot is given back at the reap */
	int kind;		/* enum port_kind */
	uint32_t version;	/* protocol version of its Hello */
	uint32_t idx;
	uint32_t id;
	uint8_t rid[RID_MAX];
	uint8_t rid_len;
	char key[CERT_Z85_LEN + 1];
	char name[VMF_NAME_MAX];
	char peer[64];		/* Peer-Address of the connection, at Hello */
	struct network *net;		/* a plain port's network (NULL for trunks) */
	char switch_id[VMF_NAME_MAX];	/* a trunk's: the child switch's id */
	char (*carry)[VMF_NAME_MAX];	/* a trunk's networks (n_carry of them; none: all) */
	uint32_t n_carry;
	const struct mac_lock *lock;	/* --lock-mac for this port name, or NULL */
	const struct key_policy *pol;	/* its key's policy (NULL: open default, --insecure) */
	struct port_conf *pconf;	/* settings kept by its name (portconf.h), or NULL */
	const struct vlan_conf *vlan;	/* its 802.1Q setting (vlanport.c), NULL: transparent */
	struct impair *imp;		/* its link impairment (impair.h), or NULL: none */
	uint64_t since_ms;
	uint64_t last_rx_ms;
	struct port_ctr ctr;
	uint32_t out_n;
	size_t out_bytes;
	int dirty;
	uint32_t out_n_vnet;	/* of which carry a virtio-net header (FRAME_VNET) */
	/* trunk and uplink output: each frame's .net indexes out_nets */
	struct frame out[VMF_MAX_BATCH_FRAMES];
	char *out_nets[VMF_MAX_BATCH_NETS];
	uint32_t n_out_nets;
};

struct network {
	int used;
	char name[VMF_NAME_MAX];
	uint32_t mtu;
	struct fdb fdb;
	uint32_t *ports;	/* port indices (live and dying; trunks included) */
	uint32_t n_ports;
	uint64_t flooded;
	uint64_t giants;	/* frames over mtu + 18 dropped, from any of its ports */
};

/** struct net_mtu - one network's MTU: --network-mtu NAME=BYTES, or the parent's (NetInfo) */
struct net_mtu {
	char name[VMF_NAME_MAX];
	uint32_t mtu;
};

/** net_mtu_parse() - "NAME=BYTES" into @m. Return: 0, or -EINVAL with *@why set */
int net_mtu_parse(const char *spec, struct net_mtu *m, const char **why);

struct switch_conf {
	long max_ports;
	long max_networks;
	long max_macs;
	long mac_age_s;
	long mtu;
	long keepalive_ms;
	long port_macs;		/* MAC entries per port unless its key says otherwise; 0: no limit */
	int insecure;
	const char *id;		/* this switch's id in a tree of switches */
	const struct net_mtu *net_mtus;	/* --network-mtu (owned by the caller) */
	size_t n_net_mtus;
};

struct uplink;

struct vswitch {
	struct switch_conf conf;
	void *router;
	struct zap *zap;	/* NULL when --insecure */
	struct port *ports;
	struct network *nets;
	uint32_t *rid_tab;	/* open addressing: routing id -> port idx */
	size_t rid_mask;
	size_t rid_tombs;
	struct sip_key rid_key;
	uint32_t next_id;
	uint32_t *dirty;	/* ports with queued output */
	uint32_t n_dirty;
	uint32_t *dead;		/* removed ports waiting for port_reap() */
	uint32_t n_dead;
	struct codec_arena arena;
	zmq_msg_t live[SWITCH_PASS_BUDGET];	/* this pass's messages: queued frames point into them */
	uint32_t n_live;
	struct switch_ctr ctr;
	uint64_t start_ms;
	struct capture *captures;	/* live capture sessions (capture.c), or NULL */
	const struct mac_lock *locks;	/* --lock-mac entries (owned by the caller) */
	struct port_conf *pconf;	/* settings by port name (portconf.c), max_ports of them */
	uint32_t n_pconf;
	struct vlan_buf vbuf;		/* this pass's frames with a tag pushed or popped (vlanport.c) */
	struct impair *impairs;		/* ports with an impairment, linked (impair.c) */
	size_t n_locks;
	uint64_t busy_us, total_us;	/* loop utilisation over the last interval */
	/* the tree: the ids above this switch (nearest first), and its uplink port */
	char ancestors[VMF_MAX_PATH][VMF_NAME_MAX];
	uint32_t n_ancestors;
	struct uplink *uplink;		/* NULL: this switch has no parent */
	struct port *up;		/* the uplink's port, when it has one */
	const char *uplink_carry;	/* --uplink-networks (NULL: every network) */
	struct net_mtu up_mtus[VMF_MAX_BATCH_NETS];	/* the parent's networks, from its Welcome */
	uint32_t n_up_mtus;
};

int switch_init(struct vswitch *sw, const struct switch_conf *conf, void *router, struct zap *zap);
void switch_free(struct vswitch *sw);

/** switch_input() - handle every message ready on the router (bounded per call). */
void switch_input(struct vswitch *sw);

/**
 * switch_message() - handle one message from routing id @rid, which
 * authenticated as @key (Z85; NULL with --insecure) from @peer. The
 * message moves into the pass (frames forwarded from it are sent at the
 * pass's end): @msg is left empty.
 */
void switch_message(struct vswitch *sw, const uint8_t *rid, size_t rid_len, const char *key,
		    const char *peer, zmq_msg_t *msg, uint64_t now);

/** switch_pass_end() - send what the pass queued, reap removed ports, release its messages */
void switch_pass_end(struct vswitch *sw);

/** switch_tick() - expire silent ports, age MAC tables */
void switch_tick(struct vswitch *sw, uint64_t now);

/** switch_revoke() - after the keys were reloaded: drop ports whose key is gone or whose policy changed */
void switch_revoke(struct vswitch *sw);

/** switch_port_by_name() - a port by name (and network, if not NULL) */
struct port *switch_port_by_name(struct vswitch *sw, const char *name, const char *net);

/** switch_kick() - disconnect a port (it may come back with a new Hello) */
void switch_kick(struct vswitch *sw, struct port *p);

/** switch_shutdown() - tell every port we are going */
void switch_shutdown(struct vswitch *sw);

/**
 * switch_uplink_start() - give this switch a parent: @u (already set up,
 * see common/uplink.h) carries @carry (comma-separated networks, NULL for
 * all). Return: 0 or -ENOMEM
 */
int switch_uplink_start(struct vswitch *sw, struct uplink *u, const char *carry);

/** switch_uplink_input() - frames and session messages from the parent */
void switch_uplink_input(struct vswitch *sw);

/**
 * switch_uplink_state() - the uplink came up (@up: its Welcome's path
 * above the parent, the parent's id first) or went down (@up 0: its MAC
 * entries go, this switch is a root now). Return: 0, or -ELOOP when this
 * switch is on the path above itself (the caller drops the uplink).
 */
int switch_uplink_state(struct vswitch *sw, int up, char **path, size_t n_path);

/** switch_announce() - a gratuitous RARP to the parent for every MAC below this switch */
void switch_announce(struct vswitch *sw);

/**
 * switch_parent_mtus() - the parent's Welcome named these networks with their
 * MTU: networks made from now on take them (unless --network-mtu says), and
 * existing ones without --network-mtu and without plain ports follow
 */
void switch_parent_mtus(struct vswitch *sw, Vmfabric__NetInfo **ni, size_t n);

/** switch_carries() - @p (a trunk or the uplink) carries network @net */
int switch_carries(const struct port *p, const char *net);

#endif /* VMF_SWITCH_H */
