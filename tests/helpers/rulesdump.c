/*
 * rulesdump: a filter directory loaded and one of its filters rendered,
 * for tests/rules/libvirt.sh. Prints each load error on a line of its own
 * ("error: FILE: ..."), then "loaded N"; with a filter, writes the
 * rendering's families to OUT.eb, OUT.ip4 and OUT.ip6 (those it has), and
 * the nftables netdev rendering for the same port to OUT.nft, or the
 * message of its refusal to OUT.nft-refused.
 *
 *   rulesdump [-b] DIR [FILTER PORT OUT MAC [KEY=VALUE...]]
 *
 * -b: without netd's built-in filters. KEY is IP (repeatable), DHCPSERVER
 * (repeatable) or GATEWAY_MAC. Exit 0, 1 for a refused rendering (the
 * message on stderr), 2 for a usage or load failure.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/rules.h"

static int write_text(const char *out, const char *ext, const char *text)
{
	char path[4096];
	FILE *fp;

	snprintf(path, sizeof(path), "%s.%s", out, ext);
	if (!text) {
		remove(path);
		return 0;
	}
	fp = fopen(path, "w");
	if (!fp || fputs(text, fp) < 0 || fclose(fp) != 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int render(struct rules_defs *d, int argc, char **argv)
{
	const char *ips[64], *dhcp[16];
	struct rules_params p = { .mac = argv[3], .ips = ips, .dhcpservers = dhcp };
	struct rules_render r = { 0 };
	struct rules_nft nr = { 0 };
	static const char *const ext[RULES_FAMILIES] = { "eb", "ip4", "ip6" };
	char *error = NULL;

	for (int i = 4; i < argc; i++) {
		if (strncmp(argv[i], "IP=", 3) == 0 && p.n_ips < 64)
			ips[p.n_ips++] = argv[i] + 3;
		else if (strncmp(argv[i], "DHCPSERVER=", 11) == 0 && p.n_dhcpservers < 16)
			dhcp[p.n_dhcpservers++] = argv[i] + 11;
		else if (strncmp(argv[i], "GATEWAY_MAC=", 12) == 0)
			p.gateway_mac = argv[i] + 12;
		else
			return fprintf(stderr, "bad parameter %s\n", argv[i]), 2;
	}
	if (rules_render(d, argv[0], argv[1], &p, &r, &error) < 0) {
		fprintf(stderr, "%s\n", error ? error : "out of memory");
		free(error);
		return 1;
	}
	for (int f = 0; f < RULES_FAMILIES; f++)
		if (write_text(argv[2], ext[f], r.text[f]) < 0)
			return 2;
	rules_render_done(&r);
	if (rules_render_nft(d, argv[0], argv[1], &p, &nr, &error) < 0) {
		char *msg = NULL;

		if (!error || asprintf(&msg, "%s\n", error) < 0 || write_text(argv[2], "nft-refused", msg) < 0)
			return 2;
		free(msg);
		free(error);
		return write_text(argv[2], "nft", NULL) < 0 ? 2 : 0;
	}
	if (write_text(argv[2], "nft", nr.text) < 0 || write_text(argv[2], "nft-refused", NULL) < 0)
		return 2;
	rules_nft_done(&nr);
	return 0;
}

int main(int argc, char **argv)
{
	struct rules_defs *d = NULL;
	char **errors = NULL;
	size_t nerrors = 0;
	bool bare = argc > 1 && strcmp(argv[1], "-b") == 0;
	int n, ret;

	argc -= 1 + bare;
	argv += 1 + bare;
	if (argc != 1 && argc < 5)
		return fprintf(stderr, "usage: rulesdump [-b] DIR [FILTER PORT OUT MAC [KEY=VALUE...]]\n"), 2;
	if ((bare ? rules_defs_new_bare(&d) : rules_defs_new(&d)) < 0)
		return 2;
	n = rules_defs_load_dir(d, argv[0], &errors, &nerrors);
	if (n < 0)
		return fprintf(stderr, "%s: %s\n", argv[0], strerror(-n)), 2;
	for (size_t i = 0; i < nerrors; i++) {
		printf("error: %s\n", errors[i]);
		free(errors[i]);
	}
	free(errors);
	printf("loaded %d\n", n);
	fflush(stdout);
	ret = argc == 1 ? 0 : render(d, argc - 1, argv + 1);
	rules_defs_free(d);
	return ret;
}
