/*
 * netdev-list.c: `nft list table netdev netd` output read for the netdev
 * backend (netdev.c): the chains by name, and a port's fingerprint, the
 * SHA-256 of its four chains (N-I-, N-O-, and their -l2 chains) as the
 * listing prints them.
 */
#include "config.h"

#include <errno.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filters-internal.h"
#include "strbuf.h"

struct chain_block {
	char name[RULES_NFT_CHAIN_MAX];
	const char *p; /* "\tchain NAME {" ... "\t}\n", in the listing */
	size_t len;
};

static int cmp_block(const void *a, const void *b)
{
	return strcmp(((const struct chain_block *)a)->name, ((const struct chain_block *)b)->name);
}

int netdev_list_parse(const char *out, void **ret)
{
	const char *p = out;

	while (p && *p) {
		const char *eol = strchr(p, '\n'), *end;
		struct chain_block *c;

		if (strncmp(p, "\tchain ", 7) != 0) {
			p = eol ? eol + 1 : NULL;
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c)
			return -ENOMEM;
		sscanf(p + 7, "%31[^ {\n]", c->name);
		end = strstr(p, "\n\t}\n");
		c->p = p;
		c->len = end ? (size_t)(end - p) + 4 : strlen(p);
		if (!tsearch(c, ret, cmp_block)) {
			free(c);
			return -ENOMEM;
		}
		p = c->p + c->len;
	}
	return 0;
}

static const struct chain_block *listing_get(void **tree, const char *name)
{
	struct chain_block key = { 0 };
	void **p;

	snprintf(key.name, sizeof(key.name), "%s", name);
	p = tfind(&key, tree, cmp_block);
	return p ? *p : NULL;
}

/* The k-th (0..3) of port's chain names: N-I, N-O, N-I -l2, N-O -l2. */
static void chain_name(const char *port, int k, char name[RULES_NFT_CHAIN_MAX])
{
	snprintf(name, RULES_NFT_CHAIN_MAX, "N-%c-%s%s", k % 2 ? 'O' : 'I', port, k >= 2 ? "-l2" : "");
}

bool netdev_list_norm(void **tree, const char *port, char out[65])
{
	struct strbuf b = { 0 };
	bool bases = true;

	for (int k = 0; k < 4; k++) {
		char name[RULES_NFT_CHAIN_MAX];
		const struct chain_block *c;

		chain_name(port, k, name);
		c = listing_get(tree, name);
		if (c) {
			strbuf_printf(&b, "%s %zu\n", name, c->len);
			strbuf_append(&b, c->p, c->len);
		} else {
			strbuf_printf(&b, "%s -\n", name);
			bases &= k >= 2;
		}
	}
	if (b.oom || rules_sha256_hex(b.p, b.len, out) < 0)
		out[0] = '\0';
	strbuf_done(&b);
	return bases;
}

bool netdev_list_any(void **tree, const char *port)
{
	for (int k = 0; k < 4; k++) {
		char name[RULES_NFT_CHAIN_MAX];

		chain_name(port, k, name);
		if (listing_get(tree, name))
			return true;
	}
	return false;
}

void netdev_list_free(void *tree)
{
	tdestroy(tree, free);
}
