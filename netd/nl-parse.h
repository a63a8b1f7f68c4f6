/*
 * nl-parse.h: reading rtnetlink link messages, for nl.c only (the one
 * other file that includes libmnl).
 */
#ifndef NETD_NL_PARSE_H
#define NETD_NL_PARSE_H

#include <libmnl/libmnl.h>

#include "nl.h"

/* Fill *l from an RTM_NEWLINK/RTM_DELLINK message; -EINVAL if malformed. */
int nl_parse_link(const struct nlmsghdr *nlh, struct nl_link *l);

/* mnl_attr_parse callback: the extended ack's message into *(const char **)data. */
int nl_parse_extack(const struct nlattr *a, void *data);

#endif
