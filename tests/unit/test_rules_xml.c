/*
 * test_rules_xml.c: libvirt's XML filters (rules/xml.c, rules/flatten.c)
 * through the public API: what is refused, with the file's line and the
 * reason, when loading a directory; what a folded sub-chain renders to;
 * the bindings refused when a return cannot be folded; XML and JSON files
 * side by side. tests/rules/libvirt.sh renders libvirt's standard filters
 * and runs them through the real tools.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rules/rules.h"

#define MAC "52:54:00:12:34:56"

struct dir {
	char path[64];
};

static void dir_make(struct dir *d)
{
	snprintf(d->path, sizeof(d->path), "/tmp/test_rules_xml.XXXXXX");
	assert_non_null(mkdtemp(d->path));
}

static void dir_put(const struct dir *d, const char *name, const char *text)
{
	char path[128];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", d->path, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_true(fputs(text, fp) >= 0);
	assert_int_equal(fclose(fp), 0);
}

static void dir_remove(const struct dir *d)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->path);
	assert_int_equal(system(cmd), 0);
}

/* Load one file (named name) with the built-ins; the number loaded, and
 * the first error without the directory's part ("x.xml: line 3: ...") in
 * err. */
static int load_one(const char *name, const char *text, char *err, size_t n, struct rules_defs **ret)
{
	struct rules_defs *d = NULL;
	struct dir dir;
	char **errors = NULL;
	size_t nerrors = 0;
	int r;

	dir_make(&dir);
	dir_put(&dir, name, text);
	assert_int_equal(rules_defs_new(&d), 0);
	r = rules_defs_load_dir(d, dir.path, &errors, &nerrors);
	err[0] = '\0';
	if (nerrors > 0)
		snprintf(err, n, "%s", errors[0] + strlen(dir.path) + 1);
	for (size_t i = 0; i < nerrors; i++)
		free(errors[i]);
	free(errors);
	dir_remove(&dir);
	if (ret)
		*ret = d;
	else
		rules_defs_free(d);
	return r;
}

static void refused(const char *text, const char *want)
{
	char err[512];

	if (load_one("x.xml", text, err, sizeof(err), NULL) != 0)
		fail_msg("loaded: %s", text);
	if (!strstr(err, want))
		fail_msg("want an error containing \"%s\", got \"%s\"", want, err);
}

#define HEAD "<filter name='x' chain='root'>\n"

static void test_refusals(void **state)
{
	refused("<filter name='x'>\n  <rule action='drop' direction='out'>\n", "x.xml: line 3: not well-formed XML");
	refused("<rules/>\n", "x.xml: line 1: the root element must be <filter>");
	refused(HEAD "  <rule action='drop' direction='out'>\n    <vlan vlanid='5000'/>\n  </rule>\n</filter>\n",
		"x.xml: line 3: <vlan> vlanid='5000' is not 0..4095");
	refused(HEAD "  <rule action='drop' direction='out'>\n    <vlan encap-protocol='0x05dc'/>\n  </rule>\n</filter>\n",
		"x.xml: line 3: <vlan> encap-protocol='0x05dc' is not arp, rarp, ipv4, ipv6 or an ethertype");
	refused("<filter name='x' chain='vlan'>\n  <rule action='drop' direction='out'>\n    <arp/>\n"
		"  </rule>\n</filter>\n", "x.xml: line 3: <arp> can never match in a chain of kind vlan");
	refused(HEAD "\n  <rule action='drop' direction='out'>\n    <stp/>\n  </rule>\n</filter>\n",
		"x.xml: line 4: <stp>: protocol not supported");
	refused(HEAD "  <rule action='drop' direction='out' statematch='false'>\n    <esp srcportstart='5'/>\n"
		"  </rule>\n</filter>\n", "x.xml: line 3: <esp> attribute 'srcportstart' is not supported");
	refused(HEAD "  <rule action='drop' direction='out' statematch='false'>\n    <icmp code='4'/>\n  </rule>\n"
		"</filter>\n", "x.xml: line 3: <icmp> code needs a type 0..254");
	refused(HEAD "  <rule action='drop' direction='out' statematch='false'>\n    <icmpv6 type='1' code='256'/>\n"
		"  </rule>\n</filter>\n", "x.xml: line 3: <icmpv6> code='256' is not 0..255");
	refused(HEAD "  <rule action='drop' direction='out'>\n    <arp gratuitous='false'/>\n  </rule>\n</filter>\n",
		"x.xml: line 3: <arp> gratuitous='false': only 'true' is supported");
	refused(HEAD "  <rule action='drop' direction='out'>\n    <rarp hwtype='65536'/>\n  </rule>\n</filter>\n",
		"x.xml: line 3: <rarp> hwtype='65536' is not 0..65535");
	refused(HEAD "  <rule action='drop' direction='out' statematch='false'>\n    <udp srcipfrom='10.0.0.1'/>\n"
		"  </rule>\n</filter>\n", "x.xml: line 3: <udp> srcipfrom and srcipto go together");
	refused(HEAD "  <rule action='drop' direction='out' statematch='false'>\n"
		"    <udp dstipfrom='10.0.0.9' dstipto='10.0.0.1'/>\n  </rule>\n</filter>\n",
		"x.xml: line 3: <udp> dstipto='10.0.0.1' is not an IPv4 address from dstipfrom on");
	refused(HEAD "  <rule action='drop' direction='out'>\n    <ip dscp='3'/>\n  </rule>\n</filter>\n",
		"x.xml: line 3: <ip> attribute 'dscp' is not supported by netd");
	refused(HEAD "  <rule action='drop' direction='out' statematch='false'>\n    <tcp flags='SYN/ACK'/>\n"
		"  </rule>\n</filter>\n", "x.xml: line 3: <tcp> flags='SYN/ACK' is not MASK/FLAGS");
	refused(HEAD "  <rule action='drop' direction='out' statematch='false'>\n    <udp flags='SYN/SYN'/>\n"
		"  </rule>\n</filter>\n", "x.xml: line 3: <udp> attribute 'flags' is not supported");
	refused(HEAD "  <rule action='drop' direction='out' statematch='false'>\n    <tcp state='NEW,'/>\n"
		"  </rule>\n</filter>\n", "x.xml: line 3: <tcp> state='NEW,' is not a list of INVALID, NEW");
	refused(HEAD "  <rule action='drop' direction='out' statematch='false'>\n    <udp state='NONE'/>\n"
		"  </rule>\n</filter>\n", "x.xml: line 3: <udp> state='NONE' is not a list of INVALID, NEW");
	refused(HEAD "  <rule action='drop' direction='out' statematch='false'>\n    <tcp dscp='64'/>\n  </rule>\n"
		"</filter>\n", "x.xml: line 3: <tcp> dscp='64' is not 0..63");
	refused(HEAD "  <rule action='drop' direction='out'>\n    <bogus/>\n  </rule>\n</filter>\n",
		"x.xml: line 3: <bogus>: unknown protocol element");
	refused(HEAD "  <rule action='continue' direction='in'/>\n</filter>\n",
		"x.xml: line 2: <rule> action='continue' is not supported");
	refused(HEAD "  <rule action='drop' direction='sideways'/>\n</filter>\n",
		"x.xml: line 2: <rule> direction='sideways' is not in, out or inout");
	refused(HEAD "  <rule action='drop' direction='in' priority='1001'/>\n</filter>\n",
		"x.xml: line 2: <rule> priority='1001' is not -1000..1000");
	refused(HEAD "  <rule action='drop' direction='in' colour='red'/>\n</filter>\n",
		"x.xml: line 2: <rule> attribute 'colour' is not supported");
	refused(HEAD "  <rule action='drop' direction='out'>\n    <ip srcipaddr='$PORTS'/>\n  </rule>\n</filter>\n",
		"x.xml: line 3: <ip> srcipaddr='$PORTS': netd binds only $MAC and $GATEWAY_MAC");
	refused(HEAD "  <rule action='drop' direction='out'>\n    <ip srcipaddr='$IP[@1]'/>\n  </rule>\n</filter>\n",
		"x.xml: line 3: <ip> srcipaddr='$IP[@1]': list elements and iterators");
	refused(HEAD "  <rule action='drop' direction='out'>\n    <ip srcipaddr='10.0.0.300'/>\n  </rule>\n</filter>\n",
		"x.xml: line 3: <ip> srcipaddr='10.0.0.300' is not an IPv4 address");
	refused(HEAD "  <rule action='drop' direction='out'>\n    <ip srcipaddr='10.0.0.0' srcipmask='255.0.255.0'/>\n"
		"  </rule>\n</filter>\n", "x.xml: line 3: <ip> srcipmask='255.0.255.0' is not a prefix length");
	refused(HEAD "  <rule action='drop' direction='out'>\n    <ip srcportstart='68'/>\n  </rule>\n</filter>\n",
		"x.xml: line 3: <ip>: ports need protocol tcp or udp");
	refused(HEAD "  <rule action='drop' direction='out'>\n    <mac protocolid='0x0600'/>\n  </rule>\n</filter>\n",
		"x.xml: line 3: <mac> protocolid='0x0600' is not arp, rarp, ipv4, ipv6 or an ethertype");
	refused(HEAD "  <filterref filter='no-mac-spoofing'>\n    <parameter name='PORTS' value='22'/>\n"
		"  </filterref>\n</filter>\n", "x.xml: line 3: <parameter> name='PORTS': netd binds only MAC");
	refused(HEAD "  <filterref filter='no-mac-spoofing'>\n    <parameter name='MAC' value='ff:ff:ff:ff:ff:ff'/>\n"
		"  </filterref>\n</filter>\n", "x.xml: line 3: <parameter name='MAC'> value='ff:ff:ff:ff:ff:ff' is not a "
		"unicast MAC address");
	refused(HEAD "  <filterref filter='no-ip-spoofing'>\n\n    <parameter name='IPV6' value='10.0.0.1'/>\n"
		"  </filterref>\n</filter>\n", "x.xml: line 4: <parameter name='IPV6'> value='10.0.0.1' is not an IPv6");
	refused(HEAD "  <filterref filter='no-ip-spoofing'>\n    <value/>\n  </filterref>\n</filter>\n",
		"x.xml: line 3: <filterref> holds only <parameter name=... value=...>");
	refused("<filter name='x' chain='stp'/>\n", "x.xml: line 1: <filter> chain='stp' is not root");
	refused("<filter name='x' chain='arp-'/>\n", "x.xml: line 1: <filter> chain='arp-' is not root");
	refused("<filter name='-x'/>\n", "x.xml: line 1: <filter> name='-x' is not a valid filter name");
	refused("<filter name='x' chain='ipv4'>\n  <rule action='drop' direction='out'>\n    <arp/>\n"
		"  </rule>\n</filter>\n", "x.xml: line 3: <arp> can never match in a chain of kind ipv4");
	refused("<filter name='x' chain='arp-y'>\n  <rule action='drop' direction='out'>\n"
		"    <mac protocolid='ipv4'/>\n  </rule>\n</filter>\n",
		"x.xml: line 3: <mac> protocolid 0x0800 can never match in a chain of kind arp");
	refused(HEAD "  <rule action='drop' direction='out'>\n    <ip/>\n    <arp/>\n  </rule>\n</filter>\n",
		"x.xml: line 4: <rule>: more than one protocol element");
	refused(HEAD "  <table/>\n</filter>\n", "x.xml: line 2: <table>: unknown element in <filter>");
	/* A name the built-ins have. */
	refused("<filter name='clean-traffic'/>\n", "x.xml: name: 'clean-traffic' is the name of a built-in filter");
	/* Entities are not expanded, external ones not loaded. */
	refused("<!DOCTYPE f [<!ENTITY e SYSTEM 'file:///etc/passwd'>]>\n<filter name='x'>&e;</filter>\n",
		"x.xml: line 2: a DOCTYPE before <filter> is not supported");
}

/* Render filter from a set; the eb text (or the error) into out. */
static int render(struct rules_defs *d, const char *filter, const char *const *ips, size_t n_ips, char *out,
		  size_t n)
{
	struct rules_params p = { .mac = MAC, .ips = ips, .n_ips = n_ips };
	struct rules_render r = { 0 };
	char *error = NULL;
	int ret = rules_render(d, filter, "vnet0", &p, &r, &error);

	if (ret < 0) {
		snprintf(out, n, "%s", error ? error : "?");
		free(error);
		return ret;
	}
	snprintf(out, n, "%s", r.text[RULES_EB] ? r.text[RULES_EB] : "");
	rules_render_done(&r);
	return 0;
}

static const char *const one_ip[] = { "192.168.122.10" };
static const char *const two_ips[] = { "192.168.122.10", "192.168.122.11" };

/* The three ways a return of a sub-chain is folded, and the refusal. */
static void test_fold(void **state)
{
	struct rules_defs *d;
	char out[4096];

	/* The rest of the root chain inlined for the frames the return
	 * matches; a verdict (ACCEPT at 900) ends it. */
	{
		struct dir dir;
		char **errors = NULL;
		size_t nerrors = 0;

		dir_make(&dir);
		dir_put(&dir, "x.xml",
			"<filter name='x'>\n"
			"  <filterref filter='y'/>\n"
			"  <rule action='accept' direction='out' priority='0'>\n"
			"    <mac dstmacaddr='52:54:00:00:00:01'/>\n"
			"  </rule>\n"
			"  <rule action='accept' direction='out' priority='900'><mac protocolid='arp'/></rule>\n"
			"</filter>\n");
		dir_put(&dir, "y.xml",
			"<filter name='y' chain='arp-y'>\n"
			"  <rule action='return' direction='out' priority='1'><arp arpsrcipaddr='$IP'/></rule>\n"
			"  <rule action='drop' direction='out' priority='2'/>\n"
			"</filter>\n");
		dir_put(&dir, "z.xml",
			"<filter name='z' chain='arp-z'>\n"
			"  <rule action='return' direction='out' priority='1'><arp arpsrcipaddr='$IP'/></rule>\n"
			"  <rule action='drop' direction='out' priority='2'/>\n"
			"</filter>\n");
		dir_put(&dir, "w.xml",
			"<filter name='w'>\n"
			"  <filterref filter='z'/>\n"
			"  <rule action='accept' direction='out' priority='0'><arp arpsrcipaddr='10.0.0.1'/></rule>\n"
			"</filter>\n");
		assert_int_equal(rules_defs_new(&d), 0);
		assert_int_equal(rules_defs_load_dir(d, dir.path, &errors, &nerrors), 4);
		assert_int_equal(nerrors, 0);
		dir_remove(&dir);
	}
	assert_int_equal(render(d, "x", two_ips, 2, out, sizeof(out)), 0);
	assert_string_equal(out, ":N-O-vnet0 RETURN\n"
			    "-A N-O-vnet0 -p ARP -d 52:54:00:00:00:01 --arp-ip-src 192.168.122.10 -j ACCEPT\n"
			    "-A N-O-vnet0 -p ARP -d 52:54:00:00:00:01 --arp-ip-src 192.168.122.11 -j ACCEPT\n"
			    "-A N-O-vnet0 -p ARP --arp-ip-src 192.168.122.10 -j ACCEPT\n"
			    "-A N-O-vnet0 -p ARP --arp-ip-src 192.168.122.11 -j ACCEPT\n"
			    "-A N-O-vnet0 -p ARP -j DROP\n"
			    "-A N-O-vnet0 -d 52:54:00:00:00:01 -j ACCEPT\n"
			    "-A N-O-vnet0 -p ARP -j ACCEPT\n");
	/* Alone: nothing after the chain, the frames pass. */
	assert_int_equal(render(d, "y", two_ips, 2, out, sizeof(out)), 0);
	assert_string_equal(out, ":N-O-vnet0 RETURN\n"
			    "-A N-O-vnet0 -p ARP --arp-ip-src 192.168.122.10 -j RETURN\n"
			    "-A N-O-vnet0 -p ARP --arp-ip-src 192.168.122.11 -j RETURN\n"
			    "-A N-O-vnet0 -p ARP -j DROP\n");
	/* w's root rule has the return's own condition: not joinable. One
	 * address: the drop gets the condition negated. */
	assert_int_equal(render(d, "w", one_ip, 1, out, sizeof(out)), 0);
	assert_string_equal(out, ":N-O-vnet0 RETURN\n"
			    "-A N-O-vnet0 -p ARP --arp-ip-src ! 192.168.122.10 -j DROP\n"
			    "-A N-O-vnet0 -p ARP --arp-ip-src 10.0.0.1 -j ACCEPT\n");
	/* No address: the return matches nothing, the drop stays whole. */
	assert_int_equal(render(d, "w", NULL, 0, out, sizeof(out)), 0);
	assert_string_equal(out, ":N-O-vnet0 RETURN\n"
			    "-A N-O-vnet0 -p ARP -j DROP\n"
			    "-A N-O-vnet0 -p ARP --arp-ip-src 10.0.0.1 -j ACCEPT\n");
	/* Two: neither way says it in one chain; refused with the line. */
	assert_int_equal(render(d, "w", two_ips, 2, out, sizeof(out)), -EINVAL);
	assert_string_equal(out, "filter: 'z' line 2: a return in chain 'arp-z' followed by rules that depend "
			    "on more than the protocol cannot be rendered into one chain: it needs a single "
			    "condition with a single value");
	rules_defs_free(d);
}

/* libvirt's sub-chains have ebtables' default policy, ACCEPT: a frame
 * that reaches the end of one is accepted, not returned to the root chain
 * (as scripts/libvirt-equivalence saw libvirtd do). */
static void test_policy(void **state)
{
	struct rules_defs *d;
	struct dir dir;
	char **errors = NULL, out[2048];
	size_t nerrors = 0;

	dir_make(&dir);
	/* Only accepts DHCP, in chain ipv4; then a drop of everything. */
	dir_put(&dir, "dhcp.xml",
		"<filter name='dhcp' chain='ipv4'>\n"
		"  <rule action='accept' direction='out'><ip protocol='udp' srcportstart='68' dstportstart='67'/></rule>\n"
		"</filter>\n");
	dir_put(&dir, "guard.xml",
		"<filter name='guard' chain='arp-g'>\n"
		"  <rule action='return' direction='out' priority='1'><arp arpsrcipaddr='$IP'/></rule>\n"
		"</filter>\n");
	dir_put(&dir, "closed.xml",
		"<filter name='closed' chain='ipv4'>\n"
		"  <rule action='drop' direction='out'><ip dstipaddr='224.0.0.0' dstipmask='4'/></rule>\n"
		"  <rule action='drop' direction='out'/>\n"
		"</filter>\n");
	dir_put(&dir, "a.xml", "<filter name='a'>\n  <filterref filter='dhcp'/>\n"
		"  <rule action='drop' direction='out' priority='1000'/>\n</filter>\n");
	dir_put(&dir, "b.xml", "<filter name='b'>\n  <filterref filter='guard'/>\n"
		"  <rule action='drop' direction='out' priority='1000'/>\n</filter>\n");
	dir_put(&dir, "c.xml", "<filter name='c'>\n  <filterref filter='closed'/>\n"
		"  <rule action='drop' direction='out' priority='1000'/>\n</filter>\n");
	assert_int_equal(rules_defs_new(&d), 0);
	assert_int_equal(rules_defs_load_dir(d, dir.path, &errors, &nerrors), 6);
	assert_int_equal(nerrors, 0);
	dir_remove(&dir);

	/* Other IPv4 is accepted at the end of the chain, before the drop. */
	assert_int_equal(render(d, "a", one_ip, 1, out, sizeof(out)), 0);
	assert_string_equal(out, ":N-O-vnet0 RETURN\n"
			    "-A N-O-vnet0 -p IPv4 --ip-proto udp --ip-sport 68 --ip-dport 67 -j ACCEPT\n"
			    "-A N-O-vnet0 -p IPv4 -j ACCEPT\n"
			    "-A N-O-vnet0 -j DROP\n");
	/* Returned frames go on to the drop, the others are accepted. */
	assert_int_equal(render(d, "b", one_ip, 1, out, sizeof(out)), 0);
	assert_string_equal(out, ":N-O-vnet0 RETURN\n"
			    "-A N-O-vnet0 -p ARP --arp-ip-src 192.168.122.10 -j DROP\n"
			    "-A N-O-vnet0 -p ARP -j ACCEPT\n"
			    "-A N-O-vnet0 -j DROP\n");
	/* A chain whose last rule takes every frame has no accept after it;
	 * bound alone, nothing follows the chain and none is needed. */
	assert_int_equal(render(d, "c", one_ip, 1, out, sizeof(out)), 0);
	assert_string_equal(out, ":N-O-vnet0 RETURN\n"
			    "-A N-O-vnet0 -p IPv4 --ip-dst 224.0.0.0/4 -j DROP\n"
			    "-A N-O-vnet0 -p IPv4 -j DROP\n"
			    "-A N-O-vnet0 -j DROP\n");
	assert_int_equal(render(d, "dhcp", one_ip, 1, out, sizeof(out)), 0);
	assert_string_equal(out, ":N-O-vnet0 RETURN\n"
			    "-A N-O-vnet0 -p IPv4 --ip-proto udp --ip-sport 68 --ip-dport 67 -j ACCEPT\n");
	rules_defs_free(d);
}

/* XML and JSON side by side, referring to each other; the definition
 * shown for an XML filter is its text. */
static void test_mixed(void **state)
{
	static const char xml[] = "<filter name='a' chain='ipv4'>\n"
				  "  <filterref filter='b'/>\n"
				  "  <rule action='drop' direction='out'><ip dstipaddr='224.0.0.0' dstipmask='4'/></rule>\n"
				  "</filter>\n";
	struct rules_defs *d;
	struct dir dir;
	char **errors = NULL, out[1024];
	size_t nerrors = 0;
	json_t *j;

	dir_make(&dir);
	dir_put(&dir, "a.xml", xml);
	dir_put(&dir, "b.json", "{\"name\": \"b\", \"rules\": [{\"direction\": \"in\", \"protocol\": \"arp\","
				" \"action\": \"accept\"}], \"filters\": [\"no-mac-spoofing\"]}");
	dir_put(&dir, "c.txt", "not a filter");
	assert_int_equal(rules_defs_new(&d), 0);
	assert_int_equal(rules_defs_load_dir(d, dir.path, &errors, &nerrors), 2);
	assert_int_equal(nerrors, 0);
	assert_false(rules_defs_is_builtin(d, "a"));
	assert_non_null(strstr(rules_defs_file(d, "a"), "/a.xml"));
	j = rules_filter_json(d, "a");
	assert_string_equal(json_string_value(json_object_get(j, "libvirt_xml")), xml);
	json_decref(j);
	assert_int_equal(render(d, "a", one_ip, 1, out, sizeof(out)), 0);
	assert_string_equal(out, ":N-I-vnet0 RETURN\n:N-O-vnet0 RETURN\n"
			    "-A N-I-vnet0 -p ARP -j ACCEPT\n"
			    "-A N-O-vnet0 -s ! " MAC " -j DROP\n"
			    "-A N-O-vnet0 -p IPv4 --ip-dst 224.0.0.0/4 -j DROP\n");
	rules_defs_free(d);
	dir_remove(&dir);
}

/* The iptables text of one rule of an XML filter (or the error) in out. */
static void render_ip4(const char *rule, char *out, size_t n)
{
	struct rules_params p = { .mac = MAC, .ips = one_ip, .n_ips = 1 };
	struct rules_render r = { 0 };
	struct rules_defs *d = NULL;
	char text[1024], err[256], *error = NULL;

	snprintf(text, sizeof(text), HEAD "  %s\n</filter>\n", rule);
	assert_int_equal(load_one("x.xml", text, err, sizeof(err), &d), 1);
	if (rules_render(d, "x", "vnet0", &p, &r, &error) < 0) {
		snprintf(out, n, "%s", error ? error : "?");
		free(error);
	} else {
		snprintf(out, n, "%s", r.text[RULES_IP4] ? r.text[RULES_IP4] : "");
	}
	rules_render_done(&r);
	rules_defs_free(d);
}

#define DECL ":N-I-vnet0 - [0:0]\n:N-O-vnet0 - [0:0]\n"

/* libvirt's statematch: an accept rule of one direction matches
 * NEW,ESTABLISHED there and lets its replies back (addresses and ports
 * swapped, ESTABLISHED) in the other; not for statematch='false', inout,
 * drop or an ICMP type; an explicit state only in its own direction. */
static void test_statematch(void **state)
{
	char out[1024];

	(void)state;
	render_ip4("<rule action='accept' direction='in'><tcp srcipaddr='10.0.0.1' dstportstart='22'/></rule>", out,
		   sizeof(out));
	assert_string_equal(out, DECL "-A N-I-vnet0 -s 10.0.0.1/32 -p tcp -m tcp --dport 22 -m conntrack --ctstate "
			    "NEW,ESTABLISHED -j ACCEPT\n"
			    "-A N-O-vnet0 -d 10.0.0.1/32 -p tcp -m tcp --sport 22 -m conntrack --ctstate ESTABLISHED "
			    "-j ACCEPT\n");
	render_ip4("<rule action='accept' direction='out' statematch='true'><udp dstipaddr='$IP' "
		   "srcportstart='68' dstportstart='67'/></rule>", out, sizeof(out));
	assert_string_equal(out, DECL "-A N-I-vnet0 -s 192.168.122.10/32 -p udp -m udp --sport 67 --dport 68 "
			    "-m conntrack --ctstate ESTABLISHED -j ACCEPT\n"
			    "-A N-O-vnet0 -d 192.168.122.10/32 -p udp -m udp --sport 68 --dport 67 "
			    "-m conntrack --ctstate NEW,ESTABLISHED -j ACCEPT\n");
	render_ip4("<rule action='accept' direction='inout'><tcp dstportstart='80'/></rule>", out, sizeof(out));
	assert_string_equal(out, DECL "-A N-I-vnet0 -p tcp -m tcp --dport 80 -j ACCEPT\n"
			    "-A N-O-vnet0 -p tcp -m tcp --dport 80 -j ACCEPT\n");
	render_ip4("<rule action='accept' direction='in' statematch='false'><tcp dstportstart='22'/></rule>", out,
		   sizeof(out));
	assert_string_equal(out, ":N-I-vnet0 - [0:0]\n-A N-I-vnet0 -p tcp -m tcp --dport 22 -j ACCEPT\n");
	render_ip4("<rule action='drop' direction='in'><tcp dstportstart='23'/></rule>", out, sizeof(out));
	assert_string_equal(out, ":N-I-vnet0 - [0:0]\n-A N-I-vnet0 -p tcp -m tcp --dport 23 -j DROP\n");
	render_ip4("<rule action='accept' direction='in'><icmp type='8'/></rule>", out, sizeof(out));
	assert_string_equal(out, ":N-I-vnet0 - [0:0]\n-A N-I-vnet0 -p icmp -m icmp --icmp-type 8 "
			    "-m conntrack --ctstate NEW,ESTABLISHED -j ACCEPT\n");
	render_ip4("<rule action='accept' direction='in'><all match='no' srcipaddr='10.0.0.0' srcipmask='8'/></rule>",
		   out, sizeof(out));
	assert_string_equal(out, DECL "-A N-I-vnet0 ! -s 10.0.0.0/8 -m conntrack --ctstate NEW,ESTABLISHED "
			    "-j ACCEPT\n-A N-O-vnet0 ! -d 10.0.0.0/8 -m conntrack --ctstate ESTABLISHED -j ACCEPT\n");
	render_ip4("<rule action='accept' direction='out'><tcp dstportstart='25' state='NEW'/></rule>", out,
		   sizeof(out));
	assert_string_equal(out, ":N-O-vnet0 - [0:0]\n-A N-O-vnet0 -p tcp -m tcp --dport 25 -m conntrack "
			    "--ctstate NEW -j ACCEPT\n");
	render_ip4("<rule action='accept' direction='inout'><tcp match='no' dstportstart='25' "
		   "state='INVALID,RELATED'/></rule>", out, sizeof(out));
	assert_string_equal(out, DECL "-A N-I-vnet0 -p tcp -m tcp ! --dport 25 -m conntrack ! --ctstate "
			    "INVALID,RELATED -j ACCEPT\n"
			    "-A N-O-vnet0 -p tcp -m tcp ! --dport 25 -m conntrack ! --ctstate INVALID,RELATED "
			    "-j ACCEPT\n");
}

/* A reload keeps the previous definition of a filter whose file no longer
 * loads, and of those that refer to it; not of one whose file is gone. */
static void test_keep_previous(void **state)
{
	struct rules_defs *d1, *d2;
	struct dir dir;
	char **errors = NULL, **kept = NULL, out[1024], path[128];
	size_t nerrors = 0, nkept = 0;

	dir_make(&dir);
	dir_put(&dir, "a.xml", "<filter name='a'>\n  <rule action='drop' direction='in'><ip/></rule>\n</filter>\n");
	dir_put(&dir, "b.json", "{\"name\": \"b\", \"filters\": [\"a\"]}");
	dir_put(&dir, "c.json", "{\"name\": \"c\", \"filters\": [\"a\"]}");
	assert_int_equal(rules_defs_new(&d1), 0);
	assert_int_equal(rules_defs_load_dir(d1, dir.path, &errors, &nerrors), 3);
	dir_put(&dir, "a.xml", "<filter name='a'>\n  <rule action='drop' direction='in'><stp/></rule>\n</filter>\n");
	snprintf(path, sizeof(path), "%s/c.json", dir.path);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rules_defs_new(&d2), 0);
	assert_int_equal(rules_defs_load_dir(d2, dir.path, &errors, &nerrors), 0);
	assert_int_equal(nerrors, 2); /* a refused, b with it */
	for (size_t i = 0; i < nerrors; i++)
		free(errors[i]);
	free(errors);
	assert_int_equal(rules_defs_keep_previous(d2, d1, &kept, &nkept), 2);
	assert_int_equal(nkept, 2);
	assert_string_equal(kept[0], "a");
	assert_string_equal(kept[1], "b");
	for (size_t i = 0; i < nkept; i++)
		free(kept[i]);
	free(kept);
	assert_false(rules_defs_has(d2, "c"));
	assert_non_null(strstr(rules_defs_file(d2, "a"), "/a.xml"));
	assert_int_equal(render(d2, "b", NULL, 0, out, sizeof(out)), 0);
	assert_string_equal(out, ":N-I-vnet0 RETURN\n-A N-I-vnet0 -p IPv4 -j DROP\n");
	rules_defs_free(d1);
	rules_defs_free(d2);
	dir_remove(&dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_fold),
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_mixed),
		cmocka_unit_test(test_statematch),
		cmocka_unit_test(test_keep_previous),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
