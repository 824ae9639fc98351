/* control.h - the switch's management channel: queries, kick, reload, live capture */
#ifndef VMF_CONTROL_H
#define VMF_CONTROL_H

#include <stdint.h>

#include "switch.h"

#define CONTROL_DEFAULT		"ipc:///run/vmfabric/switch.ctl"
#define CONTROL_MAX_CAPTURES	8
#define CONTROL_REQ_MAX		4096	/* bytes of one request (ZMQ_MAXMSGSIZE: a longer one closes the connection) */

struct control {
	void *sock;		/* ROUTER */
	struct vswitch *sw;
	int (*reload)(void);	/* what SIGHUP does; 0 or -errno */

	uint64_t requests, bad_requests;
	char ipc_path[256];	/* to unlink at exit */
};

/**
 * control_start() - bind the management socket
 * @ep:		"ipc://PATH" (no CURVE; the socket file is made 0600) or
 *		"tcp://ADDR:PORT" (CURVE, admin keys only: @sec is the switch's key)
 *
 * Return: 0, -EADDRINUSE if another live switch serves the ipc path, -errno
 */
int control_start(struct control *c, void *ctx, const char *ep, const uint8_t *sec,
		  struct vswitch *sw);
void control_stop(struct control *c);

/** control_input() - answer every pending request */
void control_input(struct control *c);

#endif /* VMF_CONTROL_H */
