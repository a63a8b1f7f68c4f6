/*
 * test_filters_batch.c: the filters' batch state machine driven end to end
 * through fake helper runs (a struct job_ops of the test's own), with a
 * real SQLite store in a temporary directory and a real ev loop. The fake
 * runs answer like the tools would, from a small model of the kernel's
 * chains per family that applies restore input and prints it back for a
 * save; each test can make a run fail, hang, not start, or lie.
 *
 * What is checked is real state: the phase the batch is in when each run
 * starts and between loop iterations, the input each restore received,
 * the bindings' state, the rows in the database (read with sqlite3
 * itself), and what the waiting callers were told.
 *
 * links is replaced at its seam (-Wl,--wrap): every port exists and is a
 * plain device (a "learn*" port without an ifindex, so that address
 * learning opens no packet socket); links_port_unbound() calls are
 * recorded. nf_tables is replaced at its seam (filters_config.nft_ops): the generation counts
 * the restores that did their work, the chain-name dump reads the model.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "filters/filters-internal.h"
#include "filters-test.h"
#include "job.h"
#include "links.h"
#include "store.h"
#include "strbuf.h"

#define MAC "52:54:00:12:34:56"
#define TIMEOUT_MS 200

/* --- links, at its seam --- */

static char unbound[8][16];
static unsigned n_unbound;

int __wrap_links_port_lookup(struct links *l, const char *name, struct links_port *ret);
int __wrap_links_port_lookup(struct links *l, const char *name, struct links_port *ret)
{
	/* "learn*" ports have no ifindex: address learning's watch cannot be
	 * opened on them (no packet socket on the host in a unit test). */
	*ret = (struct links_port){ .ifindex = strncmp(name, "learn", 5) ? 7 : 0, .kind = "" };
	return 0;
}

void __wrap_links_port_unbound(struct links *l, const char *port);
void __wrap_links_port_unbound(struct links *l, const char *port)
{
	if (n_unbound < ELEMENTSOF(unbound))
		snprintf(unbound[n_unbound++], sizeof(unbound[0]), "%s", port);
}

/* --- a model of the kernel's chains, per family --- */

struct kchain {
	char name[64];
	struct strbuf text; /* its declaration (if declared) and rules */
	bool used;
};

static struct kchain kernel[NFAM][512];

static int fam_of(const char *tool)
{
	return strncmp(tool, "ebtables", 8) == 0 ? F_EB : strncmp(tool, "iptables", 8) == 0 ? F_IP4 :
										 F_IP6;
}

static struct kchain *kchain(int fam, const char *name, size_t n, bool create)
{
	struct kchain *free_slot = NULL;

	for (size_t i = 0; i < ELEMENTSOF(kernel[fam]); i++) {
		struct kchain *c = &kernel[fam][i];

		if (c->used && strlen(c->name) == n && strncmp(c->name, name, n) == 0)
			return c;
		if (!c->used && !free_slot)
			free_slot = c;
	}
	if (!create)
		return NULL;
	assert_non_null(free_slot);
	snprintf(free_slot->name, sizeof(free_slot->name), "%.*s", (int)n, name);
	free_slot->used = true;
	return free_slot;
}

/* Rule line "-A <chain><rest>" (rest: from the space after the chain)
 * inserted first in c (after its declaration), or its first copy
 * deleted. */
static void kchain_insert(struct kchain *c, const char *rest, size_t n)
{
	struct strbuf t = { 0 };
	const char *p = c->text.p ? c->text.p : "";
	size_t decl = p[0] == ':' ? strcspn(p, "\n") + 1 : 0;

	strbuf_append(&t, p, decl);
	strbuf_printf(&t, "-A %s%.*s\n", c->name, (int)n, rest);
	strbuf_puts(&t, p + decl);
	strbuf_done(&c->text);
	c->text = t;
}

static bool kchain_delete(struct kchain *c, const char *rest, size_t n)
{
	char line[256];
	char *p = c->text.p, *hit;

	snprintf(line, sizeof(line), "-A %s%.*s\n", c->name, (int)n, rest);
	for (hit = p ? strstr(p, line) : NULL; hit && hit != p && hit[-1] != '\n';)
		hit = strstr(hit + 1, line);
	if (!hit)
		return false;
	memmove(hit, hit + strlen(line), strlen(hit + strlen(line)) + 1);
	c->text.len -= strlen(line);
	return true;
}

/* What a restore of this input would leave in the kernel. True if it
 * changed anything: as nf_tables, which commits nothing (and leaves the
 * generation where it was) for a transaction without a change, such as
 * declaring a chain that is there already, empty, with that policy. */
static bool kernel_restore(int fam, const char *input)
{
	bool changed = false;

	for (const char *p = input; *p;) {
		const char *eol = strchr(p, '\n');
		size_t n = eol ? (size_t)(eol - p) : strlen(p);
		const char *name = p + (p[0] == ':' ? 1 : 3);
		size_t k = strcspn(name, " \n");
		struct kchain *c;

		if (p[0] == ':') {
			c = kchain(fam, name, k, false);
			changed |= !c || !c->text.p || c->text.len != n + 1 ||
				   memcmp(c->text.p, p, n + 1) != 0;
			c = c ? c : kchain(fam, name, k, true);
			strbuf_done(&c->text);
			strbuf_append(&c->text, p, n + 1);
		} else if (strncmp(p, "-A ", 3) == 0) {
			strbuf_append(&kchain(fam, name, k, true)->text, p, n + 1);
			changed = true;
		} else if (strncmp(p, "-I ", 3) == 0 && (c = kchain(fam, name, k, false))) {
			const char *rest = name + k + strspn(name + k, " 0123456789");

			kchain_insert(c, rest - 1, (size_t)(p + n - rest) + 1);
			changed = true;
		} else if (strncmp(p, "-D ", 3) == 0 && (c = kchain(fam, name, k, false))) {
			changed |= kchain_delete(c, name + k, (size_t)(p + n - (name + k)));
		} else if (strncmp(p, "-X ", 3) == 0 && (c = kchain(fam, name, k, false))) {
			strbuf_done(&c->text);
			c->used = false;
			changed = true;
		}
		p += n + (eol != NULL);
	}
	return changed;
}

/* What ebtables-save prints of the kernel's other tables (nat, broute)
 * after table filter, if a test sets it. */
static char *eb_other_tables;

/* What a save would print now. */
static char *kernel_save(int fam)
{
	struct strbuf b = { 0 };

	strbuf_puts(&b, "*filter\n");
	for (size_t i = 0; i < ELEMENTSOF(kernel[fam]); i++)
		if (kernel[fam][i].used && kernel[fam][i].text.p)
			strbuf_puts(&b, kernel[fam][i].text.p);
	strbuf_puts(&b, "COMMIT\n");
	if (fam == F_EB && eb_other_tables)
		strbuf_puts(&b, eb_other_tables);
	return strbuf_steal(&b, NULL);
}

static bool kernel_has(int fam, const char *chain)
{
	return kchain(fam, chain, strlen(chain), false) != NULL;
}

/* --- nf_tables, at its seam --- */

/* The ruleset generation: +1 per restore that changed something, +extra
 * per restore (someone else committing meanwhile), +1 per RUN_NOOP_BUMP. */
static uint32_t kgen, kgen_extra;
static unsigned n_dumps;

struct nft_chain_dump {
	int fam;
	size_t next;   /* the next slot of the model to read */
};

static int fake_gen(uint32_t *ret_gen)
{
	*ret_gen = kgen;
	return 0;
}

static int fake_chains_open(enum rules_family fam, struct nft_chain_dump **ret)
{
	struct nft_chain_dump *d = calloc(1, sizeof(*d));

	assert_non_null(d);
	d->fam = fam;
	n_dumps++;
	*ret = d;
	return 0;
}

/* 100 slots of the model per call, as the real one reads a part of the
 * dump at a time. */
static int fake_chains_read(struct nft_chain_dump *d, void (*fn)(void *data, const char *name),
			    void *data)
{
	size_t end = d->next + 100;

	for (; d->next < ELEMENTSOF(kernel[d->fam]) && d->next < end; d->next++)
		if (kernel[d->fam][d->next].used)
			fn(data, kernel[d->fam][d->next].name);
	return d->next >= ELEMENTSOF(kernel[d->fam]);
}

static void fake_chains_close(struct nft_chain_dump *d)
{
	free(d);
}

static const struct nft_ops fake_nft_ops = {
	.gen = fake_gen,
	.chains_open = fake_chains_open,
	.chains_read = fake_chains_read,
	.chains_close = fake_chains_close,
};

static unsigned n_gets;

/* Chains asked by name, from the model. */
static int fake_chains_have(enum rules_family fam, const char *const *names, unsigned count,
			    bool *seen)
{
	assert_true(count <= NFT_GET_MAX);
	n_gets++;
	for (unsigned i = 0; i < count; i++)
		seen[i] = kernel_has(fam, names[i]);
	return 0;
}

/* The same with the lookup by name. */
static const struct nft_ops fake_nft_ops_have = {
	.gen = fake_gen,
	.chains_open = fake_chains_open,
	.chains_read = fake_chains_read,
	.chains_close = fake_chains_close,
	.chains_have = fake_chains_have,
};

static void kernel_clear(void)
{
	for (int f = 0; f < NFAM; f++)
		for (size_t i = 0; i < ELEMENTSOF(kernel[f]); i++) {
			strbuf_done(&kernel[f][i].text);
			kernel[f][i].used = false;
		}
}

/* A kernel with only the built-in chains, empty (as after a flush):
 * a real save always prints those. */
static void kernel_reset(void)
{
	kernel_clear();
	for (int f = 0; f < NFAM; f++)
		kernel_restore(f, f == F_EB ? ":INPUT ACCEPT\n:FORWARD ACCEPT\n:OUTPUT ACCEPT\n" :
				   ":INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n");
}

/* --- fake helper runs --- */

/* How a run behaves; each test sets the policy it needs. */
enum behaviour {
	RUN_OK,         /* do the work, exit 0 */
	RUN_FAIL,       /* do nothing, exit 1 with a message */
	RUN_HANG,       /* never end: killed after its timeout */
	RUN_NO_START,   /* cannot be started */
	RUN_NOOP,       /* exit 0 without doing anything */
	RUN_EMPTY_SAVE, /* a save that prints no chains */
	RUN_CHATTY,     /* exit 1 with 200 KiB on stderr */
	RUN_NOOP_BUMP,  /* exit 0, commit an empty transaction (the generation moves) */
};

static char chatter[200 << 10];
/* RUN_FAIL's message, if a test sets one. */
static const char *fail_err;

static enum behaviour (*policy)(const char *tool, const char *input);

static enum behaviour policy_ok(const char *tool, const char *input)
{
	return RUN_OK;
}

struct fake {
	struct job *job;
	ev_timer timer;
	int status;
	char *out;
	const char *err;
};

/* Every run started, in order. */
struct started {
	char tool[32];
	char *input;
	enum phase phase;   /* of the batch when it started */
	bool finished, cancelled;
};

static struct started runs[64];
static unsigned n_runs, n_cancelled;
static struct filters *F;
static struct ev_loop *loop;

static void fake_finish_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	struct fake *fk = w->data;
	struct job *j = fk->job;
	int status = fk->status;
	char *out = fk->out;
	const char *err = fk->err;

	for (unsigned i = 0; i < n_runs; i++)
		if (streq(runs[i].tool, job_name(j)) && !runs[i].finished && !runs[i].cancelled) {
			runs[i].finished = true;
			break;
		}
	free(fk);
	job_finished(j, status, out ? out : "", out ? strlen(out) : 0, err, strlen(err));
	free(out);
}

static int fake_start(struct job *j, struct ev_loop *l, char *const argv[], const char *input,
		      size_t input_len, unsigned timeout_ms)
{
	enum behaviour how = policy(argv[0], input ? input : "");
	bool save = strstr(argv[0], "-save") != NULL;
	int fam = fam_of(argv[0]);
	struct fake *fk;
	struct started *s;

	if (how == RUN_NO_START)
		return -ENOENT;
	assert_true(n_runs < ELEMENTSOF(runs));
	s = &runs[n_runs++];
	memset(s, 0, sizeof(*s));
	snprintf(s->tool, sizeof(s->tool), "%s", argv[0]);
	s->input = input_len ? strndup(input, input_len) : strdup("");
	s->phase = F->batch ? F->batch->phase : PHASE_DONE;
	fk = calloc(1, sizeof(*fk));
	assert_non_null(fk);
	fk->job = j;
	fk->err = "";
	switch (how) {
	case RUN_OK:
		if (save) {
			fk->out = kernel_save(fam);
		} else {
			kgen += kernel_restore(fam, s->input) + kgen_extra;
		}
		break;
	case RUN_NOOP_BUMP:
		kgen++;
		break;
	case RUN_FAIL:
		fk->status = 1;
		fk->err = fail_err ? fail_err : "ebtables-restore: line 7 failed: refused by the test";
		break;
	case RUN_EMPTY_SAVE:
		fk->out = strdup("*filter\nCOMMIT\n");
		break;
	case RUN_CHATTY:
		memset(chatter, 'x', sizeof(chatter) - 1);
		fk->status = 1;
		fk->err = chatter;
		break;
	default:
		break;
	}
	/* From the loop, as a real run ends: at once, or at the timeout. */
	/* As job.c: the timeout counts from now, not from the loop's last
	 * look at the clock (a batch may start before the loop runs). */
	ev_now_update(l);
	ev_timer_init(&fk->timer, fake_finish_cb, how == RUN_HANG ? timeout_ms / 1000.0 : 0., 0.);
	if (how == RUN_HANG)
		fk->status = -ETIMEDOUT;
	fk->timer.data = fk;
	ev_timer_start(l, &fk->timer);
	job_set_impl(j, fk);
	return 0;
}

static void fake_cancel(struct job *j)
{
	struct fake *fk = job_impl(j);

	for (unsigned i = 0; i < n_runs; i++)
		if (streq(runs[i].tool, job_name(j)) && !runs[i].finished && !runs[i].cancelled) {
			runs[i].cancelled = true;
			break;
		}
	n_cancelled++;
	ev_timer_stop(loop, &fk->timer);
	free(fk->out);
	free(fk);
}

static const struct job_ops fake_ops = { .start = fake_start, .cancel = fake_cancel };

static unsigned count_runs(const char *tool)
{
	unsigned n = 0;

	for (unsigned i = 0; i < n_runs; i++)
		n += streq(runs[i].tool, tool);
	return n;
}

/* The input of the last run of tool. */
static const char *last_input(const char *tool)
{
	for (unsigned i = n_runs; i-- > 0;)
		if (streq(runs[i].tool, tool))
			return runs[i].input;
	return NULL;
}

/* --- callers --- */

struct told {
	enum outcome_kind kind;
	char port[16];
	char message[256];
	enum bstate state;       /* of the binding when told */
	char norm_eb[65];        /* its eb fingerprint when told */
	unsigned saves_started;  /* save runs started by then */
	unsigned skipped, reapplied;
};

static struct told told[512];
static unsigned n_told;

static void tell(void *data, const struct outcome *o)
{
	struct told *t = &told[n_told++];

	assert_true(n_told <= ELEMENTSOF(told));
	t->kind = o->kind;
	snprintf(t->port, sizeof(t->port), "%s", o->port ? o->port : "");
	snprintf(t->message, sizeof(t->message), "%s", o->message ? o->message : "");
	if (o->b) {
		t->state = o->b->state;
		snprintf(t->norm_eb, sizeof(t->norm_eb), "%s", o->b->norm[F_EB]);
	}
	t->saves_started = count_runs("ebtables-save") + count_runs("iptables-save") +
			   count_runs("ip6tables-save");
	t->skipped = o->skipped;
	t->reapplied = o->reapplied;
}

static const struct told *told_of(const char *port)
{
	for (unsigned i = n_told; i-- > 0;)
		if (streq(told[i].port, port))
			return &told[i];
	return NULL;
}

/* --- the daemon around the filters --- */

static char dir[] = "/tmp/netd-test-filters-XXXXXX";
static char db_path[300], filter_dir[300];
static struct store *S;
static char saved_path[4096];
/* Phases seen between loop iterations, in order, repeats folded. */
static enum phase seen[64];
static unsigned n_seen;

static void note_phase(void)
{
	enum phase p = F->batch ? F->batch->phase : PHASE_DONE;

	if (n_seen == 0 || seen[n_seen - 1] != p) {
		assert_true(n_seen < ELEMENTSOF(seen));
		seen[n_seen++] = p;
	}
}

static void start_filters(void)
{
	assert_int_equal(filters_new(loop, S, NULL, &(struct filters_config){
			.filter_dir = filter_dir, .helper_timeout_ms = TIMEOUT_MS,
			.job_ops = &fake_ops, .nft_ops = &fake_nft_ops }, &F), 0);
}

/* What core does each iteration: commit, flush the filters, then run the
 * loop's callbacks; until the filters are idle with nothing running. */
static void pump(void)
{
	for (int i = 0; i < 100000; i++) {
		assert_int_equal(store_commit(S), 0);
		filters_test_check_counts(F);
		filters_flush(F, false);
		note_phase();
		if (filters_idle(F) && !F->resync_waiters) {
			assert_int_equal(store_commit(S), 0);
			return;
		}
		ev_run(loop, EVRUN_NOWAIT);
		filters_test_check_counts(F);
		note_phase();
		usleep(100);
	}
	fail_msg("the filters never became idle");
}

static int setup(void **state)
{
	char *err = NULL;

	strcpy(dir, "/tmp/netd-test-filters-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(db_path, sizeof(db_path), "%s/netd.db", dir);
	snprintf(filter_dir, sizeof(filter_dir), "%s/filters", dir);
	assert_int_equal(mkdir(filter_dir, 0755), 0);
	/* No tool in PATH is an nf_tables variant: no generation query. */
	snprintf(saved_path, sizeof(saved_path), "%s", getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
	setenv("PATH", dir, 1);
	assert_int_equal(store_open(db_path, &S, &err), 0);
	loop = ev_default_loop(0);
	policy = policy_ok;
	fail_err = NULL;
	n_runs = n_cancelled = n_told = n_unbound = n_seen = n_dumps = n_gets = 0;
	kgen = 1000;
	kgen_extra = 0;
	kernel_reset();
	start_filters();
	return 0;
}

/* As setup, with the six tools in PATH the nf_tables variants (links to
 * an xtables-nft-multi that never runs: the runs are fake), so that the
 * generation and the chain-name dump are used. */
static int setup_nft(void **state)
{
	static const char *const tools[] = { "ebtables-restore", "iptables-restore",
					     "ip6tables-restore", "ebtables-save",
					     "iptables-save", "ip6tables-save" };
	char path[400];
	FILE *fp;

	setup(state);
	F = filters_free(F);
	snprintf(path, sizeof(path), "%s/xtables-nft-multi", dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fclose(fp);
	assert_int_equal(chmod(path, 0755), 0);
	for (size_t i = 0; i < ELEMENTSOF(tools); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, tools[i]);
		assert_int_equal(symlink("xtables-nft-multi", path), 0);
	}
	start_filters();
	assert_true(F->gen_usable);
	return 0;
}

static int teardown(void **state)
{
	char cmd[400];

	F = filters_free(F);
	S = store_close(S);
	for (unsigned i = 0; i < n_runs; i++)
		free(runs[i].input);
	kernel_clear();
	setenv("PATH", saved_path, 1);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

/* One text value from the database, read with sqlite3 itself ("" for
 * NULL, "<none>" without a row). */
static char *db_text(const char *sql)
{
	static char buf[256];
	sqlite3 *db;
	sqlite3_stmt *st;

	assert_int_equal(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		snprintf(buf, sizeof(buf), "%s",
			 sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0) : "");
	else
		snprintf(buf, sizeof(buf), "<none>");
	sqlite3_finalize(st);
	sqlite3_close(db);
	return buf;
}

static char *row_of(const char *port, const char *column)
{
	char sql[200];

	snprintf(sql, sizeof(sql), "SELECT %s FROM bindings WHERE port = '%s'", column, port);
	return db_text(sql);
}

static int bind(const char *port, const char *filter)
{
	json_auto_t *params = json_pack("{s:s, s:[], s:[]}", "MAC", MAC, "IP", "DHCPSERVER");
	char *error = NULL;
	int r;

	r = bindings_bind(F, &(struct bind_req){ .port = port, .filter = filter, .owner = "guest1",
						 .params = params },
			  &(struct waiter){ .fn = tell }, &error);
	free(error);
	return r;
}

static void resync(void)
{
	batch_resync_begin(F);
	assert_int_equal(waiters_add(&F->resync_waiters, &(struct waiter){ .fn = tell }), 0);
}

/* Forget the runs seen so far. */
static void runs_forget(void)
{
	for (unsigned i = 0; i < n_runs; i++)
		free(runs[i].input);
	n_runs = n_seen = 0;
}

/* Verify at start (an empty kernel), then forget what that looked like. */
static void started(void)
{
	pump();
	assert_true(F->ready);
	runs_forget();
}

/* Commit what was asked and start its batch: the restore runs. */
static void batch_out(void)
{
	assert_int_equal(store_commit(S), 0);
	filters_flush(F, false);
	filters_flush(F, false); /* the second look ends the gathering */
	assert_non_null(F->batch);
	assert_int_equal(F->batch->phase, PHASE_RESTORING);
}

static void assert_seen(const enum phase *want, unsigned n)
{
	if (n_seen != n || memcmp(seen, want, n * sizeof(*want)) != 0)
		for (unsigned i = 0; i < n_seen; i++)
			print_message("seen[%u] = %d\n", i, seen[i]);
	assert_int_equal(n_seen, n);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(seen[i], want[i]);
}

/* --- the tests --- */

/* SAVE -> SAVING -> PARSE -> COMPARE -> DONE: one save per family, no
 * restore, ready, counted as verified by save. */
static void test_verify_at_start(void **state)
{
	static const enum phase want[] = { PHASE_SAVING, PHASE_PARSE, PHASE_COMPARE, PHASE_DONE };

	pump();
	assert_seen(want, ELEMENTSOF(want));
	assert_int_equal(n_runs, 3);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(runs[i].phase, PHASE_SAVE);
	assert_int_equal(count_runs("ebtables-save"), 1);
	assert_int_equal(count_runs("iptables-save"), 1);
	assert_int_equal(count_runs("ip6tables-save"), 1);
	assert_true(F->ready);
	assert_false(F->verified_by_generation);
	assert_int_equal(F->restore_runs, 0);
}

/* RENDER -> RESTORING -> SAVE -> SAVING -> PARSE -> APPLY -> DONE. The
 * caller is answered in APPLY, only after the save showed its chains in
 * the kernel, with the fingerprint recorded. */
static void test_apply_phases(void **state)
{
	/* DONE first: the first look only gathers (more may be coming). */
	/* A lone binding: its batch starts on the first look. */
	static const enum phase want[] = { PHASE_RESTORING, PHASE_SAVING,
					   PHASE_PARSE, PHASE_APPLY, PHASE_DONE };
	const char *in;

	started();
	assert_int_equal(bind("vnet0", "no-mac-spoofing"), 1);
	assert_string_equal(row_of("vnet0", "state"), "<none>"); /* not committed yet */
	pump();
	assert_seen(want, ELEMENTSOF(want));
	/* One restore (eb only: the filter has no IP rules), started in
	 * RENDER, then one save in SAVE. */
	assert_int_equal(n_runs, 2);
	assert_string_equal(runs[0].tool, "ebtables-restore");
	assert_int_equal(runs[0].phase, PHASE_RENDER);
	assert_string_equal(runs[1].tool, "ebtables-save");
	assert_int_equal(runs[1].phase, PHASE_SAVE);
	in = last_input("ebtables-restore");
	assert_non_null(strstr(in, "*filter\n:" RULES_ROOT_FROM " RETURN\n:" RULES_ROOT_TO " RETURN\n"));
	assert_non_null(strstr(in, ":N-O-vnet0 RETURN\n"));
	assert_non_null(strstr(in, "-A N-O-vnet0 -s ! " MAC " -j DROP\n"));
	assert_non_null(strstr(in, "-A " RULES_ROOT_FROM " -i vnet0 -j N-O-vnet0\n"));
	/* Hooks: none seen yet, so each is inserted at the top, none deleted. */
	assert_non_null(strstr(in, "-I FORWARD 1 -j " RULES_ROOT_TO "\n-I FORWARD 1 -j "
				   RULES_ROOT_FROM "\n"));
	assert_null(strstr(in, "-D "));
	assert_non_null(strstr(in, "COMMIT\n"));
	/* Told in APPLY: applied, after the save, with its fingerprint. */
	assert_int_equal(n_told, 1);
	assert_int_equal(told[0].kind, OUTCOME_APPLIED);
	assert_int_equal(told[0].state, B_APPLIED);
	assert_int_equal(told[0].saves_started, 1);
	assert_int_equal(strlen(told[0].norm_eb), 64);
	/* Recorded. */
	assert_string_equal(row_of("vnet0", "state"), "applied");
	assert_string_equal(row_of("vnet0", "applied_hash"), row_of("vnet0", "desired_hash"));
	assert_int_equal(strlen(row_of("vnet0", "eb_norm")), 64);
	assert_int_equal(strlen(db_text("SELECT norm FROM roots WHERE family = 'eb'")), 64);
	assert_true(F->hooks_ok[F_EB]);
	assert_true(kernel_has(F_EB, "N-O-vnet0"));
	assert_int_equal(F->applied, 1);
	assert_int_equal(F->batches, 1);
}

/* Another writer takes the database (as a full disk would fail the
 * commit): returns its connection; *ret_txn is the transaction that fails. */
static sqlite3 *db_lock(uint64_t *ret_txn)
{
	sqlite3 *other;

	assert_int_equal(sqlite3_open(db_path, &other), SQLITE_OK);
	assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	*ret_txn = store_txn(S);
	return other;
}

/* The commit of txn fails; the other writer lets go; the filters undo. */
static void commit_fails(sqlite3 *other, uint64_t txn)
{
	assert_int_equal(store_commit(S), -EBUSY);
	assert_int_equal(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(other);
	filters_storage_failed(F, txn, "database is locked");
}

/* The store's transaction fails (another writer holds the lock, as a full
 * disk would fail it): the binds and unbinds of that transaction are
 * undone (a new binding gone, a rebound or unbound one as it was), their
 * callers told OUTCOME_STORAGE, and no restore runs for them. */
static void test_storage_failure_undoes(void **state)
{
	sqlite3 *other;
	uint64_t txn;
	unsigned restores;
	struct binding *b;

	started();
	assert_int_equal(bind("vnet0", "no-mac-spoofing"), 1);
	pump();
	restores = count_runs("ebtables-restore");
	n_told = 0;

	other = db_lock(&txn);
	assert_int_equal(bind("vnet1", "no-mac-spoofing"), 1);   /* new */
	assert_int_equal(bind("vnet0", "allow-arp"), 1);         /* rebind */
	assert_int_equal(bindings_unbind(F, "vnet0", "guest1", &(struct waiter){ .fn = tell }), 0);
	commit_fails(other, txn);

	assert_int_equal(n_told, 3);
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(told[i].kind, OUTCOME_STORAGE);
		assert_string_equal(told[i].message, "database is locked");
	}
	assert_null(binding_find(F, "vnet1"));
	b = binding_find(F, "vnet0");
	assert_non_null(b);
	assert_string_equal(b->filter, "no-mac-spoofing");
	assert_int_equal(b->state, B_APPLIED);
	assert_false(b->dirty);
	assert_null(b->waiters);
	pump();
	assert_int_equal(count_runs("ebtables-restore"), restores);
	assert_string_equal(row_of("vnet0", "state"), "applied");
	assert_string_equal(row_of("vnet1", "state"), "<none>");

	/* The store works again: the next bind applies. */
	assert_int_equal(bind("vnet1", "no-mac-spoofing"), 1);
	pump();
	assert_string_equal(row_of("vnet1", "state"), "applied");
}


/* Run the loop (no commit) until the batch is in phase, or the bisection
 * of a failed one is queued (PHASE_DONE: F->nretry). */
static void run_until(enum phase phase)
{
	for (int i = 0; i < 100000; i++) {
		if (phase == PHASE_DONE ? F->nretry > 0 : F->batch && F->batch->phase == phase)
			return;
		ev_run(loop, EVRUN_NOWAIT);
		usleep(100);
	}
	fail_msg("phase %d never came", (int)phase);
}

/* A call changes a binding whose batch run is out, the batch settles it
 * in the same iteration, and that iteration's transaction fails: the
 * call is undone (StorageError) without undoing what the batch did. The
 * removal run done (item 0) or the apply run done (item 1) is not left
 * "removing" or "pending" for ever; it goes out again and settles. */
static void test_storage_failure_after_batch_settled(void **state)
{
	for (int apply = 0; apply < 2; apply++) {
		sqlite3 *other;
		uint64_t txn;

		teardown(state);
		setup(state);
		started();
		if (!apply) {
			assert_int_equal(bind("vnet0", "no-mac-spoofing"), 1);
			pump();
			assert_int_equal(bindings_unbind(F, "vnet0", "guest1",
							 &(struct waiter){ .fn = tell }), 0);
		} else {
			assert_int_equal(bind("vnet0", "no-mac-spoofing"), 1);
		}
		n_told = 0;
		assert_int_equal(store_commit(S), 0);
		filters_flush(F, false);
		filters_flush(F, false);
		run_until(PHASE_APPLY);
		assert_true(binding_find(F, "vnet0")->in_batch);
		assert_int_equal(store_commit(S), 0); /* the iteration's end */

		other = db_lock(&txn);
		assert_int_equal(bind("vnet0", "allow-arp"), 1);
		while (F->batch)
			ev_run(loop, EVRUN_NOWAIT); /* the batch settles vnet0 */
		assert_int_equal(n_told, 1);
		assert_int_equal(told[0].kind, apply ? OUTCOME_APPLIED : OUTCOME_REMOVED);
		commit_fails(other, txn);
		assert_int_equal(n_told, 2);
		assert_int_equal(told[1].kind, OUTCOME_STORAGE);

		pump();
		if (apply) {
			assert_string_equal(binding_find(F, "vnet0")->filter, "no-mac-spoofing");
			assert_int_equal(binding_find(F, "vnet0")->state, B_APPLIED);
			assert_string_equal(row_of("vnet0", "state"), "applied");
		} else {
			assert_null(binding_find(F, "vnet0"));
			assert_string_equal(row_of("vnet0", "state"), "<none>");
			assert_int_equal(n_unbound, 1);
		}
	}
}

static enum behaviour policy_refuse_bad(const char *tool, const char *input);

/* A call re-binds a binding whose batch (of two) is failing, and its
 * transaction fails while the bisection has put the batch's earlier
 * caller back on the binding: only the call is told StorageError; the
 * earlier caller hears its own run's outcome (it failed: "bad" is
 * refused). */
static void test_storage_failure_spares_earlier_callers(void **state)
{
	sqlite3 *other;
	uint64_t txn;

	started();
	policy = policy_refuse_bad;
	assert_int_equal(bind("bad", "no-mac-spoofing"), 1);
	assert_int_equal(bind("vnet1", "no-mac-spoofing"), 1);
	batch_out();

	other = db_lock(&txn);
	assert_int_equal(bind("bad", "allow-arp"), 1);
	run_until(PHASE_DONE); /* failed, split: the callers back on their bindings */
	commit_fails(other, txn);
	assert_int_equal(n_told, 1);
	assert_int_equal(told[0].kind, OUTCOME_STORAGE);

	pump();
	assert_int_equal(told_of("bad")->kind, OUTCOME_FAILED);
	assert_int_equal(told_of("vnet1")->kind, OUTCOME_APPLIED);
	assert_int_equal(n_told, 3);
}

/* A binding that learns its address (BindFilter's learning): the port
 * gets the learning rules (DHCP only), not its filter's; its view says
 * "learning"; its row keeps the mode across a restart (still learning);
 * a re-bind with an IP in a transaction that fails is undone back to
 * learning. (The watch itself: filters-learn.sh.) */
static void test_learning(void **state)
{
	json_auto_t *learn = json_pack("{s:s, s:[], s:[]}", "MAC", MAC, "IP", "DHCPSERVER");
	json_auto_t *given = json_pack("{s:s, s:[s], s:[]}", "MAC", MAC, "IP", "10.0.0.5", "DHCPSERVER");
	struct binding_view v;
	char *error = NULL, hash[65];
	const char *in;
	sqlite3 *other;
	uint64_t txn;
	struct binding *b;

	started();
	assert_int_equal(bindings_bind(F, &(struct bind_req){ .port = "learn0", .filter = "clean-traffic",
							   .owner = "guest1", .params = learn,
							   .learn = LEARN_DHCP },
				       &(struct waiter){ .fn = tell }, &error), 1);
	pump();
	in = last_input("ebtables-restore");
	assert_non_null(strstr(in, "-A N-O-learn0 -p IPv4 --ip-proto udp --ip-sport 68 --ip-dport 67 -j ACCEPT\n"));
	assert_null(strstr(in, "--arp-ip-src")); /* none of clean-traffic's rules */
	b = binding_find(F, "learn0");
	assert_int_equal(b->state, B_APPLIED);
	binding_view_fill(&v, b, true);
	assert_string_equal(v.state, "learning");
	assert_string_equal(v.learning, "dhcp");
	assert_string_equal(row_of("learn0", "learning"), "dhcp");
	assert_string_equal(row_of("learn0", "learned_at IS NULL"), "1");
	snprintf(hash, sizeof(hash), "%s", b->want.hash);

	/* A restart: still learning, the same rules, intact. */
	F = filters_free(F);
	runs_forget();
	start_filters();
	pump();
	b = binding_find(F, "learn0");
	assert_int_equal(b->learn, LEARN_DHCP);
	assert_true(learn_pending(b));
	assert_string_equal(b->want.hash, hash);
	assert_int_equal(count_runs("ebtables-restore"), 0);

	/* A re-bind with an IP whose transaction fails: learning again. */
	other = db_lock(&txn);
	assert_int_equal(bindings_bind(F, &(struct bind_req){ .port = "learn0", .filter = "clean-traffic",
							   .owner = "guest1", .params = given },
				       &(struct waiter){ .fn = tell }, &error), 1);
	assert_false(learn_pending(b));
	assert_string_not_equal(b->want.hash, hash);
	commit_fails(other, txn);
	assert_int_equal(b->learn, LEARN_DHCP);
	assert_true(learn_pending(b));
	assert_string_equal(b->want.hash, hash);
	assert_int_equal(json_array_size(json_object_get(b->params, "IP")), 0);
	free(error);
}

/* Unbind: the chains are deleted, the caller told, the row gone, links
 * told the name is free. */
static void test_unbind(void **state)
{
	started();
	assert_int_equal(bind("vnet0", "no-mac-spoofing"), 1);
	pump();
	assert_int_equal(bindings_unbind(F, "vnet0", "someone-else", &(struct waiter){ .fn = tell }),
			 -EPERM);
	assert_int_equal(bindings_unbind(F, "vnet1", "guest1", &(struct waiter){ .fn = tell }),
			 -ENOENT);
	assert_int_equal(bindings_unbind(F, "vnet0", "guest1", &(struct waiter){ .fn = tell }), 0);
	pump();
	assert_non_null(strstr(last_input("ebtables-restore"), ":N-O-vnet0 RETURN\n-X N-O-vnet0\n"));
	assert_null(strstr(last_input("ebtables-restore"), "-j N-O-vnet0"));
	assert_false(kernel_has(F_EB, "N-O-vnet0"));
	assert_int_equal(told_of("vnet0")->kind, OUTCOME_REMOVED);
	assert_string_equal(row_of("vnet0", "state"), "<none>");
	assert_null(binding_find(F, "vnet0"));
	assert_int_equal(n_unbound, 1);
	assert_string_equal(unbound[0], "vnet0");
}

/* A binding that a ListBindings reply still has to encode (b->listed)
 * and is removed meanwhile is gone for everything else, but its memory
 * stays, marked removed, until the last list lets it go. */
static void test_unbind_while_listed(void **state)
{
	struct binding *b;

	started();
	assert_int_equal(bind("vnet0", "no-mac-spoofing"), 1);
	pump();
	b = binding_find(F, "vnet0");
	assert_non_null(b);
	b->listed += 2; /* two lists hold it */
	assert_int_equal(bindings_unbind(F, "vnet0", "guest1", &(struct waiter){ .fn = tell }), 0);
	pump();
	assert_int_equal(told_of("vnet0")->kind, OUTCOME_REMOVED);
	assert_null(binding_find(F, "vnet0"));
	assert_true(TAILQ_EMPTY(&F->all));
	assert_int_equal(F->nbindings, 0);
	/* Still there for the lists (read under the sanitizers: not freed). */
	assert_true(b->removed);
	assert_int_equal(b->listed, 2);
	assert_null(b->filter);
	binding_unlist(b);
	assert_true(b->removed);
	binding_unlist(b); /* freed: a leak under the sanitizers otherwise */
	/* One held by a list and not removed is only let go. */
	assert_int_equal(bind("vnet1", "no-mac-spoofing"), 1);
	pump();
	b = binding_find(F, "vnet1");
	b->listed++;
	binding_unlist(b);
	assert_int_equal(b->listed, 0);
	assert_false(b->removed);
	assert_ptr_equal(binding_find(F, "vnet1"), b);
}

static enum behaviour policy_refuse_bad(const char *tool, const char *input)
{
	return strstr(input, "N-O-bad") && strstr(tool, "-restore") ? RUN_FAIL : RUN_OK;
}

/* RESTORING -> BISECT: a restore that exits 1 with a message. The batch
 * is split until the bad binding is alone; the good ones apply, the bad
 * one fails with the tool's message and no applied hash. */
/* A batch carries its bindings in the order they were made, whatever
 * the order they changed in (filters_flush() takes them from the list of
 * dirty bindings, in the order they became dirty). */
static void test_batch_in_binding_order(void **state)
{
	static const char *const ports[] = { "p1", "p2", "p3" };
	const char *in, *at[ELEMENTSOF(ports)];

	started();
	for (size_t i = 0; i < ELEMENTSOF(ports); i++)
		assert_int_equal(bind(ports[i], "no-mac-spoofing"), 1);
	pump();
	assert_int_equal(bind("p3", "allow-arp"), 1);
	assert_int_equal(bind("p1", "allow-arp"), 1);
	assert_int_equal(bind("p2", "allow-arp"), 1);
	batch_out();
	in = last_input("ebtables-restore");
	for (size_t i = 0; i < ELEMENTSOF(ports); i++) {
		char decl[32];

		snprintf(decl, sizeof(decl), ":N-O-%s RETURN", ports[i]);
		at[i] = strstr(in, decl);
		assert_non_null(at[i]);
	}
	assert_true(at[0] < at[1]);
	assert_true(at[1] < at[2]);
	pump();
	for (size_t i = 0; i < ELEMENTSOF(ports); i++)
		assert_string_equal(row_of(ports[i], "filter"), "allow-arp");
}

static void test_bisect(void **state)
{
	static const char *const good[] = { "p1", "p2", "p3", "p5", "p6" };

	started();
	policy = policy_refuse_bad;
	for (size_t i = 0; i < ELEMENTSOF(good); i++)
		assert_int_equal(bind(good[i], "no-mac-spoofing"), 1);
	assert_int_equal(bind("bad", "no-mac-spoofing"), 1);
	pump();
	/* The first run carried all six. */
	assert_int_equal(runs[0].phase, PHASE_RENDER);
	assert_non_null(strstr(runs[0].input, "N-O-p1 RETURN"));
	assert_non_null(strstr(runs[0].input, "N-O-bad RETURN"));
	assert_true(F->restore_runs > 2);
	assert_int_equal(F->nretry, 0);
	for (size_t i = 0; i < ELEMENTSOF(good); i++) {
		assert_int_equal(told_of(good[i])->kind, OUTCOME_APPLIED);
		assert_string_equal(row_of(good[i], "state"), "applied");
		assert_true(kernel_has(F_EB, binding_find(F, good[i])->want.out_chain));
	}
	assert_int_equal(told_of("bad")->kind, OUTCOME_FAILED);
	assert_string_equal(told_of("bad")->message,
			    "ebtables-restore: line 7 failed: refused by the test");
	assert_string_equal(row_of("bad", "state"), "failed");
	assert_string_equal(row_of("bad", "applied_hash"), "");
	assert_string_equal(row_of("bad", "error"), "ebtables-restore: line 7 failed: refused by the test");
	assert_false(kernel_has(F_EB, "N-O-bad"));
	assert_int_equal(F->failed_applies, 1);
	assert_int_equal(F->applied, ELEMENTSOF(good));
}

/* The first restore run fails, every later one succeeds. */
static unsigned restores_seen;

static enum behaviour policy_fail_first(const char *tool, const char *input)
{
	if (!strstr(tool, "-restore"))
		return RUN_OK;
	return restores_seen++ == 0 ? RUN_FAIL : RUN_OK;
}

/* A binding changed while its batch of one fails (unbound, or bound
 * again, while the restore ran): the failed run's caller hears why, and
 * the change made meanwhile is not lost with it. It runs next and its
 * caller is answered (failing the binding answered only the first one
 * and dropped the change: an UnbindFilter waited for ever and the port's
 * link name stayed held). */
static void test_change_while_batch_fails(void **state)
{
	for (int rebind = 0; rebind < 2; rebind++) {
		teardown(state);
		setup(state);
		started();
		restores_seen = 0;
		policy = policy_fail_first;
		assert_int_equal(bind("vnet0", "no-mac-spoofing"), 1);
		batch_out();
		if (rebind)
			assert_true(bind("vnet0", "clean-traffic") >= 0);
		else
			assert_int_equal(bindings_unbind(F, "vnet0", "guest1",
							 &(struct waiter){ .fn = tell }), 0);
		pump();
		assert_int_equal(n_told, 2);
		assert_int_equal(told[0].kind, OUTCOME_FAILED);
		assert_string_equal(told[0].port, "vnet0");
		if (rebind) {
			assert_int_equal(told[1].kind, OUTCOME_APPLIED);
			assert_string_equal(binding_find(F, "vnet0")->filter, "clean-traffic");
			assert_string_equal(row_of("vnet0", "state"), "applied");
		} else {
			assert_int_equal(told[1].kind, OUTCOME_REMOVED);
			assert_null(binding_find(F, "vnet0"));
			assert_string_equal(row_of("vnet0", "state"), "<none>");
			assert_int_equal(n_unbound, 1);
		}
	}
}

static enum behaviour policy_hang(const char *tool, const char *input)
{
	return strstr(tool, "-restore") ? RUN_HANG : RUN_OK;
}

/* A run that hangs: ended after the helper timeout (-ETIMEDOUT), the
 * binding fails with that reason. */
static void test_timeout(void **state)
{
	uint64_t t0;

	started();
	policy = policy_hang;
	assert_int_equal(bind("sleepy", "no-mac-spoofing"), 1);
	t0 = now_usec();
	pump();
	assert_true(now_usec() - t0 >= TIMEOUT_MS * 1000u);
	assert_int_equal(told_of("sleepy")->kind, OUTCOME_FAILED);
	assert_string_equal(told_of("sleepy")->message, "killed after the helper timeout");
	assert_string_equal(row_of("sleepy", "state"), "failed");
	assert_int_equal(count_runs("ebtables-save"), 0);
}

static enum behaviour policy_no_restore(const char *tool, const char *input)
{
	return strstr(tool, "-restore") ? RUN_NO_START : RUN_OK;
}

/* RENDER -> BISECT: a restore that cannot be started at all. */
static void test_cannot_start(void **state)
{
	static const enum phase want[] = { PHASE_DONE };

	started();
	policy = policy_no_restore;
	assert_int_equal(bind("vnet0", "no-mac-spoofing"), 1);
	pump();
	assert_seen(want, ELEMENTSOF(want));
	assert_int_equal(n_runs, 0);
	assert_int_equal(F->restore_runs, 0);
	assert_int_equal(told_of("vnet0")->kind, OUTCOME_FAILED);
	assert_string_equal(told_of("vnet0")->message, "the restore run failed");
	assert_string_equal(row_of("vnet0", "state"), "failed");
}

static enum behaviour policy_no_save(const char *tool, const char *input)
{
	return strstr(tool, "-save") ? RUN_NO_START : RUN_OK;
}

/* SAVE -> APPLY -> DONE: the restore exited 0 but no save can start, so
 * nothing shows that the kernel holds the chains: the binding is not
 * reported applied. */
static void test_save_cannot_start(void **state)
{
	static const enum phase want[] = { PHASE_RESTORING, PHASE_APPLY, PHASE_DONE };

	started();
	policy = policy_no_save;
	assert_int_equal(bind("vnet0", "no-mac-spoofing"), 1);
	pump();
	assert_seen(want, ELEMENTSOF(want));
	assert_int_equal(told_of("vnet0")->kind, OUTCOME_FAILED);
	assert_non_null(strstr(told_of("vnet0")->message, "could not be checked"));
	assert_string_equal(row_of("vnet0", "state"), "failed");
	assert_string_equal(row_of("vnet0", "eb_norm"), "");
	assert_false(F->mark_valid);
}

static enum behaviour policy_empty_save(const char *tool, const char *input)
{
	return strstr(tool, "-save") ? RUN_EMPTY_SAVE : RUN_OK;
}

/* A save whose output lacks the chains: the binding is not confirmed
 * (failed), the dispatch chains and hooks stay to be rewritten; a Resync
 * with a working save then re-applies it. */
static void test_save_lacks_chains(void **state)
{
	started();
	policy = policy_empty_save;
	assert_int_equal(bind("vnet0", "no-mac-spoofing"), 1);
	pump();
	assert_int_equal(told_of("vnet0")->kind, OUTCOME_FAILED);
	assert_string_equal(row_of("vnet0", "state"), "failed");
	assert_string_equal(row_of("vnet0", "eb_norm"), "");
	assert_false(F->hooks_ok[F_EB]);
	assert_true(F->root_dirty[F_EB]);

	policy = policy_ok;
	F->backoff_until = 0; /* no need to wait out the back-off here */
	resync();
	pump();
	assert_int_equal(told[n_told - 1].kind, OUTCOME_RESYNCED);
	assert_int_equal(binding_find(F, "vnet0")->state, B_APPLIED);
	assert_int_equal(count_runs("ebtables-restore"), 2);
	assert_true(F->hooks_ok[F_EB]);
}

/* An unbind whose save after the restore exits 0 but shows no chains at
 * all (empty, cut short): the removal is not confirmed (the caller hears
 * ApplyFailed), the binding and its row stay, still removing, and the
 * port's name is not given back until a Resync with a working save
 * finishes the removal. It was taken for a removal done: the row went
 * while the chains could still be there, unknown to netd. */
static void test_save_lacks_chains_at_unbind(void **state)
{
	started();
	assert_int_equal(bind("vnet0", "no-mac-spoofing"), 1);
	pump();
	policy = policy_empty_save;
	assert_int_equal(bindings_unbind(F, "vnet0", "guest1", &(struct waiter){ .fn = tell }), 0);
	pump();
	assert_int_equal(told_of("vnet0")->kind, OUTCOME_FAILED);
	assert_non_null(binding_find(F, "vnet0"));
	assert_string_equal(row_of("vnet0", "state"), "removing");
	assert_int_equal(n_unbound, 0);

	policy = policy_ok;
	F->backoff_until = 0;
	resync();
	pump();
	assert_null(binding_find(F, "vnet0"));
	assert_string_equal(row_of("vnet0", "state"), "<none>");
	assert_int_equal(n_unbound, 1);
}

static enum behaviour policy_noop_restore(const char *tool, const char *input)
{
	return strstr(tool, "-restore") ? RUN_NOOP : RUN_OK;
}

/*
 * A restore that exits 0 without doing its work: the save after it
 * shows the chains missing, so the binding is NOT reported applied (the
 * caller hears ApplyFailed, the row says failed, no applied hash); the
 * next Resync with a working tool re-applies it.
 */
static void test_restore_lies(void **state)
{
	started();
	/* A good apply first, so the hooks and the dispatch chains are in. */
	assert_int_equal(bind("vnet0", "no-mac-spoofing"), 1);
	pump();
	assert_true(F->hooks_ok[F_EB]);

	policy = policy_noop_restore;
	assert_int_equal(bind("vnet1", "no-mac-spoofing"), 1);
	pump();
	assert_false(kernel_has(F_EB, "N-O-vnet1"));
	assert_int_equal(told_of("vnet1")->kind, OUTCOME_FAILED);
	assert_non_null(strstr(told_of("vnet1")->message, "does not hold"));
	assert_string_equal(row_of("vnet1", "state"), "failed");
	assert_string_equal(row_of("vnet1", "applied_hash"), "");
	assert_string_equal(row_of("vnet1", "eb_norm"), "");
	assert_int_equal(F->failed_applies, 1);

	policy = policy_ok;
	F->backoff_until = 0;
	resync();
	pump();
	assert_int_equal(told[n_told - 1].kind, OUTCOME_RESYNCED);
	assert_int_equal(told[n_told - 1].skipped, 1);
	assert_true(kernel_has(F_EB, "N-O-vnet1"));
	assert_string_equal(row_of("vnet1", "state"), "applied");
}

/* COMPARE: a Resync with the kernel intact skips everything; after
 * someone flushed the chains it re-applies, and the caller hears back
 * once the re-apply is done. */
static void test_resync(void **state)
{
	unsigned restores;

	started();
	assert_int_equal(bind("vnet0", "no-mac-spoofing"), 1);
	pump();
	restores = count_runs("ebtables-restore");

	resync();
	pump();
	assert_int_equal(told[n_told - 1].kind, OUTCOME_RESYNCED);
	assert_int_equal(told[n_told - 1].skipped, 1);
	assert_int_equal(told[n_told - 1].reapplied, 0);
	assert_int_equal(count_runs("ebtables-restore"), restores);

	kernel_reset(); /* someone flushed the firewall */
	resync();
	pump();
	assert_int_equal(told[n_told - 1].kind, OUTCOME_RESYNCED);
	assert_int_equal(told[n_told - 1].skipped, 0);
	assert_int_equal(told[n_told - 1].reapplied, 1);
	assert_int_equal(count_runs("ebtables-restore"), restores + 1);
	assert_true(kernel_has(F_EB, "N-O-vnet0"));
	assert_non_null(strstr(last_input("ebtables-restore"), "-I FORWARD 1 -j " RULES_ROOT_FROM "\n"));
	assert_int_equal(strlen(row_of("vnet0", "eb_norm")), 64);
}

/* ebtables-save prints table nat after table filter. Chains there with
 * the names (and the very lines) of a binding's chains, which someone
 * removed from table filter, do not pass for them: the Resync re-applies
 * the binding. */
static void test_other_table_not_read(void **state)
{
	static const char *const names[] = { "N-I-vnet0", "N-O-vnet0" };
	struct strbuf nat = { 0 };
	unsigned moved = 0;

	started();
	assert_int_equal(bind("vnet0", "no-mac-spoofing"), 1);
	pump();
	strbuf_puts(&nat, "*nat\n:PREROUTING ACCEPT\n");
	for (size_t i = 0; i < ELEMENTSOF(names); i++) {
		/* Moved to table nat, as they were. */
		struct kchain *c = kchain(F_EB, names[i], strlen(names[i]), false);

		if (!c)
			continue;
		strbuf_puts(&nat, c->text.p);
		strbuf_done(&c->text);
		c->used = false;
		moved++;
	}
	assert_int_equal(moved, 1); /* no-mac-spoofing has one chain */
	strbuf_puts(&nat, "COMMIT\n");
	eb_other_tables = strbuf_steal(&nat, NULL);
	resync();
	pump();
	free(eb_other_tables);
	eb_other_tables = NULL;
	assert_int_equal(told[n_told - 1].kind, OUTCOME_RESYNCED);
	assert_int_equal(told[n_told - 1].reapplied, 1);
	assert_true(kernel_has(F_EB, "N-O-vnet0"));
}

/* An applied binding keeps its hash and chain names, not its restore
 * text (a third of netd's memory at 10,000 bindings): neither after its
 * batch nor after a restart. Written again (a Resync after a flush), it
 * is rendered again, to the same text, in the batch's slices. */
static void test_text_dropped_once_applied(void **state)
{
	struct binding *b;
	char first[4096], hash[65];

	started();
	assert_int_equal(bind("vnet0", "clean-traffic"), 1);
	pump();
	b = binding_find(F, "vnet0");
	assert_int_equal(b->state, B_APPLIED);
	assert_null(b->want.text[F_EB]);
	assert_true(b->want.has_in[F_EB] && b->want.has_out[F_EB]);
	snprintf(first, sizeof(first), "%s", last_input("ebtables-restore"));
	snprintf(hash, sizeof(hash), "%s", b->want.hash);

	kernel_reset(); /* someone flushed the firewall */
	resync();
	pump();
	assert_int_equal(told[n_told - 1].reapplied, 1);
	assert_true(kernel_has(F_EB, "N-O-vnet0"));
	/* The same rules written again, and the text dropped again. */
	assert_string_equal(strstr(last_input("ebtables-restore"), ":N-I-vnet0"),
			    strstr(first, ":N-I-vnet0"));
	b = binding_find(F, "vnet0");
	assert_string_equal(b->want.hash, hash);
	assert_null(b->want.text[F_EB]);

	F = filters_free(F);
	runs_forget();
	start_filters();
	b = binding_find(F, "vnet0");
	assert_non_null(b);
	assert_null(b->want.text[F_EB]);
	assert_string_equal(b->want.hash, hash);
	pump();
	assert_int_equal(count_runs("ebtables-restore"), 0);
}

/* A restart: the bindings come back from the store, and a kernel that
 * still holds them is verified without a restore. */
static void test_restart_skips_intact(void **state)
{
	started();
	assert_int_equal(bind("vnet0", "no-mac-spoofing"), 1);
	pump();
	F = filters_free(F);
	runs_forget();
	start_filters();
	assert_non_null(binding_find(F, "vnet0"));
	pump();
	assert_int_equal(count_runs("ebtables-restore"), 0);
	assert_int_equal(F->skipped, 1);
	assert_int_equal(binding_find(F, "vnet0")->state, B_APPLIED);
}

static enum behaviour policy_save_fails(const char *tool, const char *input)
{
	return strstr(tool, "-save") ? RUN_FAIL : RUN_OK;
}

/* A verification whose saves cannot start (SAVE -> COMPARE) or fail
 * (SAVING -> PARSE -> COMPARE): nothing can be trusted, every binding is
 * re-applied. */
static void test_verify_without_saves(void **state)
{
	static const enum phase want[] = { PHASE_COMPARE, PHASE_DONE };

	started();
	assert_int_equal(bind("vnet0", "no-mac-spoofing"), 1);
	pump();
	assert_int_equal(count_runs("ebtables-restore"), 1);

	policy = policy_no_save;
	resync();
	n_seen = 0;
	assert_int_equal(store_commit(S), 0);
	filters_flush(F, false); /* SAVE, nothing started: COMPARE at once */
	note_phase();
	ev_run(loop, EVRUN_NOWAIT);
	note_phase();
	assert_seen(want, ELEMENTSOF(want));
	assert_int_equal(binding_find(F, "vnet0")->state, B_PENDING);
	assert_true(binding_find(F, "vnet0")->dirty);
	pump();
	assert_int_equal(told[n_told - 1].kind, OUTCOME_RESYNCED);
	assert_int_equal(told[n_told - 1].skipped, 0);
	assert_int_equal(told[n_told - 1].reapplied, 1);
	assert_int_equal(count_runs("ebtables-restore"), 2);

	/* Without a save after it, the re-apply is not confirmed. */
	assert_string_equal(row_of("vnet0", "state"), "failed");

	policy = policy_save_fails;
	resync();
	pump();
	assert_int_equal(told[n_told - 1].kind, OUTCOME_RESYNCED);
	assert_int_equal(count_runs("ebtables-restore"), 3);
	assert_string_equal(row_of("vnet0", "state"), "failed");

	/* With saves that work again, the next Resync puts it right. */
	policy = policy_ok;
	F->backoff_until = 0;
	resync();
	pump();
	assert_int_equal(count_runs("ebtables-restore"), 4);
	assert_string_equal(row_of("vnet0", "state"), "applied");
}

static enum behaviour policy_hang_all(const char *tool, const char *input)
{
	return RUN_HANG;
}

/* filters_free() with a batch running: its run is cancelled (the fake's
 * cancel runs, its done never does), and the caller waiting on the batch
 * is told netd stops (ShuttingDown) rather than left hanging. */
static void test_free_cancels(void **state)
{
	started();
	policy = policy_hang_all;
	assert_int_equal(bind("vnet0", "no-mac-spoofing"), 1);
	batch_out();
	assert_int_equal(n_runs, 1);
	F = filters_free(F);
	assert_int_equal(n_cancelled, 1);
	assert_true(runs[0].cancelled);
	assert_false(runs[0].finished);
	assert_int_equal(n_told, 1);
	assert_int_equal(told[0].kind, OUTCOME_SHUTDOWN);
	/* Nothing left on the loop: a pending fake end would fire here. */
	ev_run(loop, EVRUN_NOWAIT);
	assert_int_equal(n_told, 1);
}

/* job_cancel() on its own: done is not called, the owner's free
 * function is, once. */
static unsigned done_calls, free_calls;

static void job_done_count(void *data, int status, const char *out, size_t out_len,
			   const char *err, size_t err_len)
{
	done_calls++;
}

static void job_free_count(void *data)
{
	free_calls++;
	free(data);
}

static void test_job_cancel(void **state)
{
	char *argv[] = { "ebtables-restore", NULL };
	struct job *j = NULL;

	policy = policy_hang_all;
	done_calls = free_calls = 0;
	assert_int_equal(job_run(loop, &fake_ops, argv, "x", 1, 10000, job_done_count,
				 job_free_count, malloc(8), &j), 0);
	assert_non_null(j);
	job_cancel(j);
	ev_run(loop, EVRUN_NOWAIT);
	assert_int_equal(done_calls, 0);
	assert_int_equal(free_calls, 1);

	/* A run that ends: done, then free, once each. */
	policy = policy_ok;
	assert_int_equal(job_run(loop, &fake_ops, argv, "", 0, 10000, job_done_count,
				 job_free_count, malloc(8), NULL), 0);
	while (done_calls == 0)
		ev_run(loop, EVRUN_ONCE);
	assert_int_equal(done_calls, 1);
	assert_int_equal(free_calls, 2);

	/* Not started: neither is called; the data stays the caller's. */
	policy = policy_no_restore;
	assert_int_equal(job_run(loop, &fake_ops, argv, "", 0, 10000, job_done_count,
				 job_free_count, NULL, NULL), -ENOENT);
	assert_int_equal(done_calls, 1);
	assert_int_equal(free_calls, 2);
}

/* job_process_ops with a real child: its output arrives; a cancelled one
 * is killed and never reported. */
static void test_job_process(void **state)
{
	char *cat[] = { "cat", NULL }, *sleeper[] = { "sleep", "30", NULL };
	struct job *j = NULL;

	setenv("PATH", saved_path, 1);
	done_calls = free_calls = 0;
	assert_int_equal(job_run(loop, NULL, cat, "hello\n", 6, 10000, job_done_count,
				 job_free_count, malloc(8), NULL), 0);
	while (done_calls == 0)
		ev_run(loop, EVRUN_ONCE);
	assert_int_equal(free_calls, 1);
	assert_int_equal(job_run(loop, NULL, sleeper, NULL, 0, 10000, job_done_count,
				 job_free_count, malloc(8), &j), 0);
	job_cancel(j);
	assert_int_equal(done_calls, 1);
	assert_int_equal(free_calls, 2);
}

/* The FORWARD chain of family fam in the model, its rules only. */
static const char *kernel_chain(int fam, const char *name)
{
	struct kchain *c = kchain(fam, name, strlen(name), false);
	const char *p = c && c->text.p ? c->text.p : "";

	return p[0] == ':' ? p + strcspn(p, "\n") + 1 : p;
}

static unsigned count_of(const char *hay, const char *needle)
{
	unsigned n = 0;

	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

#define HOOK_FROM "-A FORWARD -j " RULES_ROOT_FROM "\n"
#define HOOK_TO "-A FORWARD -j " RULES_ROOT_TO "\n"

/* One hook deleted behind netd's back: a Resync rewrites the hooks (each
 * once, first), re-applies no binding, counts and audits the drift. A
 * foreign ACCEPT put ahead of them: drift too, netd's hooks go back to the
 * top, the foreign rule stays after them. Duplicates: cut back to one. */
static void test_hook_drift(void **state)
{
	started();
	assert_int_equal(bind("vnet0", "no-mac-spoofing"), 1);
	pump();
	assert_string_equal(kernel_chain(F_EB, "FORWARD"), HOOK_FROM HOOK_TO);
	assert_int_equal(F->hook_drift, 0);

	/* ebtables -D FORWARD -j NETD-TO */
	kernel_restore(F_EB, "-D FORWARD -j " RULES_ROOT_TO "\n");
	resync();
	pump();
	assert_int_equal(told[n_told - 1].kind, OUTCOME_RESYNCED);
	assert_int_equal(told[n_told - 1].skipped, 1);
	assert_int_equal(told[n_told - 1].reapplied, 0);
	assert_string_equal(kernel_chain(F_EB, "FORWARD"), HOOK_FROM HOOK_TO);
	assert_string_equal(kernel_chain(F_EB, "INPUT"), "-A INPUT -j " RULES_ROOT_FROM "\n");
	assert_string_equal(kernel_chain(F_EB, "OUTPUT"), "-A OUTPUT -j " RULES_ROOT_TO "\n");
	assert_int_equal(F->hook_drift, 1);
	assert_string_equal(F->hook_drift_last, "eb: netd's hooks missing");
	/* Only the hooks were written: not the dispatch chains. */
	assert_null(strstr(last_input("ebtables-restore"), ":" RULES_ROOT_FROM));
	assert_non_null(strstr(last_input("ebtables-restore"), "-D INPUT -j " RULES_ROOT_FROM "\n"));
	assert_true(F->hooks_ok[F_EB]);
	assert_string_equal(db_text("SELECT count(*) FROM audit WHERE method = 'kernel.FilterHookDrift'"),
			    "1");

	/* A hook deleted while a batch's back-off runs (a record after a
	 * bind found the hook gone: filters-drift.sh deletes it right after
	 * its binds): the Resync does not wait out the back-off, nor is it
	 * answered before the hook is back. */
	kernel_restore(F_EB, "-D FORWARD -j " RULES_ROOT_TO "\n");
	batch_backoff(F, true);
	resync();
	pump();
	assert_int_equal(told[n_told - 1].kind, OUTCOME_RESYNCED);
	assert_string_equal(kernel_chain(F_EB, "FORWARD"), HOOK_FROM HOOK_TO);
	assert_int_equal(F->hook_drift, 2);

	/* ebtables -I FORWARD 1 -j ACCEPT */
	kernel_restore(F_EB, "-I FORWARD 1 -j ACCEPT\n");
	resync();
	pump();
	assert_int_equal(F->hook_drift, 3);
	assert_string_equal(F->hook_drift_last,
			    "eb: netd's hooks not first in its chain (a rule ahead of it)");
	assert_string_equal(kernel_chain(F_EB, "FORWARD"), HOOK_FROM HOOK_TO "-A FORWARD -j ACCEPT\n");

	/* The hooks twice over: back to one each. */
	kernel_restore(F_EB, "-A FORWARD -j " RULES_ROOT_FROM "\n-A FORWARD -j " RULES_ROOT_TO "\n");
	resync();
	pump();
	assert_int_equal(F->hook_drift, 4);
	assert_int_equal(count_of(kernel_chain(F_EB, "FORWARD"), HOOK_FROM), 1);
	assert_int_equal(count_of(kernel_chain(F_EB, "FORWARD"), HOOK_TO), 1);
	assert_string_equal(kernel_chain(F_EB, "FORWARD"), HOOK_FROM HOOK_TO "-A FORWARD -j ACCEPT\n");

	/* Intact now: no drift, nothing written. */
	runs_forget();
	resync();
	pump();
	assert_int_equal(F->hook_drift, 4);
	assert_int_equal(count_runs("ebtables-restore"), 0);
}

static enum behaviour policy_fail_restores(const char *tool, const char *input)
{
	return strstr(tool, "-restore") ? RUN_FAIL : RUN_OK;
}

/* The same deleted hook seen by two saves before its repair (netd's own
 * check held by a back-off, then a Resync): one drift, one audit row. */
static void test_hook_drift_counted_once(void **state)
{
	started();
	assert_int_equal(bind("vnet0", "no-mac-spoofing"), 1);
	pump();
	kernel_restore(F_EB, "-D FORWARD -j " RULES_ROOT_TO "\n");
	batch_backoff(F, true);
	F->verify_wanted = true;
	for (int i = 0; i < 100000 && (F->verify_wanted || F->batch); i++) {
		assert_int_equal(store_commit(S), 0);
		filters_flush(F, false);
		ev_run(loop, EVRUN_NOWAIT);
		usleep(100);
	}
	assert_false(F->verify_wanted || F->batch);
	assert_int_equal(F->hook_drift, 1);
	assert_true(F->root_dirty[F_EB]);
	assert_string_equal(kernel_chain(F_EB, "FORWARD"), HOOK_FROM);
	resync();
	pump();
	assert_int_equal(told[n_told - 1].kind, OUTCOME_RESYNCED);
	assert_string_equal(kernel_chain(F_EB, "FORWARD"), HOOK_FROM HOOK_TO);
	assert_int_equal(F->hook_drift, 1);
	assert_string_equal(db_text("SELECT count(*) FROM audit WHERE method = 'kernel.FilterHookDrift'"),
			    "1");
}

/* A failed binding keeps its tool's message, also when the tool wrote
 * bytes that are not UTF-8 (jansson refuses those, so its view and its
 * caller's reply would say nothing): each byte past ASCII as '?'. */
static void test_view_error_not_utf8(void **state)
{
	struct binding_view v;
	struct binding *b;
	json_t *o;

	started();
	policy = policy_fail_restores;
	fail_err = "line 1: caf\xc3\xa9 \xff\xc3 bad";
	assert_int_equal(bind("vnet0", "clean-traffic"), 1);
	pump();
	b = binding_find(F, "vnet0");
	assert_int_equal(b->state, B_FAILED);
	assert_string_equal(b->error, "line 1: caf?? ?? bad");
	binding_view_fill(&v, b, true);
	o = binding_view_json(&v);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "error")), "line 1: caf?? ?? bad");
	json_decref(o);
	/* UTF-8 stays as it is. */
	fail_err = "caf\xc3\xa9";
	assert_int_equal(bind("vnet1", "clean-traffic"), 1);
	pump();
	assert_string_equal(binding_find(F, "vnet1")->error, "caf\xc3\xa9");
}

/* One view as the test wants it: port, state, error, applied_at,
 * learning, families and netdev. */
static struct binding_view test_view(const char *port, const char *state, const char *error,
				     const char *applied_at, const char *learning, unsigned fams,
				     bool netdev, json_t *params)
{
	struct binding_view v = { .filter = (char *)"clean-traffic", .owner = (char *)"guest1",
				  .params = params, .state = state, .error = (char *)error,
				  .learning = learning, .fams = fams, .netdev = netdev,
				  .nft = netdev, .applied = applied_at != NULL };

	snprintf(v.port, sizeof(v.port), "%s", port);
	snprintf(v.created, sizeof(v.created), "2026-12-03T10:00:00Z");
	snprintf(v.applied_at, sizeof(v.applied_at), "%s", applied_at ? applied_at : "");
	if (learning && applied_at)
		snprintf(v.learned_at, sizeof(v.learned_at), "2026-12-03T10:00:02Z");
	if (applied_at)
		memset(v.hash, 'a', 64);
	return v;
}

/* A list encodes its bindings through one reused object (view_encode):
 * each binding's text is exactly its own object's, members and order,
 * whatever the binding before it had (an optional member of the one
 * before is not left in, nor moved). */
static void test_view_encode_reused(void **state)
{
	json_auto_t *params = json_pack("{s:s}", "IP", "10.0.0.1");
	const struct binding_view v[] = {
		test_view("p1", "applied", NULL, "2026-12-03T10:00:01Z", "dhcp", 1, false, params),
		test_view("p2", "failed", "line 1: bad", NULL, NULL, 0, true, params),
		test_view("p3", "pending", NULL, NULL, NULL, 0, false, params),
		test_view("p4", "applied", "old error", "2026-12-03T10:00:03Z", "any", 7, false, params),
		test_view("p5", "applied", NULL, "2026-12-03T10:00:01Z", "dhcp", 1, false, params),
	};
	struct view_encoder e = { 0 };
	struct strbuf got = { 0 }, want = { 0 };
	_cleanup_free_ char *g = NULL, *w = NULL;

	for (size_t i = 0; i < ELEMENTSOF(v); i++) {
		json_t *o = binding_view_json(&v[i]);
		char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

		assert_non_null(text);
		strbuf_puts(&want, text);
		strbuf_puts(&want, "\n");
		free(text);
		json_decref(o);
		view_encode(&e, &v[i], &got);
		strbuf_puts(&got, "\n");
	}
	view_encoder_done(&e);
	g = strbuf_steal(&got, NULL);
	w = strbuf_steal(&want, NULL);
	assert_non_null(g);
	assert_string_equal(g, w);
	/* What a reply says, for the record. */
	assert_non_null(strstr(w, "{\"port\":\"p2\",\"filter\":\"clean-traffic\",\"owner\":\"guest1\","
				  "\"parameters\":{\"IP\":\"10.0.0.1\"},\"state\":\"failed\",\"hash\":\"\","
				  "\"applied\":false,\"created\":\"2026-12-03T10:00:00Z\","
				  "\"families\":[\"netdev\"],\"backend\":\"nftables\","
				  "\"error\":\"line 1: bad\"}\n"));
	assert_non_null(strstr(w, "\"families\":[\"eb\",\"ip4\",\"ip6\"],"
				  "\"backend\":\"xtables\",\"error\":\"old error\","
				  "\"applied_at\":\"2026-12-03T10:00:03Z\",\"learning\":\"any\","
				  "\"learned_at\":\"2026-12-03T10:00:02Z\"}\n"));
}

/* A re-bind that fails leaves the port's previous rules in force (the
 * restore is all or nothing, so the kernel still has them): a later
 * rewrite of the whole dispatch chains keeps the port's jumps to them
 * instead of leaving the port unfiltered. */
static void test_failed_rebind_keeps_rules(void **state)
{
	started();
	assert_int_equal(bind("bad", "no-mac-spoofing"), 1);
	assert_int_equal(bind("p1", "no-mac-spoofing"), 1);
	pump();
	assert_non_null(strstr(kernel_chain(F_EB, RULES_ROOT_FROM), "-i bad -j N-O-bad\n"));
	policy = policy_refuse_bad;
	assert_int_equal(bind("bad", "no-ip-spoofing"), 1);
	pump();
	assert_int_equal(told_of("bad")->kind, OUTCOME_FAILED);
	assert_string_equal(row_of("bad", "state"), "failed");
	assert_true(kernel_has(F_EB, "N-O-bad"));
	/* The dispatch chains written whole (a repair, a full batch). */
	policy = policy_ok;
	F->backoff_until = 0; /* the failed batch's back-off */
	runs_forget();
	F->root_dirty[F_EB] = true;
	pump();
	assert_int_equal(count_runs("ebtables-restore"), 1);
	assert_non_null(strstr(last_input("ebtables-restore"), ":" RULES_ROOT_FROM));
	assert_non_null(strstr(kernel_chain(F_EB, RULES_ROOT_FROM), "-i bad -j N-O-bad\n"));
	assert_non_null(strstr(kernel_chain(F_EB, RULES_ROOT_FROM), "-i p1 -j N-O-p1\n"));
	assert_true(kernel_has(F_EB, "N-O-bad"));
}

/* A batch that only rewrites the dispatch chains and keeps failing is
 * retried after a growing back-off, not every loop iteration; a success
 * resets it. */
static void test_backoff(void **state)
{
	uint64_t t0;
	unsigned restores;

	started();
	assert_int_equal(bind("vnet0", "no-mac-spoofing"), 1);
	pump();
	runs_forget();
	policy = policy_fail_restores;
	F->root_dirty[F_EB] = true;
	t0 = now_usec();
	while (now_usec() - t0 < 1000000) {
		assert_int_equal(store_commit(S), 0);
		filters_flush(F, false);
		ev_run(loop, EVRUN_NOWAIT);
		usleep(100);
	}
	restores = count_runs("ebtables-restore");
	/* At 0, 0.1, 0.3, 0.7 s: 4 (a run per iteration would be thousands). */
	assert_in_range(restores, 3, 5);
	assert_true(F->backoff_ms >= 400);
	assert_int_equal(F->failed_batches, restores);

	policy = policy_ok;
	F->backoff_until = 0;
	pump();
	while (F->root_dirty[F_EB] || F->batch) {
		assert_int_equal(store_commit(S), 0);
		filters_flush(F, false);
		ev_run(loop, EVRUN_NOWAIT);
	}
	assert_int_equal(F->backoff_ms, 0);
	assert_int_equal(count_runs("ebtables-restore"), restores + 1);
}

/* Every restore fails (not one bad binding): the first split's two
 * halves both fail, so bisection stops there: 3 restores, not 15, and
 * each of the 8 bindings fails with the tool's message. */
static void test_bisect_stops(void **state)
{
	char port[16];

	started();
	policy = policy_fail_restores;
	for (int i = 0; i < 8; i++) {
		snprintf(port, sizeof(port), "p%d", i);
		assert_int_equal(bind(port, "no-mac-spoofing"), 1);
	}
	pump();
	assert_int_equal(F->restore_runs, 3);
	assert_int_equal(F->nretry, 0);
	for (int i = 0; i < 8; i++) {
		snprintf(port, sizeof(port), "p%d", i);
		assert_int_equal(told_of(port)->kind, OUTCOME_FAILED);
		assert_string_equal(told_of(port)->message,
				    "ebtables-restore: line 7 failed: refused by the test");
		assert_string_equal(row_of(port, "state"), "failed");
	}
	assert_int_equal(F->failed_applies, 8);
}

/* A batch too big for one callback: its restore input is built over
 * several loop iterations (RENDER seen between them), and comes out as
 * one restore that applies every binding. */
static void test_render_sliced(void **state)
{
	char port[16];
	bool saw_render = false;

	started();
	for (int i = 0; i < 300; i++) {
		snprintf(port, sizeof(port), "p%d", i);
		assert_int_equal(bind(port, "no-mac-spoofing"), 1);
	}
	pump();
	for (unsigned i = 0; i < n_seen; i++)
		saw_render |= seen[i] == PHASE_RENDER;
	assert_true(saw_render);
	assert_int_equal(count_runs("ebtables-restore"), 1);
	assert_int_equal(count_of(last_input("ebtables-restore"), "-A " RULES_ROOT_FROM " -i p"), 300);
	for (int i = 0; i < 300; i++) {
		snprintf(port, sizeof(port), "p%d", i);
		assert_int_equal(told_of(port)->kind, OUTCOME_APPLIED);
	}
	assert_int_equal(F->applied, 300);
}

/* What a job's done callback was given. */
static int got_status;
static size_t got_out_len, got_err_len;
static char got_err_tail[80];

static void job_done_keep(void *data, int status, const char *out, size_t out_len,
			  const char *err, size_t err_len)
{
	done_calls++;
	got_status = status;
	got_out_len = out_len;
	got_err_len = err_len;
	snprintf(got_err_tail, sizeof(got_err_tail), "%s",
		 err_len > 60 ? err + err_len - 60 : err);
}

static enum behaviour policy_chatty(const char *tool, const char *input)
{
	return RUN_CHATTY;
}

/* Through the seam: 200 KiB of stderr reach the owner as 64 KiB and a
 * count of the rest. */
static void test_output_caps_fake(void **state)
{
	char *argv[] = { "ebtables-restore", NULL };

	policy = policy_chatty;
	done_calls = 0;
	assert_int_equal(job_run(loop, &fake_ops, argv, "", 0, 10000, job_done_keep, NULL, NULL,
				 NULL), 0);
	while (done_calls == 0)
		ev_run(loop, EVRUN_ONCE);
	assert_int_equal(got_status, 1);
	assert_true(got_err_len <= JOB_ERR_MAX + 64);
	assert_non_null(strstr(got_err_tail, "... (" "139263" " bytes more)"));
}

/* A real child writing 50 MB to stderr and 100 KB to stdout: netd keeps
 * 64 KiB of the one (and counts the rest) and fails the run for the
 * other, unless its stdout cap is raised. */
static void test_output_caps_process(void **state)
{
	char *noisy[] = { "sh", "-c",
			  "head -c 50000000 /dev/zero | tr '\\0' x >&2; head -c 100000 /dev/zero", NULL };
	char *saves[] = { "sh", "-c", "head -c 100000 /dev/zero", NULL };
	struct job *j = NULL;

	setenv("PATH", saved_path, 1);
	done_calls = 0;
	assert_int_equal(job_run(loop, NULL, noisy, NULL, 0, 20000, job_done_keep, NULL, NULL, NULL),
			 0);
	while (done_calls == 0)
		ev_run(loop, EVRUN_ONCE);
	assert_int_equal(got_status, -EFBIG);
	assert_true(got_out_len <= JOB_OUT_MAX);
	assert_true(got_err_len > JOB_ERR_MAX && got_err_len <= JOB_ERR_MAX + 64);
	assert_non_null(strstr(got_err_tail, "x\n... (49934464 bytes more); its output was cut"));

	assert_int_equal(job_run(loop, NULL, saves, NULL, 0, 20000, job_done_keep, NULL, NULL, &j),
			 0);
	job_set_out_max(j, 1 << 20);
	while (done_calls == 1)
		ev_run(loop, EVRUN_ONCE);
	assert_int_equal(got_status, 0);
	assert_int_equal(got_out_len, 100000);
}

/* --- with the nf_tables tools: confirmed without a save --- */

/*
 * RESTORING -> CONFIRM -> APPLY, then a record batch SAVE/SAVING -> PARSE
 * -> RECORD: the generation moved by exactly the one restore and the dump
 * of the chain names shows the binding's chains, so the caller is
 * answered before any save starts; the record's save, once no batch ran
 * for record_idle_us, records the fingerprints and the checkpoint.
 */
static void test_nft_confirmed_without_save(void **state)
{
	static const enum phase want[] = { PHASE_RESTORING, PHASE_CONFIRM,
					   PHASE_APPLY, PHASE_DONE, PHASE_SAVING, PHASE_PARSE,
					   PHASE_RECORD, PHASE_DONE };

	started();
	assert_true(F->mark_valid);
	assert_int_equal(bind("vnet0", "no-mac-spoofing"), 1);
	pump();
	assert_seen(want, ELEMENTSOF(want));
	assert_int_equal(n_dumps, 1); /* eb only: the family written */
	assert_int_equal(n_told, 1);
	assert_int_equal(told[0].kind, OUTCOME_APPLIED);
	assert_int_equal(told[0].state, B_APPLIED);
	assert_int_equal(told[0].saves_started, 0);
	assert_string_equal(told[0].norm_eb, ""); /* not yet: the save records it */
	/* The save ran after the answer, and recorded. */
	assert_int_equal(count_runs("ebtables-save"), 1);
	assert_int_equal(runs[1].phase, PHASE_SAVE);
	assert_string_equal(row_of("vnet0", "state"), "applied");
	assert_int_equal(strlen(row_of("vnet0", "eb_norm")), 64);
	assert_int_equal(strlen(db_text("SELECT norm FROM roots WHERE family = 'eb'")), 64);
	assert_true(F->hooks_ok[F_EB]);
	assert_true(F->mark_valid);
	assert_int_equal(F->mark, kgen);

	/* An unbind the same way: the chains are gone from the dump. */
	assert_int_equal(bindings_unbind(F, "vnet0", "guest1", &(struct waiter){ .fn = tell }), 0);
	pump();
	assert_int_equal(told_of("vnet0")->kind, OUTCOME_REMOVED);
	assert_int_equal(told_of("vnet0")->saves_started, 1);
	assert_null(binding_find(F, "vnet0"));
	assert_false(kernel_has(F_EB, "N-O-vnet0"));
}

/* A restore that exits 0 and does nothing: the generation did not move,
 * so the batch waits for the saves, which show the chains missing: not
 * applied. */
static void test_nft_restore_lies(void **state)
{
	started();
	assert_int_equal(bind("vnet0", "no-mac-spoofing"), 1);
	pump();
	policy = policy_noop_restore;
	assert_int_equal(bind("vnet1", "no-mac-spoofing"), 1);
	pump();
	assert_false(kernel_has(F_EB, "N-O-vnet1"));
	assert_int_equal(told_of("vnet1")->kind, OUTCOME_FAILED);
	assert_non_null(strstr(told_of("vnet1")->message, "does not hold"));
	assert_int_equal(told_of("vnet1")->saves_started, count_runs("ebtables-save"));
	assert_string_equal(row_of("vnet1", "state"), "failed");
	assert_string_equal(row_of("vnet1", "applied_hash"), "");
}

static enum behaviour policy_noop_bump(const char *tool, const char *input)
{
	return strstr(tool, "-restore") ? RUN_NOOP_BUMP : RUN_OK;
}

/* A restore that commits an empty transaction (the generation moves as
 * expected) but writes nothing: the dump lacks the chains, so the batch
 * waits for the saves, which fail it. */
static void test_nft_dump_lacks_chains(void **state)
{
	started();
	assert_int_equal(bind("vnet0", "no-mac-spoofing"), 1);
	pump();
	policy = policy_noop_bump;
	assert_int_equal(bind("vnet1", "no-mac-spoofing"), 1);
	n_dumps = 0;
	pump();
	assert_int_equal(n_dumps, 1);
	assert_int_equal(told_of("vnet1")->kind, OUTCOME_FAILED);
	assert_non_null(strstr(told_of("vnet1")->message, "does not hold"));
	assert_int_equal(told_of("vnet1")->saves_started, count_runs("ebtables-save"));
	assert_string_equal(row_of("vnet1", "state"), "failed");
}

/* Someone else changed nf_tables while the restore ran (the generation
 * moved by more than our runs): ambiguous, so no dump, and the caller is
 * answered after the save as before; the checkpoint is dropped. */
static void test_nft_foreign_change(void **state)
{
	started();
	kgen_extra = 1;
	assert_int_equal(bind("vnet0", "no-mac-spoofing"), 1);
	pump();
	assert_int_equal(n_dumps, 0);
	assert_int_equal(told_of("vnet0")->kind, OUTCOME_APPLIED);
	assert_int_equal(told_of("vnet0")->saves_started, 1);
	assert_int_equal(strlen(told_of("vnet0")->norm_eb), 64);
	assert_string_equal(row_of("vnet0", "state"), "applied");
	assert_false(F->mark_valid);
}

/* Confirmed by the dump and answered, but the save after it does not
 * show the chains: the binding is demoted (pending, no applied hash,
 * dirty), the batch counts as failed (back-off), and the next batch
 * applies it again. */
static void test_nft_save_demotes(void **state)
{
	struct binding *b;

	started();
	policy = policy_empty_save;
	assert_int_equal(bind("vnet0", "no-mac-spoofing"), 1);
	assert_int_equal(store_commit(S), 0);
	filters_flush(F, false);
	filters_flush(F, false); /* the second look ends the gathering */
	assert_non_null(F->batch);
	while (F->batch) {
		ev_run(loop, EVRUN_NOWAIT);
		assert_int_equal(store_commit(S), 0);
	}
	assert_int_equal(n_told, 1);
	assert_int_equal(told[0].kind, OUTCOME_APPLIED);
	assert_int_equal(told[0].saves_started, 0);
	/* The record, without waiting for the idle time. */
	assert_true(F->record_fam[F_EB]);
	F->record_idle_us = 0;
	filters_flush(F, false);
	assert_non_null(F->batch);
	assert_true(F->batch->record);
	while (F->batch) {
		ev_run(loop, EVRUN_NOWAIT);
		assert_int_equal(store_commit(S), 0);
	}
	b = binding_find(F, "vnet0");
	assert_int_equal(b->state, B_PENDING);
	assert_true(b->dirty);
	assert_non_null(strstr(b->error, "does not show its chains"));
	assert_string_equal(row_of("vnet0", "state"), "pending");
	assert_string_equal(row_of("vnet0", "applied_hash"), "");
	assert_string_equal(row_of("vnet0", "eb_norm"), "");
	assert_true(F->backoff_ms > 0);
	assert_false(F->mark_valid);

	policy = policy_ok;
	F->backoff_until = 0;
	pump();
	assert_int_equal(count_runs("ebtables-restore"), 2);
	assert_string_equal(row_of("vnet0", "state"), "applied");
	assert_int_equal(strlen(row_of("vnet0", "eb_norm")), 64);
}

/* Run the loop as core does until port's caller was answered; no more
 * (pump() waits for the record too). */
static void settle_until_told(const char *port)
{
	for (int i = 0; i < 100000 && !told_of(port); i++) {
		assert_int_equal(store_commit(S), 0);
		filters_flush(F, false);
		ev_run(loop, EVRUN_NOWAIT);
		usleep(50);
	}
	assert_non_null(told_of(port));
	assert_int_equal(store_commit(S), 0);
}

/* The kernel's NETD-FROM chain as a save would print it. */
static const char *kernel_from(void)
{
	struct kchain *c = kchain(F_EB, RULES_ROOT_FROM, strlen(RULES_ROOT_FROM), false);

	return c && c->text.p ? c->text.p : "";
}

/* Once a whole rewrite is known to be in the kernel, a batch writes only
 * its own dispatch lines: "-A" after its chains are declared, "-D"
 * before they are deleted; the dispatch chains are not declared (which
 * would flush them) and the other bindings' lines are not written. */
static void test_nft_dispatch_line_by_line(void **state)
{
	const char *in, *d, *x;

	started();
	assert_int_equal(bind("vnet0", "no-mac-spoofing"), 1);
	settle_until_told("vnet0");
	in = last_input("ebtables-restore");
	assert_non_null(strstr(in, ":NETD-FROM RETURN")); /* the first: whole */
	assert_int_equal(bind("vnet1", "no-mac-spoofing"), 1);
	settle_until_told("vnet1");
	in = last_input("ebtables-restore");
	assert_null(strstr(in, ":NETD-FROM"));
	assert_null(strstr(in, ":NETD-TO"));
	assert_null(strstr(in, "vnet0"));
	assert_non_null(strstr(in, "-A NETD-FROM -i vnet1 -j N-O-vnet1\n"));
	assert_true(strstr(in, "-A NETD-FROM -i vnet1") > strstr(in, ":N-O-vnet1 "));
	assert_non_null(strstr(kernel_from(), "-i vnet0 "));
	assert_non_null(strstr(kernel_from(), "-i vnet1 "));

	assert_int_equal(bindings_unbind(F, "vnet1", "guest1", &(struct waiter){ .fn = tell }), 0);
	n_told = 0;
	settle_until_told("vnet1");
	assert_int_equal(told_of("vnet1")->kind, OUTCOME_REMOVED);
	in = last_input("ebtables-restore");
	assert_null(strstr(in, ":NETD-FROM"));
	d = strstr(in, "-D NETD-FROM -i vnet1 -j N-O-vnet1\n");
	x = strstr(in, "-X N-O-vnet1");
	assert_non_null(d);
	assert_non_null(x);
	assert_true(d < x);
	assert_non_null(strstr(kernel_from(), "-i vnet0 "));
	assert_null(strstr(kernel_from(), "-i vnet1 "));
	assert_false(kernel_has(F_EB, "N-O-vnet1"));

	/* The record fingerprints what is there. */
	pump();
	assert_int_equal(strlen(row_of("vnet0", "eb_norm")), 64);
	assert_true(F->mark_valid);
}

/* Binds one after another, each answered before the next: no save
 * between them; one record once they stop fingerprints all of them and
 * stores the checkpoint. */
static void test_nft_record_coalesced(void **state)
{
	static const char *const ports[] = { "vnet0", "vnet1", "vnet2" };

	started();
	for (size_t i = 0; i < ELEMENTSOF(ports); i++) {
		assert_int_equal(bind(ports[i], "no-mac-spoofing"), 1);
		settle_until_told(ports[i]);
		assert_int_equal(told_of(ports[i])->kind, OUTCOME_APPLIED);
		/* The caller reads its answer and sends the next call: the
		 * loop goes round meanwhile with nothing to apply. */
		for (int k = 0; k < 20; k++) {
			filters_flush(F, false);
			ev_run(loop, EVRUN_NOWAIT);
			usleep(100);
		}
	}
	assert_int_equal(count_runs("ebtables-restore"), 3);
	assert_int_equal(count_runs("ebtables-save"), 0);
	for (size_t i = 0; i < ELEMENTSOF(ports); i++) {
		assert_string_equal(row_of(ports[i], "state"), "applied");
		assert_string_equal(row_of(ports[i], "eb_norm"), ""); /* a crash: applied again */
	}
	assert_false(filters_idle(F)); /* the record is owed */
	pump();
	assert_int_equal(count_runs("ebtables-save"), 1);
	assert_int_equal(F->records, 1);
	for (size_t i = 0; i < ELEMENTSOF(ports); i++)
		assert_int_equal(strlen(row_of(ports[i], "eb_norm")), 64);
	assert_int_equal(strlen(db_text("SELECT norm FROM roots WHERE family = 'eb'")), 64);
	assert_true(F->mark_valid);
	assert_int_equal(F->mark, kgen);
}

/* A record whose save runs gives way to a bind: its save is cancelled,
 * the bind's restore starts at once, and a later record fingerprints
 * both bindings. */
static void test_nft_record_gives_way(void **state)
{
	started();
	assert_int_equal(bind("vnet0", "no-mac-spoofing"), 1);
	settle_until_told("vnet0");
	F->record_idle_us = 0;
	filters_flush(F, false);
	assert_non_null(F->batch);
	assert_true(F->batch->record);
	assert_int_equal(F->batch->phase, PHASE_SAVING);
	assert_int_equal(bind("vnet1", "no-mac-spoofing"), 1);
	assert_int_equal(store_commit(S), 0);
	filters_flush(F, false);
	assert_int_equal(F->records_preempted, 1);
	assert_int_equal(n_cancelled, 1);
	assert_non_null(F->batch);
	assert_false(F->batch->record);
	assert_int_equal(F->batch->phase, PHASE_RESTORING);
	pump();
	assert_int_equal(told_of("vnet1")->kind, OUTCOME_APPLIED);
	assert_int_equal(told_of("vnet1")->saves_started, 1); /* the cancelled one */
	assert_int_equal(strlen(row_of("vnet0", "eb_norm")), 64);
	assert_int_equal(strlen(row_of("vnet1", "eb_norm")), 64);
}

/* Someone else changes nf_tables between two batches written line by
 * line (here: deletes a dispatch line): the record cannot trust its save
 * to show only netd's lines, so it does not record the dispatch chains;
 * they are rewritten whole, which puts the line back, and recorded. */
static void test_nft_record_after_foreign_change(void **state)
{
	started();
	assert_int_equal(bind("vnet0", "no-mac-spoofing"), 1);
	settle_until_told("vnet0");
	assert_int_equal(bind("vnet1", "no-mac-spoofing"), 1);
	settle_until_told("vnet1");
	assert_null(strstr(last_input("ebtables-restore"), ":NETD-FROM"));
	kernel_restore(F_EB, "-D NETD-FROM -i vnet0 -j N-O-vnet0\n");
	kgen++;
	assert_null(strstr(kernel_from(), "-i vnet0 "));
	pump();
	assert_int_equal(count_runs("ebtables-restore"), 3);
	assert_non_null(strstr(last_input("ebtables-restore"), ":NETD-FROM RETURN"));
	assert_non_null(strstr(kernel_from(), "-i vnet0 "));
	assert_non_null(strstr(kernel_from(), "-i vnet1 "));
	assert_false(F->root_dirty[F_EB]);
	assert_int_equal(strlen(db_text("SELECT norm FROM roots WHERE family = 'eb'")), 64);
}

/* A batch of a few bindings asks for its chains by name instead of
 * dumping every chain name: answered before any save as with the dump;
 * an empty commit (the generation moved, nothing written) is caught the
 * same way and answered from the saves. */
static void test_nft_confirmed_by_name(void **state)
{
	started();
	F->nft_ops = &fake_nft_ops_have;
	assert_int_equal(bind("vnet0", "no-mac-spoofing"), 1);
	settle_until_told("vnet0");
	assert_int_equal(n_gets, 1);
	assert_int_equal(n_dumps, 0);
	assert_int_equal(told_of("vnet0")->kind, OUTCOME_APPLIED);
	assert_int_equal(told_of("vnet0")->saves_started, 0);

	policy = policy_noop_bump;
	assert_int_equal(bind("vnet1", "no-mac-spoofing"), 1);
	pump();
	assert_int_equal(n_gets, 2);
	assert_int_equal(n_dumps, 0);
	assert_int_equal(told_of("vnet1")->kind, OUTCOME_FAILED);
	assert_non_null(strstr(told_of("vnet1")->message, "does not hold"));
	assert_true(told_of("vnet1")->saves_started > 0);
}

static unsigned count_str(const char *hay, const char *needle)
{
	unsigned n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* A batch whose ebtables part goes line by line while its iptables part
 * is the first there (rewritten whole): each family's input carries the
 * binding's rules once, and the dispatch lines it adds after them. */
/* Filter "mixed": no-mac-spoofing (eb) and one iptables rule (ip4). */
static void define_mixed(void)
{
	char path[400];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/mixed.json", filter_dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("{\"name\": \"mixed\", \"filters\": [\"no-mac-spoofing\"], \"rules\": [{\"direction\":"
	      " \"in\", \"protocol\": \"tcp\", \"action\": \"accept\", \"dst_port\": \"22\","
	      " \"priority\": 400}]}", fp);
	fclose(fp);
	json_decref(filters_reload(F, filter_dir));
}

static void test_nft_dispatch_mixed_families(void **state)
{
	const char *eb, *ip;
	const struct binding *b;

	started();
	define_mixed();
	assert_int_equal(bind("vnet0", "no-mac-spoofing"), 1);
	settle_until_told("vnet0");
	assert_int_equal(bind("vnet1", "mixed"), 1);
	settle_until_told("vnet1");
	assert_int_equal(told_of("vnet1")->kind, OUTCOME_APPLIED);
	eb = last_input("ebtables-restore");
	ip = last_input("iptables-restore");
	assert_non_null(ip);
	assert_null(strstr(eb, ":NETD-FROM"));
	assert_non_null(strstr(ip, ":NETD-FROM"));
	b = binding_find(F, "vnet1");
	/* Applied: its text was dropped; rendered again to compare. */
	assert_int_equal(binding_need_text(F, (struct binding *)b), 0);
	assert_true(count_str(b->want.text[F_EB], "-A N-O-vnet1 ") > 0);
	assert_int_equal(count_str(eb, "-A N-O-vnet1 "), count_str(b->want.text[F_EB], "-A N-O-vnet1 "));
	assert_int_equal(count_str(eb, "-A NETD-FROM -i vnet1 "), 1);
	assert_true(strstr(eb, "-A NETD-FROM -i vnet1 ") > strrchr(eb, ':'));
}

/*
 * Someone else deletes one of netd's hooks after binds that wait for
 * their record: the record cannot trust its save for the dispatch chains
 * (nf_tables changed meanwhile) and has them rewritten, and that rewrite
 * puts back the hook the same save shows missing, counted and audited as
 * drift. It used to leave the hooks alone (known good from before), so
 * the record after the rewrite found the hook missing, counted a failed
 * batch, and a Resync during its back-off was answered before any repair
 * (filters-drift.sh under load).
 */
/* Applied and confirmed by the generation, netd stops before the record
 * (its fingerprint still empty), and the kernel comes back empty (a
 * reboot): the next start re-applies the binding. An empty fingerprint
 * matched the empty one of its absent chains: it was counted intact and
 * the port was left without rules while reported applied. */
static void test_nft_unrecorded_not_intact(void **state)
{
	started();
	assert_int_equal(bind("vnet0", "no-mac-spoofing"), 1);
	settle_until_told("vnet0");
	assert_int_equal(count_runs("ebtables-save"), 0);
	assert_string_equal(row_of("vnet0", "eb_norm"), "");
	F = filters_free(F);
	kernel_reset();
	kgen += 10;
	runs_forget();
	n_told = 0;

	start_filters();
	pump();
	assert_true(F->ready);
	assert_int_equal(count_runs("ebtables-restore"), 1);
	assert_true(kernel_has(F_EB, "N-O-vnet0"));
	assert_int_equal(binding_find(F, "vnet0")->state, B_APPLIED);
	assert_string_equal(row_of("vnet0", "state"), "applied");
}

static void test_nft_hook_deleted_before_record(void **state)
{
	started();
	assert_int_equal(bind("vnet0", "no-mac-spoofing"), 1);
	settle_until_told("vnet0");
	assert_int_equal(count_runs("ebtables-save"), 0);
	/* ebtables -D FORWARD -j NETD-TO */
	kernel_restore(F_EB, "-D FORWARD -j " RULES_ROOT_TO "\n");
	kgen++;
	pump();
	assert_string_equal(kernel_chain(F_EB, "FORWARD"), HOOK_FROM HOOK_TO);
	assert_true(F->hooks_ok[F_EB]);
	assert_false(F->root_dirty[F_EB]);
	assert_int_equal(F->failed_batches, 0);
	assert_int_equal(F->backoff_until, 0);
	/* drift, as a verification would have found it */
	assert_int_equal(F->hook_drift, 1);
	assert_string_equal(F->hook_drift_last, "eb: netd's hooks missing");
	assert_string_equal(db_text("SELECT count(*) FROM audit WHERE method = 'kernel.FilterHookDrift'"),
			    "1");
}

/*
 * A family's restore that changes nothing commits nothing, and nf_tables
 * leaves the generation where it was: an honest no-op, not a lie. Here
 * netd was killed after the unbind of the last binding with ip4 rules,
 * before the record saved the dispatch chains: at the restart the ip4
 * dispatch chains differ from the record and are rewritten whole with
 * the next bind (eb only), empty as they are. The bind is applied; the
 * storm test saw it fail ("the nf_tables generation did not move") and
 * every later batch with it, as the failure left ip4 to rewrite again.
 */
static void test_nft_noop_family(void **state)
{
	const char *ip;

	started();
	define_mixed();
	assert_int_equal(bind("vnet0", "mixed"), 1);
	pump();
	assert_true(kernel_has(F_IP4, "N-I-vnet0"));
	n_told = 0;
	assert_int_equal(bindings_unbind(F, "vnet0", "guest1", &(struct waiter){ .fn = tell }), 0);
	settle_until_told("vnet0");
	assert_int_equal(told_of("vnet0")->kind, OUTCOME_REMOVED);
	assert_false(kernel_has(F_IP4, "N-I-vnet0"));
	F = filters_free(F); /* killed before the record */
	runs_forget();
	start_filters();
	/* bound while the start's verification runs: the first batch */
	assert_int_equal(bind("vnet1", "no-mac-spoofing"), 1);
	pump();
	assert_int_equal(count_runs("ebtables-restore"), 1);
	assert_int_equal(count_runs("iptables-restore"), 1);
	ip = last_input("iptables-restore");
	assert_non_null(strstr(ip, ":NETD-FROM"));
	assert_null(strstr(ip, "\n-")); /* declarations only: nothing to commit */
	assert_non_null(strstr(last_input("ebtables-restore"), "-A NETD-FROM -i vnet1 "));
	assert_int_equal(told_of("vnet1")->kind, OUTCOME_APPLIED);
	assert_string_equal(row_of("vnet1", "state"), "applied");
	assert_false(F->root_dirty[F_IP4]);
	assert_false(F->root_dirty[F_EB]);

	/* and the next bind is not taken for a lie either */
	assert_int_equal(bind("vnet2", "no-mac-spoofing"), 1);
	pump();
	assert_int_equal(told_of("vnet2")->kind, OUTCOME_APPLIED);
	assert_int_equal(F->failed_applies, 0);
}

/* Binds that never stop still get their fingerprints: once the oldest
 * answer waiting for a record is record_max_us old, the record runs
 * before the next apply, and an apply does not cancel it. */
static void test_nft_record_overdue(void **state)
{
	started();
	assert_int_equal(bind("vnet0", "no-mac-spoofing"), 1);
	settle_until_told("vnet0");
	F->record_max_us = 0;
	assert_int_equal(bind("vnet1", "no-mac-spoofing"), 1);
	assert_int_equal(store_commit(S), 0);
	filters_flush(F, false);
	assert_non_null(F->batch);
	assert_true(F->batch->record);
	assert_int_equal(F->batch->phase, PHASE_SAVING);
	filters_flush(F, false);
	assert_true(F->batch->record);
	assert_int_equal(F->records_preempted, 0);
	settle_until_told("vnet1");
	assert_int_equal(strlen(row_of("vnet0", "eb_norm")), 64);
	assert_int_equal(told_of("vnet1")->saves_started, 1);
}

/* A lone binding starts its batch on the first look, unless the last
 * batch carried several: then their callers' next calls are coming, and
 * it waits one gathering look for them. */
static void test_gather_after_several(void **state)
{
	started();
	assert_int_equal(bind("vnet0", "no-mac-spoofing"), 1);
	assert_int_equal(bind("vnet1", "no-mac-spoofing"), 1);
	pump();
	assert_int_equal(F->last_batch_n, 2);
	assert_int_equal(bind("vnet2", "no-mac-spoofing"), 1);
	assert_int_equal(store_commit(S), 0);
	filters_flush(F, false);
	assert_null(F->batch);
	filters_flush(F, false);
	assert_non_null(F->batch);
	pump();
	assert_int_equal(F->last_batch_n, 1);
	assert_int_equal(bind("vnet3", "no-mac-spoofing"), 1);
	assert_int_equal(store_commit(S), 0);
	filters_flush(F, false);
	assert_non_null(F->batch);
	pump();
	assert_int_equal(told_of("vnet3")->kind, OUTCOME_APPLIED);
}

/* --- what a start renders (inputs.c) --- */

/* Filter "mine": one iptables rule accepting tcp to port, at priority;
 * loaded by a reload when reload, else only written (for a start). */
static void write_mine(const char *port, int priority, bool reload)
{
	char path[400];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/mine.json", filter_dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fprintf(fp, "{\"name\": \"mine\", \"rules\": [{\"direction\": \"in\", \"protocol\": \"tcp\","
		" \"action\": \"accept\", \"dst_port\": \"%s\", \"priority\": %d}]}", port, priority);
	fclose(fp);
	if (reload)
		json_decref(filters_reload(F, filter_dir));
}

static void restart(void)
{
	F = filters_free(F);
	runs_forget();
	start_filters();
}

static unsigned restores(void)
{
	return count_runs("ebtables-restore") + count_runs("iptables-restore") +
	       count_runs("ip6tables-restore");
}

/* A restart renders no binding whose inputs are the ones its rendering
 * was made from: it keeps the stored hash and chains, without text, and
 * renders the text when it is written again (the same text). A binding
 * whose filter changed while netd was down is rendered, and only it is
 * applied again; its row then has the new inputs. */
static void test_restart_renders_changed_only(void **state)
{
	struct binding *b;
	char hash0[65], hash1[65], first[4096];

	started();
	write_mine("22", 400, true);
	assert_int_equal(bind("vnet0", "clean-traffic"), 1);
	assert_int_equal(bind("vnet1", "mine"), 1);
	pump();
	snprintf(first, sizeof(first), "%s", last_input("ebtables-restore"));
	snprintf(hash0, sizeof(hash0), "%s", binding_find(F, "vnet0")->want.hash);
	snprintf(hash1, sizeof(hash1), "%s", binding_find(F, "vnet1")->want.hash);
	assert_int_equal(strlen(row_of("vnet0", "input_hash")), 64);
	assert_string_equal(row_of("vnet1", "chains"), "4"); /* N-I-vnet1 in ip4 */

	restart();
	assert_int_equal(F->start_renders, 0);
	b = binding_find(F, "vnet0");
	assert_true(b->rendered);
	assert_string_equal(b->want.hash, hash0);
	assert_null(b->want.text[F_EB]);
	assert_true(b->want.has_in[F_EB] && b->want.has_out[F_EB]);
	assert_string_equal(b->want.in_chain, "N-I-vnet0");
	b = binding_find(F, "vnet1");
	assert_true(b->want.has_in[F_IP4] && !b->want.has_out[F_IP4] && !b->want.has_in[F_EB]);
	pump();
	assert_int_equal(restores(), 0);
	assert_int_equal(F->skipped, 2);

	/* Written again: rendered now, to the same text, and once. */
	kernel_reset();
	resync();
	pump();
	assert_int_equal(told[n_told - 1].reapplied, 2);
	assert_int_equal(count_runs("ebtables-restore"), 1);
	assert_string_equal(strstr(last_input("ebtables-restore"), ":N-I-vnet0"),
			    strstr(first, ":N-I-vnet0"));
	assert_string_equal(binding_find(F, "vnet0")->applied_hash, hash0);

	/* "mine" changes while netd is down. */
	F = filters_free(F);
	write_mine("2222", 400, false);
	runs_forget();
	start_filters();
	assert_int_equal(F->start_renders, 1);
	assert_string_equal(binding_find(F, "vnet0")->want.hash, hash0);
	assert_string_not_equal(binding_find(F, "vnet1")->want.hash, hash1);
	pump();
	assert_int_equal(count_runs("ebtables-restore"), 0);
	assert_int_equal(count_runs("iptables-restore"), 1);
	assert_non_null(strstr(last_input("iptables-restore"), "2222"));
	assert_int_equal(F->applied, 1);
	assert_int_equal(F->skipped, 1);
	restart();
	assert_int_equal(F->start_renders, 0);
	pump();
	assert_int_equal(restores(), 0);
}

/* A reload that changes a filter's definition but not what it renders
 * (a lone rule's priority) changes no binding, and records the new
 * inputs: the next start renders nothing. One that changes what it
 * renders applies the binding again, and the start after it neither
 * renders nor applies. */
static void test_reload_records_inputs(void **state)
{
	char inputs[65], hash[65];

	started();
	write_mine("22", 400, true);
	assert_int_equal(bind("vnet1", "mine"), 1);
	pump();
	snprintf(inputs, sizeof(inputs), "%s", row_of("vnet1", "input_hash"));
	snprintf(hash, sizeof(hash), "%s", binding_find(F, "vnet1")->want.hash);

	write_mine("22", 401, true);
	pump();
	assert_int_equal(restores(), 1);
	assert_string_equal(binding_find(F, "vnet1")->want.hash, hash);
	assert_string_not_equal(row_of("vnet1", "input_hash"), inputs);
	restart();
	assert_int_equal(F->start_renders, 0);

	write_mine("23", 401, true);
	pump();
	assert_int_equal(restores(), 1);
	assert_string_not_equal(binding_find(F, "vnet1")->want.hash, hash);
	snprintf(hash, sizeof(hash), "%s", binding_find(F, "vnet1")->want.hash);
	restart();
	assert_int_equal(F->start_renders, 0);
	assert_string_equal(binding_find(F, "vnet1")->want.hash, hash);
	pump();
	assert_int_equal(restores(), 0);
}

/* Should a binding render to another hash than the stored one although
 * its inputs look the same (a renderer change its digest missed: here
 * the row's hashes are changed behind netd's back), the batch that
 * writes it finds out and applies it again: it does not keep the wrong
 * hash. */
static void test_stored_rendering_wrong(void **state)
{
	static const char fake[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	char hash[65], sql[300];
	sqlite3 *db;

	started();
	assert_int_equal(bind("vnet0", "no-mac-spoofing"), 1);
	pump();
	snprintf(hash, sizeof(hash), "%s", binding_find(F, "vnet0")->want.hash);
	F = filters_free(F);
	snprintf(sql, sizeof(sql), "UPDATE bindings SET desired_hash = '%s', applied_hash = '%s'",
		 fake, fake);
	assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	runs_forget();
	start_filters();
	assert_int_equal(F->start_renders, 0);
	assert_string_equal(binding_find(F, "vnet0")->want.hash, fake);
	pump();
	assert_int_equal(restores(), 0);

	kernel_reset();
	resync();
	pump();
	assert_int_equal(count_runs("ebtables-restore"), 2);
	assert_string_equal(binding_find(F, "vnet0")->applied_hash, hash);
	assert_string_equal(row_of("vnet0", "applied_hash"), hash);
	assert_string_equal(row_of("vnet0", "desired_hash"), hash);
}

/* A loaded binding's parameters are those bound; a row whose text is
 * not as netd writes it is rendered at the load and written back
 * canonical, so that the next start need not render it. */
static void test_params_row_rewritten(void **state)
{
	json_auto_t *params = json_pack("{s:s, s:[s, s], s:[s]}", "MAC", MAC, "IP", "10.0.0.5",
					"10.0.0.7", "DHCPSERVER", "10.0.0.1");
	struct binding *b;
	json_t *got;
	char *error = NULL;
	sqlite3 *db;

	started();
	assert_int_equal(bindings_bind(F, &(struct bind_req){ .port = "vnet0", .filter = "clean-traffic",
			 .owner = "guest1", .params = params }, &(struct waiter){ .fn = tell }, &error), 1);
	pump();
	restart();
	b = binding_find(F, "vnet0");
	assert_true(json_equal(b->params, params));
	assert_int_equal(F->start_renders, 0);

	/* Written by hand, not canonical: parsed at the load. */
	F = filters_free(F);
	assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "UPDATE bindings SET parameters = '{\"MAC\": \"" MAC "\","
				      " \"IP\": [\"10.0.0.5\", \"10.0.0.7\"], \"DHCPSERVER\": [\"10.0.0.1\"]}'",
				      NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	runs_forget();
	start_filters();
	b = binding_find(F, "vnet0");
	assert_non_null(b->params);
	assert_int_equal(F->start_renders, 1);
	pump();
	assert_int_equal(restores(), 0);
	got = json_loads(row_of("vnet0", "parameters"), 0, NULL);
	assert_true(json_equal(got, params));
	json_decref(got);
	assert_null(strchr(row_of("vnet0", "parameters"), ' '));
	restart();
	assert_int_equal(F->start_renders, 0);
	free(error);
}

/* --- Resync by the generation --- */

static void resync_call(bool full)
{
	assert_int_equal(filters_resync_start(F, full, &(struct waiter){ .fn = tell }), 0);
}

static unsigned saves(void)
{
	return count_runs("ebtables-save") + count_runs("iptables-save") +
	       count_runs("ip6tables-save");
}

/* A Resync while nf_tables is at netd's checkpoint is answered at once,
 * every binding skipped, no run, audited as verified by the generation
 * and counted; with full, the saves run all the same. Once someone
 * deletes a port's chain or flushes the table (the generation moves), it
 * saves and repairs; after the repair the checkpoint vouches again. */
static void test_nft_resync_by_generation(void **state)
{
	started();
	assert_int_equal(bind("vnet0", "no-mac-spoofing"), 1);
	assert_int_equal(bind("vnet1", "clean-traffic"), 1);
	pump();
	assert_true(F->mark_valid);
	runs_forget();

	resync_call(false);
	assert_int_equal(n_told, 3);
	assert_int_equal(told[2].kind, OUTCOME_RESYNCED);
	assert_int_equal(told[2].skipped, 2);
	assert_int_equal(told[2].reapplied, 0);
	assert_null(F->resync_waiters);
	assert_int_equal(n_runs, 0);
	assert_string_equal(F->last_resync_by, "generation");
	assert_int_equal(F->resyncs_by_generation, 1);
	assert_int_equal(store_commit(S), 0);
	assert_string_equal(db_text("SELECT parameters || ' ' || json_extract(outcome, '$.by') || ' ' ||"
				    " json_extract(outcome, '$.intact') FROM audit WHERE method ="
				    " 'netd.FiltersVerified' ORDER BY id DESC LIMIT 1"),
			    "{\"trigger\":\"resync\"} generation 2");

	resync_call(true);
	pump();
	assert_int_equal(saves(), 3);
	assert_int_equal(restores(), 0);
	assert_int_equal(told[n_told - 1].skipped, 2);
	assert_string_equal(F->last_resync_by, "save");
	assert_int_equal(F->resyncs_by_generation, 1);

	/* Someone deletes one port's chain. */
	runs_forget();
	kernel_restore(F_EB, "-X N-O-vnet0\n");
	kgen++;
	resync_call(false);
	pump();
	assert_int_equal(saves() > 0, true);
	assert_int_equal(told[n_told - 1].reapplied, 1);
	assert_int_equal(told[n_told - 1].skipped, 1);
	assert_true(kernel_has(F_EB, "N-O-vnet0"));
	assert_string_equal(F->last_resync_by, "save");

	/* Someone flushes the table. */
	kernel_reset();
	kgen++;
	resync_call(false);
	pump();
	assert_int_equal(told[n_told - 1].reapplied, 2);
	assert_true(kernel_has(F_EB, "N-O-vnet1"));

	/* Repaired and recorded: nothing to save again. */
	assert_true(F->mark_valid);
	runs_forget();
	resync_call(false);
	assert_int_equal(n_runs, 0);
	assert_int_equal(told[n_told - 1].skipped, 2);
	assert_int_equal(F->resyncs_by_generation, 2);
}

/* Without the nf_tables tools there is no generation to trust: a Resync
 * always saves. So it does while a batch is still running. */
static void test_resync_saves_without_generation(void **state)
{
	started();
	assert_int_equal(bind("vnet0", "no-mac-spoofing"), 1);
	pump();
	runs_forget();
	resync_call(false);
	assert_non_null(F->resync_waiters);
	pump();
	assert_int_equal(saves(), 3);
	assert_string_equal(F->last_resync_by, "save");
	assert_int_equal(F->resyncs_by_generation, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_verify_at_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_phases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unbind, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unbind_while_listed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_in_binding_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_table_not_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bisect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_change_while_batch_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cannot_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_save_cannot_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_save_lacks_chains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_save_lacks_chains_at_unbind, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_lies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_without_saves, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_skips_intact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_cancels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_job_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_job_process, setup, teardown),
		cmocka_unit_test_setup_teardown(test_learning, setup, teardown),
		cmocka_unit_test_setup_teardown(test_storage_failure_undoes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_storage_failure_after_batch_settled, setup, teardown),
		cmocka_unit_test_setup_teardown(test_storage_failure_spares_earlier_callers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hook_drift, setup, teardown),
		cmocka_unit_test_setup_teardown(test_view_error_not_utf8, setup, teardown),
		cmocka_unit_test(test_view_encode_reused),
		cmocka_unit_test_setup_teardown(test_failed_rebind_keeps_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hook_drift_counted_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backoff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bisect_stops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_render_sliced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gather_after_several, setup, teardown),
		cmocka_unit_test_setup_teardown(test_output_caps_fake, setup, teardown),
		cmocka_unit_test_setup_teardown(test_output_caps_process, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nft_confirmed_without_save, setup_nft, teardown),
		cmocka_unit_test_setup_teardown(test_nft_restore_lies, setup_nft, teardown),
		cmocka_unit_test_setup_teardown(test_nft_dump_lacks_chains, setup_nft, teardown),
		cmocka_unit_test_setup_teardown(test_nft_foreign_change, setup_nft, teardown),
		cmocka_unit_test_setup_teardown(test_nft_save_demotes, setup_nft, teardown),
		cmocka_unit_test_setup_teardown(test_nft_dispatch_line_by_line, setup_nft, teardown),
		cmocka_unit_test_setup_teardown(test_nft_confirmed_by_name, setup_nft, teardown),
		cmocka_unit_test_setup_teardown(test_nft_dispatch_mixed_families, setup_nft, teardown),
		cmocka_unit_test_setup_teardown(test_text_dropped_once_applied, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nft_noop_family, setup_nft, teardown),
		cmocka_unit_test_setup_teardown(test_nft_hook_deleted_before_record, setup_nft, teardown),
		cmocka_unit_test_setup_teardown(test_nft_unrecorded_not_intact, setup_nft, teardown),
		cmocka_unit_test_setup_teardown(test_nft_record_coalesced, setup_nft, teardown),
		cmocka_unit_test_setup_teardown(test_nft_record_gives_way, setup_nft, teardown),
		cmocka_unit_test_setup_teardown(test_nft_record_overdue, setup_nft, teardown),
		cmocka_unit_test_setup_teardown(test_nft_record_after_foreign_change, setup_nft,
						teardown),
		cmocka_unit_test_setup_teardown(test_restart_renders_changed_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_records_inputs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stored_rendering_wrong, setup, teardown),
		cmocka_unit_test_setup_teardown(test_params_row_rewritten, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nft_resync_by_generation, setup_nft, teardown),
		cmocka_unit_test_setup_teardown(test_resync_saves_without_generation, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
