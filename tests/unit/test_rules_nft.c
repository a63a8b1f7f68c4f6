/*
 * test_rules_nft.c: the nftables netdev target of the filter model
 * (netd/rules/render-nft.c): every built-in and the custom filters of
 * tests/rules/custom/ rendered for a macvtap port and compared with the
 * golden files tests/rules/golden/<name>.nft (UPDATE_GOLDEN=1 rewrites
 * them), the hash, determinism, the parameters' effect, bad input refused
 * with nothing written, libvirt's sub-chains and <filterref> parameters
 * of tests/rules/xml/, and the removal lines. Needs no nft:
 * tests/integration/filters-macvtap.sh loads the golden files into a real
 * kernel.
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
#include "strbuf.h"

#define MAC "52:54:00:12:34:56"
#define PORT "macvtap0"

static const char *const std_ips[] = { "192.168.122.10", "2001:db8::10" };
static const char *const std_dhcp[] = { "192.168.122.1" };
static const struct rules_params std_params = {
	.mac = MAC, .ips = std_ips, .n_ips = 2, .dhcpservers = std_dhcp, .n_dhcpservers = 1,
	.gateway_mac = "52:54:00:00:00:01",
};

static const char *const names[] = {
	"allow-arp", "allow-dhcp", "allow-dhcp-server", "allow-incoming-ipv4", "clean-traffic",
	"no-arp-ip-spoofing", "no-arp-mac-spoofing", "no-arp-spoofing", "no-ip-spoofing",
	"no-mac-spoofing", "no-other-l2-traffic",
	"allow-dhcpv6", "allow-dhcpv6-server", "allow-incoming-ipv6", "allow-ipv4", "allow-ipv6",
	"clean-traffic-gateway", "no-ip-multicast", "no-ipv6-multicast", "no-ipv6-spoofing",
	"no-mac-broadcast", "no-other-rarp-traffic", "qemu-announce-self", "qemu-announce-self-rarp",
	/* tests/rules/custom/ */
	"edge-forms", "l2-custom", "my-ssh", "with-refs",
};

static char *path_of(const char *rel)
{
	const char *top = getenv("top_srcdir");
	char *p;

	assert_true(asprintf(&p, "%s/%s", top && *top ? top : ".", rel) > 0);
	return p;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0;
	FILE *m;
	int c;

	if (!f)
		return NULL;
	m = open_memstream(&buf, &len);
	assert_non_null(m);
	while ((c = fgetc(f)) != EOF)
		fputc(c, m);
	fclose(m);
	fclose(f);
	return buf;
}

static struct rules_defs *defs_all(void)
{
	struct rules_defs *d = NULL;
	char **errors = NULL, *dir = path_of("tests/rules/custom");
	size_t n = 0;

	assert_int_equal(rules_defs_new(&d), 0);
	assert_int_equal(rules_defs_load_dir(d, dir, &errors, &n), 4);
	for (size_t i = 0; i < n; i++)
		free(errors[i]);
	free(errors);
	free(dir);
	return d;
}

static void render_ok(const struct rules_defs *d, const char *filter, const struct rules_params *p,
		      struct rules_nft *r)
{
	char *err = NULL;
	int ret = rules_render_nft(d, filter, PORT, p, r, &err);

	if (ret != 0)
		fail_msg("rendering %s: %d %s", filter, ret, err ? err : "");
	assert_null(err);
	assert_non_null(r->text);
}

static void test_golden(void **state)
{
	struct rules_defs *d = defs_all();
	const char *u = getenv("UPDATE_GOLDEN");

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct rules_nft r;
		char *rel, *path, *want;

		render_ok(d, names[i], &std_params, &r);
		assert_string_equal(r.in_chain, "N-I-" PORT);
		assert_string_equal(r.out_chain, "N-O-" PORT);
		assert_true(asprintf(&rel, "tests/rules/golden/%s.nft", names[i]) > 0);
		path = path_of(rel);
		if (u && strcmp(u, "1") == 0) {
			FILE *f = fopen(path, "we");

			assert_non_null(f);
			fputs(r.text, f);
			assert_int_equal(fclose(f), 0);
		} else {
			want = read_file(path);
			if (!want)
				fail_msg("%s: missing; renders:\n%s(UPDATE_GOLDEN=1 writes it)", rel, r.text);
			if (strcmp(want, r.text) != 0)
				fail_msg("%s differs; rendered:\n%s", rel, r.text);
			free(want);
		}
		/* Both base chains, always, on the device's own hooks. */
		assert_non_null(strstr(r.text, "add chain netdev netd N-I-" PORT
					       " { type filter hook ingress device \"" PORT "\""));
		assert_non_null(strstr(r.text, "add chain netdev netd N-O-" PORT
					       " { type filter hook egress device \"" PORT "\""));
		free(path);
		free(rel);
		rules_nft_done(&r);
		assert_null(r.text);
	}
	rules_defs_free(d);
}

/* What clean-traffic must say on this target, line by line. */
static void test_clean_traffic_lines(void **state)
{
	struct rules_defs *d = defs_all();
	struct rules_nft r;

	render_ok(d, "clean-traffic", &std_params, &r);
	/* From the guest (egress): spoofed source MAC dropped first. */
	assert_non_null(strstr(r.text, "add rule netdev netd N-O-" PORT " ether saddr != " MAC " drop\n"));
	assert_non_null(strstr(r.text, "ether type 0x0800 ip saddr 192.168.122.10 return\n"));
	assert_non_null(strstr(r.text, "ether type 0x0800 drop\n"));
	/* ARP sender MAC and IP as raw payload. */
	assert_non_null(strstr(r.text, "ether type 0x0806 @nh,64,48 != 0x525400123456 drop\n"));
	assert_non_null(strstr(r.text, "ether type 0x0806 @nh,112,32 0xc0a87a0a return\n"));
	/* allow-arp's ARP accept behind no-arp-spoofing's ARP drop can never
	 * match: left out. */
	assert_non_null(strstr(r.text, "add rule netdev netd N-O-" PORT " ether type 0x0806 drop\n"));
	assert_null(strstr(r.text, "add rule netdev netd N-O-" PORT " ether type 0x0806 accept\n"));
	/* L2 rules only: no -l2 chain. */
	assert_null(strstr(r.text, "-l2"));
	assert_true(r.has_in && r.has_out);
	assert_true(strstr(r.text, "N-I-") < strstr(r.text, "N-O-"));
	rules_nft_done(&r);
	/* with-refs has both levels: the L2 rules in the -l2 chain, ACCEPT there
	 * is return. */
	render_ok(d, "with-refs", &std_params, &r);
	assert_non_null(strstr(r.text, "add chain netdev netd N-O-" PORT "-l2\nflush chain netdev netd N-O-"
					PORT "-l2\nadd rule netdev netd N-O-" PORT " jump N-O-" PORT "-l2\n"));
	assert_non_null(strstr(r.text, "add rule netdev netd N-O-" PORT "-l2 ether saddr != " MAC " drop\n"));
	rules_nft_done(&r);
	rules_defs_free(d);
}

static void test_hash(void **state)
{
	struct rules_defs *d = defs_all();
	struct rules_nft a, b, c;
	const char *ips1[] = { "192.168.122.11" };
	struct rules_params p = std_params;
	struct rules_render x;
	struct strbuf h = { 0 };
	char want[65], *err = NULL;

	render_ok(d, "clean-traffic", &std_params, &a);
	render_ok(d, "clean-traffic", &std_params, &b);
	assert_string_equal(a.text, b.text);
	assert_string_equal(a.hash, b.hash);
	strbuf_printf(&h, "%s\n%zu\n%s", RULES_NFT_VERSION, strlen(a.text), a.text);
	assert_int_equal(rules_sha256_hex(h.p, h.len, want), 0);
	assert_string_equal(a.hash, want);
	strbuf_done(&h);
	p.ips = ips1;
	p.n_ips = 1;
	render_ok(d, "clean-traffic", &p, &c);
	assert_string_not_equal(a.hash, c.hash);
	assert_non_null(strstr(c.text, "ip saddr 192.168.122.11 return"));
	assert_null(strstr(c.text, "2001:db8"));
	/* Not the xtables rendering's hash. */
	assert_int_equal(rules_render(d, "clean-traffic", PORT, &std_params, &x, &err), 0);
	assert_string_not_equal(x.hash, a.hash);
	rules_render_done(&x);
	rules_nft_done(&a);
	rules_nft_done(&b);
	rules_nft_done(&c);
	rules_defs_free(d);
}

static void fails(const struct rules_defs *d, const char *filter, const char *port,
		  const struct rules_params *p, const char *field)
{
	struct rules_nft r;
	char *err = NULL;

	memset(&r, 0x5a, sizeof(r));
	assert_int_equal(rules_render_nft(d, filter, port, p, &r, &err), -EINVAL);
	assert_non_null(err);
	assert_int_equal(strncmp(err, field, strlen(field)), 0);
	assert_null(strchr(err, '\n'));
	for (size_t i = 0; i < sizeof(r); i++)
		assert_int_equal(((unsigned char *)&r)[i], 0x5a);
	free(err);
}

static void test_bad_input(void **state)
{
	struct rules_defs *d = defs_all();
	const char *bad_ip[] = { "192.168.122.10\nadd table ip x" };
	const char *bad_dhcp[] = { "2001:db8::1/64" };
	struct rules_params p = std_params;

	fails(d, "nope", PORT, &std_params, "filter");
	fails(d, "clean-traffic", "x\" ; flush ruleset", &std_params, "port");
	fails(d, "clean-traffic", "-x", &std_params, "port");
	fails(d, "clean-traffic", "0123456789abcdef", &std_params, "port");
	p.mac = "ff:ff:ff:ff:ff:ff";
	fails(d, "clean-traffic", PORT, &p, "MAC");
	p.mac = NULL;
	fails(d, "clean-traffic", PORT, &p, "MAC");
	p = std_params;
	p.ips = bad_ip;
	p.n_ips = 1;
	fails(d, "clean-traffic", PORT, &p, "IP");
	p = std_params;
	p.dhcpservers = bad_dhcp;
	fails(d, "allow-dhcp-server", PORT, &p, "DHCPSERVER");
	rules_defs_free(d);
}

/* The built-ins and the filters of tests/rules/xml/. */
static struct rules_defs *defs_xml(void)
{
	struct rules_defs *d = NULL;
	char **errors = NULL, *dir = path_of("tests/rules/xml");
	size_t n = 0;

	assert_int_equal(rules_defs_new(&d), 0);
	assert_true(rules_defs_load_dir(d, dir, &errors, &n) > 0);
	for (size_t i = 0; i < n; i++)
		free(errors[i]);
	free(errors);
	free(dir);
	return d;
}

/* The rule lines of text with the same match (all but the verdict) as an
 * earlier one in the same chain, which no packet can reach: how many. */
static unsigned shadowed(const char *text)
{
	char *copy = strdup(text), *save = NULL;
	char *seen[512];
	size_t mlen[512], n = 0;
	unsigned dups = 0;

	assert_non_null(copy);
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		size_t m = (size_t)(strrchr(l, ' ') - l);

		if (strncmp(l, "add rule ", 9) != 0 || strstr(l, " jump "))
			continue;
		for (size_t k = 0; k < n; k++)
			if (mlen[k] == m && strncmp(seen[k], l, m) == 0) {
				fprintf(stderr, "shadowed: %s\n", l);
				dups++;
			}
		assert_true(n < 512);
		seen[n] = l;
		mlen[n++] = m;
	}
	free(copy);
	return dups;
}

/* Each filter of d rendered, or refused with a message that names what
 * this target cannot express; never rendered with a variable's MAC left
 * unreplaced, nor with a rule no packet can reach. How many were
 * refused. */
static size_t render_each(const struct rules_defs *d)
{
	size_t refused = 0;

	for (size_t i = 0; i < rules_defs_count(d); i++) {
		const char *name = rules_defs_name(d, i);
		struct rules_nft r;
		char *err = NULL;
		int ret = rules_render_nft(d, name, PORT, &std_params, &r, &err);

		if (ret == 0) {
			if (strstr(r.text, "& 0x000000000000"))
				fail_msg("%s: a MAC variable left unreplaced:\n%s", name, r.text);
			if (shadowed(r.text))
				fail_msg("%s: a rule behind one with the same match:\n%s", name, r.text);
			rules_nft_done(&r);
			continue;
		}
		assert_int_equal(ret, -EINVAL);
		if (rules_defs_is_builtin(d, name))
			fail_msg("built-in %s refused: %s", name, err);
		assert_non_null(strstr(err, "not supported by the nftables netdev backend"));
		assert_int_equal(strncmp(err, "filter: ", 8), 0);
		refused++;
		free(err);
	}
	return refused;
}

/* Every filter there is: the built-ins, tests/rules/custom/ (all render)
 * and tests/rules/xml/ (some refused). */
static void test_every_filter(void **state)
{
	struct rules_defs *d = defs_all();

	assert_int_equal(render_each(d), 0);
	rules_defs_free(d);
	d = defs_xml();
	assert_true(render_each(d) > 0);
	rules_defs_free(d);
}

/* The constructs of libvirt's XML filters this target refuses, by name. */
static void refused(const struct rules_defs *d, const char *filter, const char *what)
{
	struct rules_nft r;
	char *err = NULL;

	assert_int_equal(rules_render_nft(d, filter, PORT, &std_params, &r, &err), -EINVAL);
	fprintf(stderr, "%s: %s\n", filter, err);
	if (!strstr(err, what))
		fail_msg("%s: '%s' not named in: %s", filter, what, err);
	free(err);
}

static void test_refused(void **state)
{
	struct rules_defs *d = defs_xml();

	refused(d, "vlan-guard", "vlan");
	refused(d, "ip-protocols", "match state");
	refused(d, "l2-arp-guard", "arp gratuitous");
	rules_defs_free(d);
}

/* libvirt's sub-chains, folded as for ebtables, under a <filterref>
 * whose parameter replaces the binding's IP: guest-guard's chain 'ipv4'
 * (ipv4-source) lets the guest send IPv4 from 10.9.0.11 only; with its
 * iptables-level rule the L2 rules go to the -l2 chain, where the
 * sub-chain's return goes back to the base chain. libvirt's other IP
 * protocols and iptables-only matches render (l3-matches); conntrack
 * state is refused, saying why. */
static void test_xml_chains(void **state)
{
	struct rules_defs *d = defs_xml();
	struct rules_nft r;
	char *err = NULL;

	assert_int_equal(rules_render_nft(d, "guest-guard", PORT, &std_params, &r, &err), 0);
	assert_string_equal(strstr(r.text, "add rule netdev netd N-O-" PORT " jump"),
		"add rule netdev netd N-O-" PORT " jump N-O-" PORT "-l2\n"
		"add rule netdev netd N-O-" PORT "-l2 ether saddr != 52:54:00:12:34:56 drop\n"
		"add rule netdev netd N-O-" PORT "-l2 ether type 0x0800 ip saddr 10.9.0.11 return\n"
		"add rule netdev netd N-O-" PORT "-l2 ether type 0x0800 drop\n"
		"add rule netdev netd N-O-" PORT " ether type 0x0800 meta l4proto 6 th dport 23 drop\n");
	assert_null(strstr(r.text, "192.168.122.10"));
	rules_nft_done(&r);
	/* Without the reference's parameter: the binding's addresses. */
	assert_int_equal(rules_render_nft(d, "ipv4-source", PORT, &std_params, &r, &err), 0);
	assert_non_null(strstr(r.text, "N-O-" PORT " ether type 0x0800 ip saddr 192.168.122.10 return\n"));
	assert_non_null(strstr(r.text, "N-O-" PORT " ether type 0x0800 drop\n"));
	rules_nft_done(&r);
	refused(d, "stateful", "state is not supported");
	/* libvirt's other protocols and iptables-only matches. */
	assert_int_equal(rules_render_nft(d, "l3-matches", PORT, &std_params, &r, &err), 0);
	assert_non_null(strstr(r.text, " ip saddr 10.0.0.0/8 meta l4proto 132 th dport 3868-3869 accept\n"));
	assert_non_null(strstr(r.text, " meta l4proto 6 tcp flags & 0x06 != 0x00 drop\n"));
	assert_non_null(strstr(r.text, " meta l4proto 1 icmp type 3 icmp code 4 accept\n"));
	assert_non_null(strstr(r.text, " meta l4proto 58 @th,0,16 != 0x0103 drop\n"));
	/* iptables' "! --icmp-type any" matches nothing: no rule at all. */
	assert_null(strstr(r.text, "10.1.1.1"));
	assert_non_null(strstr(r.text, " meta l4proto 6 ip6 daddr != 2001:db8::1-2001:db8::9 drop\n"));
	assert_non_null(strstr(r.text, " meta l4proto 51 ip dscp != 0x2e accept\n"));
	rules_nft_done(&r);
	assert_int_equal(rules_render_nft(d, "arp-fields", PORT, &std_params, &r, &err), 0);
	assert_non_null(strstr(r.text, " ether type 0x0806 @nh,0,16 != 0x0001 @nh,16,16 != 0x0800 drop\n"));
	rules_nft_done(&r);
	refused(d, "stateful", "connection tracking never sees");
	rules_defs_free(d);
}

static void test_remove(void **state)
{
	struct strbuf b = { 0 };

	assert_int_equal(rules_nft_remove("bad\"port", &b), -EINVAL);
	assert_int_equal(b.len, 0);
	assert_int_equal(rules_nft_remove(PORT, &b), 0);
	assert_string_equal(b.p,
		"add chain netdev netd N-I-" PORT " { type filter hook ingress device \"" PORT
		"\" priority filter; policy accept; }\n"
		"delete chain netdev netd N-I-" PORT "\n"
		"add chain netdev netd N-O-" PORT " { type filter hook egress device \"" PORT
		"\" priority filter; policy accept; }\n"
		"delete chain netdev netd N-O-" PORT "\n"
		"add chain netdev netd N-I-" PORT "-l2\ndelete chain netdev netd N-I-" PORT "-l2\n"
		"add chain netdev netd N-O-" PORT "-l2\ndelete chain netdev netd N-O-" PORT "-l2\n");
	strbuf_done(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_clean_traffic_lines),
		cmocka_unit_test(test_hash),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_every_filter),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_xml_chains),
		cmocka_unit_test(test_remove),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
