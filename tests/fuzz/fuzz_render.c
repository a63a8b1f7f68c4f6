/*
 * fuzz_render.c: libFuzzer target for rendering bindings. Each input is a
 * binding: the first FUZZ_HEAD bytes choose the port name, the MAC, the
 * $IP and $DHCPSERVER values and which filter (a built-in, or a custom one
 * taken from the rest of the input, loaded as in fuzz_filters.c).
 * Parameters are mostly valid, formatted from the bytes; now and then a
 * raw byte string instead, which must be refused.
 *
 * Checked on every successful render, per family: text is printable ASCII
 * lines, each ending in '\n'; chain declarations first, exactly for the
 * chains has_in/has_out name, then "-A <chain> ..." rules whose every
 * token is a known option, '!' or a value that cannot pass for an option
 * (no leading '-', only [A-Za-z0-9:./_-]), each option with one value,
 * ending with -j and a known target; the chain names are N-I-/N-O- and the
 * port; the hash is the SHA-256 of the texts as rules.h describes it
 * (recomputed here) and rendering again gives the same bytes.
 *
 * With FUZZ_RENDER_DUMP=DIR in the environment, each successful render is
 * also written to DIR as <hash>.eb/.ip4/.ip6 (restore input without the
 * "*filter"/COMMIT wrapping), for tests/fuzz/restore-check.sh.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-common.h"
#include "rules/rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_HEAD 48
#define MAX_VALUES 3

static const char *const eb_opts[] = {
	"-p", "-s", "-d", "--ip-src", "--ip-dst", "--ip-proto", "--ip-sport", "--ip-dport",
	"--ip6-src", "--ip6-dst", "--ip6-proto", "--ip6-sport", "--ip6-dport", "--arp-op",
	"--arp-ip-src", "--arp-ip-dst", "--arp-mac-src", "--arp-mac-dst",
};
static const char *const ip_opts[] = {
	"-s", "-d", "-p", "-m", "--sport", "--dport", "--icmp-type", "--icmpv6-type",
};

static bool in_list(const char *s, const char *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, v[i]) == 0)
			return true;
	return false;
}

static bool value_ok(const char *s)
{
	if (!*s || *s == '-' || strcmp(s, "!") == 0)
		return false;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789:./_-") == strlen(s);
}

/* One "-A ..." line (without its '\n', modified in place). */
static void check_rule_line(enum rules_family fam, char *line, const struct rules_render *r)
{
	char *tok[128];
	size_t n = 0, i;
	char *p = line, *sp;

	for (;;) {
		sp = strchr(p, ' ');
		if (sp)
			*sp = '\0';
		if (!*p || n == 128)
			abort(); /* empty token: a double or trailing space */
		tok[n++] = p;
		if (!sp)
			break;
		p = sp + 1;
	}
	if (n < 4 || strcmp(tok[0], "-A") != 0)
		abort();
	if (!((strcmp(tok[1], r->in_chain) == 0 && r->has_in[fam]) ||
	      (strcmp(tok[1], r->out_chain) == 0 && r->has_out[fam])))
		abort();
	/* the end: -j TARGET, or -j REJECT --reject-with WHAT (ip) */
	if (fam != RULES_EB && n >= 6 && strcmp(tok[n - 2], "--reject-with") == 0) {
		if (strcmp(tok[n - 4], "-j") != 0 || strcmp(tok[n - 3], "REJECT") != 0 ||
		    strcmp(tok[n - 1], fam == RULES_IP4 ? "icmp-port-unreachable" : "icmp6-port-unreachable") != 0)
			abort();
		n -= 4;
	} else {
		if (strcmp(tok[n - 2], "-j") != 0 ||
		    !(strcmp(tok[n - 1], "ACCEPT") == 0 || strcmp(tok[n - 1], "DROP") == 0 ||
		      strcmp(tok[n - 1], "RETURN") == 0))
			abort();
		n -= 2;
	}
	/* the matches: [!] OPTION [!] VALUE ... */
	for (i = 2; i < n;) {
		if (strcmp(tok[i], "!") == 0)
			i++;
		if (i >= n)
			abort();
		if (fam == RULES_EB ? !in_list(tok[i], eb_opts, sizeof(eb_opts) / sizeof(eb_opts[0]))
				    : !in_list(tok[i], ip_opts, sizeof(ip_opts) / sizeof(ip_opts[0])))
			abort();
		i++;
		if (i < n && strcmp(tok[i], "!") == 0)
			i++;
		if (i >= n || !value_ok(tok[i]))
			abort();
		i++;
	}
}

static void check_text(enum rules_family fam, const char *text, const struct rules_render *r)
{
	bool decl_in = false, decl_out = false, rules_seen = false;
	const char *p = text;
	char line[4096], want[64];

	if (!text) {
		if (r->has_in[fam] || r->has_out[fam])
			abort();
		return;
	}
	if (!*text || text[strlen(text) - 1] != '\n')
		abort();
	for (const unsigned char *c = (const unsigned char *)text; *c; c++)
		if ((*c < 0x20 && *c != '\n') || *c >= 0x7f)
			abort();
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = (size_t)(nl - p);

		if (len == 0 || len >= sizeof(line))
			abort();
		memcpy(line, p, len);
		line[len] = '\0';
		p = nl + 1;
		if (line[0] == ':') {
			const char *chain;

			if (rules_seen)
				abort(); /* declarations come first */
			if (strncmp(line + 1, r->in_chain, strlen(r->in_chain)) == 0 && !decl_in) {
				chain = r->in_chain;
				decl_in = true;
			} else if (strncmp(line + 1, r->out_chain, strlen(r->out_chain)) == 0 && !decl_out) {
				chain = r->out_chain;
				decl_out = true;
			} else {
				abort();
			}
			snprintf(want, sizeof(want), ":%s %s", chain, fam == RULES_EB ? "RETURN" : "- [0:0]");
			if (strcmp(line, want) != 0)
				abort();
			continue;
		}
		rules_seen = true;
		check_rule_line(fam, line, r);
	}
	if (decl_in != r->has_in[fam] || decl_out != r->has_out[fam])
		abort();
}

static void check_hash(const struct rules_render *r)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	char hex[65], buf[64];

	if (!ctx)
		abort();
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	EVP_DigestUpdate(ctx, RULES_RENDER_VERSION "\n", strlen(RULES_RENDER_VERSION) + 1);
	for (int f = 0; f < RULES_FAMILIES; f++) {
		if (r->text[f]) {
			snprintf(buf, sizeof(buf), "%d %zu\n", f, strlen(r->text[f]));
			EVP_DigestUpdate(ctx, buf, strlen(buf));
			EVP_DigestUpdate(ctx, r->text[f], strlen(r->text[f]));
		} else {
			snprintf(buf, sizeof(buf), "%d -\n", f);
			EVP_DigestUpdate(ctx, buf, strlen(buf));
		}
	}
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	if (mdlen != 32 || strcmp(hex, r->hash) != 0)
		abort();
}

static void dump(const struct rules_render *r)
{
	static const char *const ext[RULES_FAMILIES] = { "eb", "ip4", "ip6" };
	const char *dir = getenv("FUZZ_RENDER_DUMP");
	char path[4096];
	FILE *fp;

	if (!dir)
		return;
	for (int f = 0; f < RULES_FAMILIES; f++) {
		if (!r->text[f])
			continue;
		snprintf(path, sizeof(path), "%s/%.16s.%s", dir, r->hash, ext[f]);
		fp = fopen(path, "w");
		if (!fp || fputs(r->text[f], fp) < 0 || fclose(fp) != 0)
			abort();
	}
}

/* A port name from b: mostly valid characters, sometimes raw bytes. */
static void make_port(const uint8_t *b, char out[20])
{
	static const char cs[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-";
	size_t len = 1 + b[0] % 16; /* 1..16: 16 is one too long */

	for (size_t i = 0; i < len; i++)
		out[i] = (b[0] & 0x80) && b[1] == 0x42 ? (char)(b[2 + i] | 1) : cs[b[2 + i] % (sizeof(cs) - 1)];
	out[len] = '\0';
}

static void make_ip(const uint8_t *b, bool v6, char out[INET6_ADDRSTRLEN])
{
	uint8_t a[16];

	memcpy(a, b, 16);
	if (!inet_ntop(v6 ? AF_INET6 : AF_INET, a, out, INET6_ADDRSTRLEN))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t head[FUZZ_HEAD + 16] = { 0 }; /* room for make_ip()'s 16 bytes */
	char port[20], mac[18], ipbuf[MAX_VALUES][INET6_ADDRSTRLEN], dbuf[MAX_VALUES][INET6_ADDRSTRLEN];
	const char *ips[MAX_VALUES], *dhcp[MAX_VALUES];
	struct rules_params p = { 0 };
	struct rules_render out = { 0 }, again = { 0 };
	struct rules_defs *d = NULL;
	char **errors = NULL, *error = NULL;
	const char *filter;
	size_t nerrors = 0, nb;
	uint8_t m0;
	int r;

	memcpy(head, data, size < FUZZ_HEAD ? size : FUZZ_HEAD);
	if (rules_defs_new(&d) < 0)
		abort();
	nb = rules_defs_count(d);
	if (size > FUZZ_HEAD) {
		fuzz_write_files(data + FUZZ_HEAD, size - FUZZ_HEAD);
		if (rules_defs_load_dir(d, fuzz_dir_get(), &errors, &nerrors) < 0)
			abort();
		for (size_t i = 0; i < nerrors; i++)
			free(errors[i]);
		free(errors);
	}
	/* head[0]: the filter (custom ones sort among the built-ins) */
	filter = rules_defs_name(d, head[0] % rules_defs_count(d));
	if (rules_defs_count(d) > nb && (head[0] & 0x80)) {
		for (size_t i = 0; i < rules_defs_count(d); i++)
			if (!rules_defs_is_builtin(d, rules_defs_name(d, i)))
				filter = rules_defs_name(d, i);
	}
	/* head[1..18]: the port */
	make_port(head + 1, port);
	/* head[19..24]: the MAC, unicast and not zero unless head[25] says so */
	m0 = head[25] == 0xee ? head[19] : (uint8_t)((head[19] & 0xfe) | 0x02);
	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", m0, head[20], head[21], head[22], head[23],
		 head[24]);
	p.mac = mac;
	/* head[26]: how many IPs and DHCP servers, and which are IPv6 */
	p.n_ips = head[26] % (MAX_VALUES + 1);
	p.n_dhcpservers = (head[26] >> 2) % (MAX_VALUES + 1);
	for (size_t i = 0; i < p.n_ips; i++) {
		make_ip(head + 27 + 4 * i, (head[26] >> (4 + i)) & 1, ipbuf[i]);
		ips[i] = ipbuf[i];
	}
	for (size_t i = 0; i < p.n_dhcpservers; i++) {
		make_ip(head + 31 + 4 * i, false, dbuf[i]);
		dhcp[i] = dbuf[i];
	}
	if (head[47] == 0x99 && p.n_ips > 0)
		ips[0] = "10.0.0.1\n-A FORWARD -j ACCEPT"; /* must be refused */
	p.ips = ips;
	p.dhcpservers = dhcp;

	r = rules_render(d, filter, port, &p, &out, &error);
	if (r == 0) {
		if (head[47] == 0x99 && p.n_ips > 0)
			abort();
		if (!rules_port_valid(port) || snprintf(NULL, 0, "N-I-%s", port) != (int)strlen(out.in_chain) ||
		    strcmp(out.in_chain + 4, port) != 0 || strcmp(out.out_chain + 4, port) != 0 ||
		    strncmp(out.in_chain, "N-I-", 4) != 0 || strncmp(out.out_chain, "N-O-", 4) != 0)
			abort();
		for (int f = 0; f < RULES_FAMILIES; f++)
			check_text((enum rules_family)f, out.text[f], &out);
		check_hash(&out);
		if (rules_render(d, filter, port, &p, &again, &error) != 0 || strcmp(out.hash, again.hash) != 0)
			abort();
		for (int f = 0; f < RULES_FAMILIES; f++)
			if ((out.text[f] == NULL) != (again.text[f] == NULL) ||
			    (out.text[f] && strcmp(out.text[f], again.text[f]) != 0))
				abort();
		dump(&out);
	} else if (r == -EINVAL) {
		if (!error)
			abort();
		free(error);
	} else if (r != -ENOMEM) {
		abort();
	}
	rules_render_done(&out);
	rules_render_done(&again);
	rules_defs_free(d);
	return 0;
}
