/* port.h - the switch's ports and networks, as the forwarding pass uses them (port.c) */
#ifndef VMF_PORT_H
#define VMF_PORT_H

#include "switch.h"

/** port_by_rid() - the live port of routing id @rid, or RID_FREE */
uint32_t port_by_rid(struct vswitch *sw, const uint8_t *rid, size_t len);

/** port_hello() - a Hello from @r (@old: the port on that connection, or NULL) */
void port_hello(struct vswitch *sw, const uint8_t *r, size_t rlen, const char *key,
		const char *peer, struct port *old, const Vmfabric__Hello *h, uint64_t now);

/** port_remove() - end @p now (Error @code with @why if @code); its slot waits for port_reap() */
void port_remove(struct vswitch *sw, struct port *p, uint32_t code, const char *why);

/** port_reap() - give back the slots of removed ports that nothing points at any more */
void port_reap(struct vswitch *sw);

/** port_net() - the network @name of trunk or uplink @p's frames (made if new); NULL if not carried */
struct network *port_net(struct vswitch *sw, const struct port *p, const char *name);

/** port_lock_allows() - @src is one of the --lock-mac MACs of @l */
int port_lock_allows(const struct mac_lock *l, const uint8_t *src);

/** port_send() - @payload to @rid without blocking; Return: 0 or -errno. Consumes @payload. */
int port_send(struct vswitch *sw, const uint8_t *rid, size_t rid_len, zmq_msg_t *payload);
void port_send_env(struct vswitch *sw, const uint8_t *rid, size_t rid_len,
		   const Vmfabric__Envelope *env);
void port_send_error(struct vswitch *sw, const uint8_t *rid, size_t rid_len, uint32_t code,
		     const char *text);

#endif /* VMF_PORT_H */
