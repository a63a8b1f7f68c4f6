/*
 * digest.c: see rules.h. What a filter's renderings depend on besides a
 * binding's own port and parameters, as one SHA-256 per filter and
 * target, so that a start can tell a binding's stored rendering still
 * holds without rendering it again (10,000 renders were a third of a
 * restart's CPU).
 *
 * The digest covers the renderer versions, the definition as given of
 * the filter and of every filter it reaches through references, and the
 * rendering of the filter with fixed parameters (every variable given,
 * both address families): a change to the renderer's code that changes
 * what it writes changes the digest even if nobody bumped a version.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rules-internal.h"
#include "strbuf.h"
#include "util.h"

/* The port and parameters of the rendering a digest includes. */
#define DIGEST_PORT "netd-digest"

static const char *const digest_ips[] = { "192.0.2.1", "2001:db8::1" };
static const char *const digest_dhcp[] = { "192.0.2.2", "2001:db8::2" };
static const struct rules_params digest_params = {
	.mac = "52:54:00:00:00:01",
	.ips = digest_ips,
	.n_ips = ELEMENTSOF(digest_ips),
	.dhcpservers = digest_dhcp,
	.n_dhcpservers = ELEMENTSOF(digest_dhcp),
	.gateway_mac = "52:54:00:00:00:02",
};

/* The definitions of d->v[fi] and of what it reaches, each once, in
 * reference order, appended to m. */
static void put_definitions(const struct rules_defs *d, size_t fi, bool *seen, struct strbuf *m)
{
	const struct rules_filter *f = d->v[fi];
	char *text;

	seen[fi] = true;
	text = json_dumps(f->json, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text) {
		m->oom = true;
		return;
	}
	strbuf_printf(m, "%zu:%s\n%zu:%s\n", strlen(f->name), f->name, strlen(text), text);
	free(text);
	for (size_t i = 0; i < f->n_refs; i++) {
		size_t j;

		if (rules_defs_find(d, f->refs[i], &j) && !seen[j])
			put_definitions(d, j, seen, m);
	}
}

/* The rendering of the filter with digest_params, or its error: appended
 * to m. */
static void put_rendering(const struct rules_defs *d, const char *filter, bool nft, struct strbuf *m)
{
	char *error = NULL;
	int r;

	if (nft) {
		struct rules_nft out = { 0 };

		r = rules_render_nft(d, filter, DIGEST_PORT, &digest_params, &out, &error);
		if (r == 0)
			strbuf_printf(m, "nft %s\n", out.hash);
		rules_nft_done(&out);
	} else {
		struct rules_render out = { 0 };

		r = rules_render(d, filter, DIGEST_PORT, &digest_params, &out, &error);
		if (r == 0)
			strbuf_printf(m, "xt %s\n", out.hash);
		rules_render_done(&out);
	}
	if (r == -EINVAL)
		strbuf_printf(m, "error %s\n", error ? error : "");
	else if (r < 0)
		m->oom = true;
	free(error);
}

int rules_filter_digest(struct rules_defs *d, const char *filter, bool nft, char out[65])
{
	_cleanup_free_ bool *seen = NULL;
	struct strbuf m = { 0 };
	struct rules_filter *f;
	size_t fi;
	int r;

	assert(d && filter && out);
	if (!rules_defs_find(d, filter, &fi))
		return -ENOENT;
	f = d->v[fi];
	if (f->digest[nft][0]) {
		memcpy(out, f->digest[nft], 65);
		return 0;
	}
	seen = calloc(d->n, sizeof(*seen));
	if (!seen)
		return -ENOMEM;
	strbuf_printf(&m, "%s\n%s\n", nft ? RULES_NFT_VERSION : RULES_RENDER_VERSION, filter);
	put_definitions(d, fi, seen, &m);
	put_rendering(d, filter, nft, &m);
	r = m.oom ? -ENOMEM : rules_sha256_hex(m.p, m.len, f->digest[nft]);
	strbuf_done(&m);
	if (r < 0) {
		f->digest[nft][0] = '\0';
		return r;
	}
	memcpy(out, f->digest[nft], 65);
	return 0;
}

void rules_defs_digests_forget(struct rules_defs *d)
{
	assert(d);
	for (size_t i = 0; i < d->n; i++)
		d->v[i]->digest[0][0] = d->v[i]->digest[1][0] = '\0';
}
