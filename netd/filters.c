/*
 * filters.c: see filters.h.
 *
 * A binding's life: BindFilter renders it (rules/) and marks it pending;
 * the batch of the next loop iteration writes the per-port chains of
 * every pending binding, netd's two dispatch chains (rewritten whole: one
 * line per bound port and direction) and, if missing, the hooks from the
 * built-in chains, as ONE restore input per family that has changes, run
 * with --noflush. Declaring a chain in restore input flushes and refills
 * it in the same commit, so each replace is atomic. After the restores
 * succeed, one *-save per family records how the kernel prints the chains
 * (the "normalized form"); its SHA-256 is what a restart or Resync
 * compares against, so a binding whose chains are intact is skipped and
 * one someone flushed or edited is re-applied.
 *
 * A failed batch is split in halves and retried until the bad bindings
 * are alone: the good ones apply, the bad ones fail with the tool's
 * message. One batch runs at a time; what changes meanwhile waits for the
 * next.
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

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "decode.h"
#include "filters.h"
#include "filters/filters-internal.h"
#include "links.h"
#include "log.h"
#include "rules/rules.h"
#include "job.h"
#include "stats.h"
#include "store.h"
#include "strbuf.h"
#include "util.h"
#include "valid.h"

#define F_EB RULES_EB
#define F_IP4 RULES_IP4
#define F_IP6 RULES_IP6
#define NFAM RULES_FAMILIES

/* Bindings settled per loop iteration after a batch's runs, at most, and
 * fewer once the iteration's time budget is spent: answering 1000
 * callers and writing their rows in one callback took 40 ms. */
#define FILTERS_STEP 128

static const char *const fam_names[NFAM] = { "eb", "ip4", "ip6" };
static char *const restore_argv[NFAM][4] = {
	{ "ebtables-restore", "--noflush", NULL },
	{ "iptables-restore", "-w", "--noflush", NULL },
	{ "ip6tables-restore", "-w", "--noflush", NULL },
};
static char *const save_argv[NFAM][4] = {
	{ "ebtables-save", NULL },
	{ "iptables-save", "-t", "filter", NULL },
	{ "ip6tables-save", "-t", "filter", NULL },
};

enum bstate { B_PENDING, B_APPLIED, B_FAILED, B_REMOVING };
static const char *const bstate_names[] = { "pending", "applied", "failed", "removing" };

struct waiter {
	struct ctl_call *call;
	struct waiter *next;
};

struct binding {
	char port[16];
	char *filter;
	char *owner;
	json_t *params;            /* canonical: MAC, IP [...], DHCPSERVER [...] */
	struct rules_render want;  /* rendered now */
	bool rendered;
	char applied_hash[65];     /* "" if never applied */
	char norm[NFAM][65];       /* fingerprint recorded after the last apply */
	bool have_in[NFAM], have_out[NFAM]; /* chains in the kernel, as far as we know */
	enum bstate state;
	char *error;
	char created[32], applied_at[32];
	bool dirty;                /* needs a batch */
	bool in_batch;
	bool gone;                 /* the port went away: removal, not an unbind call */
	struct waiter *waiters;    /* answered by the next batch that carries it */
	TAILQ_ENTRY(binding) entry;
};

TAILQ_HEAD(binding_list, binding);

struct item {
	struct binding *b;
	bool removing;
	char hash[65];             /* desired hash when the batch was built */
	bool want_in[NFAM], want_out[NFAM];
	struct waiter *waiters;
};

struct batch {
	struct filters *f;
	struct item *items;
	unsigned n;
	bool fam[NFAM];
	unsigned running;
	int status[NFAM];
	char *err[NFAM];
	char *save[NFAM];
	struct job *jobs[NFAM];    /* the run of each family, while it runs */
	bool saving;
	bool resync;               /* a verification, not an apply */
	bool gen_chain;            /* the generation moved by our runs alone so far */
	uint32_t gen_expect;       /* what it should be now */
	/* After the restores (applying) or the saves (recording), the
	 * bindings are settled FILTERS_STEP per loop iteration. */
	enum { STEP_NONE, STEP_APPLY, STEP_PARSE, STEP_RECORD } step;
	unsigned cursor;
	char now[32];
	void *trees[NFAM];
	/* STEP_PARSE: where each save's parse is (NULL: done) */
	const char *parse_pos[NFAM];
	struct chain_lines *parse_last[NFAM];
};

struct filters {
	struct ev_loop *loop;
	struct store *store;
	struct links *links;
	struct rules_defs *defs;
	unsigned timeout_ms;
	void *by_port;             /* tree of struct binding */
	struct binding_list all;
	unsigned nbindings;

	struct batch *batch;       /* the one running */
	/* Groups of bindings split off a failed batch, tried before new work. */
	struct binding ***retry;
	unsigned *retry_n;
	unsigned nretry;

	bool root_dirty[NFAM];     /* dispatch chains or hooks need rewriting */
	bool hooks_ok[NFAM];       /* hooks seen in the last save */
	char root_norm[NFAM][65];
	bool verify_wanted;        /* run a verification (start, Resync) */
	struct waiter *resync_waiters;  /* answered when verified and re-applied */
	unsigned resync_skipped, resync_reapply;
	bool ready;
	unsigned filter_errors;
	uint64_t gather_since;     /* first deferral of the pending batch, µs */
	unsigned gather_n;         /* pending bindings at the last look */
	ev_timer gather_timer;
	ev_check work_check;       /* settles the running batch step by step */
	ev_idle work_idle;         /* keeps the poll from blocking meanwhile */

	uint64_t restore_runs, save_runs, batches, applied, skipped, failed_applies;

	bool gen_usable;           /* all six tools are nf_tables variants */
	char kernel_id[96];        /* boot_id/netns: where a generation means something */
	bool mark_valid;           /* the kernel matched every fingerprint at mark */
	uint32_t mark;
	bool verified_by_generation; /* the start needed no save */
};

/* --- helpers --- */

static int cmp_binding(const void *a, const void *b)
{
	return strcmp(((const struct binding *)a)->port, ((const struct binding *)b)->port);
}

static struct binding *binding_find(struct filters *f, const char *port)
{
	struct binding key;
	void **p;

	if (strlen(port) >= sizeof(key.port))
		return NULL;
	strcpy(key.port, port);
	p = tfind(&key, &f->by_port, cmp_binding);
	return p ? *p : NULL;
}

static void waiters_add(struct waiter **list, struct ctl_call *call)
{
	struct waiter *w = calloc(1, sizeof(*w)), **p = list;

	if (!w) {
		ctl_call_error(call, "io.netd.InternalError", NULL);
		return;
	}
	w->call = call;
	while (*p)
		p = &(*p)->next;
	*p = w;
}

/* verified: the kernel has been checked since the start (until then,
 * netd cannot say that the rules are there). A pending binding is waiting
 * for its rules to be (re)written, so they are not known to be there. */
static json_t *binding_json(const struct binding *b, bool verified)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:O, s:s, s:s, s:b, s:s}",
			      "port", b->port, "filter", b->filter, "owner", b->owner,
			      "parameters", b->params, "state", bstate_names[b->state],
			      "hash", b->rendered ? b->want.hash : "",
			      "applied", verified && b->state != B_PENDING && b->applied_hash[0] &&
					 b->rendered && streq(b->applied_hash, b->want.hash),
			      "created", b->created);
	json_t *fams;

	if (!o)
		return NULL;
	fams = json_array();
	for (int i = 0; i < NFAM; i++)
		if (b->rendered && b->want.text[i])
			json_array_append_new(fams, json_string(fam_names[i]));
	json_object_set_new(o, "families", fams);
	if (b->error)
		json_object_set_new(o, "error", json_string(b->error));
	if (b->applied_at[0])
		json_object_set_new(o, "applied_at", json_string(b->applied_at));
	return o;
}

/* Reply to every waiter: the binding's state (or an error). */
static void waiters_answer(struct waiter **list, struct binding *b, const char *error,
			   const char *message, bool removed, const char *port)
{
	struct waiter *w;

	while ((w = *list)) {
		*list = w->next;
		if (error)
			ctl_call_error(w->call, error,
				       json_pack("{s:s, s:s}", "port", port, "message",
						 message ? message : ""));
		else if (removed || !b)
			ctl_call_reply(w->call, json_pack("{s:s}", "port", port));
		else
			ctl_call_reply(w->call, json_pack("{s:o}", "binding", binding_json(b, true)));
		free(w);
	}
}

static void store_binding(struct filters *f, const struct binding *b)
{
	_cleanup_free_ char *params = json_dumps(b->params, JSON_COMPACT | JSON_SORT_KEYS);
	struct store_binding_row row = {
		.port = b->port,
		.filter = b->filter,
		.owner = b->owner,
		.parameters = params ? params : "{}",
		.desired_hash = b->rendered ? b->want.hash : "",
		.applied_hash = b->applied_hash,
		.norm = { b->norm[0], b->norm[1], b->norm[2] },
		.state = bstate_names[b->state],
		.error = b->error,
		.created = b->created,
		.applied = b->applied_at[0] ? b->applied_at : NULL,
	};
	int r = store_binding_put(f->store, &row);

	if (r < 0) {
		errno = -r;
		log_error("%s: cannot record the binding in the database: %m", b->port);
	}
}

static void binding_free(struct filters *f, struct binding *b)
{
	tdelete(b, &f->by_port, cmp_binding);
	TAILQ_REMOVE(&f->all, b, entry);
	f->nbindings--;
	waiters_answer(&b->waiters, NULL, "io.netd.NoSuchBinding", "the binding was removed",
		       false, b->port);
	rules_render_done(&b->want);
	json_decref(b->params);
	free(b->filter);
	free(b->owner);
	free(b->error);
	free(b);
}

/* Parameters as the renderer wants them, from the canonical JSON. */
struct param_view {
	const char *ips[64];
	const char *dhcp[16];
	struct rules_params p;
};

static void params_view(json_t *params, struct param_view *v)
{
	json_t *x;
	size_t i;

	memset(v, 0, sizeof(*v));
	v->p.mac = json_string_value(json_object_get(params, "MAC"));
	json_array_foreach(json_object_get(params, "IP"), i, x)
		if (i < ELEMENTSOF(v->ips))
			v->ips[v->p.n_ips++] = json_string_value(x);
	json_array_foreach(json_object_get(params, "DHCPSERVER"), i, x)
		if (i < ELEMENTSOF(v->dhcp))
			v->dhcp[v->p.n_dhcpservers++] = json_string_value(x);
	v->p.ips = v->ips;
	v->p.dhcpservers = v->dhcp;
}

/* Render b with the current definitions. 0, or -EINVAL with *ret_error. */
static int binding_render(struct filters *f, struct binding *b, char **ret_error)
{
	struct rules_render r = { 0 };
	struct param_view v;
	int ret;

	params_view(b->params, &v);
	ret = rules_render(f->defs, b->filter, b->port, &v.p, &r, ret_error);
	if (ret < 0)
		return ret;
	if (b->rendered)
		rules_render_done(&b->want);
	b->want = r;
	b->rendered = true;
	return 0;
}

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
	tsearch(c, tree, cmp_chain);
	return c;
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

/* Group save output by chain (declarations and rules, in order) into
 * *tree, from *pos on: until the end (true, *pos NULL) or until the loop
 * iteration's budget is spent (false: call again with the same *pos and
 * *last; 17,000 lines take about 8 ms). The lines of a chain come
 * together in save output, so the chain of the line before (*last) is
 * tried before the tree. */
static bool chains_parse_step(void **tree, const char **pos, struct chain_lines **last)
{
	const char *p = *pos;
	unsigned lines = 0;

	while (p && *p) {
		const char *eol = strchr(p, '\n');
		size_t n = eol ? (size_t)(eol - p) : strlen(p);
		const char *name = NULL;

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
		if (++lines % 64 == 0 && p && *p && stats_budget_spent()) {
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

static bool hooks_present(const char *save, enum rules_family fam)
{
	const char *hooks = rules_hook_lines(fam);

	for (const char *p = hooks; *p;) {
		const char *eol = strchr(p, '\n');
		size_t n = eol ? (size_t)(eol - p) : strlen(p);
		bool found = false;

		for (const char *q = save; q && *q;) {
			const char *e = strchr(q, '\n');
			size_t m = e ? (size_t)(e - q) : strlen(q);

			if (m == n && memcmp(p, q, n) == 0) {
				found = true;
				break;
			}
			q = e ? e + 1 : NULL;
		}
		if (!found)
			return false;
		p = eol ? eol + 1 : p + n;
	}
	return true;
}

static void binding_norm(void **tree, const struct binding *b, char out[65])
{
	const char *names[2] = { b->want.in_chain, b->want.out_chain };

	chains_norm(tree, names, 2, out);
}

static void root_norm(void **tree, char out[65])
{
	const char *names[2] = { RULES_ROOT_FROM, RULES_ROOT_TO };

	chains_norm(tree, names, 2, out);
}

/* --- batches --- */

/* Bindings in a batch above which its end gives the heap back. */
#define FILTERS_TRIM_BATCH 256

static void batch_free(struct batch *bt)
{
	/* A big batch or a verification held the restore input, the saves
	 * and their parsed chains: megabytes, now free, that malloc would
	 * otherwise keep. Give them back to the system. */
	bool trim = bt->resync || bt->n >= FILTERS_TRIM_BATCH;

	for (int i = 0; i < NFAM; i++) {
		free(bt->err[i]);
		free(bt->save[i]);
		if (bt->trees[i])
			tdestroy(bt->trees[i], chain_free);
	}
	free(bt->items);
	free(bt);
	if (trim)
		malloc_trim(0);
}

/* Write the lines of text that are chain declarations (decls) or the
 * others (!decls). */
static void put_lines(struct strbuf *m, const char *text, bool decls)
{
	for (const char *p = text; *p;) {
		const char *eol = strchr(p, '\n');
		size_t n = eol ? (size_t)(eol - p) + 1 : strlen(p);

		if ((p[0] == ':') == decls)
			strbuf_append(m, p, n);
		p += n;
	}
}

/* The restore input of family fam for batch bt. */
static char *batch_input(struct filters *f, struct batch *bt, enum rules_family fam, size_t *ret_len)
{
	struct strbuf buf = { 0 }, *m = &buf;
	char line[256];
	struct binding *b;

	strbuf_puts(m, "*filter\n");
	/* The dispatch chains first: declaring them flushes them, so no
	 * rule refers to a chain deleted below. */
	rules_chain_decl(fam, RULES_ROOT_FROM, line, sizeof(line));
	strbuf_puts(m, line);
	rules_chain_decl(fam, RULES_ROOT_TO, line, sizeof(line));
	strbuf_puts(m, line);
	/* All chain declarations first, then the deletions, then all rules:
	 * ebtables-restore takes a third less time for 1000 bindings in
	 * this order than with each binding's declarations and rules
	 * together. */
	for (unsigned i = 0; i < bt->n; i++)
		if (!bt->items[i].removing && bt->items[i].b->want.text[fam])
			put_lines(m, bt->items[i].b->want.text[fam], true);
	for (unsigned i = 0; i < bt->n; i++) {
		struct item *it = &bt->items[i];

		b = it->b;
		/* Chains it had and will not have any more. */
		if (b->have_in[fam] && (it->removing || !it->want_in[fam]) &&
		    rules_chain_delete(fam, b->want.in_chain, line, sizeof(line)) > 0)
			strbuf_puts(m, line);
		if (b->have_out[fam] && (it->removing || !it->want_out[fam]) &&
		    rules_chain_delete(fam, b->want.out_chain, line, sizeof(line)) > 0)
			strbuf_puts(m, line);
	}
	for (unsigned i = 0; i < bt->n; i++)
		if (!bt->items[i].removing && bt->items[i].b->want.text[fam])
			put_lines(m, bt->items[i].b->want.text[fam], false);
	/* One dispatch line per bound port and direction, sorted by port:
	 * those in this batch as they will be, the others as they are. */
	TAILQ_FOREACH(b, &f->all, entry) {
		bool in, out;

		if (b->in_batch) {
			struct item *it = NULL;

			for (unsigned i = 0; i < bt->n && !it; i++)
				if (bt->items[i].b == b)
					it = &bt->items[i];
			in = it && !it->removing && it->want_in[fam];
			out = it && !it->removing && it->want_out[fam];
		} else {
			in = b->have_in[fam] && b->state == B_APPLIED;
			out = b->have_out[fam] && b->state == B_APPLIED;
		}
		if (out && rules_dispatch_line(fam, false, b->port, line, sizeof(line)) > 0)
			strbuf_puts(m, line);
		if (in && rules_dispatch_line(fam, true, b->port, line, sizeof(line)) > 0)
			strbuf_puts(m, line);
	}
	if (!f->hooks_ok[fam])
		strbuf_puts(m, rules_hook_lines(fam));
	strbuf_puts(m, "COMMIT\n");
	return strbuf_steal(m, ret_len);
}

static void work_cb(struct ev_loop *loop, ev_check *w, int revents);

static void work_start(struct filters *f)
{
	ev_check_start(f->loop, &f->work_check);
	ev_idle_start(f->loop, &f->work_idle);
}

static void work_stop(struct filters *f)
{
	ev_check_stop(f->loop, &f->work_check);
	ev_idle_stop(f->loop, &f->work_idle);
}

static void work_idle_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	/* Nothing: being active keeps ev_run from blocking while
	 * work_cb has work. */
}

/* One helper run of a batch: which family, restore or save. */
struct run_ctx {
	struct batch *bt;
	int fam;
	bool save;
};

static void run_done(void *data, int status, const char *out, size_t out_len,
		     const char *err, size_t err_len);

static int batch_spawn(struct filters *f, struct batch *bt, int fam, bool save,
		       const char *input, size_t len)
{
	struct run_ctx *rc = calloc(1, sizeof(*rc));
	int r;

	if (!rc)
		return -ENOMEM;
	rc->bt = bt;
	rc->fam = fam;
	rc->save = save;
	r = job_run(f->loop, NULL, save ? save_argv[fam] : restore_argv[fam], input, len,
		    f->timeout_ms, run_done, free, rc, &bt->jobs[fam]);
	if (r < 0) {
		errno = -r;
		log_error("%s: cannot start: %m", save ? save_argv[fam][0] : restore_argv[fam][0]);
		free(rc);
		return r;
	}
	if (save)
		f->save_runs++;
	else
		f->restore_runs++;
	bt->running++;
	return 0;
}

/* --- the nf_tables generation (see the top of this file) --- */

/* Is every tool, as found in PATH, an nf_tables variant? */
static bool tools_are_nft(void)
{
	const char *path = getenv("PATH");

	for (int i = 0; i < 2 * NFAM; i++) {
		const char *tool = i < NFAM ? restore_argv[i][0] : save_argv[i - NFAM][0];
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

static bool gen_now(struct filters *f, uint32_t *ret)
{
	return f->gen_usable && nftgen_get(ret) == 0;
}

/* The kernel matches every recorded fingerprint at generation g. */
static void mark_set(struct filters *f, uint32_t g)
{
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
static void gen_begin(struct filters *f, struct batch *bt)
{
	uint32_t g;

	bt->gen_chain = f->mark_valid && gen_now(f, &g) && g == f->mark;
	bt->gen_expect = bt->gen_chain ? g : 0;
	mark_clear(f);
}

/* Still only our own runs (each committed restore is one generation)?
 * The generation only grows, so one look at the end of a batch or a
 * verification covers everything that happened since gen_begin() (or
 * verify_start()): no need to look in between. */
static void gen_check(struct filters *f, struct batch *bt)
{
	uint32_t g;

	if (bt->gen_chain)
		bt->gen_chain = gen_now(f, &g) && g == bt->gen_expect;
}

static void batch_finish(struct filters *f, struct batch *bt, bool ok);
static void verify_finish(struct filters *f, struct batch *bt);
static void batch_applied(struct filters *f, struct batch *bt);
static void batch_parse(struct filters *f, struct batch *bt);

static void batch_saves(struct filters *f, struct batch *bt)
{
	bt->saving = true;
	for (int i = 0; i < NFAM; i++)
		if (bt->fam[i] && batch_spawn(f, bt, i, true, NULL, 0) < 0)
			bt->status[i] = -1;
	if (bt->running == 0) {
		if (bt->resync)
			verify_finish(f, bt);
		else
			batch_finish(f, bt, true); /* applied; only the fingerprints are missing */
	}
}

static void run_done(void *data, int status, const char *out, size_t out_len,
		     const char *err, size_t err_len)
{
	struct run_ctx *rc = data;
	struct batch *bt = rc->bt;
	struct filters *f = bt->f;
	int fam = rc->fam;
	bool save = rc->save;

	bt->jobs[fam] = NULL;
	bt->status[fam] = status;
	if (status != 0) {
		const char *tool = save ? save_argv[fam][0] : restore_argv[fam][0];

		free(bt->err[fam]);
		if (status == -ETIMEDOUT)
			bt->err[fam] = strdup("killed after the helper timeout");
		else
			bt->err[fam] = strndup(err, err_len > 2000 ? 2000 : err_len);
		log_warn("%s: exit %d%s%s", tool, status, bt->err[fam] && *bt->err[fam] ? ": " : "",
			 bt->err[fam] ? bt->err[fam] : "");
	} else if (save) {
		bt->save[fam] = strndup(out, out_len);
	}
	if (--bt->running > 0)
		return;
	if (bt->resync) {
		batch_parse(f, bt);
		return;
	}
	if (bt->saving) {
		/* A failed save only costs fingerprints: the next restart
		 * re-applies those bindings instead of skipping them. */
		batch_parse(f, bt);
		return;
	}
	for (int i = 0; i < NFAM; i++)
		if (bt->fam[i] && bt->status[i] != 0) {
			batch_finish(f, bt, false);
			return;
		}
	for (int i = 0; i < NFAM; i++)
		if (bt->fam[i])
			bt->gen_expect++;
	batch_applied(f, bt);
}

/* The restores of a batch succeeded: binding k is applied (or gone) and
 * its callers are answered now; the saves that follow only record
 * fingerprints, off the callers' path. Until they do, the fingerprints
 * are empty, so a crash in between makes the next start re-apply rather
 * than trust. */
static void apply_item(struct filters *f, struct batch *bt, unsigned k)
{
	struct item *it = &bt->items[k];
	struct binding *b = it->b;

	b->in_batch = false;
	for (int i = 0; i < NFAM; i++) {
		if (!bt->fam[i])
			continue;
		b->have_in[i] = !it->removing && it->want_in[i];
		b->have_out[i] = !it->removing && it->want_out[i];
		b->norm[i][0] = '\0';
	}
	if (it->removing) {
		char port[16];
		bool gone = b->gone;

		snprintf(port, sizeof(port), "%s", b->port);
		waiters_answer(&it->waiters, NULL, NULL, NULL, true, port);
		if (b->dirty && b->state != B_REMOVING)
			return; /* bound again while the removal ran */
		store_binding_delete(f->store, port);
		binding_free(f, b);
		it->b = NULL;
		log_info("%s: filter rules removed%s", port, gone ? " (the port is gone)" : "");
		links_port_unbound(f->links, port);
		return;
	}
	snprintf(b->applied_hash, sizeof(b->applied_hash), "%s", it->hash);
	snprintf(b->applied_at, sizeof(b->applied_at), "%s", bt->now);
	free(b->error);
	b->error = NULL;
	if (!b->dirty)
		b->state = B_APPLIED;
	f->applied++;
	store_binding(f, b);
	waiters_answer(&it->waiters, b, NULL, NULL, false, b->port);
}

static void batch_applied(struct filters *f, struct batch *bt)
{
	now_iso(bt->now, sizeof(bt->now));
	for (int i = 0; i < NFAM; i++)
		if (bt->fam[i])
			f->root_norm[i][0] = '\0';
	bt->step = STEP_APPLY;
	bt->cursor = 0;
	work_start(f);
}

/* The saves are in (after a good batch, or of a verification): parse
 * them step by step, then record (batch_parsed()) or compare
 * (verify_finish()). */
static void batch_parse(struct filters *f, struct batch *bt)
{
	for (int i = 0; i < NFAM; i++)
		if (bt->status[i] == 0 && bt->save[i])
			bt->parse_pos[i] = bt->save[i];
	bt->step = STEP_PARSE;
	work_start(f);
}

/* The saves after a good batch, parsed: record how the kernel prints
 * what was applied, for the next restart or Resync to compare against;
 * the bindings step by step. */
static void batch_parsed(struct filters *f, struct batch *bt)
{
	for (int i = 0; i < NFAM; i++) {
		if (!bt->fam[i] || bt->status[i] != 0 || !bt->save[i])
			continue;
		f->hooks_ok[i] = hooks_present(bt->save[i], i);
		root_norm(&bt->trees[i], f->root_norm[i]);
		store_root_put(f->store, fam_names[i], f->root_norm[i]);
		f->root_dirty[i] = false;
	}
	bt->step = STEP_RECORD;
	bt->cursor = 0;
	work_start(f);
}

static void record_item(struct filters *f, struct batch *bt, unsigned k)
{
	struct item *it = &bt->items[k];
	struct binding *b = it->b;

	if (!b || it->removing)
		return;
	for (int i = 0; i < NFAM; i++)
		if (bt->trees[i])
			binding_norm(&bt->trees[i], b, b->norm[i]);
	store_binding(f, b);
}

/* One step of the running batch's settling; then the next phase. */
static void work_cb(struct ev_loop *loop, ev_check *w, int revents)
{
	STATS_CALLBACK("filters settle");
	struct filters *f = w->data;
	struct batch *bt = f->batch;
	unsigned end;

	if (!bt || bt->step == STEP_NONE) {
		work_stop(f);
		return;
	}
	if (bt->step == STEP_PARSE) {
		for (int i = 0; i < NFAM; i++)
			if (bt->parse_pos[i] &&
			    !chains_parse_step(&bt->trees[i], &bt->parse_pos[i], &bt->parse_last[i]))
				return;
		work_stop(f);
		bt->step = STEP_NONE;
		if (bt->resync)
			verify_finish(f, bt);
		else
			batch_parsed(f, bt);
		return;
	}
	end = bt->cursor + FILTERS_STEP < bt->n ? bt->cursor + FILTERS_STEP : bt->n;
	while (bt->cursor < end) {
		if (bt->step == STEP_APPLY)
			apply_item(f, bt, bt->cursor);
		else
			record_item(f, bt, bt->cursor);
		if (++bt->cursor < end && stats_budget_spent())
			return;
	}
	if (bt->cursor < bt->n)
		return;
	work_stop(f);
	if (bt->step == STEP_APPLY) {
		bt->step = STEP_NONE;
		batch_saves(f, bt);
	} else {
		bool saved = true;

		bt->step = STEP_NONE;
		for (int i = 0; i < NFAM; i++)
			if (bt->fam[i] && (bt->status[i] != 0 || !bt->save[i]))
				saved = false;
		gen_check(f, bt);
		if (bt->gen_chain && saved)
			mark_set(f, bt->gen_expect);
		batch_finish(f, bt, true);
	}
}

/* Queue a group of bindings to be retried as a batch of its own. */
static void retry_push(struct filters *f, struct binding **v, unsigned n)
{
	struct binding ***groups = realloc(f->retry, (f->nretry + 1) * sizeof(*groups));
	unsigned *sizes;

	if (!groups)
		return;
	f->retry = groups;
	sizes = realloc(f->retry_n, (f->nretry + 1) * sizeof(*sizes));
	if (!sizes)
		return;
	f->retry_n = sizes;
	f->retry[f->nretry] = v;
	f->retry_n[f->nretry] = n;
	f->nretry++;
}

static void batch_finish(struct filters *f, struct batch *bt, bool ok)
{
	f->batch = NULL;
	if (ok) {
		/* Recorded already. */
	} else if (bt->n > 1) {
		/* Split and retry each half on its own, until the bad ones are
		 * alone. The waiters stay with their bindings. */
		unsigned half = bt->n / 2;
		struct binding **a = calloc(half, sizeof(*a)), **c = calloc(bt->n - half, sizeof(*c));

		for (unsigned k = 0; k < bt->n; k++) {
			struct item *it = &bt->items[k];
			struct waiter **w = &it->b->waiters;

			it->b->in_batch = false;
			it->b->dirty = true;
			while (*w)
				w = &(*w)->next;
			*w = it->waiters;
			it->waiters = NULL;
			if (a && k < half)
				a[k] = it->b;
			else if (c && k >= half)
				c[k - half] = it->b;
		}
		log_info("a batch of %u bindings failed; retrying it in halves to find the bad ones",
			 bt->n);
		if (a)
			retry_push(f, a, half);
		if (c)
			retry_push(f, c, bt->n - half);
	} else if (bt->n == 1) {
		struct item *it = &bt->items[0];
		struct binding *b = it->b;
		const char *msg = NULL;

		for (int i = 0; i < NFAM && !msg; i++)
			if (bt->fam[i] && bt->status[i] != 0)
				msg = bt->err[i];
		b->in_batch = false;
		free(b->error);
		b->error = strdup(msg && *msg ? msg : "the restore run failed");
		b->state = B_FAILED;
		f->failed_applies++;
		log_warn("%s: filter '%s' could not be applied: %s", b->port, b->filter, b->error);
		store_binding(f, b);
		waiters_answer(&it->waiters, b, "io.netd.ApplyFailed", b->error, false, b->port);
	}
	batch_free(bt);
}

/* Build and start a batch of these bindings. */
static void batch_run(struct filters *f, struct binding **v, unsigned n)
{
	struct batch *bt = calloc(1, sizeof(*bt));

	if (!bt || (n && !(bt->items = calloc(n, sizeof(*bt->items))))) {
		free(bt);
		return;
	}
	bt->f = f;
	for (unsigned k = 0; k < n; k++) {
		struct binding *b = v[k];
		struct item *it = &bt->items[bt->n++];

		it->b = b;
		it->removing = b->state == B_REMOVING;
		snprintf(it->hash, sizeof(it->hash), "%s", b->rendered ? b->want.hash : "");
		for (int i = 0; i < NFAM; i++) {
			it->want_in[i] = b->rendered && b->want.has_in[i];
			it->want_out[i] = b->rendered && b->want.has_out[i];
			if (it->want_in[i] || it->want_out[i] || b->have_in[i] || b->have_out[i])
				bt->fam[i] = true;
		}
		it->waiters = b->waiters;
		b->waiters = NULL;
		b->in_batch = true;
		b->dirty = false;
	}
	for (int i = 0; i < NFAM; i++)
		if (f->root_dirty[i])
			bt->fam[i] = true;
	f->batch = bt;
	f->batches++;
	gen_begin(f, bt);
	log_debug("filter batch %llu: %u bindings, families%s%s%s",
		  (unsigned long long)f->batches, bt->n, bt->fam[F_EB] ? " eb" : "",
		  bt->fam[F_IP4] ? " ip4" : "", bt->fam[F_IP6] ? " ip6" : "");
	for (int i = 0; i < NFAM; i++) {
		size_t len;
		char *input;

		if (!bt->fam[i])
			continue;
		input = batch_input(f, bt, i, &len);
		if (!input || batch_spawn(f, bt, i, false, input, len) < 0)
			bt->status[i] = -1;
		free(input);
	}
	if (bt->running == 0)
		batch_finish(f, bt, false);
}

/* --- verification (start, Resync) --- */

static void verify_start(struct filters *f)
{
	struct batch *bt = calloc(1, sizeof(*bt));

	if (!bt)
		return;
	bt->f = f;
	bt->resync = true;
	f->verify_wanted = false;
	f->batch = bt;
	bt->gen_chain = gen_now(f, &bt->gen_expect);
	mark_clear(f);
	for (int i = 0; i < NFAM; i++)
		bt->fam[i] = true;
	batch_saves(f, bt);
}

/* Compare what the kernel has with what each binding should have. */
static void verify_finish(struct filters *f, struct batch *bt)
{
	void *trees[NFAM] = { 0 };
	struct binding *b;
	unsigned skipped = 0, dirty = 0;
	bool failed = false;

	f->batch = NULL;
	for (int i = 0; i < NFAM; i++) {
		if (bt->status[i] != 0 || !bt->save[i]) {
			/* Without a save we cannot trust anything there. */
			failed = true;
			continue;
		}
		trees[i] = bt->trees[i]; /* parsed by batch_parse(); ours now */
		bt->trees[i] = NULL;
		f->hooks_ok[i] = hooks_present(bt->save[i], i);
	}
	TAILQ_FOREACH(b, &f->all, entry) {
		bool ok = b->state == B_APPLIED && b->rendered && b->applied_hash[0] &&
			  streq(b->applied_hash, b->want.hash);

		for (int i = 0; i < NFAM; i++) {
			char now[65];

			if (!trees[i]) {
				ok = false;
				continue;
			}
			binding_norm(&trees[i], b, now);
			/* What is in the kernel decides which chains to delete. */
			b->have_in[i] = chains_get(&trees[i], b->want.in_chain,
						   strlen(b->want.in_chain), false) != NULL;
			b->have_out[i] = chains_get(&trees[i], b->want.out_chain,
						    strlen(b->want.out_chain), false) != NULL;
			if (!streq(now, b->norm[i]))
				ok = false;
			if (b->rendered && (b->want.has_in[i] || b->want.has_out[i]) && !f->hooks_ok[i])
				ok = false;
		}
		if (b->state == B_REMOVING || b->state == B_FAILED) {
			b->dirty = true;
			continue;
		}
		if (ok) {
			skipped++;
		} else {
			b->state = B_PENDING;
			b->dirty = true;
			dirty++;
		}
	}
	for (int i = 0; i < NFAM; i++) {
		char now[65];

		if (!trees[i])
			continue;
		root_norm(&trees[i], now);
		if (!streq(now, f->root_norm[i]) || (f->root_norm[i][0] && !f->hooks_ok[i]))
			f->root_dirty[i] = true;
		tdestroy(trees[i], chain_free);
	}
	f->skipped += skipped;
	log_info("filters verified against the kernel: %u intact, %u to re-apply%s", skipped, dirty,
		 failed ? " (a save run failed)" : "");
	/* The saves showed the kernel at gen_expect. With nothing to repair
	 * that is a checkpoint; with repairs to make, the batch that makes
	 * them carries the chain on and records it. */
	gen_check(f, bt);
	if (bt->gen_chain && !failed) {
		bool repairs = false;

		TAILQ_FOREACH(b, &f->all, entry)
			repairs |= b->dirty;
		for (int i = 0; i < NFAM; i++)
			repairs |= f->root_dirty[i];
		if (!repairs) {
			mark_set(f, bt->gen_expect);
		} else {
			f->mark_valid = true;
			f->mark = bt->gen_expect;
		}
	}
	/* Resync callers hear back once the re-apply is done too. */
	f->resync_skipped = skipped;
	f->resync_reapply = dirty;
	f->ready = true;
	f->verified_by_generation = false;
	batch_free(bt);
}

/* --- scheduling: the loop calls filters_flush() once per iteration --- */

static void answer_resync(struct filters *f);

/* How long a batch may wait for the rest of a pipelined burst. */
#define FILTERS_GATHER_US 250000

void filters_flush(struct filters *f, bool more_coming)
{
	struct binding **v;
	struct binding *b;
	unsigned n = 0;
	bool root = false;

	if (f->batch)
		return;
	if (f->verify_wanted) {
		verify_start(f);
		return;
	}
	if (f->nretry > 0) {
		/* Bisecting a failed batch comes first. */
		struct binding **g = f->retry[0];
		unsigned gn = f->retry_n[0];

		memmove(f->retry, f->retry + 1, (f->nretry - 1) * sizeof(*f->retry));
		memmove(f->retry_n, f->retry_n + 1, (f->nretry - 1) * sizeof(*f->retry_n));
		f->nretry--;
		batch_run(f, g, gn);
		free(g);
		return;
	}
	for (int i = 0; i < NFAM; i++)
		root |= f->root_dirty[i];
	TAILQ_FOREACH(b, &f->all, entry)
		if (b->dirty)
			n++;
	if (n == 0 && !root) {
		f->gather_since = 0;
		answer_resync(f);
		return;
	}
	/* Wait while a burst is still arriving (bindings were added since
	 * the last look, or calls wait in ctl's backlog), within a bound, so
	 * that the burst becomes one batch. The timer only wakes the loop. */
	if (more_coming || n > f->gather_n) {
		uint64_t now = now_usec();

		if (!f->gather_since)
			f->gather_since = now;
		if (now - f->gather_since < FILTERS_GATHER_US) {
			f->gather_n = n;
			ev_timer_stop(f->loop, &f->gather_timer);
			ev_timer_set(&f->gather_timer, 0.001, 0.);
			ev_timer_start(f->loop, &f->gather_timer);
			return;
		}
	}
	f->gather_since = 0;
	f->gather_n = 0;
	v = calloc(n ? n : 1, sizeof(*v));
	if (!v)
		return;
	n = 0;
	TAILQ_FOREACH(b, &f->all, entry)
		if (b->dirty)
			v[n++] = b;
	batch_run(f, v, n);
	free(v);
}

bool filters_idle(const struct filters *f)
{
	struct binding *b;

	if (f->batch || f->nretry || f->verify_wanted)
		return false;
	TAILQ_FOREACH(b, &f->all, entry)
		if (b->dirty)
			return false;
	return true;
}

/* Answer Resync callers once nothing is left to do. */
static void answer_resync(struct filters *f)
{
	struct waiter *w;

	if (!f->resync_waiters || !filters_idle(f))
		return;
	while ((w = f->resync_waiters)) {
		f->resync_waiters = w->next;
		ctl_call_reply(w->call, json_pack("{s:i, s:i}", "skipped", f->resync_skipped,
						  "reapplied", f->resync_reapply));
		free(w);
	}
}

/* --- the methods --- */

struct bind_params {
	const char *port;
	const char *filter;
	const char *owner;
	json_t *parameters;
};

/* Canonical parameters: {"MAC": s, "IP": [..], "DHCPSERVER": [..]}, each
 * value checked; the MAC defaults to the port's. Returns NULL after
 * answering the call. */
static json_t *bind_params_canonical(struct ctl_call *call, json_t *in, const struct links_port *lp)
{
	static const struct {
		const char *key;
		size_t max;
	} lists[] = { { "IP", 64 }, { "DHCPSERVER", 16 } };
	json_auto_t *out = json_object();
	const char *key;
	json_t *v;

	json_object_foreach(in, key, v) {
		bool known = streq(key, "MAC");

		for (size_t i = 0; i < ELEMENTSOF(lists); i++)
			known |= streq(key, lists[i].key);
		if (!known) {
			ctl_call_invalid_parameter(call, "parameters");
			return NULL;
		}
	}
	v = json_object_get(in, "MAC");
	if (v) {
		if (!json_is_string(v) || rules_param_check("MAC", json_string_value(v)) < 0) {
			ctl_call_invalid_parameter(call, "MAC");
			return NULL;
		}
		json_object_set(out, "MAC", v);
	} else if (lp->has_mac) {
		char mac[18];

		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", lp->mac[0], lp->mac[1],
			 lp->mac[2], lp->mac[3], lp->mac[4], lp->mac[5]);
		json_object_set_new(out, "MAC", json_string(mac));
	} else {
		ctl_call_invalid_parameter(call, "MAC");
		return NULL;
	}
	for (size_t i = 0; i < ELEMENTSOF(lists); i++) {
		json_t *arr = json_array(), *x;
		size_t k;

		v = json_object_get(in, lists[i].key);
		if (json_is_string(v)) {
			json_array_append(arr, v);
		} else if (json_is_array(v)) {
			json_array_foreach(v, k, x)
				json_array_append(arr, x);
		} else if (v) {
			json_decref(arr);
			ctl_call_invalid_parameter(call, lists[i].key);
			return NULL;
		}
		if (json_array_size(arr) > lists[i].max) {
			json_decref(arr);
			ctl_call_invalid_parameter(call, lists[i].key);
			return NULL;
		}
		json_array_foreach(arr, k, x)
			if (!json_is_string(x) || rules_param_check(lists[i].key, json_string_value(x)) < 0) {
				json_decref(arr);
				ctl_call_invalid_parameter(call, lists[i].key);
				return NULL;
			}
		json_object_set_new(out, lists[i].key, arr);
	}
	return json_incref(out);
}

static struct binding *binding_new(struct filters *f, const char *port)
{
	struct binding *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	snprintf(b->port, sizeof(b->port), "%s", port);
	tsearch(b, &f->by_port, cmp_binding);
	TAILQ_INSERT_TAIL(&f->all, b, entry);
	f->nbindings++;
	return b;
}

void filters_bind(struct filters *f, struct ctl_call *call, json_t *params)
{
	static const struct decode_field fields[] = {
		DECODE_FIELD("port", DECODE_STRING, true, struct bind_params, port),
		DECODE_FIELD("filter", DECODE_STRING, true, struct bind_params, filter),
		DECODE_FIELD("owner", DECODE_STRING, true, struct bind_params, owner),
		DECODE_FIELD("parameters", DECODE_OBJECT, false, struct bind_params, parameters),
	};
	struct bind_params p = { 0 };
	struct links_port lp;
	struct binding *b;
	json_auto_t *none = NULL;
	json_t *canon;
	char *old_filter, *old_owner, *error = NULL;
	json_t *old_params;
	bool created = false;
	int r;

	if (!ctl_call_decode(call, fields, ELEMENTSOF(fields), &p))
		return;
	if (!valid_ifname(p.port))
		return ctl_call_invalid_parameter(call, "port");
	if (!rules_defs_has(f->defs, p.filter))
		return ctl_call_error(call, "io.netd.NoSuchFilter", json_pack("{s:s}", "filter", p.filter));
	if (!valid_owner(p.owner))
		return ctl_call_invalid_parameter(call, "owner");
	if (links_port_lookup(f->links, p.port, &lp) < 0)
		return ctl_call_error(call, "io.netd.NoSuchLink", json_pack("{s:s}", "name", p.port));
	if (streq(lp.kind, "macvtap") || streq(lp.kind, "macvlan"))
		/* Their traffic bypasses the bridge, so neither ebtables nor
		 * iptables' physdev ever sees it. */
		return ctl_call_error(call, "io.netd.UnsupportedPort",
				      json_pack("{s:s, s:s}", "port", p.port, "reason",
						"ebtables and iptables do not see macvtap/macvlan traffic; "
						"bind the filter to a tap or veth port on a bridge"));
	if (!p.parameters)
		p.parameters = none = json_object();
	canon = bind_params_canonical(call, p.parameters, &lp);
	if (!canon)
		return;

	b = binding_find(f, p.port);
	if (b && !streq(b->owner, p.owner)) {
		json_decref(canon);
		return ctl_call_error(call, "io.netd.NotOwner",
				      json_pack("{s:s, s:s}", "port", p.port, "owner", b->owner));
	}
	if (!b) {
		b = binding_new(f, p.port);
		if (!b) {
			json_decref(canon);
			return ctl_call_error(call, "io.netd.InternalError", NULL);
		}
		created = true;
		now_iso(b->created, sizeof(b->created));
	}
	old_filter = b->filter;
	old_owner = b->owner;
	old_params = b->params;
	b->filter = strdup(p.filter);
	b->owner = strdup(p.owner);
	b->params = canon;
	r = b->filter && b->owner ? binding_render(f, b, &error) : -ENOMEM;
	if (r < 0) {
		/* Refused: everything as it was. */
		free(b->filter);
		free(b->owner);
		json_decref(b->params);
		b->filter = old_filter;
		b->owner = old_owner;
		b->params = old_params;
		if (created)
			binding_free(f, b);
		ctl_call_error(call, "org.varlink.service.InvalidParameter",
			       json_pack("{s:s, s:s}", "parameter", "parameters", "message",
					 error ? error : "cannot render"));
		free(error);
		return;
	}
	free(old_filter);
	free(old_owner);
	json_decref(old_params);

	if (!created && b->state == B_APPLIED && !b->in_batch && !b->dirty &&
	    streq(b->applied_hash, b->want.hash)) {
		/* Nothing changed: nothing to run. */
		store_binding(f, b);
		ctl_call_reply(call, json_pack("{s:o}", "binding", binding_json(b, f->ready)));
		return;
	}
	b->state = B_PENDING;
	b->gone = false;
	b->dirty = true;
	free(b->error);
	b->error = NULL;
	store_binding(f, b);
	waiters_add(&b->waiters, call);
}

struct unbind_params {
	const char *port;
	const char *owner;
};

void filters_unbind(struct filters *f, struct ctl_call *call, json_t *params)
{
	static const struct decode_field fields[] = {
		DECODE_FIELD("port", DECODE_STRING, true, struct unbind_params, port),
		DECODE_FIELD("owner", DECODE_STRING, true, struct unbind_params, owner),
	};
	struct unbind_params p = { 0 };
	struct binding *b;

	if (!ctl_call_decode(call, fields, ELEMENTSOF(fields), &p))
		return;
	if (!valid_ifname(p.port))
		return ctl_call_invalid_parameter(call, "port");
	if (!valid_owner(p.owner))
		return ctl_call_invalid_parameter(call, "owner");
	b = binding_find(f, p.port);
	if (!b)
		return ctl_call_error(call, "io.netd.NoSuchBinding", json_pack("{s:s}", "port", p.port));
	if (!streq(b->owner, p.owner))
		return ctl_call_error(call, "io.netd.NotOwner",
				      json_pack("{s:s, s:s}", "port", p.port, "owner", b->owner));
	b->state = B_REMOVING;
	b->dirty = true;
	store_binding(f, b);
	waiters_add(&b->waiters, call);
}

struct port_params {
	const char *port;
};

void filters_get_binding(struct filters *f, struct ctl_call *call, json_t *params)
{
	static const struct decode_field fields[] = {
		DECODE_FIELD("port", DECODE_STRING, true, struct port_params, port),
	};
	struct port_params p = { 0 };
	struct binding *b;

	if (!ctl_call_decode(call, fields, ELEMENTSOF(fields), &p))
		return;
	if (!valid_ifname(p.port))
		return ctl_call_invalid_parameter(call, "port");
	b = binding_find(f, p.port);
	if (!b)
		return ctl_call_error(call, "io.netd.NoSuchBinding", json_pack("{s:s}", "port", p.port));
	ctl_call_reply(call, json_pack("{s:o}", "binding", binding_json(b, f->ready)));
}

static int cmp_binding_ptr(const void *a, const void *b)
{
	return strverscmp((*(struct binding *const *)a)->port, (*(struct binding *const *)b)->port);
}

struct owner_params {
	const char *owner;
};

void filters_list_bindings(struct filters *f, struct ctl_call *call, json_t *params)
{
	static const struct decode_field fields[] = {
		DECODE_FIELD("owner", DECODE_STRING, false, struct owner_params, owner),
	};
	struct owner_params p = { 0 };
	struct binding **v, *b;
	json_t *arr;
	unsigned n = 0;

	if (!ctl_call_decode(call, fields, ELEMENTSOF(fields), &p))
		return;
	if (p.owner && !valid_owner(p.owner))
		return ctl_call_invalid_parameter(call, "owner");
	v = calloc(f->nbindings ? f->nbindings : 1, sizeof(*v));
	arr = json_array();
	if (!v || !arr) {
		free(v);
		json_decref(arr);
		return ctl_call_error(call, "io.netd.InternalError", NULL);
	}
	TAILQ_FOREACH(b, &f->all, entry)
		if (!p.owner || streq(b->owner, p.owner))
			v[n++] = b;
	qsort(v, n, sizeof(*v), cmp_binding_ptr);
	for (unsigned i = 0; i < n; i++)
		json_array_append_new(arr, binding_json(v[i], f->ready));
	free(v);
	ctl_call_reply(call, json_pack("{s:o}", "bindings", arr));
}

void filters_list_filters(struct filters *f, struct ctl_call *call, json_t *params)
{
	json_t *arr;

	if (!ctl_call_decode(call, NULL, 0, NULL))
		return;
	arr = json_array();
	for (size_t i = 0; i < rules_defs_count(f->defs); i++) {
		const char *name = rules_defs_name(f->defs, i);
		const char *file = rules_defs_file(f->defs, name);
		json_t *o = json_pack("{s:s, s:b}", "name", name, "builtin",
				      rules_defs_is_builtin(f->defs, name));

		if (o && file)
			json_object_set_new(o, "file", json_string(file));
		json_array_append_new(arr, o);
	}
	ctl_call_reply(call, json_pack("{s:o}", "filters", arr));
}

struct filter_params {
	const char *name;
};

void filters_get_filter(struct filters *f, struct ctl_call *call, json_t *params)
{
	static const struct decode_field fields[] = {
		DECODE_FIELD("name", DECODE_STRING, true, struct filter_params, name),
	};
	struct filter_params p = { 0 };
	json_t *def;

	if (!ctl_call_decode(call, fields, ELEMENTSOF(fields), &p))
		return;
	def = rules_filter_json(f->defs, p.name);
	if (!def)
		return ctl_call_error(call, "io.netd.NoSuchFilter", json_pack("{s:s}", "filter", p.name));
	ctl_call_reply(call, json_pack("{s:o}", "filter", def));
}

void filters_resync(struct filters *f, struct ctl_call *call, json_t *params)
{
	if (!ctl_call_decode(call, NULL, 0, NULL))
		return;
	f->verify_wanted = true;
	waiters_add(&f->resync_waiters, call);
}

/* --- ports and links --- */

bool filters_port_bound(void *userdata, const char *port)
{
	return binding_find(userdata, port) != NULL;
}

void filters_port_gone(void *userdata, const char *port)
{
	struct filters *f = userdata;
	struct binding *b = binding_find(f, port);

	if (!b || b->state == B_REMOVING)
		return;
	log_info("%s: the port is gone; removing its filter rules", port);
	b->state = B_REMOVING;
	b->gone = true;
	b->dirty = true;
	store_binding(f, b);
}

/* --- start, reload, status --- */

static int load_defs(const char *dir, struct rules_defs **ret, unsigned *ret_errors)
{
	struct rules_defs *d = NULL;
	char **errors = NULL;
	size_t nerrors = 0;
	int r;

	r = rules_defs_new(&d);
	if (r < 0)
		return r;
	r = rules_defs_load_dir(d, dir, &errors, &nerrors);
	for (size_t i = 0; i < nerrors; i++) {
		log_warn("filter %s; not loaded", errors[i]);
		free(errors[i]);
	}
	free(errors);
	if (r < 0) {
		errno = -r;
		log_warn("filter directory '%s': %m, using the built-in filters only", dir);
	} else if (r > 0) {
		log_info("filter directory '%s': %d custom filters", dir, r);
	}
	*ret_errors = (unsigned)nerrors;
	*ret = d;
	return 0;
}

static void load_binding_row(void *userdata, const struct store_binding_row *row)
{
	struct filters *f = userdata;
	struct binding *b = binding_new(f, row->port);
	char *error = NULL;

	if (!b)
		return;
	b->filter = strdup(row->filter);
	b->owner = strdup(row->owner);
	b->params = json_loads(row->parameters, 0, NULL);
	if (!b->params)
		b->params = json_object();
	snprintf(b->applied_hash, sizeof(b->applied_hash), "%s", row->applied_hash);
	for (int i = 0; i < NFAM; i++)
		snprintf(b->norm[i], sizeof(b->norm[i]), "%s", row->norm[i]);
	snprintf(b->created, sizeof(b->created), "%s", row->created ? row->created : "");
	snprintf(b->applied_at, sizeof(b->applied_at), "%s", row->applied ? row->applied : "");
	b->state = streq(row->state, "applied") ? B_APPLIED :
		   streq(row->state, "removing") ? B_REMOVING :
		   streq(row->state, "failed") ? B_FAILED : B_PENDING;
	if (row->error)
		b->error = strdup(row->error);
	if (binding_render(f, b, &error) < 0) {
		log_warn("%s: cannot render filter '%s' any more: %s", b->port, b->filter,
			 error ? error : "?");
		free(b->error);
		b->error = error;
		if (b->state != B_REMOVING)
			b->state = B_FAILED;
		/* Chain names still known, so a removal can find them. */
		snprintf(b->want.in_chain, sizeof(b->want.in_chain), "N-I-%s", b->port);
		snprintf(b->want.out_chain, sizeof(b->want.out_chain), "N-O-%s", b->port);
	}
}

static void load_root_row(void *userdata, const char *family, const char *norm)
{
	struct filters *f = userdata;

	for (int i = 0; i < NFAM; i++)
		if (streq(family, fam_names[i]))
			snprintf(f->root_norm[i], sizeof(f->root_norm[i]), "%s", norm);
}

/* At start: if the generation is the checkpoint's and every binding was
 * applied as it is now, the kernel holds exactly what netd recorded, and
 * the verification's saves are skipped. */
static bool start_from_checkpoint(struct filters *f)
{
	char kernel[sizeof(f->kernel_id)];
	struct binding *b;
	uint32_t saved, now;

	if (!f->gen_usable ||
	    store_checkpoint_get(f->store, kernel, sizeof(kernel), &saved) < 0 ||
	    !streq(kernel, f->kernel_id) || !gen_now(f, &now) || now != saved)
		return false;
	TAILQ_FOREACH(b, &f->all, entry) {
		if (b->state != B_APPLIED || !b->rendered || !streq(b->applied_hash, b->want.hash))
			return false;
		for (int i = 0; i < NFAM; i++)
			if ((b->want.has_in[i] || b->want.has_out[i]) && !b->norm[i][0])
				return false;
	}
	TAILQ_FOREACH(b, &f->all, entry)
		for (int i = 0; i < NFAM; i++) {
			b->have_in[i] = b->want.has_in[i];
			b->have_out[i] = b->want.has_out[i];
		}
	/* The checkpoint is set only with the hooks in place where netd has
	 * dispatch chains. */
	for (int i = 0; i < NFAM; i++)
		f->hooks_ok[i] = f->root_norm[i][0] != '\0';
	f->mark_valid = true;
	f->mark = now;
	f->skipped += f->nbindings;
	f->ready = true;
	f->verified_by_generation = true;
	log_info("filters: nf_tables generation %u is the one recorded: %u bindings intact, "
		 "nothing to save or apply", now, f->nbindings);
	return true;
}

static void gather_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	/* Nothing: waking the loop runs filters_flush() again. */
}

int filters_new(struct ev_loop *loop, struct store *store, struct links *links,
		const struct filters_config *cfg, struct filters **ret)
{
	struct filters *f = calloc(1, sizeof(*f));
	int r;

	if (!f)
		return -ENOMEM;
	f->loop = loop;
	f->store = store;
	f->links = links;
	f->timeout_ms = cfg->helper_timeout_ms;
	TAILQ_INIT(&f->all);
	ev_init(&f->gather_timer, gather_cb);
	ev_check_init(&f->work_check, work_cb);
	f->work_check.data = f;
	ev_idle_init(&f->work_idle, work_idle_cb);
	r = load_defs(cfg->filter_dir, &f->defs, &f->filter_errors);
	if (r == 0)
		r = store_bindings_foreach(store, load_binding_row, f);
	if (r == 0)
		r = store_roots_foreach(store, load_root_row, f);
	if (r < 0) {
		errno = -r;
		log_error("cannot load filter bindings: %m");
		filters_free(f);
		return r;
	}
	/* Ports that went while netd was down. */
	{
		struct binding *b;
		struct links_port lp;

		TAILQ_FOREACH(b, &f->all, entry)
			if (links_port_lookup(links, b->port, &lp) < 0 && b->state != B_REMOVING) {
				b->state = B_REMOVING;
				b->gone = true;
			}
	}
	f->gen_usable = tools_are_nft() && kernel_identity(f->kernel_id, sizeof(f->kernel_id)) == 0;
	f->verify_wanted = !start_from_checkpoint(f);
	*ret = f;
	return 0;
}

struct filters *filters_free(struct filters *f)
{
	if (!f)
		return NULL;
	ev_timer_stop(f->loop, &f->gather_timer);
	work_stop(f);
	if (f->batch) {
		/* Shutdown with a batch running: its children are killed and
		 * their results never looked at; the callers it carries wait
		 * with their bindings again, answered as those are freed. */
		struct batch *bt = f->batch;

		for (int i = 0; i < NFAM; i++)
			if (bt->jobs[i])
				job_cancel(bt->jobs[i]);
		for (unsigned k = 0; k < bt->n; k++) {
			struct item *it = &bt->items[k];
			struct waiter **w;

			if (!it->b)
				continue;
			w = &it->b->waiters;
			while (*w)
				w = &(*w)->next;
			*w = it->waiters;
			it->waiters = NULL;
		}
		f->batch = NULL;
		batch_free(bt);
	}
	while (!TAILQ_EMPTY(&f->all))
		binding_free(f, TAILQ_FIRST(&f->all));
	for (unsigned i = 0; i < f->nretry; i++)
		free(f->retry[i]);
	free(f->retry);
	free(f->retry_n);
	rules_defs_free(f->defs);
	free(f);
	return NULL;
}

void filters_reload(struct filters *f, const char *filter_dir)
{
	struct rules_defs *d;
	unsigned errors;
	struct binding *b;
	unsigned changed = 0;

	if (load_defs(filter_dir, &d, &errors) < 0)
		return;
	rules_defs_free(f->defs);
	f->defs = d;
	f->filter_errors = errors;
	TAILQ_FOREACH(b, &f->all, entry) {
		char old[65], *error = NULL;

		if (b->state == B_REMOVING)
			continue;
		snprintf(old, sizeof(old), "%s", b->rendered ? b->want.hash : "");
		if (binding_render(f, b, &error) < 0) {
			log_warn("%s: filter '%s' no longer renders (%s); its rules stay as they are",
				 b->port, b->filter, error ? error : "?");
			free(error);
			continue;
		}
		if (!streq(old, b->want.hash)) {
			b->state = B_PENDING;
			b->dirty = true;
			store_binding(f, b);
			changed++;
		}
	}
	log_info("filters reloaded: %u bindings changed", changed);
}

void filters_status(const struct filters *f, json_t *reply)
{
	json_object_set_new(reply, "bindings", json_integer(f->nbindings));
	json_object_set_new(reply, "restore_runs", json_integer((json_int_t)f->restore_runs));
	json_object_set_new(reply, "save_runs", json_integer((json_int_t)f->save_runs));
	json_object_set_new(reply, "bindings_applied", json_integer((json_int_t)f->applied));
	json_object_set_new(reply, "bindings_skipped", json_integer((json_int_t)f->skipped));
	json_object_set_new(reply, "bindings_failed", json_integer((json_int_t)f->failed_applies));
	json_object_set_new(reply, "filter_batches", json_integer((json_int_t)f->batches));
	json_object_set_new(reply, "filter_errors", json_integer(f->filter_errors));
	json_object_set_new(reply, "filters_verified", json_boolean(f->ready));
	json_object_set_new(reply, "filters_verified_by",
			    json_string(!f->ready ? "" : f->verified_by_generation ? "generation" : "save"));
	json_object_set_new(reply, "filters_checkpoint",
			    f->mark_valid ? json_integer(f->mark) : json_null());
}
