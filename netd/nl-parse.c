/*
 * nl-parse.c: reading rtnetlink link messages (see nl-parse.h), and the
 * macvlan mode names of nl.h. Split from nl.c, which sends and receives.
 */
#include "config.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <string.h>

#include "nl.h"
#include "nl-parse.h"
#include "util.h"

static const char *const mode_names[] = {
	[MACVLAN_MODE_PRIVATE] = "private",
	[MACVLAN_MODE_VEPA] = "vepa",
	[MACVLAN_MODE_BRIDGE] = "bridge",
	[MACVLAN_MODE_PASSTHRU] = "passthru",
};

int nl_macvlan_mode_from_string(const char *s, uint32_t *ret)
{
	for (size_t i = 0; i < ELEMENTSOF(mode_names); i++)
		if (mode_names[i] && streq(mode_names[i], s)) {
			*ret = (uint32_t)i;
			return 0;
		}
	return -EINVAL;
}

const char *nl_macvlan_mode_to_string(uint32_t mode)
{
	if (mode < ELEMENTSOF(mode_names) && mode_names[mode])
		return mode_names[mode];
	return NULL;
}

/* --- parsing --- */

static int parse_macvlan_data(const struct nlattr *a, void *data)
{
	struct nl_link *l = data;

	if (mnl_attr_get_type(a) == IFLA_MACVLAN_MODE &&
	    mnl_attr_validate(a, MNL_TYPE_U32) == 0)
		l->macvlan_mode = mnl_attr_get_u32(a);
	return MNL_CB_OK;
}

static int parse_linkinfo(const struct nlattr *a, void *data)
{
	struct nl_link *l = data;

	switch (mnl_attr_get_type(a)) {
	case IFLA_INFO_KIND:
		if (mnl_attr_validate(a, MNL_TYPE_STRING) == 0)
			str_copy(l->kind, sizeof(l->kind), mnl_attr_get_str(a));
		break;
	case IFLA_INFO_DATA:
		if (mnl_attr_validate(a, MNL_TYPE_NESTED) == 0)
			mnl_attr_parse_nested(a, parse_macvlan_data, l);
		break;
	}
	return MNL_CB_OK;
}

static int parse_link_attr(const struct nlattr *a, void *data)
{
	struct nl_link *l = data;

	switch (mnl_attr_get_type(a)) {
	case IFLA_IFNAME:
		if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
			str_copy(l->name, sizeof(l->name), mnl_attr_get_str(a));
		break;
	case IFLA_LINK:
		if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
			l->parent_ifindex = (int)mnl_attr_get_u32(a);
		break;
	case IFLA_MTU:
		if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
			l->mtu = mnl_attr_get_u32(a);
		break;
	case IFLA_GROUP:
		if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
			l->group = mnl_attr_get_u32(a);
		break;
	case IFLA_ADDRESS:
		if (mnl_attr_get_payload_len(a) == NL_MAC_LEN) {
			memcpy(l->mac, mnl_attr_get_payload(a), NL_MAC_LEN);
			l->has_mac = true;
		}
		break;
	case IFLA_LINKINFO:
		if (mnl_attr_validate(a, MNL_TYPE_NESTED) == 0)
			mnl_attr_parse_nested(a, parse_linkinfo, l);
		break;
	case IFLA_IFALIAS:
		/* Truncated, a long alias could read as netd's tag. */
		if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0 &&
		    strlen(mnl_attr_get_str(a)) < sizeof(l->alias))
			str_copy(l->alias, sizeof(l->alias), mnl_attr_get_str(a));
		break;
	}
	return MNL_CB_OK;
}

int nl_parse_link(const struct nlmsghdr *nlh, struct nl_link *l)
{
	const struct ifinfomsg *ifi;

	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)))
		return -EINVAL;
	ifi = mnl_nlmsg_get_payload(nlh);
	memset(l, 0, sizeof(*l));
	l->ifindex = ifi->ifi_index;
	l->flags = ifi->ifi_flags;
	if (mnl_attr_parse(nlh, sizeof(*ifi), parse_link_attr, l) < 0)
		return -EINVAL;
	return l->name[0] && l->ifindex > 0 ? 0 : -EINVAL;
}

int nl_parse_extack(const struct nlattr *a, void *data)
{
	const char **msg = data;

	if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG &&
	    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
		*msg = mnl_attr_get_str(a);
	return MNL_CB_OK;
}
