/*
 * xml-internal.h: what xml.c (the document, the filter, its rules and
 * protocol elements) and xml-attrs.c (one element's attributes and the
 * parsers of their values) share. Not for use outside netd/rules/.
 */
#ifndef NETD_RULES_XML_INTERNAL_H
#define NETD_RULES_XML_INTERNAL_H

#include <libxml/tree.h>
#include <stdbool.h>

#include "rules-internal.h"
#include "util.h"

#define S(x) ((const char *)(x)) /* an XML string as a C string */

/* The attributes of one element: each must be used, or it is refused. */
struct attrs {
	const xmlNode *node;
	const char *names[24];
	char *values[24];
	bool used[24];
	size_t n;
};

/* *ret_error = "line N: " (n's line) and the message; -EINVAL, or -ENOMEM. */
_printf_(3, 4) int rules_xml_errorf(char **ret_error, const xmlNode *n, const char *fmt, ...);

/* Read n's attributes into a (released with rules_xml_attrs_done(), also
 * after a failure). 0, -EINVAL (too many) or -ENOMEM. */
int rules_xml_attrs_read(const xmlNode *n, struct attrs *a, char **ret_error);
void rules_xml_attrs_done(struct attrs *a);

/* The value of attribute name, marked used; NULL if absent. */
const char *rules_xml_attr(struct attrs *a, const char *name);

/* -EINVAL naming the first attribute nothing used, or 0. */
int rules_xml_attrs_check(struct attrs *a, char **ret_error);

/* A decimal or 0x-hexadecimal number in [min, max]. 0 or -EINVAL. */
int rules_xml_num(const char *s, unsigned min, unsigned max, unsigned *ret);

/* The parsers of attribute values: each reads its attributes of a (absent:
 * nothing set, 0) into the rule's field; -EINVAL with *ret_error naming
 * the attribute and the line, or -ENOMEM. */
int rules_xml_mac(struct attrs *a, const char *key, const char *maskkey, struct rules_mac *ret, char **ret_error);
int rules_xml_ip(struct attrs *a, const char *key, const char *maskkey, int af, struct rules_ip *ret,
		 char **ret_error);
int rules_xml_ports(struct attrs *a, const char *startkey, const char *endkey, struct rules_range *ret,
		    char **ret_error);
int rules_xml_ethertype(struct attrs *a, const char *key, struct rules_num *ret, char **ret_error);
int rules_xml_opcode(struct attrs *a, struct rules_num *ret, char **ret_error);
int rules_xml_ip_protocol(struct attrs *a, struct rules_num *ret, char **ret_error);
int rules_xml_vlan(struct attrs *a, struct rules_rule *r, char **ret_error);
int rules_xml_icmp(struct attrs *a, struct rules_rule *r, char **ret_error);
int rules_xml_arp_extra(struct attrs *a, struct rules_rule *r, char **ret_error);
int rules_xml_tcp_flags(struct attrs *a, struct rules_rule *r, char **ret_error);
int rules_xml_state(struct attrs *a, struct rules_rule *r, char **ret_error);
int rules_xml_range(struct attrs *a, const char *fromkey, const char *tokey, int af, struct rules_iprange *ret,
		    char **ret_error);

#endif
