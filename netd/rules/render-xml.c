/*
 * render-xml.c: the restore text of what only libvirt's XML filters have
 * (xml.c): ebtables' 802.1Q matches and iptables' other protocols (sctp,
 * udplite, esp, ah, igmp, all) and address ranges, in the form *-save
 * prints them back, as
 * render.c does for the rest.
 */
#include "config.h"

#include <arpa/inet.h>
#include <assert.h>
#include <stdio.h>

#include "rules-internal.h"
#include "strbuf.h"

static void fmt_range(char out[12], const struct rules_range *r)
{
	if (r->lo == r->hi)
		snprintf(out, 12, "%u", r->lo);
	else
		snprintf(out, 12, "%u:%u", r->lo, r->hi);
}

/* ebtables' 802.1Q matches of a rule (libvirt's <vlan>). */
void rules_line_eb_vlan(struct strbuf *b, const struct rules_rule *r, const char *neg)
{
	if (r->vlan_id.set)
		strbuf_printf(b, " --vlan-id %s%u", neg, r->vlan_id.v);
	/* ebtables-save prints the encapsulated type as four hex digits,
	 * never by name. */
	if (r->vlan_encap.set)
		strbuf_printf(b, " --vlan-encap %s%04X", neg, r->vlan_encap.v);
}

/* The protocols only libvirt's XML filters have (xml.c). */
void rules_line_ip_other(struct strbuf *b, const struct rules_rule *r, const char *neg)
{
	char t[12];

	switch (r->proto) {
	case RULES_P_SCTP:
	case RULES_P_SCTP6:
		strbuf_printf(b, " -p sctp");
		if (r->src_port.set || r->dst_port.set)
			strbuf_printf(b, " -m sctp");
		if (r->src_port.set) {
			fmt_range(t, &r->src_port);
			strbuf_printf(b, " %s--sport %s", neg, t);
		}
		if (r->dst_port.set) {
			fmt_range(t, &r->dst_port);
			strbuf_printf(b, " %s--dport %s", neg, t);
		}
		break;
	case RULES_P_UDPLITE:
	case RULES_P_UDPLITE6:
		strbuf_printf(b, " -p udplite");
		break;
	case RULES_P_ESP:
	case RULES_P_ESP6:
		strbuf_printf(b, " -p esp");
		break;
	case RULES_P_AH:
	case RULES_P_AH6:
		strbuf_printf(b, " -p ah");
		break;
	case RULES_P_IGMP:
		strbuf_printf(b, " -p igmp");
		break;
	case RULES_P_ALLIP:
	case RULES_P_ALLIP6:
		break; /* every IP protocol: no -p */
	default:
		assert(false);
	}
}

void rules_line_ip_range(struct strbuf *b, const struct rules_rule *r, const char *neg)
{
	const struct rules_iprange *rg[2] = { &r->src_range, &r->dst_range };
	static const char *const opt[2] = { "--src-range", "--dst-range" };
	char lo[INET6_ADDRSTRLEN], hi[INET6_ADDRSTRLEN];

	if (r->src_range.set || r->dst_range.set)
		strbuf_printf(b, " -m iprange");
	for (int i = 0; i < 2; i++) {
		if (!rg[i]->set)
			continue;
		if (!inet_ntop(rg[i]->af, rg[i]->lo, lo, sizeof(lo)) || !inet_ntop(rg[i]->af, rg[i]->hi, hi, sizeof(hi)))
			assert(false); /* af is AF_INET or AF_INET6 */
		strbuf_printf(b, " %s%s %s-%s", neg, opt[i], lo, hi);
	}
	if (r->dscp.set)
		strbuf_printf(b, " -m dscp %s--dscp 0x%02x", neg, r->dscp.v);
	if (r->ct_state.set) {
		static const char *const states[] = { "INVALID", "NEW", "RELATED", "ESTABLISHED" };
		const char *sep = "";

		/* The state of libvirt's statematch is never negated. */
		strbuf_printf(b, " -m conntrack %s--ctstate ", r->ct_auto ? "" : neg);
		for (unsigned i = 0; i < 4; i++)
			if (r->ct_state.v & (1u << i)) {
				strbuf_printf(b, "%s%s", sep, states[i]);
				sep = ",";
			}
	}
}

/* TCP flags as iptables-save lists them: in bit order, NONE for none. */
static void put_tcp_flags(struct strbuf *b, unsigned v)
{
	static const char *const names[] = { "FIN", "SYN", "RST", "PSH", "ACK", "URG" };
	const char *sep = "";

	if (v == 0)
		strbuf_printf(b, "NONE");
	for (unsigned i = 0; i < 6; i++)
		if (v & (1u << i)) {
			strbuf_printf(b, "%s%s", sep, names[i]);
			sep = ",";
		}
}

void rules_line_tcp_flags(struct strbuf *b, const struct rules_rule *r, const char *neg)
{
	if (!r->tcp_flags.set)
		return;
	strbuf_printf(b, " %s--tcp-flags ", neg);
	put_tcp_flags(b, r->tcp_mask.v);
	strbuf_printf(b, " ");
	put_tcp_flags(b, r->tcp_flags.v);
}
