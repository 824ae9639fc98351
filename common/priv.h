/* priv.h - dropping privileges after start-up: capabilities, and root for another user */
#ifndef VMF_PRIV_H
#define VMF_PRIV_H

#include <stdint.h>

#define PRIV_CAP(c)	(UINT64_C(1) << (c))

/**
 * priv_drop_caps() - keep only the capabilities in @keep (a PRIV_CAP() mask),
 * in the effective, permitted and bounding sets, clear the inheritable and
 * ambient sets, and set no_new_privs. Call before any thread exists
 * (capabilities belong to threads). Return: 0, or -errno with *@why set
 */
int priv_drop_caps(uint64_t keep, const char **why);

/** priv_caps() - the effective capability mask of this thread */
uint64_t priv_caps(void);

/**
 * priv_switch_user() - become @user (its uid, gid and supplementary groups),
 * which drops every capability, and set no_new_privs. Needs root; may be
 * called with threads running (glibc changes the credentials of every
 * thread). Return: 0, or -errno with *@why set
 */
int priv_switch_user(const char *user, const char **why);

#endif /* VMF_PRIV_H */
