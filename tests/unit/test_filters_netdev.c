/*
 * test_filters_netdev.c: the nftables netdev backend (netd/filters/
 * netdev.c) driven through fake `nft` runs (a struct job_ops of the
 * test's own) and a fake generation (struct nft_ops), with a real SQLite
 * store and a real ev loop. The fake nft keeps the set of chains of table
 * netdev netd: `nft -f` adds and deletes them as its input says (and
 * bumps the generation), `nft list table` prints them. Each test can make
 * a run fail for one port, do nothing while exiting 0, or make the
 * listing fail.
 *
 * links is replaced at its seam (-Wl,--wrap): every port exists and is a
 * macvtap; links_port_unbound() calls are counted.
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

static unsigned n_unbound;

int __wrap_links_port_lookup(struct links *l, const char *name, struct links_port *ret);
int __wrap_links_port_lookup(struct links *l, const char *name, struct links_port *ret)
{
	*ret = (struct links_port){ .ifindex = 7, .kind = "macvtap" };
	return 0;
}

void __wrap_links_port_unbound(struct links *l, const char *port);
void __wrap_links_port_unbound(struct links *l, const char *port)
{
	n_unbound++;
}

/* --- a model of table netdev netd --- */

static char chains[256][40];
static unsigned n_chains;
static uint32_t kgen;
static const char *fail_port; /* nft -f refuses input holding this port's chains */
static const char *fail_msg;  /* with this on stderr (NULL: the usual) */
static bool lie, list_fails;
static unsigned n_apply, n_list;
static char last_input[1 << 16];

static int chain_index(const char *name)
{
	for (unsigned i = 0; i < n_chains; i++)
		if (!strcmp(chains[i], name))
			return (int)i;
	return -1;
}

static void model_apply(const char *in)
{
	for (const char *p = in; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		char name[40];

		if (sscanf(p, "add chain netdev netd %39[^ \n]", name) == 1 && chain_index(name) < 0)
			snprintf(chains[n_chains++], sizeof(chains[0]), "%s", name);
		if (sscanf(p, "delete chain netdev netd %39[^ \n]", name) == 1) {
			int k = chain_index(name);

			if (k >= 0) {
				n_chains--;
				memmove(chains[k], chains[n_chains], sizeof(chains[0]));
			}
		}
	}
}

static char *model_list(void)
{
	struct strbuf b = { 0 };

	strbuf_printf(&b, "table netdev netd {\n");
	for (unsigned i = 0; i < n_chains; i++)
		strbuf_printf(&b, "\tchain %s {\n\t\tdrop\n\t}\n", chains[i]);
	strbuf_printf(&b, "}\n");
	return strbuf_steal(&b, NULL);
}

static int fake_gen(uint32_t *ret)
{
	*ret = kgen;
	return 0;
}

static const struct nft_ops fake_nft_ops = { .gen = fake_gen };

struct fake {
	struct job *job;
	int status;
	char *out;
	const char *err;
	ev_timer timer;
};

static struct ev_loop *loop;

static void fake_finish_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	struct fake *fk = w->data;
	char *out = fk->out;
	struct job *j = fk->job;
	int status = fk->status;
	const char *err = fk->err;

	free(fk);
	job_finished(j, status, out ? out : "", out ? strlen(out) : 0, err, strlen(err));
	free(out);
}

static int fake_start(struct job *j, struct ev_loop *l, char *const argv[], const char *input,
		      size_t input_len, unsigned timeout_ms)
{
	struct fake *fk = calloc(1, sizeof(*fk));

	assert_non_null(fk);
	fk->job = j;
	fk->err = "";
	if (strcmp(argv[0], "nft") != 0) {
		/* The *tables backend's saves and restores: an empty kernel. */
		fk->out = strdup("");
	} else if (!strcmp(argv[1], "-f")) {
		char want[64];

		n_apply++;
		snprintf(last_input, sizeof(last_input), "%.*s", (int)input_len, input);
		snprintf(want, sizeof(want), "N-O-%s {", fail_port ? fail_port : "");
		if (fail_port && strstr(last_input, want)) {
			fk->status = 1;
			fk->err = fail_msg ? fail_msg : "Error: refused by the test\n";
		} else if (!lie) {
			model_apply(last_input);
			kgen++;
		}
	} else {
		n_list++;
		if (list_fails) {
			fk->status = 1;
			fk->err = "Error: cannot list";
		} else {
			fk->out = model_list();
		}
	}
	ev_timer_init(&fk->timer, fake_finish_cb, 0., 0.);
	fk->timer.data = fk;
	ev_timer_start(l, &fk->timer);
	job_set_impl(j, fk);
	return 0;
}

static void fake_cancel(struct job *j)
{
	struct fake *fk = job_impl(j);

	ev_timer_stop(loop, &fk->timer);
	free(fk->out);
	free(fk);
}

static const struct job_ops fake_ops = { .start = fake_start, .cancel = fake_cancel };

/* --- callers --- */

struct told {
	enum outcome_kind kind;
	char port[16];
	char message[128];
	unsigned listings; /* listings started when told */
};

static struct told told[64];
static unsigned n_told;

static void tell(void *data, const struct outcome *o)
{
	struct told *t = &told[n_told++];

	assert_true(n_told <= 64);
	t->kind = o->kind;
	snprintf(t->port, sizeof(t->port), "%s", o->port ? o->port : "");
	snprintf(t->message, sizeof(t->message), "%s", o->message ? o->message : "");
	t->listings = n_list;
}

static const struct told *told_of(const char *port)
{
	for (unsigned i = n_told; i-- > 0;)
		if (!strcmp(told[i].port, port))
			return &told[i];
	return NULL;
}

/* --- the daemon around it --- */

static char dir[64], db_path[300], filter_dir[300], saved_path[4096];
static struct store *S;
static struct filters *F;

static void start(void)
{
	assert_int_equal(filters_new(loop, S, NULL, &(struct filters_config){
			.filter_dir = filter_dir, .helper_timeout_ms = 200,
			.job_ops = &fake_ops, .nft_ops = &fake_nft_ops }, &F), 0);
}

static void pump(void)
{
	for (int i = 0; i < 100000; i++) {
		assert_int_equal(store_commit(S), 0);
		filters_test_check_counts(F);
		filters_flush(F, false);
		if (filters_idle(F) && !F->resync_waiters) {
			assert_int_equal(store_commit(S), 0);
			return;
		}
		ev_run(loop, EVRUN_NOWAIT);
		filters_test_check_counts(F);
		usleep(100);
	}
	fail_msg("the filters never became idle");
}

static int setup(void **state)
{
	char *err = NULL;

	snprintf(dir, sizeof(dir), "/tmp/netd-test-netdev-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(db_path, sizeof(db_path), "%s/netd.db", dir);
	snprintf(filter_dir, sizeof(filter_dir), "%s/filters", dir);
	assert_int_equal(mkdir(filter_dir, 0755), 0);
	assert_int_equal(store_open(db_path, &S, &err), 0);
	/* No *tables tool in PATH is an nf_tables variant: no checkpoint. */
	snprintf(saved_path, sizeof(saved_path), "%s", getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
	setenv("PATH", dir, 1);
	loop = ev_default_loop(0);
	n_chains = n_apply = n_list = n_told = n_unbound = 0;
	kgen = 100;
	fail_port = NULL;
	fail_msg = NULL;
	lie = list_fails = false;
	start();
	pump();
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	F = filters_free(F);
	S = store_close(S);
	setenv("PATH", saved_path, 1);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static char *row_of(const char *port, const char *column)
{
	static char buf[128];
	char sql[200];
	sqlite3 *db;
	sqlite3_stmt *st;

	snprintf(sql, sizeof(sql), "SELECT %s FROM bindings WHERE port = '%s'", column, port);
	assert_int_equal(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	snprintf(buf, sizeof(buf), "%s", sqlite3_step(st) == SQLITE_ROW ?
		 (const char *)sqlite3_column_text(st, 0) : "<none>");
	sqlite3_finalize(st);
	sqlite3_close(db);
	return buf;
}

static int bind(const char *port)
{
	json_auto_t *params = json_pack("{s:s, s:[s], s:[]}", "MAC", MAC, "IP", "10.0.0.1",
					"DHCPSERVER");
	char *error = NULL;
	int r = bindings_bind(F, &(struct bind_req){ .port = port, .filter = "clean-traffic",
						     .owner = "g1", .params = params, .nft = true },
			      &(struct waiter){ .fn = tell }, &error);

	free(error);
	return r;
}

/* --- tests --- */

/* Three bindings: one nft -f, answered before the listing (the generation
 * moved by exactly one), the listing records the fingerprints. */
static void test_batch(void **state)
{
	assert_int_equal(bind("mv0"), 1);
	assert_int_equal(bind("mv1"), 1);
	assert_int_equal(bind("mv2"), 1);
	pump();
	assert_int_equal(n_apply, 1);
	assert_int_equal(n_list, 1);
	assert_non_null(strstr(last_input, "add table netdev netd\n"));
	assert_non_null(strstr(last_input, "hook egress device \"mv2\""));
	for (const char *const *p = (const char *const[]){ "mv0", "mv1", "mv2", NULL }; *p; p++) {
		assert_int_equal(told_of(*p)->kind, OUTCOME_APPLIED);
		assert_int_equal(told_of(*p)->listings, 0); /* before the listing */
		assert_string_equal(row_of(*p, "state"), "applied");
		assert_string_equal(row_of(*p, "backend"), "nftables");
		assert_int_equal(strlen(row_of(*p, "nft_norm")), 64);
		assert_true(binding_find(F, *p)->nft);
	}
	/* The same again: nothing runs. */
	assert_int_equal(bind("mv1"), 0);
	pump();
	assert_int_equal(n_apply, 1);
	/* The *tables batches never saw them. */
	assert_true(TAILQ_EMPTY(&F->all));
	/* The port became a bridge port meanwhile: refused, not moved. */
	{
		json_auto_t *params = json_pack("{s:s, s:[], s:[]}", "MAC", MAC, "IP", "DHCPSERVER");
		char *error = NULL;

		assert_int_equal(bindings_bind(F, &(struct bind_req){ .port = "mv1",
				 .filter = "clean-traffic", .owner = "g1", .params = params },
				 &(struct waiter){ .fn = tell }, &error), -EBUSY);
		free(error);
		assert_true(binding_find(F, "mv1")->nft);
	}
}

/* nft exits 0 but the kernel did not change (the generation stayed): the
 * listing decides, and it does not show the chains. */
static void test_lying_nft(void **state)
{
	lie = true;
	assert_int_equal(bind("mv0"), 1);
	pump();
	assert_int_equal(told_of("mv0")->kind, OUTCOME_FAILED);
	assert_non_null(strstr(told_of("mv0")->message, "not listed"));
	assert_int_equal(told_of("mv0")->listings, 1); /* after the listing */
	assert_string_equal(row_of("mv0", "state"), "failed");
	/* And if the listing cannot be had either: failed too. */
	list_fails = true;
	assert_int_equal(bind("mv1"), 1);
	pump();
	assert_int_equal(told_of("mv1")->kind, OUTCOME_FAILED);
	assert_non_null(strstr(told_of("mv1")->message, "cannot be listed"));
}

/* nft's first line, longer than a binding keeps, is cut before it is
 * made valid UTF-8: a cut through a character leaves no broken byte. */
static void test_long_message_cut(void **state)
{
	char msg[700];
	json_t *j;

	memset(msg, 'x', 510);
	strcpy(msg + 510, "\xc3\xa9 and more\nsecond line\n"); /* é at bytes 510-511 */
	fail_port = "mv0";
	fail_msg = msg;
	assert_int_equal(bind("mv0"), 1);
	pump();
	assert_int_equal(told_of("mv0")->kind, OUTCOME_FAILED);
	assert_int_equal(strlen(binding_find(F, "mv0")->error), 511);
	j = json_string(binding_find(F, "mv0")->error);
	assert_non_null(j); /* valid UTF-8 */
	json_decref(j);
	assert_int_equal(binding_find(F, "mv0")->error[510], '?');
}

/* One bad binding among four: halves until it is alone. */
static void test_split(void **state)
{
	fail_port = "mv2";
	for (const char *const *p = (const char *const[]){ "mv0", "mv1", "mv2", "mv3", NULL }; *p; p++)
		assert_int_equal(bind(*p), 1);
	pump();
	assert_int_equal(told_of("mv2")->kind, OUTCOME_FAILED);
	assert_string_equal(told_of("mv2")->message, "Error: refused by the test");
	assert_int_equal(told_of("mv0")->kind, OUTCOME_APPLIED);
	assert_int_equal(told_of("mv1")->kind, OUTCOME_APPLIED);
	assert_int_equal(told_of("mv3")->kind, OUTCOME_APPLIED);
	/* 4 fail, {mv0,mv1} ok, {mv2,mv3} fail, {mv2} fail, {mv3} ok */
	assert_int_equal(n_apply, 5);
	assert_int_equal(n_told, 4);
	assert_int_equal(chain_index("N-O-mv2"), -1);
	assert_true(chain_index("N-O-mv3") >= 0);
}

/* Resync: chains deleted behind netd's back are re-applied; the intact
 * ones are not. */
static void test_drift(void **state)
{
	assert_int_equal(bind("mv0"), 1);
	assert_int_equal(bind("mv1"), 1);
	pump();
	model_apply("delete chain netdev netd N-O-mv1\n");
	kgen++;
	n_apply = n_list = 0;
	F->verify_wanted = true;
	netdev_resync(F);
	assert_int_equal(waiters_add(&F->resync_waiters, &(struct waiter){ .fn = tell }), 0);
	pump();
	assert_int_equal(told[n_told - 1].kind, OUTCOME_RESYNCED);
	assert_true(chain_index("N-O-mv1") >= 0);
	assert_int_equal(n_apply, 1);
	assert_null(strstr(last_input, "mv0"));
	assert_non_null(strstr(last_input, "N-O-mv1"));
}

static int bind_ip(const char *port, const char *ip)
{
	json_auto_t *params = json_pack("{s:s, s:[s], s:[]}", "MAC", MAC, "IP", ip, "DHCPSERVER");
	char *error = NULL;
	int r = bindings_bind(F, &(struct bind_req){ .port = port, .filter = "clean-traffic",
						     .owner = "g1", .params = params, .nft = true },
			      &(struct waiter){ .fn = tell }, &error);

	free(error);
	return r;
}

/* With the generation checkpoint holding (nothing but netd's confirmed
 * runs since), a new binding's chains cannot exist: its input has no
 * "flush chain" lines. A rebind, or any binding once someone else changed
 * the ruleset, flushes. */
static void test_fresh_no_flush(void **state)
{
	F->gen_usable = true;
	F->mark_valid = true;
	F->mark = kgen;
	assert_int_equal(bind("mv0"), 1);
	pump();
	assert_int_equal(told_of("mv0")->kind, OUTCOME_APPLIED);
	assert_non_null(strstr(last_input, "add chain netdev netd N-O-mv0 {"));
	assert_null(strstr(last_input, "flush chain"));
	assert_true(F->mark_valid);
	assert_int_equal(F->mark, kgen);
	/* The same port, new parameters: its chains exist, so they are flushed. */
	assert_int_equal(bind_ip("mv0", "10.0.0.2"), 1);
	pump();
	assert_non_null(strstr(last_input, "flush chain netdev netd N-O-mv0\n"));
	assert_non_null(strstr(last_input, "flush chain netdev netd N-I-mv0\n"));
	/* Someone else changed the ruleset: a new binding flushes too. */
	kgen++;
	assert_int_equal(bind("mv1"), 1);
	pump();
	assert_int_equal(told_of("mv1")->kind, OUTCOME_APPLIED);
	assert_non_null(strstr(last_input, "flush chain netdev netd N-O-mv1\n"));
}

/* The nft -f of a macvtap binding is netd's own transaction: the *tables
 * side's dispatch chains, exact at the generation before it, are exact
 * at the one after (a record waiting for them trusts them; filters.sh
 * saw the record rewrite them, one restore run more). Not after someone
 * else's change. */
static void test_own_run_keeps_dispatch(void **state)
{
	F->disp_gen = kgen;
	assert_int_equal(bind("mv0"), 1);
	pump();
	assert_int_equal(told_of("mv0")->kind, OUTCOME_APPLIED);
	assert_int_equal(F->disp_gen, kgen);
	F->disp_gen = kgen - 1; /* someone changed nf_tables since */
	assert_int_equal(bind("mv1"), 1);
	pump();
	assert_int_equal(told_of("mv1")->kind, OUTCOME_APPLIED);
	assert_int_equal(F->disp_gen, kgen - 2);
}

/* Unbind: the chains go in one run; the row goes; the name is released. */
static void test_unbind(void **state)
{
	assert_int_equal(bind("mv0"), 1);
	pump();
	assert_int_equal(bindings_unbind(F, "mv0", "g1", &(struct waiter){ .fn = tell }), 0);
	pump();
	assert_int_equal(told_of("mv0")->kind, OUTCOME_REMOVED);
	assert_non_null(strstr(last_input, "delete chain netdev netd N-O-mv0\n"));
	assert_int_equal(n_chains, 0);
	assert_string_equal(row_of("mv0", "port"), "<none>");
	assert_int_equal(n_unbound, 1);
	assert_null(binding_find(F, "mv0"));
}

/* A restart finds the binding as it left it: loaded into the netdev
 * backend, verified with one listing (no checkpoint without the
 * nf_tables tools), intact, nothing applied. */
static void test_restart(void **state)
{
	assert_int_equal(bind("mv0"), 1);
	pump();
	F = filters_free(F);
	n_apply = n_list = 0;
	start();
	pump();
	assert_true(binding_find(F, "mv0")->nft);
	assert_int_equal(binding_find(F, "mv0")->state, B_APPLIED);
	assert_int_equal(n_list, 1);
	assert_int_equal(n_apply, 0);
}

/* A custom filter whose file is gone at a restart: the binding does not
 * render, fails, keeps the loop idle (no run for it), and its unbind
 * still removes its chains. */
static void test_filter_gone(void **state)
{
	json_auto_t *params = json_pack("{s:s, s:[], s:[]}", "MAC", MAC, "IP", "DHCPSERVER");
	char path[400], *error = NULL;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/mine.json", filter_dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("{\"name\": \"mine\", \"rules\": [{\"direction\": \"out\", \"protocol\": \"mac\","
	      " \"action\": \"drop\", \"match\": false, \"src_mac\": \"$MAC\"}]}", fp);
	fclose(fp);
	F = filters_free(F);
	start();
	pump();
	assert_int_equal(bindings_bind(F, &(struct bind_req){ .port = "mv0", .filter = "mine",
			 .owner = "g1", .params = params, .nft = true },
			 &(struct waiter){ .fn = tell }, &error), 1);
	pump();
	assert_int_equal(told_of("mv0")->kind, OUTCOME_APPLIED);
	unlink(path);
	F = filters_free(F);
	n_apply = n_list = 0;
	start();
	model_apply("delete chain netdev netd N-I-mv0\n"); /* and someone changed it */
	pump();
	assert_false(binding_find(F, "mv0")->rendered);
	assert_int_equal(binding_find(F, "mv0")->state, B_FAILED);
	assert_int_equal(n_apply, 0);
	assert_int_equal(bindings_unbind(F, "mv0", "g1", &(struct waiter){ .fn = tell }), 0);
	pump();
	assert_int_equal(told_of("mv0")->kind, OUTCOME_REMOVED);
	assert_int_equal(n_apply, 1);
	assert_int_equal(n_chains, 0);
	free(error);
}

/* A Resync while nf_tables is at netd's checkpoint runs nothing (no
 * listing) and finds the binding intact, unless asked for the full
 * comparison; once the table changed behind netd's back (the generation
 * moved) it lists and repairs. A restart takes the binding's stored
 * rendering (inputs.c, no nft text) and renders it only when the repair
 * writes it. */
static void test_resync_by_generation(void **state)
{
	const struct waiter w = { .fn = tell };
	unsigned lists;

	F->gen_usable = true;
	F->mark_valid = true;
	F->mark = kgen;
	assert_int_equal(bind("mv0"), 1);
	pump();
	assert_true(F->mark_valid);
	lists = n_list;
	assert_int_equal(filters_resync_start(F, false, &w), 0);
	assert_int_equal(told[n_told - 1].kind, OUTCOME_RESYNCED);
	assert_null(F->resync_waiters);
	assert_int_equal(n_list, lists);
	assert_string_equal(F->last_resync_by, "generation");
	assert_int_equal(F->last_resync_skipped, 1);

	assert_int_equal(filters_resync_start(F, true, &w), 0);
	pump();
	assert_int_equal(n_list, lists + 1);
	assert_string_equal(F->last_resync_by, "save");
	assert_int_equal(F->last_resync_skipped, 1);

	/* A restart: not rendered; then the table is flushed. */
	F = filters_free(F);
	start();
	assert_int_equal(F->start_renders, 0);
	assert_null(binding_find(F, "mv0")->nwant.text);
	F->gen_usable = true;
	model_apply("delete chain netdev netd N-I-mv0\ndelete chain netdev netd N-O-mv0\n");
	kgen++;
	n_apply = 0;
	assert_int_equal(filters_resync_start(F, false, &w), 0);
	pump();
	assert_string_equal(F->last_resync_by, "save");
	assert_int_equal(F->last_resync_reapplied, 1);
	assert_int_equal(n_apply, 1);
	assert_non_null(strstr(last_input, "add chain netdev netd N-O-mv0 {"));
	assert_int_equal(n_chains, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lying_nft, setup, teardown),
		cmocka_unit_test_setup_teardown(test_split, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_message_cut, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fresh_no_flush, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drift, setup, teardown),
		cmocka_unit_test_setup_teardown(test_own_run_keeps_dispatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unbind, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_filter_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resync_by_generation, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
