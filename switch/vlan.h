/* vlan.h - 802.1Q rules: access and trunk ports, classification, tag push and pop */
#ifndef VMF_VLAN_H
#define VMF_VLAN_H

#include <stddef.h>
#include <stdint.h>

/*
 * DOC: Theory of operation
 *
 * The rules only (no switch state: the key policy parser uses them too;
 * the switch's side is vlanport.c). A port's setting is one of
 *
 *	none			transparent: frames pass as they are (the default)
 *	access VID		untagged at the port, in VLAN VID inside the switch
 *	trunk VIDS [native VID]	VIDS (a list of VIDs and ranges, or "all")
 *				travel tagged; the native VLAN untagged
 *
 * VIDs are 1..4094. Words are separated by spaces or colons, so that
 * "trunk:10,20-30:native:1" (an option) and "trunk 10,20-30 native 1"
 * (vmfabric-ctl, a key's policy) are the same setting.
 *
 * Ingress (vlan_classify): a frame's VLAN is its outer tag, never an inner
 * one. The tag protocol ids 0x8100 (C-tag), 0x88a8 (S-tag) and 0x9100
 * count as tags.
 *  - access: any tagged frame is dropped (VLAN_TAGGED_ON_ACCESS), priority
 *    tags (VID 0) included: they are what a double-tagging attack starts
 *    with, and a guest sends none unless asked to;
 *  - trunk: an 0x8100 tag names the VLAN, which must be listed or the
 *    native one (VLAN_DENIED); VID 0 (priority tag), 4095, or an S-tag are
 *    VLAN_DENIED too; an untagged frame is in the native VLAN, or dropped
 *    without one (VLAN_UNTAGGED).
 * Egress (vlan_egress): an access port takes its VLAN untagged; a trunk
 * its native VLAN untagged and its listed VLANs tagged; anything else is
 * not for the port. A tag pushed by the switch has priority 0; a frame
 * that arrived tagged keeps its own tag (priority bits included).
 *
 * Tag push and pop (vlan_push, vlan_pop) write a copy; a frame with a
 * virtio-net header keeps it, with csum_start and hdr_len (both counted
 * from the Ethernet header) moved by 4.
 */

#define VLAN_VID_MAX	4094
#define VLAN_TAG_LEN	4
#define VLAN_SPEC_MAX	160	/* a formatted setting, with NUL (longer lists are cut with "...") */

enum vlan_mode { VLAN_NONE, VLAN_ACCESS, VLAN_TRUNK };

/**
 * struct vlan_conf - one port's 802.1Q setting
 * @mode:	enum vlan_mode
 * @pvid:	access: the port's VLAN; trunk: the native VLAN (0: none)
 * @allowed:	trunk: bitmap of the VLANs that travel tagged
 */
struct vlan_conf {
	uint8_t mode;
	uint16_t pvid;
	uint8_t allowed[(VLAN_VID_MAX + 1 + 7) / 8];
};

/* Ingress verdicts: VLAN_OK, or why the frame is dropped. */
enum vlan_verdict { VLAN_OK, VLAN_TAGGED_ON_ACCESS, VLAN_DENIED, VLAN_UNTAGGED, VLAN_SHORT };

/* Egress forms. */
enum vlan_out { VLAN_OUT_SKIP, VLAN_OUT_UNTAGGED, VLAN_OUT_TAGGED };

/* The switch's room for rewritten frames, reset at the end of each pass (vlanport.c). */
struct vlan_buf {
	uint8_t *mem;
	size_t cap, used;
};

/**
 * vlan_parse() - "none", "access VID" or "trunk VIDS [native VID]" (words
 * separated by spaces or colons) into @c. Return: 0, or -EINVAL with *@why set
 */
int vlan_parse(const char *s, struct vlan_conf *c, const char **why);

/** vlan_format() - @c as vlan_parse() reads it, words joined by @sep (' ' or ':') */
void vlan_format(const struct vlan_conf *c, char *buf, size_t len, char sep);

/** vlan_format_list() - a trunk's tagged VLANs as "10,20-30" ("" when none) */
void vlan_format_list(const struct vlan_conf *c, char *buf, size_t len);

/** vlan_is_tpid() - @type (an EtherType) is a VLAN tag protocol id */
static inline int vlan_is_tpid(uint16_t type)
{
	return type == 0x8100 || type == 0x88a8 || type == 0x9100;
}

/** vlan_tagged() - the outer 802.1Q VID of Ethernet frame @eth, or -1 when it has no 0x8100 tag */
static inline int vlan_tagged(const uint8_t *eth, size_t len)
{
	if (len < 18 || eth[12] != 0x81 || eth[13] != 0x00)
		return -1;
	return (eth[14] << 8 | eth[15]) & 0x0fff;
}

/**
 * vlan_classify() - the VLAN of Ethernet frame @eth (@len >= 14) arriving
 * on a port set to @c (not VLAN_NONE): *@vid, and *@tagged when it carries
 * the tag. Return: VLAN_OK or the reason to drop it
 */
enum vlan_verdict vlan_classify(const struct vlan_conf *c, const uint8_t *eth, size_t len,
				uint16_t *vid, int *tagged);

/** vlan_egress() - how a frame of VLAN @vid leaves a port set to @c */
enum vlan_out vlan_egress(const struct vlan_conf *c, uint16_t vid);

/**
 * vlan_push() - copy frame @f (@len bytes, of which the first @hl are a
 * virtio-net header) to @dst with a tag for @vid after the MAC addresses.
 * @dst has room for @len + 4. Return: the new length, 0 if @f is too short
 */
size_t vlan_push(uint8_t *dst, const uint8_t *f, size_t len, size_t hl, uint16_t vid);

/**
 * vlan_pop() - copy frame @f to @dst without its outer tag. Return: the
 * new length, 0 if @f has no tag, or its virtio-net header points into it
 */
size_t vlan_pop(uint8_t *dst, const uint8_t *f, size_t len, size_t hl);

#endif /* VMF_VLAN_H */
