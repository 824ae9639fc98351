/* vlan.c - 802.1Q rules: access and trunk ports, classification, tag push and pop (see vlan.h) */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vlan.h"

#define VLAN_WORDS	8
#define VLAN_TEXT_MAX	1024

static void set_vid(struct vlan_conf *c, unsigned int v)
{
	c->allowed[v >> 3] |= (uint8_t)(1u << (v & 7));
}

static int has_vid(const struct vlan_conf *c, unsigned int v)
{
	return v >= 1 && v <= VLAN_VID_MAX && (c->allowed[v >> 3] >> (v & 7) & 1);
}

/* One VID 1..4094, all of @s. */
static int parse_vid(const char *s, unsigned int *v)
{
	char *end;
	unsigned long n;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	n = strtoul(s, &end, 10);
	if (*end || n < 1 || n > VLAN_VID_MAX)
		return -EINVAL;
	*v = (unsigned int)n;
	return 0;
}

/* "all", or VIDs and ranges "10,20-30" into c->allowed. */
static int parse_list(char *s, struct vlan_conf *c)
{
	char *save = NULL, *t;

	if (!strcmp(s, "all")) {
		for (unsigned int v = 1; v <= VLAN_VID_MAX; v++)
			set_vid(c, v);
		return 0;
	}
	if (*s == ',' || s[strlen(s) - 1] == ',' || strstr(s, ",,"))
		return -EINVAL;
	for (t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char *dash = strchr(t, '-');
		unsigned int a, b;

		if (dash)
			*dash = '\0';
		if (parse_vid(t, &a) || (dash ? parse_vid(dash + 1, &b) : (b = a, 0)) || b < a)
			return -EINVAL;
		for (unsigned int v = a; v <= b; v++)
			set_vid(c, v);
	}
	return 0;
}

int vlan_parse(const char *s, struct vlan_conf *c, const char **why)
{
	char buf[VLAN_TEXT_MAX], *w[VLAN_WORDS], *save = NULL, *t;
	int n = 0, i = 1;
	unsigned int v;

	memset(c, 0, sizeof(*c));
	if (strlen(s) >= sizeof(buf)) {
		*why = "VLAN setting too long";
		return -EINVAL;
	}
	strcpy(buf, s);
	for (t = strtok_r(buf, " \t:", &save); t; t = strtok_r(NULL, " \t:", &save)) {
		if (n == VLAN_WORDS) {
			*why = "VLAN setting: too many words";
			return -EINVAL;
		}
		w[n++] = t;
	}
	*why = "VLAN setting: none, access VID, or trunk VIDS [native VID] (VIDs 1-4094, "
	       "lists like 10,20-30 or all)";
	if (!n)
		return -EINVAL;
	if (!strcmp(w[0], "none"))
		return n == 1 ? 0 : -EINVAL;
	if (!strcmp(w[0], "access")) {
		if (n != 2 || parse_vid(w[1], &v))
			return -EINVAL;
		c->mode = VLAN_ACCESS;
		c->pvid = (uint16_t)v;
		return 0;
	}
	if (strcmp(w[0], "trunk"))
		return -EINVAL;
	c->mode = VLAN_TRUNK;
	if (i < n && strcmp(w[i], "native") && parse_list(w[i++], c))
		return -EINVAL;
	if (i < n) {
		if (strcmp(w[i], "native") || i + 2 != n || parse_vid(w[i + 1], &v))
			return -EINVAL;
		c->pvid = (uint16_t)v;
		i += 2;
	}
	if (i == 1) {
		*why = "VLAN setting: a trunk needs VLANs, a native VLAN, or both";
		return -EINVAL;
	}
	return 0;
}

void vlan_format_list(const struct vlan_conf *c, char *buf, size_t len)
{
	size_t used = 0;
	unsigned int v = 1;

	buf[0] = '\0';
	while (v <= VLAN_VID_MAX) {
		unsigned int a, b;
		int k;

		if (!has_vid(c, v)) {
			v++;
			continue;
		}
		for (a = b = v; b + 1 <= VLAN_VID_MAX && has_vid(c, b + 1); b++)
			;
		if (a == 1 && b == VLAN_VID_MAX)
			k = snprintf(buf, len, "all");
		else if (a == b)
			k = snprintf(buf + used, len - used, "%s%u", used ? "," : "", a);
		else
			k = snprintf(buf + used, len - used, "%s%u-%u", used ? "," : "", a, b);
		if (k < 0 || (size_t)k + 4 > len - used) {
			/* cut on a whole item, with room kept to say so */
			buf[used] = '\0';
			if (used + 4 <= len)
				strcat(buf, "...");
			return;
		}
		used += (size_t)k;
		v = b + 1;
	}
}

void vlan_format(const struct vlan_conf *c, char *buf, size_t len, char sep)
{
	char list[VLAN_SPEC_MAX];

	switch (c->mode) {
	case VLAN_ACCESS:
		snprintf(buf, len, "access%c%u", sep, c->pvid);
		break;
	case VLAN_TRUNK:
		vlan_format_list(c, list, sizeof(list) - 40);
		if (!c->pvid)
			snprintf(buf, len, "trunk%c%s", sep, list);
		else if (*list)
			snprintf(buf, len, "trunk%c%s%cnative%c%u", sep, list, sep, sep, c->pvid);
		else
			snprintf(buf, len, "trunk%cnative%c%u", sep, sep, c->pvid);
		break;
	default:
		snprintf(buf, len, "none");
	}
}

enum vlan_verdict vlan_classify(const struct vlan_conf *c, const uint8_t *eth, size_t len,
				uint16_t *vid, int *tagged)
{
	uint16_t type = (uint16_t)(eth[12] << 8 | eth[13]);
	int tag;

	*vid = 0;
	*tagged = 0;
	if (c->mode == VLAN_ACCESS) {
		if (vlan_is_tpid(type))
			return VLAN_TAGGED_ON_ACCESS;
		*vid = c->pvid;
		return VLAN_OK;
	}
	if (!vlan_is_tpid(type)) {
		if (!c->pvid)
			return VLAN_UNTAGGED;
		*vid = c->pvid;
		return VLAN_OK;
	}
	if (type != 0x8100)
		return VLAN_DENIED;	/* an S-tag: not a VLAN of this switch */
	tag = vlan_tagged(eth, len);
	if (tag < 0)
		return VLAN_SHORT;
	if (!(tag == c->pvid && tag) && !has_vid(c, (unsigned int)tag))
		return VLAN_DENIED;	/* VID 0 and 4095 are never listed */
	*vid = (uint16_t)tag;
	*tagged = 1;
	return VLAN_OK;
}

enum vlan_out vlan_egress(const struct vlan_conf *c, uint16_t vid)
{
	if (!vid)
		return VLAN_OUT_SKIP;
	if (c->mode == VLAN_ACCESS)
		return vid == c->pvid ? VLAN_OUT_UNTAGGED : VLAN_OUT_SKIP;
	if (vid == c->pvid)
		return VLAN_OUT_UNTAGGED;
	return has_vid(c, vid) ? VLAN_OUT_TAGGED : VLAN_OUT_SKIP;
}

/* virtio-net header fields counted from the Ethernet header: move them by @delta */
static int vnet_shift(uint8_t *h, int delta)
{
	unsigned int start = (unsigned int)(h[6] | h[7] << 8), hdr = (unsigned int)(h[2] | h[3] << 8);

	if (h[0] & 1) {	/* VIRTIO_NET_HDR_F_NEEDS_CSUM */
		if ((int)start + delta < 14)
			return -EINVAL;
		start = (unsigned int)((int)start + delta);
		h[6] = (uint8_t)start;
		h[7] = (uint8_t)(start >> 8);
	}
	if (h[1] && hdr) {	/* GSO: the length of the headers */
		if ((int)hdr + delta < 14)
			return -EINVAL;
		hdr = (unsigned int)((int)hdr + delta);
		h[2] = (uint8_t)hdr;
		h[3] = (uint8_t)(hdr >> 8);
	}
	return 0;
}

size_t vlan_push(uint8_t *dst, const uint8_t *f, size_t len, size_t hl, uint16_t vid)
{
	if (len < hl + 14)
		return 0;
	memcpy(dst, f, hl + 12);
	dst[hl + 12] = 0x81;
	dst[hl + 13] = 0x00;
	dst[hl + 14] = (uint8_t)(vid >> 8 & 0x0f);
	dst[hl + 15] = (uint8_t)vid;
	memcpy(dst + hl + 16, f + hl + 12, len - hl - 12);
	if (hl && vnet_shift(dst, VLAN_TAG_LEN))
		return 0;
	return len + VLAN_TAG_LEN;
}

size_t vlan_pop(uint8_t *dst, const uint8_t *f, size_t len, size_t hl)
{
	if (len < hl + 18 || !vlan_is_tpid((uint16_t)(f[hl + 12] << 8 | f[hl + 13])))
		return 0;
	memcpy(dst, f, hl + 12);
	memcpy(dst + hl + 12, f + hl + 16, len - hl - 16);
	if (hl && vnet_shift(dst, -VLAN_TAG_LEN))
		return 0;
	return len - VLAN_TAG_LEN;
}
