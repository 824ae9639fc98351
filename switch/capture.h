/* capture.h - live capture on the switch: BPF in the loop, pcap records to a control client */
#ifndef VMF_CAPTURE_H
#define VMF_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

#include "switch.h"

#define CAP_SNAPLEN	65535

/* Capture directions. */
enum { CAP_IN, CAP_OUT };

/**
 * capture_frame() - offer frame @f (its Ethernet part: a virtio-net header
 * is not captured) of network @net, entering the switch from @p or leaving
 * it to @p, to the live captures
 */
void capture_frame(struct vswitch *sw, const struct port *p, const char *net,
		   const struct frame *f, int dir);

/** capture_flush() - send what captures collected this pass */
void capture_flush(struct vswitch *sw);

/**
 * capture_start() - a capture for the control client @rid on socket @sock
 * @port, @net:	what to capture (a port name, or a network name)
 * @count:	records wanted (0: no limit)
 * @filter:	libpcap expression ("" for none)
 * Return: its id (> 0), or -errno with the reason in @why
 */
int capture_start(struct vswitch *sw, void *sock, const uint8_t *rid, size_t rid_len,
		  const char *port, const char *net, uint64_t count, const char *filter,
		  char *why, size_t whylen);

/** capture_stop_client() - end the captures of client @rid; Return: how many */
int capture_stop_client(struct vswitch *sw, const uint8_t *rid, size_t rid_len);

/** capture_count() - live captures */
unsigned int capture_count(const struct vswitch *sw);

/** capture_stop_all() - end every capture */
void capture_stop_all(struct vswitch *sw);

#endif /* VMF_CAPTURE_H */
