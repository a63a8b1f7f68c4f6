/*
 * learn.c: the rules of a port whose address is being learned, and
 * whether a filter uses $IP at all (only such a filter has anything to
 * learn). While netd waits for the guest's address, the port's chains
 * hold these rules instead of the bound filter's: the bound filter
 * rendered without an address could let more through than it does with
 * one (a rule "drop unless from $IP" vanishes without $IP), so it is not
 * used until the address is known.
 *
 * dhcp: from the guest, frames with another source MAC are dropped, DHCP
 * client messages (UDP 68 -> 67, any source address: a guest renewing
 * a lease it still holds sends from it) pass; towards the guest, DHCP
 * server messages (UDP 67 -> 68; only from $DHCPSERVER when given) pass;
 * everything else is dropped in both directions.
 * any: the same, and ARP (with the guest's MAC as the sender's) and IPv4
 * from any source address pass in both directions, so that the guest's
 * first packet can teach its address.
 *
 * The rules are netd's own JSON filter definitions, parsed and rendered
 * by the same code as any filter (ebtables only). Pure.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>

#include "rules-internal.h"

#define RULE_MAC "{\"direction\": \"out\", \"protocol\": \"mac\", \"action\": \"drop\"," \
	" \"priority\": -800, \"match\": false, \"src_mac\": \"$MAC\"},"
#define RULE_DHCP_OUT "{\"direction\": \"out\", \"protocol\": \"ipv4\", \"action\": \"accept\"," \
	" \"priority\": 100, \"ip_protocol\": \"udp\", \"src_port\": \"68\", \"dst_port\": \"67\"},"
#define RULE_DHCP_IN "{\"direction\": \"in\", \"protocol\": \"ipv4\", \"action\": \"accept\"," \
	" \"priority\": 100, \"ip_protocol\": \"udp\", \"src_port\": \"67\", \"dst_port\": \"68\"},"
#define RULE_DHCP_IN_SERVER "{\"direction\": \"in\", \"protocol\": \"ipv4\", \"action\": \"accept\"," \
	" \"priority\": 100, \"src_ip\": \"$DHCPSERVER\", \"ip_protocol\": \"udp\"," \
	" \"src_port\": \"67\", \"dst_port\": \"68\"},"
#define RULE_ANY "{\"direction\": \"out\", \"protocol\": \"arp\", \"action\": \"drop\"," \
	" \"priority\": -500, \"match\": false, \"arp_src_mac\": \"$MAC\"}," \
	"{\"direction\": \"inout\", \"protocol\": \"arp\", \"action\": \"accept\", \"priority\": 500}," \
	"{\"direction\": \"inout\", \"protocol\": \"ipv4\", \"action\": \"accept\", \"priority\": 500},"
#define RULE_REST "{\"direction\": \"inout\", \"protocol\": \"all\", \"action\": \"drop\"," \
	" \"priority\": 1000}"

/* [any][with DHCPSERVER] */
static const char *const learn_json[2][2] = {
	{ "{\"name\": \"netd-learn-dhcp\", \"rules\": [" RULE_MAC RULE_DHCP_OUT RULE_DHCP_IN RULE_REST "]}",
	  "{\"name\": \"netd-learn-dhcp\", \"rules\": [" RULE_MAC RULE_DHCP_OUT RULE_DHCP_IN_SERVER
	  RULE_REST "]}" },
	{ "{\"name\": \"netd-learn-any\", \"rules\": [" RULE_MAC RULE_DHCP_OUT RULE_DHCP_IN RULE_ANY
	  RULE_REST "]}",
	  "{\"name\": \"netd-learn-any\", \"rules\": [" RULE_MAC RULE_DHCP_OUT RULE_DHCP_IN_SERVER
	  RULE_ANY RULE_REST "]}" },
};

int rules_render_learning(bool any, const char *port, const struct rules_params *p,
			  struct rules_render *ret, char **ret_error)
{
	const char *text;
	struct rules_defs *d = NULL;
	struct rules_filter *f = NULL;
	char *error = NULL;
	json_t *root;
	int r;

	assert(p && ret && ret_error);
	text = learn_json[any][p->n_dhcpservers > 0];
	root = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
	if (!root)
		return -ENOMEM; /* the texts are tested: only memory can fail */
	r = rules_filter_parse(root, &f, &error);
	json_decref(root);
	assert(r != -EINVAL);
	free(error);
	if (r < 0)
		return r;
	r = rules_defs_new_bare(&d);
	if (r < 0) {
		rules_filter_free(f);
		return r;
	}
	d->v = malloc(sizeof(*d->v));
	if (!d->v) {
		rules_filter_free(f);
		rules_defs_free(d);
		return -ENOMEM;
	}
	d->v[0] = f;
	d->n = 1;
	r = rules_render(d, f->name, port, p, ret, ret_error);
	rules_defs_free(d);
	return r;
}

static bool rule_uses_ip(const struct rules_rule *r)
{
	return (r->src_ip.set && r->src_ip.var == RULES_VAR_IP) ||
	       (r->dst_ip.set && r->dst_ip.var == RULES_VAR_IP) ||
	       (r->arp_src_ip.set && r->arp_src_ip.var == RULES_VAR_IP) ||
	       (r->arp_dst_ip.set && r->arp_dst_ip.var == RULES_VAR_IP);
}

/* depth bounds the walk: loading refused reference cycles. */
static bool uses_ip(const struct rules_defs *d, const struct rules_filter *f, unsigned depth)
{
	if (depth > d->n)
		return false;
	for (size_t i = 0; i < f->n_rules; i++)
		if (rule_uses_ip(&f->rules[i]))
			return true;
	for (size_t i = 0; i < f->n_refs; i++) {
		const struct rules_filter *g = rules_defs_find(d, f->refs[i], NULL);

		if (g && uses_ip(d, g, depth + 1))
			return true;
	}
	return false;
}

bool rules_filter_uses_ip(const struct rules_defs *d, const char *filter)
{
	const struct rules_filter *f = rules_defs_find(d, filter, NULL);

	return f && uses_ip(d, f, 0);
}
