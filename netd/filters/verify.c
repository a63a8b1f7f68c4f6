/*
 * verify.c: how netd knows that the kernel still holds what it wrote.
 *
 * After a batch's restores succeed, one *-save per family records how the
 * kernel prints the chains (the "normalized form"); its SHA-256 is what a
 * restart or Resync compares against, so a binding whose chains are intact
 * is skipped and one someone flushed or edited is re-applied. This file
 * turns save output into those fingerprints and does the comparison.
 *
 * A restart with nothing changed does not even need the saves: nf_tables
 * bumps a per-namespace generation with every committed change to any
 * table. netd records the generation at which the kernel matched all its
 * fingerprints (the checkpoint), and keeps it current across its own
 * batches only while the generation moves exactly by its own restores. If
 * the generation is still the checkpoint's at start, nobody has touched
 * any table since: the bindings are intact without a save. Any other
 * change, a flush included, moves the generation, and the saves run as
 * before. Used only when all six tools are the nf_tables variants, since
 * x_tables changes do not move the generation.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "budget.h"
#include "filters-internal.h"
#include "log.h"
#include "store.h"
#include "strbuf.h"
#include "util.h"

/* --- save output --- */

/* Lines of *tables-save output per chain: a tree of struct chain_lines. */
struct chain_lines {
	char name[64];
	char *text;      /* ":decl" line, then "-A" lines, each with '\n' */
	size_t len, cap;
};

static int cmp_chain(const void *a, const void *b)
{
	return strcmp(((const struct chain_lines *)a)->name, ((const struct chain_lines *)b)->name);
}

static struct chain_lines *chains_get(void **tree, const char *name, size_t n, bool create)
{
	struct chain_lines key = { 0 }, *c;
	void **p;

	if (n >= sizeof(key.name))
		return NULL;
	memcpy(key.name, name, n);
	p = tfind(&key, tree, cmp_chain);
	if (p)
		return *p;
	if (!create)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	memcpy(c->name, name, n);
	if (!tsearch(c, tree, cmp_chain)) {
		free(c);
		return NULL;
	}
	return c;
}

bool chains_present(void **tree, const char *name)
{
	return chains_get(tree, name, strlen(name), false) != NULL;
}

static void chains_append(struct chain_lines *c, const char *line, size_t n)
{
	if (c->len + n + 2 > c->cap) {
		size_t cap = (c->len + n + 2) * 2;
		char *p = realloc(c->text, cap);

		if (!p)
			return;
		c->text = p;
		c->cap = cap;
	}
	memcpy(c->text + c->len, line, n);
	c->len += n;
	c->text[c->len++] = '\n';
	c->text[c->len] = '\0';
}

/* 17,000 lines take about 8 ms; the lines of a chain come together in
 * save output, so the chain of the line before (*last) is tried before
 * the tree. Only table filter's lines are read: ebtables-save prints
 * every table (nat, broute), and a chain of another table with the name
 * of one of netd's, or a built-in chain of the same name, must not be
 * taken for netd's. Another table is skipped whole, to the next. */
bool chains_parse_step(void **tree, const char **pos, struct chain_lines **last)
{
	const char *p;
	unsigned lines = 0;

	assert(tree && pos && last);
	p = *pos;
	while (p && *p) {
		const char *eol = strchr(p, '\n');
		size_t n = eol ? (size_t)(eol - p) : strlen(p);
		const char *name = NULL;

		if (p[0] == '*' && !(n == 7 && strncmp(p, "*filter", 7) == 0)) {
			const char *next = strstr(p, "\n*");

			*last = NULL;
			p = next ? next + 1 : NULL;
			continue;
		}
		if (n > 1 && p[0] == ':')
			name = p + 1;
		else if (n > 3 && strncmp(p, "-A ", 3) == 0)
			name = p + 3;
		if (name) {
			size_t k = strcspn(name, " \n");
			struct chain_lines *c = *last;

			if (!c || strncmp(c->name, name, k) != 0 || c->name[k] != '\0')
				c = chains_get(tree, name, k, true);
			if (c)
				chains_append(c, p, n);
			*last = c;
		}
		p = eol ? eol + 1 : NULL;
		if (++lines % 64 == 0 && p && *p && budget_spent()) {
			*pos = p;
			return false;
		}
	}
	*pos = NULL;
	return true;
}

static void chain_free(void *node)
{
	struct chain_lines *c = node;

	free(c->text);
	free(c);
}

void chains_free(void *tree)
{
	if (tree)
		tdestroy(tree, chain_free);
}

/* Fingerprint of the chains named in the save output ("" if none exists). */
static void chains_norm(void **tree, const char *const *names, size_t n, char out[65])
{
	struct strbuf m = { 0 };
	bool any = false;

	for (size_t i = 0; i < n; i++) {
		struct chain_lines *c = chains_get(tree, names[i], strlen(names[i]), false);

		if (c) {
			strbuf_printf(&m, "%s\n%s", names[i], c->text);
			any = true;
		}
	}
	/* No fingerprint (or none computable) never matches a recorded one,
	 * so the binding is re-applied rather than trusted. */
	if (!any || m.oom || rules_sha256_hex(m.p, m.len, out) < 0)
		out[0] = '\0';
	strbuf_done(&m);
}

/* netd's hooks as (built-in chain, line) pairs, in the order they must
 * head their chains: INPUT's, then FORWARD's two, then OUTPUT's. */
static int hook_split(enum rules_family fam, const char *lines[FILTERS_HOOKS], size_t len[FILTERS_HOOKS],
		      char chain[FILTERS_HOOKS][16])
{
	const char *p = rules_hook_lines(fam);
	int n = 0;

	while (*p && n < FILTERS_HOOKS) {
		const char *eol = strchr(p, '\n');
		size_t k = eol ? (size_t)(eol - p) : strlen(p);
		size_t c = strcspn(p + 3, " ");

		lines[n] = p;
		len[n] = k;
		snprintf(chain[n], sizeof(chain[n]), "%.*s", (int)(c < 15 ? c : 15), p + 3);
		n++;
		p += k + (eol != NULL);
	}
	return n;
}

void chains_hooks_check(void **tree, enum rules_family fam, struct hooks_seen *ret)
{
	const char *lines[FILTERS_HOOKS];
	size_t len[FILTERS_HOOKS];
	char chain[FILTERS_HOOKS][16];
	int n;

	assert(tree && ret);
	*ret = (struct hooks_seen){ .ok = true };
	n = hook_split(fam, lines, len, chain);
	for (int h = 0; h < n; h++) {
		struct chain_lines *c = chains_get(tree, chain[h], strlen(chain[h]), false);
		/* Its position among the hooks of its chain: they come first, in
		 * the order of rules_hook_lines(). */
		unsigned want_pos = 0, pos = 0;

		for (int g = 0; g < h; g++)
			want_pos += streq(chain[g], chain[h]);
		for (const char *q = c ? c->text : NULL; q && *q;) {
			const char *e = strchr(q, '\n');
			size_t m = e ? (size_t)(e - q) : strlen(q);

			if (q[0] == '-') {
				if (m == len[h] && memcmp(q, lines[h], m) == 0) {
					if (ret->count[h]++ == 0 && pos != want_pos)
						ret->not_first = true;
				}
				pos++;
			}
			q = e ? e + 1 : NULL;
		}
		if (ret->count[h] == 0)
			ret->missing = true;
		else if (ret->count[h] > 1)
			ret->duplicated = true;
	}
	ret->n = (unsigned)n;
	ret->ok = !ret->missing && !ret->duplicated && !ret->not_first;
}

void chains_hooks_repair(struct strbuf *m, enum rules_family fam, const struct hooks_seen *seen)
{
	const char *lines[FILTERS_HOOKS];
	size_t len[FILTERS_HOOKS];
	char chain[FILTERS_HOOKS][16];
	int n;

	assert(m && seen);
	n = hook_split(fam, lines, len, chain);
	/* Every copy the last save showed goes (-D removes the first match),
	 * then each is inserted at the top, the last first, so that they
	 * head their chains in order; foreign rules stay, after them. */
	for (int h = 0; h < n; h++)
		for (unsigned k = 0; k < seen->count[h]; k++) {
			strbuf_puts(m, "-D");
			strbuf_append(m, lines[h] + 2, len[h] - 2);
			strbuf_puts(m, "\n");
		}
	for (int h = n; h-- > 0;) {
		strbuf_printf(m, "-I %s 1", chain[h]);
		strbuf_append(m, lines[h] + 3 + strlen(chain[h]), len[h] - 3 - strlen(chain[h]));
		strbuf_puts(m, "\n");
	}
}

const char *chains_hooks_problem(const struct hooks_seen *seen)
{
	assert(seen);
	return seen->missing ? "missing" : seen->duplicated ? "duplicated" :
	       seen->not_first ? "not first in its chain (a rule ahead of it)" : "";
}

void chains_binding_norm(void **tree, const struct binding *b, char out[65])
{
	const char *names[2] = { b->want.in_chain, b->want.out_chain };

	chains_norm(tree, names, 2, out);
}

void chains_root_norm(void **tree, char out[65])
{
	const char *names[2] = { RULES_ROOT_FROM, RULES_ROOT_TO };

	chains_norm(tree, names, 2, out);
}

/* --- the nf_tables generation (see the top of this file) --- */

/* Is every tool, as found in PATH, an nf_tables variant? */
static bool tools_are_nft(void)
{
	const char *path = getenv("PATH");

	for (int i = 0; i < 2 * NFAM; i++) {
		const char *tool = i < NFAM ? filters_restore_argv[i][0] : filters_save_argv[i - NFAM][0];
		char cand[PATH_MAX], real[PATH_MAX];
		bool found = false;

		for (const char *p = path ? path : "/usr/sbin:/usr/bin:/sbin:/bin"; *p && !found;) {
			size_t n = strcspn(p, ":");

			if (n > 0 && (size_t)snprintf(cand, sizeof(cand), "%.*s/%s", (int)n, p, tool) <
					     sizeof(cand) &&
			    access(cand, X_OK) == 0) {
				if (!realpath(cand, real) || !strstr(strrchr(real, '/') ?: real, "nft"))
					return false;
				found = true;
			}
			p += n + (p[n] == ':');
		}
		if (!found)
			return false;
	}
	return true;
}

/* This boot and network namespace, as a string. */
static int kernel_identity(char *buf, size_t size)
{
	char boot[64] = "";
	struct stat st;
	FILE *fp = fopen("/proc/sys/kernel/random/boot_id", "re");

	if (!fp)
		return -errno;
	if (!fgets(boot, sizeof(boot), fp)) {
		fclose(fp);
		return -EIO;
	}
	fclose(fp);
	boot[strcspn(boot, "\n")] = '\0';
	if (stat("/proc/self/ns/net", &st) < 0)
		return -errno;
	snprintf(buf, size, "%s/%llu:%llu", boot, (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	return 0;
}

void verify_gen_init(struct filters *f)
{
	assert(f);
	f->gen_usable = tools_are_nft() && kernel_identity(f->kernel_id, sizeof(f->kernel_id)) == 0;
}

static bool gen_now(struct filters *f, uint32_t *ret)
{
	return f->gen_usable && f->nft_ops->gen(ret) == 0;
}

void verify_mark_set(struct filters *f, uint32_t g)
{
	assert(f);
	for (int i = 0; i < NFAM; i++)
		if (f->root_dirty[i] || (f->root_norm[i][0] && !f->hooks_ok[i]))
			return;
	f->mark_valid = true;
	f->mark = g;
	store_checkpoint_put(f->store, f->kernel_id, g);
}

static void mark_clear(struct filters *f)
{
	if (!f->mark_valid)
		return;
	f->mark_valid = false;
	store_checkpoint_clear(f->store);
}

/* A batch starts changing the kernel: the chain of generations holds on
 * only if nothing else changed since the mark. */
void verify_gen_begin(struct filters *f, struct batch *bt)
{
	uint32_t g;

	assert(f);
	assert(bt);
	bt->gen_known = gen_now(f, &bt->gen_start);
	bt->gen_chain = f->mark_valid && bt->gen_known && bt->gen_start == f->mark;
	g = bt->gen_start;
	bt->gen_expect = bt->gen_chain ? g : 0;
	mark_clear(f);
}

/* Still only our own runs (each committed restore is one generation)?
 * The generation only grows, so one look at the end of a batch or a
 * verification covers everything that happened since verify_gen_begin()
 * (or verify_begin()): no need to look in between. */
void verify_gen_check(struct filters *f, struct batch *bt)
{
	uint32_t g;

	assert(f);
	assert(bt);
	if (bt->gen_chain)
		bt->gen_chain = gen_now(f, &g) && g == bt->gen_expect;
}

void verify_gen_confirm(struct filters *f, struct batch *bt)
{
	uint32_t g;

	assert(f);
	assert(bt);
	if (bt->gen_known && gen_now(f, &g) && (uint32_t)(g - bt->gen_start) < bt->restores)
		bt->gen_short = true;
}

bool verify_gen_exact(struct filters *f, const struct batch *bt)
{
	uint32_t g;

	assert(f);
	assert(bt);
	return bt->gen_known && gen_now(f, &g) && g - bt->gen_start == bt->restores;
}

bool verify_gen_is(struct filters *f, uint32_t g)
{
	uint32_t now;

	assert(f);
	return gen_now(f, &now) && now == g;
}

void verify_begin(struct filters *f, struct batch *bt)
{
	assert(f);
	assert(bt);
	bt->gen_chain = gen_now(f, &bt->gen_expect);
	mark_clear(f);
	/* Whatever the saves show, the next apply rewrites the dispatch
	 * chains whole. */
	dispatch_forget(f, NULL);
}

/* --- comparison (start, Resync) --- */

/* Compare one binding with the saves' chains: is it intact? Also learns
 * which of its chains the kernel has, which decides what to delete. */
static bool binding_intact(struct filters *f, struct binding *b, void **trees)
{
	bool ok = b->state == B_APPLIED && b->rendered && b->applied_hash[0] &&
		  streq(b->applied_hash, b->want.hash);

	for (int i = 0; i < NFAM; i++) {
		char now[65];

		if (!trees[i]) {
			ok = false;
			continue;
		}
		chains_binding_norm(&trees[i], b, now);
		b->have_in[i] = chains_present(&trees[i], b->want.in_chain);
		b->have_out[i] = chains_present(&trees[i], b->want.out_chain);
		/* No fingerprint recorded (confirmed by the generation, the
		 * record not made yet) proves nothing: absent chains have an
		 * empty one too. */
		if (!streq(now, b->norm[i]) ||
		    ((b->want.has_in[i] || b->want.has_out[i]) && !b->norm[i][0]))
			ok = false;
		/* Hooks that are missing, duplicated or behind a foreign rule
		 * are repaired with the dispatch chains (root_dirty), not by
		 * rewriting every binding. */
	}
	return ok;
}

/* The saves showed the kernel at gen_expect. With nothing to repair that
 * is a checkpoint; with repairs to make, the batch that makes them
 * carries the chain on and records it. */
static void compare_checkpoint(struct filters *f, struct batch *bt, bool failed)
{
	struct binding *b;
	bool repairs = false;

	verify_gen_check(f, bt);
	if (!bt->gen_chain || failed)
		return;
	TAILQ_FOREACH(b, &f->all, entry)
		repairs |= b->dirty;
	for (int i = 0; i < NFAM; i++)
		repairs |= f->root_dirty[i];
	if (!repairs) {
		verify_mark_set(f, bt->gen_expect);
	} else {
		f->mark_valid = true;
		f->mark = bt->gen_expect;
	}
}

/* The hooks of each family as the verification's saves show them: wrong
 * ones (missing, duplicated, behind a foreign rule) are drift, logged,
 * counted, audited and repaired by the next batch. */
bool verify_hooks_drift(struct filters *f, enum rules_family fam, void **tree)
{
	struct hooks_seen *h = &f->hooks[fam];
	/* Seen wrong already and not yet repaired (a record's save, then a
	 * Resync's before the repair ran): the same drift, counted once. */
	bool known = !f->hooks_ok[fam] && f->root_dirty[fam];
	char params[256];

	assert(f);
	assert(tree);
	chains_hooks_check(tree, fam, h);
	f->hooks_ok[fam] = h->ok;
	/* No dispatch chains yet (nothing bound there): no hooks wanted. */
	if (h->ok || (!f->root_norm[fam][0] && !h->count[0] && !h->count[1] && !h->count[2] &&
		      !h->count[3]))
		return false;
	f->root_dirty[fam] = true;
	if (known)
		return true;
	f->hook_drift++;
	snprintf(f->hook_drift_last, sizeof(f->hook_drift_last), "%s: netd's hooks %s",
		 filters_fam_names[fam], chains_hooks_problem(h));
	log_warn("filters: %s; repairing them", f->hook_drift_last);
	snprintf(params, sizeof(params),
		 "{\"family\":\"%s\",\"problem\":\"%s\",\"copies\":[%u,%u,%u,%u]}",
		 filters_fam_names[fam], chains_hooks_problem(h), h->count[0], h->count[1],
		 h->count[2], h->count[3]);
	if (store_audit_append(f->store, &(struct store_peer){ .uid = (uid_t)-1,
			       .gid = (gid_t)-1 }, "kernel.FilterHookDrift", params, "ok",
			       NULL) < 0)
		log_warn("filters: cannot audit the hook drift, ignoring");
	return true;
}

static void compare_hooks(struct filters *f, struct batch *bt)
{
	for (int i = 0; i < NFAM; i++)
		if (bt->save[i])
			verify_hooks_drift(f, i, &bt->trees[i]);
}

/* The first slice of a comparison: the saves, the hooks. */
static void compare_begin(struct filters *f, struct batch *bt)
{
	for (int i = 0; i < NFAM; i++)
		if (bt->status[i] != 0 || !bt->save[i])
			bt->compare_failed = true; /* without a save nothing there is trusted */
	compare_hooks(f, bt);
	bt->cmp_next = TAILQ_FIRST(&f->all);
	bt->cmp_started = true;
}

/* The audit row of a verification that repairs something, or of a
 * Resync's: why it ran (the start, a Resync, or netd's own check), how,
 * what was intact and what is re-applied (the ports, at most 64 named). */
static void audit_verified(struct filters *f, const char *by, unsigned intact, unsigned reapply,
			   bool save_failed)
{
	json_t *ports = json_array(), *outcome;
	_cleanup_free_ char *otext = NULL;
	const char *trigger = !f->ready ? "start" : f->resync_waiters ? "resync" : "verify";
	char params[48];
	struct binding *b;
	int r;

	/* netd's own checks (the start among them) that found everything
	 * intact leave no row; a Resync always has one. */
	if (!f->resync_waiters && reapply == 0 && !save_failed) {
		json_decref(ports);
		return;
	}
	TAILQ_FOREACH(b, &f->all, entry)
		if (b->dirty && json_array_size(ports) < 64)
			json_array_append_new(ports, json_string(b->port));
	outcome = json_pack("{s:s, s:i, s:i, s:o, s:b}", "by", by, "intact", (int)intact,
			    "reapply", (int)reapply, "ports", ports, "save_failed", save_failed);
	otext = outcome ? json_dumps(outcome, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(outcome);
	snprintf(params, sizeof(params), "{\"trigger\":\"%s\"}", trigger);
	r = otext ? store_audit_event(f->store, "netd.FiltersVerified", params, "ok", otext) : -ENOMEM;
	if (r < 0)
		log_error_errno("filters", r, "cannot audit the verification, ignoring");
}

/* The last: the dispatch chains, the counters, the checkpoint. */
static void compare_end(struct filters *f, struct batch *bt)
{
	for (int i = 0; i < NFAM; i++) {
		char now[65];

		if (!bt->save[i])
			continue;
		chains_root_norm(&bt->trees[i], now);
		f->dispatch_ok[i] = now[0] && streq(now, f->root_norm[i]);
		if (!streq(now, f->root_norm[i]))
			f->root_dirty[i] = true;
	}
	f->skipped += bt->n_ok;
	log_info("filters verified against the kernel: %u intact, %u to re-apply%s", bt->n_ok,
		 bt->n_dirty, bt->compare_failed ? " (a save run failed)" : "");
	compare_checkpoint(f, bt, bt->compare_failed);
	audit_verified(f, "save", bt->n_ok, bt->n_dirty, bt->compare_failed);
	/* Resync callers hear back once the re-apply is done too. */
	f->resync_skipped = bt->n_ok;
	f->resync_reapply = bt->n_dirty;
	f->ready = true;
	f->verified_by_generation = false;
}

bool verify_compare_step(struct filters *f, struct batch *bt)
{
	void *none[NFAM] = { 0 };
	void **trees;
	unsigned k = 0;

	assert(f);
	assert(bt && bt->verify);
	if (!bt->cmp_started)
		compare_begin(f, bt);
	for (int i = 0; i < NFAM; i++)
		none[i] = bt->save[i] ? bt->trees[i] : NULL;
	trees = none;
	/* 10,000 bindings take about 60 ms: a slice per loop iteration. */
	while (bt->cmp_next) {
		struct binding *b = bt->cmp_next;
		bool ok;

		bt->cmp_next = TAILQ_NEXT(b, entry);
		ok = binding_intact(f, b, trees);
		if (b->state == B_REMOVING || b->state == B_FAILED) {
			binding_set_dirty(f, b, true);
		} else if (ok) {
			bt->n_ok++;
		} else {
			binding_set_state(f, b, B_PENDING);
			binding_set_dirty(f, b, true);
			bt->n_dirty++;
		}
		if (++k % 32 == 0 && bt->cmp_next && budget_spent())
			return false;
	}
	compare_end(f, bt);
	return true;
}

/* Every binding applied as it is now, with the fingerprints of its
 * chains recorded (and, netdev: the fingerprint of its table's chains):
 * what the checkpoint vouches for. */
static bool bindings_as_recorded(struct filters *f)
{
	struct binding *b;

	TAILQ_FOREACH(b, &f->all, entry) {
		if (b->state != B_APPLIED || !b->rendered || !streq(b->applied_hash, b->want.hash))
			return false;
		for (int i = 0; i < NFAM; i++)
			if ((b->want.has_in[i] || b->want.has_out[i]) && !b->norm[i][0])
				return false;
	}
	return true;
}

/* At start: if the generation is the checkpoint's and every binding was
 * applied as it is now, the kernel holds exactly what netd recorded, and
 * the verification's saves are skipped. */
bool verify_from_checkpoint(struct filters *f)
{
	assert(f);
	char kernel[sizeof(f->kernel_id)];
	struct binding *b;
	uint32_t saved, now;

	if (!f->gen_usable ||
	    store_checkpoint_get(f->store, kernel, sizeof(kernel), &saved) < 0 ||
	    !streq(kernel, f->kernel_id) || !gen_now(f, &now) || now != saved ||
	    !bindings_as_recorded(f))
		return false;
	TAILQ_FOREACH(b, &f->all, entry)
		for (int i = 0; i < NFAM; i++) {
			b->have_in[i] = b->want.has_in[i];
			b->have_out[i] = b->want.has_out[i];
		}
	/* The checkpoint is set only with the hooks in place where netd has
	 * dispatch chains. */
	for (int i = 0; i < NFAM; i++) {
		f->hooks_ok[i] = f->root_norm[i][0] != '\0';
		f->dispatch_ok[i] = f->hooks_ok[i];
	}
	f->mark_valid = true;
	f->mark = now;
	f->skipped += f->nbindings;
	audit_verified(f, "generation", f->nbindings, 0, false);
	f->ready = true;
	f->verified_by_generation = true;
	log_info("filters: nf_tables generation %u is the one recorded: %u bindings intact, "
		 "nothing to save or apply", now, f->nbindings);
	return true;
}

bool verify_resync_by_generation(struct filters *f)
{
	struct binding *b;
	uint32_t now;

	assert(f);
	/* Nothing running or waiting (a batch, a record, a verification,
	 * a netdev run), the checkpoint valid and the generation still its. */
	if (!f->gen_usable || !f->mark_valid || !f->ready || !filters_idle(f) ||
	    !gen_now(f, &now) || now != f->mark || !bindings_as_recorded(f))
		return false;
	for (int i = 0; i < NFAM; i++)
		if (f->root_dirty[i] || (f->root_norm[i][0] && !f->hooks_ok[i]))
			return false;
	TAILQ_FOREACH(b, &f->netdev_all, entry)
		if (b->state != B_APPLIED || !b->rendered || !b->nnorm[0] ||
		    !streq(b->applied_hash, b->want.hash))
			return false;
	f->skipped += f->nbindings;
	f->resync_skipped = f->nbindings;
	f->resync_reapply = 0;
	f->resyncs_by_generation++;
	f->resync_by_generation = true;
	audit_verified(f, "generation", f->nbindings, 0, false);
	log_info("filters: Resync: nf_tables generation %u is the one recorded: %u bindings intact, "
		 "nothing to save or apply", now, f->nbindings);
	return true;
}
