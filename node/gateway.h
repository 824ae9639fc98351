/* gateway.h - one libslirp instance as a fabric port: frame filter, output batch, timers, fds */
#ifndef VMF_GATEWAY_H
#define VMF_GATEWAY_H

#include <stdint.h>
#include <slirp/libslirp.h>
#include <zmq.h>

#include "codec.h"
#include "dhcp.h"
#include "evloop.h"
#include "gro.h"
#include "uplink.h"

#define GW_TIMERS	8
#define GW_OWN_MACS	8
#define GW_VNET_PEERS	16	/* MACs seen sending with a virtio-net header */

/* One hostfwd=[tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport rule. */
struct gw_fwd {
	int is_udp;
	struct in_addr host_addr, guest_addr;	/* guest 0.0.0.0: the first DHCP address */
	int host_port, guest_port;
};

/**
 * gw_parse_hostfwd() - parse a hostfwd rule as QEMU's -netdev user does
 * Return: 0, or -EINVAL with *@why set
 */
int gw_parse_hostfwd(const char *s, struct gw_fwd *f, const char **why);

struct gw_timer {
	int used;
	SlirpTimerId id;
	void *cb_opaque;
	int64_t expire_ms;	/* -1: not armed */
};

struct gw_ctr {
	uint64_t rx_frames;	/* from the switch */
	uint64_t to_slirp;	/* passed to libslirp */
	uint64_t not_for_us;	/* unicast to another MAC: dropped (normal: flooding) */
	uint64_t runt;		/* shorter than an Ethernet header */
	uint64_t dhcp_replies;	/* frames from the DHCP server */
	uint64_t tx_frames;	/* frames from libslirp to the switch */
	uint64_t tx_padded;	/* of which padded to 60 bytes */
	uint64_t tx_giant;	/* larger than MTU + 18: dropped */
	uint64_t tx_msgs;	/* batches sent to the switch */
	uint64_t lease_save_errors;
};

struct gateway {
	Slirp *slirp;
	struct uplink *up;
	struct dhcp dhcp;
	const char *lease_file;
	uint8_t mac[6];
	uint8_t own[GW_OWN_MACS][6];	/* further MACs libslirp sent from (IPv6) */
	unsigned int n_own, next_own;
	size_t max_frame;
	/* output batch, flushed once per loop pass */
	uint8_t *obuf;
	size_t oused, on;
	struct frame of[VMF_MAX_BATCH_FRAMES];	/* super-frames (gro.c) FRAME_VNET */
	/* TCP segments coalesced into super-frames for receivers with offloads (gro.c) */
	int gro_on;
	struct gro gro;
	size_t gro_idx;				/* the open super-frame's place in the batch */
	uint8_t vpeer[GW_VNET_PEERS][6];
	unsigned int n_vpeer, next_vpeer;
	/* the loop's slots libslirp asked for this pass (gw_attach) */
	struct ev_loop *loop;
	int *slirp_h;
	int n_slirp_h, cap_slirp_h;
	struct gw_timer timers[GW_TIMERS];
	uint64_t next_save;
	struct gw_ctr ctr;
};

/**
 * struct gw_conf - what gw_init() needs
 * @cfg:	libslirp configuration (version 4, DHCP disabled by gw_init)
 * @dhcp:	DHCP server configuration
 * @mac:	the gateway's MAC
 * @fwd, @n_fwd: port forwards
 * @lease_file:	where leases persist, or NULL
 * @mtu:	the network's MTU
 * @gro:	coalesce TCP segments into super-frames for receivers with offloads
 */
struct gw_conf {
	SlirpConfig cfg;
	struct dhcp_conf dhcp;
	uint8_t mac[6];
	const struct gw_fwd *fwd;
	size_t n_fwd;
	const char *lease_file;
	long mtu;
	int gro;
};

/** gw_init() - start libslirp, the DHCP server, load leases. Return: 0 or -errno, *@why set */
int gw_init(struct gateway *g, const struct gw_conf *c, struct uplink *up, const char **why);
void gw_free(struct gateway *g);

/**
 * gw_note_vnet() - remember the source MACs of frames that came with a
 * virtio-net header (a NIC process with offloads: vhost-user or a TAP),
 * before offload_plain() strips them: TCP towards them is coalesced
 */
void gw_note_vnet(struct gateway *g, const struct frame *f, size_t n);

/** gw_input() - one plain frame from the switch: DHCP, the MAC filter, then libslirp */
void gw_input(struct gateway *g, const struct frame *f, uint64_t now);

/**
 * gw_attach() - run the gateway from loop @l: before each sleep gw_tick()
 * and libslirp's sockets as slots (slirp_pollfds_fill), the sleep bounded by
 * libslirp's, the timers' and DHCP's next deadline; after each wake-up
 * libslirp's socket I/O (slirp_pollfds_poll), before any other slot's work.
 * Return: 0 or -errno
 */
int gw_attach(struct gateway *g, struct ev_loop *l);

/** gw_tick() - timers, deferred DHCP offers, lease file, then flush the output batch */
void gw_tick(struct gateway *g, uint64_t now);

/** gw_flush() - send the output batch to the switch */
void gw_flush(struct gateway *g);

/** gw_save() - write the lease file now if anything changed. Return: 0 or -errno */
int gw_save(struct gateway *g, int force);

#endif /* VMF_GATEWAY_H */
