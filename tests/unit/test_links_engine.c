/*
 * test_links_engine.c: the links engine driven through a fake kernel (a
 * struct nl_ops of this file's) over a real SQLite store in a temporary
 * file and a real ev loop. The fake keeps its own table of devices and
 * answers requests the way rtnetlink does (acks with echo, EEXIST, ENODEV,
 * group deletes); the tests then check the engine's answers, its picture
 * (model lookups) and the store's rows, read back with sqlite3 directly.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <ev.h>
#include <linux/if_link.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc/alloc.h"
#include "links/links-internal.h"
#include "store.h"
#include "util.h"

#define DELETE_GROUP 4242
#define MAX_DEVS 2048
#define MAX_REQS 1024

/* --- the fake kernel --- */

enum req_type { REQ_CREATE, REQ_SET_GROUP, REQ_DELETE_GROUP, REQ_SET_ALIAS, REQ_SET_LINK };

struct fake_req {
	enum req_type type;
	char name[IFNAMSIZ];
	char kind[16];
	int ifindex;
	uint32_t group;
	bool has_mac;
	uint8_t mac[NL_MAC_LEN];
	char alias[NL_ALIAS_MAX];
	bool up;                   /* a create: IFF_UP in it */
	struct nl_link_change change; /* a set */
	nl_done_fn done;
	void *data;
	bool answered;
};

struct fake_dev {
	bool present;
	struct nl_link link;
};

struct nl {
	struct fake_dev devs[MAX_DEVS];
	int next_ifindex;
	struct fake_req reqs[MAX_REQS];
	unsigned nreqs, flushes, dumps, cancels;
	bool dumping;
	/* Injected failures. */
	char fail_name[IFNAMSIZ];  /* the create of this name fails */
	int fail_error;
	const char *fail_message;
	bool always_eexist;        /* every create: EEXIST */
	bool no_echo;              /* creates are acked without their echo */
	int fail_set_ifindex;      /* a set of this device's MTU: EINVAL (after its MAC) */
	bool *freed;               /* set when free() is called */
	bool keep_on_free;         /* free() leaves it to the test */
};

static struct fake_dev *dev_by_name(struct nl *nl, const char *name)
{
	for (int i = 0; i < MAX_DEVS; i++)
		if (nl->devs[i].present && streq(nl->devs[i].link.name, name))
			return &nl->devs[i];
	return NULL;
}

static struct fake_dev *dev_by_index(struct nl *nl, int ifindex)
{
	for (int i = 0; i < MAX_DEVS; i++)
		if (nl->devs[i].present && nl->devs[i].link.ifindex == ifindex)
			return &nl->devs[i];
	return NULL;
}

/* A device appears in the fake kernel (no event: the test says when). */
static struct fake_dev *dev_add(struct nl *nl, const char *name, const char *kind)
{
	for (int i = 0; i < MAX_DEVS; i++)
		if (!nl->devs[i].present) {
			struct fake_dev *d = &nl->devs[i];

			memset(d, 0, sizeof(*d));
			d->present = true;
			d->link.ifindex = nl->next_ifindex++;
			snprintf(d->link.name, sizeof(d->link.name), "%s", name);
			snprintf(d->link.kind, sizeof(d->link.kind), "%s", kind);
			d->link.has_mac = true;
			d->link.mac[0] = 0x02;
			d->link.mac[5] = (uint8_t)d->link.ifindex;
			d->link.mtu = 1500;
			return d;
		}
	fail_msg("fake kernel full");
	return NULL;
}

static unsigned count_devs(struct nl *nl, const char *kind)
{
	unsigned n = 0;

	for (int i = 0; i < MAX_DEVS; i++)
		if (nl->devs[i].present && streq(nl->devs[i].link.kind, kind))
			n++;
	return n;
}

static struct fake_req *req_add(struct nl *nl, enum req_type type, nl_done_fn done, void *data)
{
	struct fake_req *r;

	assert_true(nl->nreqs < MAX_REQS);
	r = &nl->reqs[nl->nreqs++];
	memset(r, 0, sizeof(*r));
	r->type = type;
	r->done = done;
	r->data = data;
	return r;
}

static int fake_queue_create(struct nl *nl, const char *name, const char *kind,
			     int parent_ifindex, uint32_t mode, const uint8_t *mac,
			     bool up, nl_done_fn done, void *data)
{
	struct fake_req *r = req_add(nl, REQ_CREATE, done, data);

	r->up = up;
	assert_int_not_equal(parent_ifindex, 0);
	r->ifindex = parent_ifindex;
	snprintf(r->name, sizeof(r->name), "%s", name);
	snprintf(r->kind, sizeof(r->kind), "%s", kind);
	if (mac) {
		memcpy(r->mac, mac, NL_MAC_LEN);
		r->has_mac = true;
	}
	return 0;
}

static int fake_queue_set_group(struct nl *nl, int ifindex, uint32_t group, nl_done_fn done,
				void *data)
{
	struct fake_req *r = req_add(nl, REQ_SET_GROUP, done, data);

	r->ifindex = ifindex;
	r->group = group;
	return 0;
}

static int fake_queue_set_link(struct nl *nl, int ifindex, const struct nl_link_change *c,
			       nl_done_fn done, void *data)
{
	struct fake_req *r = req_add(nl, REQ_SET_LINK, done, data);

	r->ifindex = ifindex;
	r->change = *c;
	return 0;
}

static int fake_queue_set_alias(struct nl *nl, int ifindex, const char *alias,
				nl_done_fn done, void *data)
{
	struct fake_req *r = req_add(nl, REQ_SET_ALIAS, done, data);

	r->ifindex = ifindex;
	snprintf(r->alias, sizeof(r->alias), "%s", alias);
	return 0;
}

static int fake_queue_delete_group(struct nl *nl, uint32_t group, nl_done_fn done, void *data)
{
	struct fake_req *r = req_add(nl, REQ_DELETE_GROUP, done, data);

	r->group = group;
	return 0;
}

static void fake_cancel(struct nl *nl, void *data)
{
	nl->cancels++;
	for (unsigned i = 0; i < nl->nreqs; i++)
		if (nl->reqs[i].data == data)
			nl->reqs[i].done = NULL;
}

static void fake_flush(struct nl *nl)
{
	nl->flushes++;
}

static int fake_dump_links(struct nl *nl)
{
	if (nl->dumping)
		return -EBUSY;
	nl->dumping = true;
	nl->dumps++;
	return 0;
}

static unsigned unanswered(const struct nl *nl)
{
	unsigned n = 0;

	for (unsigned i = 0; i < nl->nreqs; i++)
		n += !nl->reqs[i].answered;
	return n;
}

static bool fake_idle(const struct nl *nl)
{
	return !nl->dumping && unanswered(nl) == 0;
}

static void fake_get_stats(const struct nl *nl, struct nl_stats *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->dumps = nl->dumps;
	ret->queued = unanswered(nl);
}

static struct nl *fake_free(struct nl *nl)
{
	if (nl->freed)
		*nl->freed = true;
	if (!nl->keep_on_free)
		free(nl);
	return NULL;
}

static const struct nl_ops fake_ops = {
	.queue_create = fake_queue_create,
	.queue_set_group = fake_queue_set_group,
	.queue_set_link = fake_queue_set_link,
	.queue_set_alias = fake_queue_set_alias,
	.queue_delete_group = fake_queue_delete_group,
	.cancel = fake_cancel,
	.flush = fake_flush,
	.dump_links = fake_dump_links,
	.idle = fake_idle,
	.get_stats = fake_get_stats,
	.free = fake_free,
};

/* Answer request i with error (the engine hears it if not cancelled). */
static void answer(struct nl *nl, unsigned i, int error, const char *message,
		   const struct nl_link *echo)
{
	struct fake_req *r = &nl->reqs[i];

	assert_false(r->answered);
	r->answered = true;
	if (r->done)
		r->done(r->data, error, message, echo);
}

/* What the kernel does with request i; it answers it. */
static void execute(struct nl *nl, unsigned i)
{
	struct fake_req *r = &nl->reqs[i];
	struct fake_dev *d;

	switch (r->type) {
	case REQ_CREATE:
		if (nl->fail_name[0] && streq(nl->fail_name, r->name))
			return answer(nl, i, nl->fail_error, nl->fail_message, NULL);
		if (nl->always_eexist || dev_by_name(nl, r->name))
			return answer(nl, i, -EEXIST, "File exists", NULL);
		d = dev_add(nl, r->name, r->kind);
		if (r->has_mac)
			memcpy(d->link.mac, r->mac, NL_MAC_LEN);
		d->link.parent_ifindex = r->ifindex;
		d->link.flags = r->up ? IFF_UP : 0;
		return answer(nl, i, 0, NULL, nl->no_echo ? NULL : &d->link);
	case REQ_SET_LINK:
		d = dev_by_index(nl, r->ifindex);
		if (!d)
			return answer(nl, i, -ENODEV, NULL, NULL);
		/* In do_setlink()'s order: the MAC, the MTU, the flags. */
		if (r->change.set_mac)
			memcpy(d->link.mac, r->change.mac, NL_MAC_LEN);
		if (r->change.set_mtu && r->ifindex == nl->fail_set_ifindex)
			return answer(nl, i, -EINVAL, "mtu refused", NULL);
		if (r->change.set_mtu)
			d->link.mtu = r->change.mtu;
		if (r->change.set_up)
			d->link.flags = r->change.up ? IFF_UP : 0;
		return answer(nl, i, 0, NULL, NULL);
	case REQ_SET_ALIAS:
		d = dev_by_index(nl, r->ifindex);
		if (!d)
			return answer(nl, i, -ENODEV, NULL, NULL);
		memcpy(d->link.alias, r->alias, sizeof(d->link.alias));
		return answer(nl, i, 0, NULL, NULL);
	case REQ_SET_GROUP:
		d = dev_by_index(nl, r->ifindex);
		if (!d)
			return answer(nl, i, -ENODEV, NULL, NULL);
		d->link.group = r->group;
		return answer(nl, i, 0, NULL, NULL);
	case REQ_DELETE_GROUP: {
		bool any = false;

		for (int k = 0; k < MAX_DEVS; k++)
			if (nl->devs[k].present && nl->devs[k].link.group == r->group) {
				nl->devs[k].present = false;
				any = true;
			}
		return answer(nl, i, any ? 0 : -ENODEV, NULL, NULL);
	}
	}
}

/* Let the kernel answer what was asked so far (not what the answers
 * make the engine ask); returns how many it answered. */
static unsigned kernel_step(struct nl *nl)
{
	unsigned n = 0, end = nl->nreqs;

	for (unsigned i = 0; i < end; i++)
		if (!nl->reqs[i].answered) {
			execute(nl, i);
			n++;
		}
	return n;
}

/* Let the kernel answer everything, including what the answers make the
 * engine ask; returns how many it answered. */
static unsigned kernel_run(struct nl *nl)
{
	unsigned n = 0, k;

	while ((k = kernel_step(nl)) > 0)
		n += k;
	return n;
}

/* The running dump ends: every present device, then dump_done(error);
 * the reconciliation that follows is left to the loop's steps. */
static void dump_end(struct nl *nl, struct links *l, int error)
{
	assert_true(nl->dumping);
	for (int i = 0; i < MAX_DEVS; i++)
		if (nl->devs[i].present)
			links_nl_callbacks.dump_link(l, &nl->devs[i].link);
	nl->dumping = false;
	links_nl_callbacks.dump_done(l, error);
}

/* The running dump ends and the reconciliation after it is done at once,
 * its steps taken here without the loop (nothing else runs between). */
static void dump_finish(struct nl *nl, struct links *l, int error)
{
	dump_end(nl, l, error);
	while (reconcile_running(l))
		l->rec.step.fn(&l->rec.step);
}

/* --- fixture --- */

struct fix {
	char dir[64];
	char path[128];
	struct ev_loop *loop;
	struct store *store;
	struct nl *nl;
	struct links *l;
	bool nl_freed;
	int parent_ifindex;
};

static const struct links_config cfg = {
	.macvtap_prefix = "macvtap",
	.macvlan_prefix = "macvlan",
	.delete_group = DELETE_GROUP,
};

static struct nl *fake_new(void)
{
	struct nl *nl = calloc(1, sizeof(*nl));

	assert_non_null(nl);
	nl->next_ifindex = 1;
	dev_add(nl, "lo", "");
	return nl;
}

/* Links over f->nl (which they then own), ready after the first dump. */
static void links_start(struct fix *f)
{
	f->nl->freed = &f->nl_freed;
	f->nl_freed = false;
	assert_int_equal(links_new_with_kernel(f->loop, f->store, &cfg, &fake_ops, f->nl, &f->l), 0);
	assert_true(f->nl->dumping);
	assert_false(links_ready(f->l));
	dump_finish(f->nl, f->l, 0);
	assert_true(links_ready(f->l));
	assert_int_equal(links_start_error(f->l), 0);
}

static void links_stop(struct fix *f)
{
	f->l = links_free(f->l);
	assert_true(f->nl_freed);
	f->nl = NULL;
	assert_int_equal(store_commit(f->store), 0);
}

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	char *err = NULL;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/netd-test-links-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/netd.db", f->dir);
	assert_int_equal(store_open(f->path, &f->store, &err), 0);
	f->loop = ev_loop_new(EVFLAG_AUTO);
	assert_non_null(f->loop);
	f->nl = fake_new();
	f->parent_ifindex = dev_add(f->nl, "eth0", "veth")->link.ifindex;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;
	char cmd[128];

	if (f->l)
		links_free(f->l);
	else
		free(f->nl);
	store_close(f->store);
	ev_loop_destroy(f->loop);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* --- the store, read independently --- */

static int64_t sql_int(struct fix *f, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v = -1;

	/* The engine's writes are grouped; what a reader sees is what was
	 * committed, as after a loop iteration. */
	assert_int_equal(store_commit(f->store), 0);
	assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static int64_t rows(struct fix *f, const char *table, const char *where)
{
	char sql[256];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE %s", table, where);
	return sql_int(f, sql);
}

/* --- what the engine answers --- */

struct answer {
	unsigned calls;
	int error;
	char error_link[IFNAMSIZ];
	char error_message[64];
	char storage_error[64];
	char names[64][IFNAMSIZ];   /* created or deleted */
	int ifindex[64];
	unsigned n;
};

static void on_done(void *data, const struct links_op_result *res)
{
	struct answer *a = data;

	a->calls++;
	a->error = res->error;
	snprintf(a->error_link, sizeof(a->error_link), "%s", res->error_link ? res->error_link : "");
	snprintf(a->error_message, sizeof(a->error_message), "%s",
		 res->error_message ? res->error_message : "");
	snprintf(a->storage_error, sizeof(a->storage_error), "%s",
		 res->storage_error ? res->storage_error : "");
	if (res->type == OP_CREATE || res->type == OP_SET) {
		/* A create's reply, encoded over iterations: every link, in
		 * order (a set's is built by its method). */
		if (!res->error && res->type == OP_CREATE) {
			char want[64];

			assert_non_null(res->reply_text);
			assert_true(strncmp(res->reply_text, "{\"links\":[", 10) == 0);
			for (unsigned i = 0; i < res->nlinks; i++) {
				snprintf(want, sizeof(want), "\"name\":\"%s\"", res->links[i]->name);
				assert_non_null(strstr(res->reply_text, want));
			}
		}
		free(res->reply_text);
		a->n = res->nlinks;
		for (unsigned i = 0; i < res->nlinks && i < 64; i++) {
			snprintf(a->names[i], IFNAMSIZ, "%s", res->links[i]->name);
			a->ifindex[i] = res->links[i]->ifindex;
		}
	} else {
		a->n = res->ndeleted;
		for (unsigned i = 0; i < res->ndeleted && i < 64; i++)
			snprintf(a->names[i], IFNAMSIZ, "%s", res->deleted[i]);
	}
}

static int create(struct fix *f, const char *owner, unsigned count, const char *const *names,
		  struct answer *a, struct links_refusal *refusal)
{
	struct links_create_req req = {
		.owner = owner, .kind = "macvtap", .mode = MACVLAN_MODE_BRIDGE, .parent = "eth0",
		.count = count, .names = names,
	};
	struct links_refusal dummy = { 0 };

	return links_op_create(f->l, &req, on_done, a, refusal ? refusal : &dummy);
}

static void create_ok(struct fix *f, const char *owner, unsigned count, struct answer *a)
{
	assert_int_equal(create(f, owner, count, NULL, a, NULL), 0);
	links_flush(f->l);
	kernel_run(f->nl);
	assert_int_equal(a->calls, 1);
	assert_int_equal(a->error, 0);
	assert_int_equal(a->n, count);
}

/* Delete owner's links, run the kernel, and check the answer came. */
static void delete_ok(struct fix *f, const char *owner)
{
	struct answer d = { 0 };

	assert_int_equal(links_op_delete(f->l, owner, NULL, 0, on_done, &d,
					 &(struct links_refusal){ 0 }), 0);
	links_flush(f->l);
	kernel_run(f->nl);
	assert_int_equal(d.calls, 1);
	assert_int_equal(d.error, 0);
}

/* --- tests --- */

static void test_create_success(void **state)
{
	struct fix *f = *state;
	struct answer a = { 0 };
	struct link *k;

	links_start(f);
	assert_int_equal(create(f, "guest1", 3, NULL, &a, NULL), 0);
	/* The intents are in the store before the kernel answers. */
	assert_int_equal(rows(f, "links", "state = 'creating' AND owner = 'guest1'"), 3);
	assert_int_equal(f->nl->nreqs, 3);
	assert_int_equal(a.calls, 0);
	assert_false(links_idle(f->l));
	links_flush(f->l);
	assert_int_equal(f->nl->flushes, 1);
	kernel_run(f->nl);

	assert_int_equal(a.calls, 1);
	assert_int_equal(a.error, 0);
	assert_int_equal(a.n, 3);
	for (unsigned i = 0; i < 3; i++) {
		char want[IFNAMSIZ];

		snprintf(want, sizeof(want), "macvtap%u", i);
		assert_string_equal(a.names[i], want);
		/* The ifindex came from the echo. */
		assert_int_equal(a.ifindex[i], dev_by_name(f->nl, want)->link.ifindex);
		k = link_find(f->l, want);
		assert_non_null(k);
		assert_int_equal(k->state, LINK_PRESENT);
		assert_true(k->has_mac);
		assert_memory_equal(k->mac, dev_by_name(f->nl, want)->link.mac, NL_MAC_LEN);
	}
	assert_int_equal(rows(f, "links", "state = 'present' AND ifindex > 0"), 3);
	assert_int_equal(rows(f, "names", "state = 'owned' AND prefix = 'macvtap'"), 3);
	assert_int_equal(alloc_count(f->l->macvtap), 3);
	assert_true(links_idle(f->l));
}

static void test_create_refusals(void **state)
{
	struct fix *f = *state;
	struct answer a = { 0 };
	struct links_refusal refusal = { 0 };
	struct links_create_req req = {
		.owner = "g", .kind = "macvlan", .mode = MACVLAN_MODE_BRIDGE, .parent = "nope", .count = 1,
	};
	const char *taken[] = { "eth0" };

	links_start(f);
	assert_int_equal(links_op_create(f->l, &req, on_done, &a, &refusal), -ENODEV);
	assert_string_equal(refusal.name, "nope");
	assert_int_equal(create(f, "g", 1, taken, &a, &refusal), -EEXIST);
	assert_string_equal(refusal.name, "eth0");
	assert_int_equal(a.calls, 0);
	assert_int_equal(f->nl->nreqs, 0);
	assert_int_equal(rows(f, "links", "1"), 0);
}

static void test_create_kernel_error_rolls_back(void **state)
{
	struct fix *f = *state;
	struct answer a = { 0 }, b = { 0 };

	links_start(f);
	snprintf(f->nl->fail_name, sizeof(f->nl->fail_name), "macvtap2");
	f->nl->fail_error = -EOPNOTSUPP;
	f->nl->fail_message = "the parent said no";
	assert_int_equal(create(f, "guest1", 4, NULL, &a, NULL), 0);
	links_flush(f->l);
	/* The four creates: three made, one refused. The call is not answered
	 * yet: what it made is deleted first (group move, group delete). */
	assert_int_equal(kernel_step(f->nl), 4);
	assert_int_equal(a.calls, 0);
	assert_int_equal(count_devs(f->nl, "macvtap"), 3);
	/* The three made are not tagged (they are undone at once): moved
	 * into the delete group, which is deleted. */
	assert_int_equal(f->nl->nreqs, 4 + 3 + 1);
	for (unsigned i = 4; i < 7; i++) {
		assert_int_equal(f->nl->reqs[i].type, REQ_SET_GROUP);
		assert_int_equal(f->nl->reqs[i].group, DELETE_GROUP);
	}
	assert_int_equal(f->nl->reqs[7].type, REQ_DELETE_GROUP);
	assert_int_equal(rows(f, "links", "state = 'deleting'"), 3);
	assert_int_equal(kernel_step(f->nl), 4);

	assert_int_equal(a.calls, 1);
	assert_int_equal(a.error, -EOPNOTSUPP);
	assert_string_equal(a.error_link, "macvtap2");
	assert_string_equal(a.error_message, "the parent said no");
	assert_int_equal(count_devs(f->nl, "macvtap"), 0);
	assert_int_equal(rows(f, "links", "1"), 0);
	assert_int_equal(rows(f, "names", "1"), 0);
	assert_null(link_find(f->l, "macvtap0"));
	assert_int_equal(alloc_count(f->l->macvtap), 0);
	assert_true(links_idle(f->l));

	/* Every name is free again. */
	f->nl->fail_name[0] = '\0';
	create_ok(f, "guest2", 1, &b);
	assert_string_equal(b.names[0], "macvtap0");
}

static void test_eexist_marks_foreign_and_retries(void **state)
{
	struct fix *f = *state;
	struct answer a = { 0 };

	links_start(f);
	/* Someone makes macvtap0 and netd has not heard of it yet. */
	dev_add(f->nl, "macvtap0", "macvtap");
	create_ok(f, "guest1", 1, &a);
	assert_string_equal(a.names[0], "macvtap1");
	assert_int_equal(f->nl->nreqs, 3);
	assert_string_equal(f->nl->reqs[0].name, "macvtap0");
	assert_string_equal(f->nl->reqs[1].name, "macvtap1");
	assert_int_equal(f->nl->reqs[2].type, REQ_SET_ALIAS); /* its tag */
	assert_true(is_foreign(f->l, "macvtap0"));
	assert_null(link_find(f->l, "macvtap0"));
	assert_non_null(link_find(f->l, "macvtap1"));
	assert_int_equal(f->l->eexist_retries, 1);
	assert_int_equal(rows(f, "names", "name = 'macvtap0' AND state = 'foreign'"), 1);
	assert_int_equal(rows(f, "links", "name = 'macvtap0'"), 0);
	assert_int_equal(rows(f, "links", "name = 'macvtap1' AND state = 'present'"), 1);
}

static void test_eexist_retries_are_bounded(void **state)
{
	struct fix *f = *state;
	struct answer a = { 0 };

	links_start(f);
	f->nl->always_eexist = true;
	assert_int_equal(create(f, "guest1", 1, NULL, &a, NULL), 0);
	links_flush(f->l);
	kernel_run(f->nl);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.error, -EEXIST);
	/* The first try and LINKS_EEXIST_RETRIES more, then it gives up. */
	assert_int_equal(f->nl->nreqs, 1 + LINKS_EEXIST_RETRIES);
	assert_int_equal(f->l->eexist_retries, LINKS_EEXIST_RETRIES);
	assert_int_equal(foreign_count(f->l), LINKS_EEXIST_RETRIES);
	assert_int_equal(rows(f, "names", "state = 'foreign'"), LINKS_EEXIST_RETRIES);
	assert_int_equal(rows(f, "links", "1"), 0);
	assert_int_equal(f->l->nlinks, 0);
	assert_true(links_idle(f->l));
}

static void test_delete_by_group(void **state)
{
	struct fix *f = *state;
	struct answer c = { 0 }, d = { 0 }, other = { 0 };

	links_start(f);
	create_ok(f, "guest1", 3, &c);
	create_ok(f, "guest2", 1, &other);
	unsigned first = f->nl->nreqs;

	assert_int_equal(links_op_delete(f->l, "guest1", NULL, 0, on_done, &d,
					 &(struct links_refusal){ 0 }), 0);
	assert_int_equal(f->nl->nreqs, first + 4);
	for (unsigned i = first; i < first + 3; i++) {
		assert_int_equal(f->nl->reqs[i].type, REQ_SET_GROUP);
		assert_int_equal(f->nl->reqs[i].group, DELETE_GROUP);
	}
	assert_int_equal(f->nl->reqs[first + 3].type, REQ_DELETE_GROUP);
	assert_int_equal(f->nl->reqs[first + 3].group, DELETE_GROUP);
	assert_int_equal(rows(f, "links", "state = 'deleting'"), 3);
	assert_int_equal(rows(f, "names", "state = 'releasing'"), 3);
	kernel_run(f->nl);

	assert_int_equal(d.calls, 1);
	assert_int_equal(d.error, 0);
	assert_int_equal(d.n, 3);
	assert_string_equal(d.names[0], "macvtap0");
	assert_string_equal(d.names[2], "macvtap2");
	assert_int_equal(count_devs(f->nl, "macvtap"), 1);
	assert_non_null(dev_by_name(f->nl, "macvtap3"));
	assert_null(link_find(f->l, "macvtap1"));
	assert_non_null(link_find(f->l, "macvtap3"));
	assert_int_equal(rows(f, "links", "1"), 1);
	assert_int_equal(rows(f, "names", "1"), 1);
	assert_int_equal(f->l->deleted, 3);
	assert_true(links_idle(f->l));
}

/* The store's transaction fails (here another writer holds the lock, as
 * a full disk would fail it): the calls whose intents were in it are
 * undone. Their kernel requests are cancelled before any flush, a
 * create's links released, a delete's links present again, and both
 * answered with the storage error. */
static void test_storage_failure_undoes(void **state)
{
	struct fix *f = *state;
	struct answer c = { 0 }, made = { 0 }, d = { 0 };
	unsigned first, flushes;
	uint64_t txn;
	sqlite3 *other;

	links_start(f);
	create_ok(f, "guest1", 2, &made);
	assert_int_equal(store_commit(f->store), 0);
	first = f->nl->nreqs;
	flushes = f->nl->flushes;

	assert_int_equal(sqlite3_open(f->path, &other), SQLITE_OK);
	assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	txn = store_txn(f->store);
	assert_int_equal(create(f, "guest2", 3, NULL, &c, NULL), 0);
	assert_int_equal(links_op_delete(f->l, "guest1", NULL, 0, on_done, &d,
					 &(struct links_refusal){ 0 }), 0);
	assert_int_equal(f->nl->nreqs, first + 3 + 3);
	assert_int_equal(store_commit(f->store), -EBUSY);
	assert_int_equal(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(other);
	links_storage_failed(f->l, txn, "database is locked");
	assert_int_equal(store_commit(f->store), 0);

	/* Answered, with the reason. */
	assert_int_equal(c.calls, 1);
	assert_string_equal(c.storage_error, "database is locked");
	assert_int_equal(d.calls, 1);
	assert_string_equal(d.storage_error, "database is locked");
	/* No request of theirs would be answered: all cancelled, and never
	 * flushed, so nl_cancel() drops them from its queue (which this fake
	 * kernel does not model: it is told here). */
	assert_int_equal(f->nl->flushes, flushes);
	for (unsigned i = first; i < f->nl->nreqs; i++) {
		assert_null(f->nl->reqs[i].done);
		f->nl->reqs[i].answered = true;
	}
	/* The create's links are gone, their names free; the delete's
	 * links are present again. */
	assert_null(link_find(f->l, "macvtap2"));
	assert_int_equal(alloc_count(f->l->macvtap), 2);
	assert_int_equal(link_find(f->l, "macvtap0")->state, LINK_PRESENT);
	assert_int_equal(link_find(f->l, "macvtap1")->state, LINK_PRESENT);
	assert_null(link_find(f->l, "macvtap0")->op);
	assert_true(TAILQ_EMPTY(&f->l->ops));

	/* The store works again: the next create succeeds, from the freed
	 * names. */
	memset(&c, 0, sizeof(c));
	create_ok(f, "guest2", 1, &c);
	assert_string_equal(c.names[0], "macvtap2");
	assert_int_equal(rows(f, "links", "state = 'present'"), 3);
}

static void test_delete_refusals(void **state)
{
	struct fix *f = *state;
	struct answer c = { 0 }, d = { 0 }, pending = { 0 };
	struct links_refusal refusal = { 0 };
	const char *mine[] = { "macvtap0" };
	const char *none[] = { "macvtap9" };
	const char *creating[] = { "macvtap1" };

	links_start(f);
	create_ok(f, "guest1", 1, &c);
	assert_int_equal(links_op_delete(f->l, "guest2", mine, 1, on_done, &d, &refusal), -EPERM);
	assert_string_equal(refusal.name, "macvtap0");
	assert_string_equal(refusal.owner, "guest1");
	assert_int_equal(links_op_delete(f->l, "guest1", none, 1, on_done, &d, &refusal), -ENOENT);
	assert_string_equal(refusal.name, "macvtap9");
	assert_int_equal(create(f, "guest1", 1, NULL, &pending, NULL), 0);
	assert_int_equal(links_op_delete(f->l, "guest1", creating, 1, on_done, &d, &refusal), -EBUSY);
	assert_string_equal(refusal.state, "creating");
	assert_int_equal(links_op_delete(f->l, "guest1", NULL, 0, on_done, &d, &refusal), -EBUSY);
	assert_int_equal(d.calls, 0);
	/* Nothing of anyone's changed. */
	assert_int_equal(link_find(f->l, "macvtap0")->state, LINK_PRESENT);
	kernel_run(f->nl);
	assert_int_equal(pending.calls, 1);
	/* A delete of nothing is answered at once. */
	assert_int_equal(links_op_delete(f->l, "nobody", NULL, 0, on_done, &d, &refusal), 0);
	assert_int_equal(d.calls, 1);
	assert_int_equal(d.n, 0);
}

static void test_events_foreign_device(void **state)
{
	struct fix *f = *state;
	struct answer a = { 0 };
	struct links_refusal refusal = { 0 };
	const char *want[] = { "macvtap5" };
	struct fake_dev *d;

	links_start(f);
	d = dev_add(f->nl, "macvtap5", "macvtap");
	links_nl_callbacks.link_event(f->l, true, &d->link);
	assert_true(is_foreign(f->l, "macvtap5"));
	assert_true(alloc_is_taken(f->l->macvtap, 5));
	assert_int_equal(rows(f, "names", "name = 'macvtap5' AND state = 'foreign'"), 1);
	assert_int_equal(create(f, "g", 1, want, &a, &refusal), -EEXIST);

	/* It goes: its name is free again, and so is its port. */
	d->present = false;
	links_nl_callbacks.link_event(f->l, false, &d->link);
	assert_false(is_foreign(f->l, "macvtap5"));
	assert_false(alloc_is_taken(f->l->macvtap, 5));
	assert_int_equal(rows(f, "names", "1"), 0);
	assert_int_equal(links_port_lookup(f->l, "macvtap5", &(struct links_port){ 0 }), -ENODEV);
	assert_int_equal(create(f, "g", 1, want, &a, &refusal), 0);
}

static void test_events_ours_vanishes(void **state)
{
	struct fix *f = *state;
	struct answer a = { 0 };
	struct fake_dev *d;
	int64_t audit;

	links_start(f);
	create_ok(f, "guest1", 2, &a);
	audit = rows(f, "audit", "method = 'kernel.LinkRemoved'");
	assert_int_equal(audit, 0);
	d = dev_by_name(f->nl, "macvtap1");
	links_nl_callbacks.link_event(f->l, true, &d->link); /* the create's event */
	d->present = false;
	links_nl_callbacks.link_event(f->l, false, &d->link);
	assert_null(link_find(f->l, "macvtap1"));
	assert_non_null(link_find(f->l, "macvtap0"));
	assert_int_equal(f->l->vanished, 1);
	assert_false(alloc_is_taken(f->l->macvtap, 1));
	assert_int_equal(rows(f, "links", "name = 'macvtap1'"), 0);
	assert_int_equal(rows(f, "names", "name = 'macvtap1'"), 0);
	assert_int_equal(rows(f, "audit", "method = 'kernel.LinkRemoved'"), 1);
}

static void test_events_lost_redumps_and_reconciles(void **state)
{
	struct fix *f = *state;
	struct answer a = { 0 };

	links_start(f);
	create_ok(f, "guest1", 2, &a);
	/* While events are lost, one of ours goes and a foreign one comes. */
	dev_by_name(f->nl, "macvtap0")->present = false;
	dev_add(f->nl, "macvlan3", "macvlan");
	links_nl_callbacks.events_lost(f->l);
	assert_true(f->nl->dumping);
	assert_int_equal(f->nl->dumps, 2);
	/* Lost again (twice) while the dump runs: one more dump after it,
	 * one more resync counted. */
	links_nl_callbacks.events_lost(f->l);
	links_nl_callbacks.events_lost(f->l);
	assert_int_equal(f->nl->dumps, 2);
	dump_finish(f->nl, f->l, 0);
	assert_true(f->nl->dumping);
	assert_int_equal(f->nl->dumps, 3);
	dump_finish(f->nl, f->l, 0);
	assert_false(f->nl->dumping);

	assert_int_equal(f->l->resyncs, 2);
	assert_null(link_find(f->l, "macvtap0"));
	assert_non_null(link_find(f->l, "macvtap1"));
	assert_true(is_foreign(f->l, "macvlan3"));
	assert_int_equal(f->l->vanished, 1);
	assert_int_equal(rows(f, "links", "1"), 1);
	assert_int_equal(rows(f, "names", "name = 'macvlan3' AND state = 'foreign'"), 1);
	assert_int_equal(rows(f, "audit", "method = 'kernel.LinkRemoved'"), 1);
}

static void test_dump_interrupted_dumps_again(void **state)
{
	struct fix *f = *state;

	f->nl->freed = &f->nl_freed;
	dev_add(f->nl, "macvtap7", "macvtap");
	assert_int_equal(links_new_with_kernel(f->loop, f->store, &cfg, &fake_ops, f->nl, &f->l), 0);
	assert_int_equal(f->nl->dumps, 1);
	dump_finish(f->nl, f->l, -EINTR);
	/* Not ready on an inconsistent picture: a second dump runs. */
	assert_false(links_ready(f->l));
	assert_true(f->nl->dumping);
	assert_int_equal(f->nl->dumps, 2);
	assert_int_equal(links_port_lookup(f->l, "eth0", &(struct links_port){ 0 }), -ENODEV);
	dump_finish(f->nl, f->l, 0);
	assert_true(links_ready(f->l));
	assert_int_equal(links_start_error(f->l), 0);
	assert_int_equal(links_port_lookup(f->l, "eth0", &(struct links_port){ 0 }), 0);
	assert_true(is_foreign(f->l, "macvtap7"));
}

static void test_dump_failure_at_start(void **state)
{
	struct fix *f = *state;

	f->nl->freed = &f->nl_freed;
	assert_int_equal(links_new_with_kernel(f->loop, f->store, &cfg, &fake_ops, f->nl, &f->l), 0);
	dump_finish(f->nl, f->l, -ENOMEM);
	assert_true(links_ready(f->l));
	assert_int_equal(links_start_error(f->l), -ENOMEM);
}

static void test_failed_completions_answer_every_op(void **state)
{
	struct fix *f = *state;
	struct answer c1 = { 0 }, c2 = { 0 }, made = { 0 }, d = { 0 };

	links_start(f);
	create_ok(f, "guest0", 2, &made);
	/* Two creates in flight when the request socket overflows (or the
	 * sender dies): their outcome is unknown until a fresh dump shows
	 * the kernel made none of them; then each call hears it. */
	assert_int_equal(create(f, "guest1", 2, NULL, &c1, NULL), 0);
	assert_int_equal(create(f, "guest2", 1, NULL, &c2, NULL), 0);
	for (unsigned i = 0; i < f->nl->nreqs; i++)
		if (!f->nl->reqs[i].answered)
			answer(f->nl, i, -ENOBUFS, NULL, NULL);
	assert_int_equal(c1.calls + c2.calls, 0);
	links_nl_callbacks.events_lost(f->l);
	dump_finish(f->nl, f->l, 0);
	assert_int_equal(c1.calls, 1);
	assert_int_equal(c1.error, -EIO);
	assert_int_equal(c2.calls, 1);
	assert_int_equal(c2.error, -EIO);
	assert_int_equal(rows(f, "links", "owner IN ('guest1', 'guest2')"), 0);
	assert_int_equal(f->l->nlinks, 2);

	/* A delete whose group move fails for one link: the call hears the
	 * error, the other link is moved back out of the delete group, and
	 * both stay. */
	assert_int_equal(links_op_delete(f->l, "guest0", NULL, 0, on_done, &d,
					 &(struct links_refusal){ 0 }), 0);
	unsigned first = f->nl->nreqs - 3;

	execute(f->nl, first);
	answer(f->nl, first + 1, -EPIPE, NULL, NULL);
	execute(f->nl, first + 2); /* the group delete: only macvtap0 goes */
	assert_int_equal(d.calls, 1);
	assert_int_equal(d.error, -EPIPE);
	assert_string_equal(d.error_link, "macvtap1");
	assert_null(link_find(f->l, "macvtap0"));
	assert_int_equal(link_find(f->l, "macvtap1")->state, LINK_PRESENT);
	assert_int_equal(rows(f, "links", "name = 'macvtap1' AND state = 'present'"), 1);
	assert_true(links_idle(f->l));
}

static void test_group_move_failure_moves_back(void **state)
{
	struct fix *f = *state;
	struct answer c = { 0 }, d = { 0 };

	links_start(f);
	create_ok(f, "guest0", 2, &c);
	assert_int_equal(links_op_delete(f->l, "guest0", NULL, 0, on_done, &d,
					 &(struct links_refusal){ 0 }), 0);
	unsigned first = f->nl->nreqs - 3;

	execute(f->nl, first);                          /* macvtap0 moved */
	answer(f->nl, first + 1, -EIO, "busy", NULL);   /* macvtap1 not */
	answer(f->nl, first + 2, -EIO, NULL, NULL);     /* group delete fails */
	assert_int_equal(d.calls, 1);
	assert_int_equal(d.error, -EIO);
	/* Both stay; macvtap0 is taken out of the delete group again. */
	assert_int_equal(f->nl->nreqs, first + 4);
	assert_int_equal(f->nl->reqs[first + 3].type, REQ_SET_GROUP);
	assert_int_equal(f->nl->reqs[first + 3].group, 0);
	assert_int_equal(f->nl->reqs[first + 3].ifindex, dev_by_name(f->nl, "macvtap0")->link.ifindex);
	assert_int_equal(rows(f, "links", "state = 'present'"), 2);
	kernel_run(f->nl);
	assert_int_equal(dev_by_name(f->nl, "macvtap0")->link.group, 0);
}

static void put_row(struct fix *f, const char *name, int ifindex, const char *state)
{
	struct store_link_row row = {
		.name = name, .ifindex = ifindex, .kind = "macvtap", .mode = "bridge",
		.parent = "eth0", .owner = "old", .state = state, .created = "2026-01-01T00:00:00.000Z",
	};
	unsigned idx = (unsigned)atoi(name + strlen("macvtap"));

	assert_int_equal(store_link_put(f->store, &row), 0);
	assert_int_equal(store_name_put(f->store, "macvtap", idx, name,
					streq(state, "deleting") ? "releasing" : "owned"), 0);
}

static void test_startup_reconcile(void **state)
{
	struct fix *f = *state;
	struct fake_dev *d1, *d2, *d4;

	put_row(f, "macvtap0", 90, "present");   /* device gone: released, audited */
	put_row(f, "macvtap1", 0, "present");    /* there: kept, ifindex learnt */
	put_row(f, "macvtap2", 0, "creating");   /* made before the crash: kept */
	put_row(f, "macvtap3", 0, "creating");   /* never made: released */
	put_row(f, "macvtap4", 0, "deleting");   /* still there: deletion finished */
	put_row(f, "macvtap5", 0, "deleting");   /* gone: released */
	assert_int_equal(store_name_put(f->store, "macvtap", 6, "macvtap6", "foreign"), 0);
	assert_int_equal(store_commit(f->store), 0);
	d1 = dev_add(f->nl, "macvtap1", "macvtap");
	d2 = dev_add(f->nl, "macvtap2", "macvtap");
	d4 = dev_add(f->nl, "macvtap4", "macvtap");

	links_start(f);
	assert_null(link_find(f->l, "macvtap0"));
	assert_int_equal(link_find(f->l, "macvtap1")->ifindex, d1->link.ifindex);
	assert_int_equal(link_find(f->l, "macvtap2")->state, LINK_PRESENT);
	assert_int_equal(link_find(f->l, "macvtap2")->ifindex, d2->link.ifindex);
	assert_null(link_find(f->l, "macvtap3"));
	assert_null(link_find(f->l, "macvtap5"));
	assert_int_equal(link_find(f->l, "macvtap4")->state, LINK_DELETING);
	/* The foreign name whose device is gone is free again. */
	assert_false(is_foreign(f->l, "macvtap6"));
	assert_false(alloc_is_taken(f->l->macvtap, 6));
	assert_int_equal(rows(f, "audit", "method = 'kernel.LinkRemoved'"), 1);
	assert_int_equal(rows(f, "links", "state = 'present'"), 2);
	assert_int_equal(rows(f, "links", "name IN ('macvtap0', 'macvtap3', 'macvtap5')"), 0);
	assert_int_equal(rows(f, "names", "name IN ('macvtap0', 'macvtap3', 'macvtap5', 'macvtap6')"), 0);

	/* The interrupted deletion is finished through the delete group. */
	assert_int_equal(f->nl->nreqs, 2);
	assert_int_equal(f->nl->reqs[0].ifindex, d4->link.ifindex);
	kernel_run(f->nl);
	assert_null(link_find(f->l, "macvtap4"));
	assert_null(dev_by_name(f->nl, "macvtap4"));
	assert_int_equal(rows(f, "links", "1"), 2);
	assert_int_equal(rows(f, "names", "state = 'owned'"), 2);
	assert_true(links_idle(f->l));

	/* A restart now finds everything in order and changes nothing. */
	struct nl *saved_devs = fake_new();

	memcpy(saved_devs->devs, f->nl->devs, sizeof(saved_devs->devs));
	saved_devs->next_ifindex = f->nl->next_ifindex;
	links_stop(f);
	f->nl = saved_devs;
	links_start(f);
	assert_int_equal(f->nl->nreqs, 0);
	assert_int_equal(f->l->nlinks, 2);
	assert_int_equal(rows(f, "audit", "method = 'kernel.LinkRemoved'"), 1);
}

static void test_work_spread_over_iterations(void **state)
{
	struct fix *f = *state;
	struct answer a = { 0 };

	links_start(f);
	assert_int_equal(create(f, "big", LINKS_STEP * 2 + 5, NULL, &a, NULL), 0);
	/* One piece at once, the rest in the loop's next iterations. */
	assert_int_equal(f->nl->nreqs, LINKS_PIECE);
	assert_false(links_idle(f->l));
	/* A step a loop iteration, fewer links once LINKS_STEP_US ran out. */
	for (int i = 0; i < 1000 && f->nl->nreqs < LINKS_STEP * 2 + 5; i++)
		ev_run(f->loop, EVRUN_NOWAIT);
	assert_int_equal(f->nl->nreqs, LINKS_STEP * 2 + 5);
	kernel_run(f->nl);
	/* The reply too is encoded step by step, then given. */
	assert_int_equal(a.calls, 0);
	for (int i = 0; i < 1000 && a.calls == 0; i++)
		ev_run(f->loop, EVRUN_NOWAIT);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.error, 0);
	assert_int_equal(rows(f, "links", "state = 'present'"), LINKS_STEP * 2 + 5);
	assert_true(links_idle(f->l));

	/* The delete too: queued step by step, and once the kernel deleted
	 * the group, its links are confirmed (rows written) step by step. */
	struct answer d = { 0 };

	assert_int_equal(links_op_delete(f->l, "big", NULL, 0, on_done, &d,
					 &(struct links_refusal){ 0 }), 0);
	for (int i = 0; i < 1000; i++)
		ev_run(f->loop, EVRUN_NOWAIT);
	kernel_run(f->nl);
	assert_int_equal(count_devs(f->nl, "macvtap"), 0);
	assert_int_equal(d.calls, 0);
	assert_int_equal(f->l->nlinks, LINKS_STEP * 2 + 5);
	ev_run(f->loop, EVRUN_NOWAIT);
	assert_int_equal(d.calls, 0);
	/* At most a step, at least a piece (fewer than a step once
	 * LINKS_STEP_US ran out: a slow machine, a sanitizer build). */
	assert_in_range(f->l->nlinks, LINKS_STEP + 5, LINKS_STEP * 2 + 5 - LINKS_PIECE);
	for (int i = 0; i < 1000 && d.calls == 0; i++)
		ev_run(f->loop, EVRUN_NOWAIT);
	assert_int_equal(d.calls, 1);
	assert_int_equal(d.error, 0);
	assert_int_equal(f->l->nlinks, 0);
	assert_int_equal(rows(f, "links", "1"), 0);
}

static void test_free_with_requests_out_cancels(void **state)
{
	struct fix *f = *state;
	struct answer c = { 0 }, d = { 0 };
	struct nl *nl = f->nl;
	unsigned group_delete;

	links_start(f);
	create_ok(f, "guest0", 2, &c);
	assert_int_equal(links_op_delete(f->l, "guest0", NULL, 0, on_done, &d,
					 &(struct links_refusal){ 0 }), 0);
	group_delete = nl->nreqs - 1;
	assert_int_equal(nl->reqs[group_delete].type, REQ_DELETE_GROUP);
	assert_non_null(nl->reqs[group_delete].done);
	/* Stopping with the deletion in flight: the op and its links are
	 * freed, and no request that carries them may reach them. */
	nl->keep_on_free = true;
	links_stop(f);
	/* The op's group delete and each link's group move. */
	assert_int_equal(nl->cancels, 3);
	for (unsigned i = group_delete - 2; i <= group_delete; i++)
		assert_null(nl->reqs[i].done);
	/* The kernel's late answers reach nobody (ASan would see a use
	 * after free otherwise), and the call was never answered. */
	for (unsigned i = group_delete - 2; i <= group_delete; i++)
		answer(nl, i, 0, NULL, NULL);
	assert_int_equal(d.calls, 0);
	free(nl);
}

/* The kernel answers the requests of one type asked so far. */
static void kernel_run_type(struct nl *nl, enum req_type type)
{
	unsigned end = nl->nreqs;

	for (unsigned i = 0; i < end; i++)
		if (!nl->reqs[i].answered && nl->reqs[i].type == type)
			execute(nl, i);
}

/* The acks of every request asked so far are lost (-ENOBUFS), as nl does
 * on a request socket overflow or a dead sender: the kernel carries out
 * the first `done` of them, not the rest; then events_lost(). */
static void lose_acks(struct nl *nl, struct links *l, unsigned done)
{
	unsigned end = nl->nreqs, n = 0;

	for (unsigned i = 0; i < end; i++) {
		struct fake_req *r = &nl->reqs[i];

		if (r->answered)
			continue;
		if (n++ < done) {
			nl_done_fn saved = r->done;

			r->done = NULL; /* the kernel acts, the ack is lost */
			execute(nl, i);
			r->done = saved;
		}
		r->answered = true;
		if (r->done)
			r->done(r->data, -ENOBUFS, NULL, NULL);
	}
	links_nl_callbacks.events_lost(l);
}

static void test_lost_acks_settled_from_a_dump(void **state)
{
	struct fix *f = *state;
	struct answer a = { 0 }, b = { 0 };

	links_start(f);
	/* 6 creates in flight when the acks overflow: the kernel made 4. */
	assert_int_equal(create(f, "dave", 6, NULL, &a, NULL), 0);
	links_flush(f->l);
	lose_acks(f->nl, f->l, 4);
	/* Nothing answered, nothing released: the intents stay. */
	assert_int_equal(a.calls, 0);
	assert_int_equal(rows(f, "links", "owner = 'dave' AND state = 'creating'"), 6);
	assert_true(f->nl->dumping);
	dump_finish(f->nl, f->l, 0);
	/* The dump settled them: 4 made, 2 not: the call fails, all or
	 * nothing, and what was made is rolled back; the caller hears. */
	kernel_run(f->nl);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.error, -EIO);
	assert_int_equal(count_devs(f->nl, "macvtap"), 0);
	assert_int_equal(rows(f, "links", "1"), 0);
	assert_int_equal(foreign_count(f->l), 0);
	assert_true(links_idle(f->l));

	/* All made before the loss: the call succeeds, tagged, nothing
	 * foreign. */
	assert_int_equal(create(f, "erin", 3, NULL, &b, NULL), 0);
	links_flush(f->l);
	lose_acks(f->nl, f->l, 3);
	dump_finish(f->nl, f->l, 0);
	kernel_run(f->nl);
	assert_int_equal(b.calls, 1);
	assert_int_equal(b.error, 0);
	assert_int_equal(b.n, 3);
	assert_int_equal(rows(f, "links", "owner = 'erin' AND state = 'present' AND op IS NULL"), 3);
	assert_string_equal(dev_by_name(f->nl, b.names[0])->link.alias, "netd:erin");
	assert_int_equal(foreign_count(f->l), 0);
}

static void test_lost_acks_of_a_delete(void **state)
{
	struct fix *f = *state;
	struct answer c = { 0 }, d = { 0 };

	links_start(f);
	create_ok(f, "frank", 3, &c);
	assert_int_equal(links_op_delete(f->l, "frank", NULL, 0, on_done, &d,
					 &(struct links_refusal){ 0 }), 0);
	links_flush(f->l);
	/* The moves into the group and the group delete all happen; every
	 * ack is lost. */
	lose_acks(f->nl, f->l, 4);
	assert_int_equal(d.calls, 0);
	dump_finish(f->nl, f->l, 0);
	kernel_run(f->nl);
	assert_int_equal(d.calls, 1);
	assert_int_equal(d.error, 0);
	assert_int_equal(d.n, 3);
	assert_int_equal(rows(f, "links", "1"), 0);
	assert_int_equal(count_devs(f->nl, "macvtap"), 0);
	assert_true(links_idle(f->l));
}

/* netd "dies": the links are freed without answering anything, and the
 * next start sees a copy of the kernel's devices as they are now. */
static void crash_and_restart(struct fix *f)
{
	struct nl *old = f->nl, *copy = fake_new();

	memcpy(copy->devs, old->devs, sizeof(copy->devs));
	copy->next_ifindex = old->next_ifindex;
	old->keep_on_free = true;
	links_stop(f);
	free(old);
	f->nl = copy;
	links_start(f);
}

/* An ack writes no row (each was a transaction of its own, one per loop
 * iteration): a call's made links are written once all are made, while
 * the kernel tags them, a piece at once and the rest step by step. */
static void test_made_rows_written_together(void **state)
{
	struct fix *f = *state;
	struct answer a = { 0 };
	const unsigned n = LINKS_PIECE * 3;

	links_start(f);
	assert_int_equal(create(f, "guest", n, NULL, &a, NULL), 0);
	for (int i = 0; i < 1000 && f->nl->nreqs < n; i++)
		ev_run(f->loop, EVRUN_NOWAIT);
	assert_int_equal(f->nl->nreqs, n);
	assert_int_equal(store_commit(f->store), 0);
	links_flush(f->l);
	for (unsigned i = 0; i < n - 1; i++) {
		execute(f->nl, i);
		assert_false(store_in_txn(f->store));
	}
	assert_int_equal(rows(f, "links", "state = 'creating'"), n);
	/* The last ack queues the tags and writes the first piece. */
	execute(f->nl, n - 1);
	assert_int_equal(rows(f, "links", "state = 'present'"), LINKS_PIECE);
	kernel_run_type(f->nl, REQ_SET_ALIAS);
	assert_int_equal(a.calls, 0);
	for (int i = 0; i < 1000 && a.calls == 0; i++)
		ev_run(f->loop, EVRUN_NOWAIT);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.error, 0);
	assert_int_equal(rows(f, "links", "state = 'present' AND ifindex > 0 AND op IS NULL"), n);
	assert_true(links_idle(f->l));
}

static void test_unanswered_create_rolled_back_at_start(void **state)
{
	struct fix *f = *state;
	struct answer kept = { 0 }, lost = { 0 };
	unsigned first;

	links_start(f);
	create_ok(f, "kept", 2, &kept);
	assert_int_equal(kept.calls, 1);
	/* A create of 10: 5 acked, 3 made by the kernel but not acked when
	 * netd dies, 2 never made. The caller never hears anything. */
	assert_int_equal(create(f, "lost", 10, NULL, &lost, NULL), 0);
	links_flush(f->l);
	first = f->nl->nreqs - 10;
	for (unsigned i = first; i < first + 5; i++)
		execute(f->nl, i);
	kernel_run_type(f->nl, REQ_SET_ALIAS);
	for (unsigned i = first + 5; i < first + 8; i++)
		dev_add(f->nl, f->nl->reqs[i].name, "macvtap"); /* not acked, not tagged */
	/* The made links' rows are written once all are made: the intent
	 * rows are all a crash leaves of the call. */
	assert_int_equal(rows(f, "links", "op IS NOT NULL AND state = 'creating'"), 10);
	assert_int_equal(rows(f, "links", "owner = 'kept' AND op IS NULL"), 2);
	assert_int_equal(lost.calls, 0);

	crash_and_restart(f);
	/* All or nothing: every link of the unanswered call goes, the 8
	 * devices made are deleted, the answered call is untouched. */
	assert_int_equal(f->l->rolled_back, 10);
	assert_int_equal(rows(f, "audit", "method = 'netd.CreateLinksRolledBack'"
			      " AND parameters LIKE '%\"owner\":\"lost\"%\"links\":10%'"), 1);
	kernel_run(f->nl);
	assert_int_equal(rows(f, "links", "owner = 'lost'"), 0);
	assert_int_equal(rows(f, "links", "owner = 'kept'"), 2);
	assert_int_equal(rows(f, "names", "1"), 2);
	assert_int_equal(count_devs(f->nl, "macvtap"), 2);
	assert_int_equal(f->l->adopted, 0);
	assert_int_equal(foreign_count(f->l), 0);
	assert_true(links_idle(f->l));

	/* A restart now has nothing to roll back. */
	crash_and_restart(f);
	assert_int_equal(f->nl->nreqs, 0);
	assert_int_equal(f->l->nlinks, 2);
	assert_int_equal(rows(f, "audit", "method = 'netd.CreateLinksRolledBack'"), 1);
}

/* A create of n links for owner, answered (over loop iterations). */
static void create_many(struct fix *f, const char *owner, unsigned n)
{
	struct answer a = { 0 };

	assert_int_equal(create(f, owner, n, NULL, &a, NULL), 0);
	for (int i = 0; i < 100 && a.calls == 0; i++) {
		ev_run(f->loop, EVRUN_NOWAIT);
		kernel_run(f->nl);
	}
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.error, 0);
}

/*
 * A DeleteLinks whose caller never heard back is all or nothing across a
 * crash. Its moves into the delete group wait until the intent rows of
 * all its links are written: killed after the call's first piece (the
 * storm test's 144 links: 16 intents written by the call, the rest in the
 * next iterations), the kernel never heard of the call, and the start
 * keeps all of its links (it used to finish the first and leave the
 * rest). Killed once the moves began, the start finishes
 * the whole call.
 */
static void test_unanswered_delete_all_or_nothing(void **state)
{
	struct fix *f = *state;
	struct answer d = { 0 };
	unsigned n = LINKS_STEP + 16, first;
	char where[192];

	const char *names[LINKS_STEP + 16];
	struct link *k;
	unsigned nn = 0;

	links_start(f);
	create_many(f, "guest", n);
	create_many(f, "other", 2);
	TAILQ_FOREACH(k, &f->l->all, entry)
		if (streq(k->owner, "guest"))
			names[nn++] = k->name;
	assert_int_equal(nn, n);
	first = f->nl->nreqs;
	assert_int_equal(links_op_delete(f->l, "guest", names, n, on_done, &d,
					 &(struct links_refusal){ 0 }), 0);
	/* The call's first piece of intents, written at once. */
	assert_int_equal(rows(f, "links", "state = 'deleting' AND op IS NOT NULL"), LINKS_PIECE);
	assert_int_equal(f->nl->nreqs, first); /* no move before every intent */
	crash_and_restart(f);
	kernel_run(f->nl);
	assert_int_equal(d.calls, 0);
	assert_int_equal(count_devs(f->nl, "macvtap"), n + 2);
	assert_int_equal(rows(f, "links", "owner = 'guest' AND state = 'present'"), n);
	assert_int_equal(rows(f, "names", "state = 'owned'"), n + 2);
	assert_int_equal(rows(f, "links", "op IS NOT NULL"), 0);
	snprintf(where, sizeof(where), "method = 'netd.DeleteLinksUnanswered'"
		 " AND parameters LIKE '%%\"owner\":\"guest\",\"links\":%d}'"
		 " AND outcome = '{\"finished\":false}'", LINKS_PIECE);
	assert_int_equal(rows(f, "audit", where), 1);
	assert_true(links_idle(f->l));

	/* Again, killed once the kernel has moved a few into the group. */
	assert_int_equal(links_op_delete(f->l, "guest", NULL, 0, on_done, &d,
					 &(struct links_refusal){ 0 }), 0);
	first = f->nl->nreqs;
	for (int i = 0; i < 10 && f->nl->nreqs < first + 3; i++)
		ev_run(f->loop, EVRUN_NOWAIT);
	assert_int_equal(rows(f, "links", "state = 'deleting'"), n);
	for (unsigned i = first; i < first + 3; i++) {
		assert_int_equal(f->nl->reqs[i].type, REQ_SET_GROUP);
		execute(f->nl, i);
	}
	crash_and_restart(f);
	for (int i = 0; i < 20 && !links_idle(f->l); i++) {
		kernel_run(f->nl);
		ev_run(f->loop, EVRUN_NOWAIT);
	}
	assert_int_equal(d.calls, 0);
	assert_int_equal(count_devs(f->nl, "macvtap"), 2);
	assert_int_equal(rows(f, "links", "1"), 2);
	assert_int_equal(rows(f, "links", "owner = 'other' AND op IS NULL"), 2);
	assert_int_equal(rows(f, "names", "1"), 2);
	assert_int_equal(rows(f, "audit", "method = 'netd.DeleteLinksUnanswered'"
			      " AND outcome = '{\"finished\":true}'"), 1);
	assert_true(links_idle(f->l));
}

/* A DeleteLinks call's intents are marked by name, STORE_MARK_MAX links
 * a statement: every row 'deleting' with the call's id, every name
 * 'releasing', the other owner's untouched; none leaves before the
 * commit, and a crash then keeps them all. A row not as its link says
 * (here 'creating') makes its piece be written whole. */
static void test_delete_intents_marked(void **state)
{
	struct fix *f = *state;
	struct answer d = { 0 };
	unsigned n = LINKS_STEP + 16, first;
	sqlite3 *other;

	links_start(f);
	create_many(f, "guest", n);
	create_many(f, "other", 2);
	assert_int_equal(store_commit(f->store), 0);
	first = f->nl->nreqs;
	assert_int_equal(links_op_delete(f->l, "guest", NULL, 0, on_done, &d,
					 &(struct links_refusal){ 0 }), 0);
	for (int i = 0; i < 1000 && f->nl->nreqs == first; i++)
		ev_run(f->loop, EVRUN_NOWAIT);
	assert_int_equal(rows(f, "links", "owner = 'guest' AND state = 'deleting' AND op IS NOT NULL"), n);
	assert_int_equal(rows(f, "names", "state = 'releasing'"), n);
	assert_int_equal(rows(f, "links", "owner = 'other' AND state = 'present' AND op IS NULL"), 2);
	assert_int_equal(rows(f, "names", "state = 'owned'"), 2);
	/* Killed before the moves left: the kernel heard nothing. */
	crash_and_restart(f);
	kernel_run(f->nl);
	assert_int_equal(d.calls, 0);
	assert_int_equal(count_devs(f->nl, "macvtap"), n + 2);
	assert_int_equal(rows(f, "links", "owner = 'guest' AND state = 'present' AND op IS NULL"), n);
	assert_int_equal(rows(f, "names", "state = 'owned'"), n + 2);

	/* A row not as its link says: its piece is written whole. */
	assert_int_equal(sqlite3_open(f->path, &other), SQLITE_OK);
	assert_int_equal(sqlite3_exec(other, "UPDATE links SET state = 'creating', ifindex = 0"
				      " WHERE name = (SELECT min(name) FROM links WHERE owner = 'guest')",
				      NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(other);
	assert_int_equal(links_op_delete(f->l, "guest", NULL, 0, on_done, &d,
					 &(struct links_refusal){ 0 }), 0);
	for (int i = 0; i < 1000 && rows(f, "links", "state = 'deleting'") < (int)n; i++)
		ev_run(f->loop, EVRUN_NOWAIT);
	assert_int_equal(rows(f, "links", "owner = 'guest' AND state = 'deleting' AND ifindex > 0"), n);
	for (int i = 0; i < 1000 && d.calls == 0; i++) {
		ev_run(f->loop, EVRUN_NOWAIT);
		kernel_run(f->nl);
	}
	assert_int_equal(d.calls, 1);
	assert_int_equal(d.error, 0);
	assert_int_equal(count_devs(f->nl, "macvtap"), 2);
	assert_int_equal(rows(f, "links", "1"), 2);
	assert_int_equal(rows(f, "names", "1"), 2);
}

/* A commit fails after the kernel made a create's links: the rows saying
 * they are present and that the call was answered are lost, the caller
 * hears StorageError. links_rewrite_rows() writes the rows again from
 * memory, and rolls the call back (all or nothing), as a start would. */
static void test_rows_rewritten_after_failed_commit(void **state)
{
	struct fix *f = *state;
	struct answer lost = { 0 };
	unsigned dumps;
	sqlite3 *other;
	uint64_t txn;

	links_start(f);
	assert_int_equal(create(f, "lost", 3, NULL, &lost, NULL), 0);
	assert_int_equal(store_commit(f->store), 0);
	links_flush(f->l);
	assert_int_equal(sqlite3_open(f->path, &other), SQLITE_OK);
	assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	txn = store_txn(f->store);
	kernel_run(f->nl);
	assert_int_equal(lost.calls, 1);
	assert_int_equal(store_commit(f->store), -EBUSY);
	assert_int_equal(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(other);
	links_storage_failed(f->l, txn, "database is locked");
	assert_int_equal(rows(f, "links", "state = 'creating' AND op IS NOT NULL"), 3);
	assert_int_equal(link_find(f->l, "macvtap0")->state, LINK_PRESENT);

	dumps = f->nl->dumps;
	links_rewrite_rows(f->l);
	assert_int_equal(store_commit(f->store), 0);
	assert_int_equal(rows(f, "links", "state = 'present' AND op IS NOT NULL"), 3);
	assert_int_equal(f->nl->dumps, dumps + 1);
	dump_finish(f->nl, f->l, 0);
	assert_int_equal(f->l->rolled_back, 3);
	links_flush(f->l);
	kernel_run(f->nl);
	assert_int_equal(store_commit(f->store), 0);
	assert_int_equal(rows(f, "links", "1"), 0);
	assert_int_equal(rows(f, "names", "1"), 0);
	assert_int_equal(count_devs(f->nl, "macvtap"), 0);
	assert_int_equal(rows(f, "audit", "method = 'netd.CreateLinksRolledBack'"), 1);

	/* Rows memory no longer has go, and those it has come back. */
	create_ok(f, "kept", 1, &(struct answer){ 0 });
	assert_int_equal(store_commit(f->store), 0);
	assert_int_equal(sqlite3_open(f->path, &other), SQLITE_OK);
	assert_int_equal(sqlite3_exec(other, "DELETE FROM names; INSERT INTO links (name, kind, mode,"
				      " parent, owner, state) VALUES ('macvtap7', 'macvtap', 'bridge',"
				      " 'eth0', 'x', 'present')", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(other);
	links_rewrite_rows(f->l);
	assert_int_equal(store_commit(f->store), 0);
	assert_int_equal(rows(f, "links", "1"), 1);
	assert_int_equal(rows(f, "names", "name = 'macvtap0' AND state = 'owned'"), 1);
}

/* One of a create's links is removed by someone else after the kernel
 * made it, before the call is answered (while its reply is encoded): the
 * call fails and is rolled back, all or nothing, and nothing refers to
 * the freed link. */
static void test_link_vanishes_before_the_answer(void **state)
{
	struct fix *f = *state;
	struct answer a = { 0 };
	struct fake_dev *d;
	unsigned n = LINKS_STEP * 2 + 5;

	links_start(f);
	assert_int_equal(create(f, "big", n, NULL, &a, NULL), 0);
	/* Steps are bounded in time: under the sanitizers, many more. */
	for (int i = 0; i < 1000 && f->nl->nreqs < n; i++)
		ev_run(f->loop, EVRUN_NOWAIT);
	kernel_run(f->nl);
	assert_int_equal(a.calls, 0); /* its rows and tags, then its reply, are under way */
	d = dev_by_name(f->nl, "macvtap200");
	links_nl_callbacks.link_event(f->l, true, &d->link);
	d->present = false;
	links_nl_callbacks.link_event(f->l, false, &d->link);
	assert_null(link_find(f->l, "macvtap200"));
	for (int i = 0; i < 1000 && a.calls == 0; i++) {
		ev_run(f->loop, EVRUN_NOWAIT);
		links_flush(f->l);
		kernel_run(f->nl);
	}
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.error, -ENODEV);
	assert_string_equal(a.error_link, "macvtap200");
	assert_int_equal(count_devs(f->nl, "macvtap"), 0);
	assert_int_equal(rows(f, "links", "1"), 0);
	assert_true(links_idle(f->l));

	/* The same while its tag is out: the tag is never answered, the
	 * call still is. */
	memset(&a, 0, sizeof(a));
	assert_int_equal(create(f, "small", 2, NULL, &a, NULL), 0);
	links_flush(f->l);
	kernel_run_type(f->nl, REQ_CREATE);
	assert_int_equal(a.calls, 0);
	d = dev_by_name(f->nl, "macvtap1");
	links_nl_callbacks.link_event(f->l, true, &d->link);
	d->present = false;
	links_nl_callbacks.link_event(f->l, false, &d->link);
	for (int i = 0; i < 10 && a.calls == 0; i++) {
		links_flush(f->l);
		kernel_run(f->nl);
		ev_run(f->loop, EVRUN_NOWAIT);
	}
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.error, -ENODEV);
	links_flush(f->l);
	kernel_run(f->nl);
	assert_int_equal(count_devs(f->nl, "macvtap"), 0);
	assert_true(links_idle(f->l));
}

static void test_created_links_are_tagged_before_the_answer(void **state)
{
	struct fix *f = *state;
	struct answer a = { 0 };

	links_start(f);
	assert_int_equal(create(f, "carol", 3, NULL, &a, NULL), 0);
	links_flush(f->l);
	/* The tags wait until every create of the call is acked, then go
	 * out together (one batch, not one per loop iteration of acks). */
	execute(f->nl, 0);
	assert_int_equal(f->nl->nreqs, 3);
	assert_int_equal(kernel_step(f->nl), 2);
	assert_int_equal(f->nl->nreqs, 3 + 3);
	for (unsigned i = 3; i < 6; i++)
		assert_int_equal(f->nl->reqs[i].type, REQ_SET_ALIAS);
	/* Made, not yet tagged: not answered. */
	assert_int_equal(a.calls, 0);
	assert_int_equal(rows(f, "links", "op IS NOT NULL"), 3);
	kernel_run(f->nl);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.error, 0);
	for (unsigned i = 0; i < 3; i++)
		assert_string_equal(dev_by_name(f->nl, a.names[i])->link.alias, "netd:carol");
	/* Answered: the rows no longer belong to an unanswered call. */
	assert_int_equal(rows(f, "links", "op IS NOT NULL"), 0);
}

/* --- up at creation, and sets --- */

static void test_create_brings_links_up_unless_down(void **state)
{
	struct fix *f = *state;
	struct answer a = { 0 }, b = { 0 };
	struct links_create_req req = {
		.owner = "g", .kind = "macvlan", .mode = MACVLAN_MODE_BRIDGE, .parent = "eth0",
		.count = 2, .down = true,
	};
	struct links_refusal refusal = { 0 };

	links_start(f);
	create_ok(f, "g", 2, &a);
	/* IFF_UP went in the creates themselves: no request after them
	 * but the tags. */
	assert_int_equal(f->nl->nreqs, 2 + 2);
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(f->nl->reqs[i].type, REQ_CREATE);
		assert_true(f->nl->reqs[i].up);
		assert_true(dev_by_name(f->nl, a.names[i])->link.flags & IFF_UP);
	}
	assert_int_equal(links_op_create(f->l, &req, on_done, &b, &refusal), 0);
	links_flush(f->l);
	kernel_run(f->nl);
	assert_int_equal(b.error, 0);
	assert_int_equal(b.n, 2);
	assert_false(f->nl->reqs[4].up);
	assert_false(f->nl->reqs[5].up);
	assert_false(dev_by_name(f->nl, "macvlan0")->link.flags & IFF_UP);
}

/* The kernel's events for the devices made so far, as rtnetlink sends
 * them: the picture then knows their MTU, flags and MAC. */
static void events_for_all(struct fix *f)
{
	for (int i = 0; i < MAX_DEVS; i++)
		if (f->nl->devs[i].present)
			links_nl_callbacks.link_event(f->l, true, &f->nl->devs[i].link);
}

static int set(struct fix *f, const char *owner, unsigned n, const char *const *names,
	       const struct nl_link_change *changes, struct answer *a,
	       struct links_refusal *refusal)
{
	struct links_set_req req = { .owner = owner, .names = names, .changes = changes, .n = n };

	return links_op_set(f->l, &req, on_done, a, refusal);
}

static void test_set_links_refusals(void **state)
{
	struct fix *f = *state;
	struct answer a = { 0 }, b = { 0 };
	struct links_refusal refusal = { 0 };
	const char *mine[] = { "macvtap0", "macvtap1" }, *theirs[] = { "macvtap0", "macvtap2" };
	const char *nope[] = { "macvtap9" };
	struct nl_link_change down[2] = { { .set_up = true }, { .set_up = true } };
	struct nl_link_change big[1] = { { .set_mtu = true, .mtu = 9000 } };
	unsigned before;

	links_start(f);
	create_ok(f, "alice", 2, &a);
	memset(&a, 0, sizeof(a));
	create_ok(f, "mallory", 1, &a);
	events_for_all(f);
	before = f->nl->nreqs;

	/* mallory's link among alice's: nothing is asked of the kernel. */
	assert_int_equal(set(f, "alice", 2, theirs, down, &b, &refusal), -EPERM);
	assert_string_equal(refusal.name, "macvtap2");
	assert_string_equal(refusal.owner, "mallory");
	assert_int_equal(set(f, "mallory", 1, mine, down, &b, &refusal), -EPERM);
	assert_int_equal(set(f, "alice", 1, nope, down, &b, &refusal), -ENOENT);
	assert_string_equal(refusal.name, "macvtap9");
	/* Above the parent's MTU (1500): refused before the kernel is asked. */
	assert_int_equal(set(f, "alice", 1, mine, big, &b, &refusal), -ERANGE);
	assert_int_equal(f->nl->nreqs, before);
	assert_int_equal(b.calls, 0);
	for (unsigned i = 0; i < 3; i++)
		assert_true(f->nl->devs[i + 2].link.flags & IFF_UP);

	/* A set in flight makes the link busy for another set. */
	assert_int_equal(set(f, "alice", 2, mine, down, &b, &refusal), 0);
	assert_int_equal(set(f, "alice", 1, mine, down, &a, &refusal), -EBUSY);
	assert_string_equal(refusal.state, "setting");
	links_flush(f->l);
	kernel_run(f->nl);
	assert_int_equal(b.calls, 1);
	assert_int_equal(b.error, 0);
	assert_int_equal(set(f, "alice", 1, mine, down, &a, &refusal), 0);
}

/* A link whose create the kernel acked while its call is not answered
 * yet (the other links' acks, its tag, the reply to come) is still the
 * create's: a delete or a set of it is LinkBusy, "creating". Taken by a
 * delete there, its tag's ack went to the delete and the create was never
 * answered (links-reuse.sh hung so in the ASan run). */
static void test_link_busy_until_its_create_is_answered(void **state)
{
	struct fix *f = *state;
	struct answer c = { 0 }, d = { 0 }, s = { 0 };
	struct links_refusal refusal = { 0 };
	const char *first[] = { "macvtap0" };
	struct nl_link_change down[1] = { { .set_up = true } };

	links_start(f);
	assert_int_equal(create(f, "guest1", 2, NULL, &c, NULL), 0);
	links_flush(f->l);
	execute(f->nl, 0); /* macvtap0 made; macvtap1's ack still to come */
	events_for_all(f);
	assert_int_equal(link_find(f->l, "macvtap0")->state, LINK_PRESENT);

	assert_int_equal(links_op_delete(f->l, "guest1", first, 1, on_done, &d, &refusal), -EBUSY);
	assert_string_equal(refusal.name, "macvtap0");
	assert_string_equal(refusal.state, "creating");
	memset(&refusal, 0, sizeof(refusal));
	assert_int_equal(links_op_delete(f->l, "guest1", NULL, 0, on_done, &d, &refusal), -EBUSY);
	assert_string_equal(refusal.state, "creating");
	memset(&refusal, 0, sizeof(refusal));
	assert_int_equal(set(f, "guest1", 1, first, down, &s, &refusal), -EBUSY);
	assert_string_equal(refusal.state, "creating");

	/* The create goes on to its answer, both links tagged. */
	kernel_run(f->nl);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.error, 0);
	assert_int_equal(c.n, 2);
	assert_string_equal(dev_by_name(f->nl, "macvtap0")->link.alias, "netd:guest1");
	assert_string_equal(dev_by_name(f->nl, "macvtap1")->link.alias, "netd:guest1");
	assert_null(link_find(f->l, "macvtap0")->op);

	/* Answered: now it is free for another call. */
	assert_int_equal(links_op_delete(f->l, "guest1", first, 1, on_done, &d, &refusal), 0);
	links_flush(f->l);
	kernel_run(f->nl);
	assert_int_equal(d.calls, 1);
	assert_int_equal(d.error, 0);
	assert_string_equal(d.names[0], "macvtap0");
	assert_int_equal(s.calls, 0);
	assert_true(links_idle(f->l));
}

static void test_set_links_batched(void **state)
{
	struct fix *f = *state;
	struct answer a = { 0 }, b = { 0 };
	struct links_refusal refusal = { 0 };
	const char *names[] = { "macvtap2", "macvtap0", "macvtap1" };
	struct nl_link_change c[3];
	unsigned before, flushes;
	struct link *k;

	links_start(f);
	create_ok(f, "alice", 3, &a);
	events_for_all(f);
	before = f->nl->nreqs;
	flushes = f->nl->flushes;
	for (unsigned i = 0; i < 3; i++) {
		c[i] = (struct nl_link_change){ .set_up = true, .up = false, .set_mtu = true,
						.mtu = 1400, .set_mac = true };
		c[i].mac[0] = 0x02;
		c[i].mac[5] = (uint8_t)(0xa0 + i);
	}
	assert_int_equal(set(f, "alice", 3, names, c, &b, &refusal), 0);
	/* One request per link, queued together: one flush sends them. */
	assert_int_equal(f->nl->nreqs, before + 3);
	for (unsigned i = before; i < before + 3; i++)
		assert_int_equal(f->nl->reqs[i].type, REQ_SET_LINK);
	assert_int_equal(b.calls, 0);
	links_flush(f->l);
	assert_int_equal(f->nl->flushes, flushes + 1);
	assert_int_equal(kernel_step(f->nl), 3);

	assert_int_equal(b.calls, 1);
	assert_int_equal(b.error, 0);
	assert_int_equal(b.n, 3);
	for (unsigned i = 0; i < 3; i++) {
		struct fake_dev *d = dev_by_name(f->nl, names[i]);

		assert_string_equal(b.names[i], names[i]);
		assert_false(d->link.flags & IFF_UP);
		assert_int_equal(d->link.mtu, 1400);
		assert_memory_equal(d->link.mac, c[i].mac, NL_MAC_LEN);
		/* The picture follows at once, and the MAC's row. */
		k = link_find(f->l, names[i]);
		assert_memory_equal(k->mac, c[i].mac, NL_MAC_LEN);
		assert_int_equal(kdev_by_index(f->l, k->ifindex)->mtu, 1400);
		assert_false(kdev_by_index(f->l, k->ifindex)->flags & IFF_UP);
	}
	assert_int_equal(rows(f, "links", "name = 'macvtap2' AND mac = '02:00:00:00:00:a0'"), 1);
	assert_int_equal(rows(f, "links", "name = 'macvtap1' AND mac = '02:00:00:00:00:a2'"), 1);
	assert_true(links_idle(f->l));
}

static void test_set_links_all_or_nothing(void **state)
{
	struct fix *f = *state;
	struct answer a = { 0 }, b = { 0 };
	struct links_refusal refusal = { 0 };
	const char *names[] = { "macvtap0", "macvtap1", "macvtap2" };
	struct nl_link_change c[3];
	struct nl_link orig[3];
	unsigned before;

	links_start(f);
	create_ok(f, "alice", 3, &a);
	events_for_all(f);
	for (unsigned i = 0; i < 3; i++) {
		orig[i] = dev_by_name(f->nl, names[i])->link;
		c[i] = (struct nl_link_change){ .set_up = true, .up = false, .set_mtu = true,
						.mtu = 1000, .set_mac = true };
		c[i].mac[0] = 0x06;
		c[i].mac[5] = (uint8_t)i;
	}
	/* The kernel refuses the second link's MTU, after taking its MAC. */
	f->nl->fail_set_ifindex = orig[1].ifindex;
	before = f->nl->nreqs;
	assert_int_equal(set(f, "alice", 3, names, c, &b, &refusal), 0);
	links_flush(f->l);
	assert_int_equal(kernel_step(f->nl), 3);
	/* Not answered yet: all three are set back first, the refused one
	 * too (its MAC was changed), to what the picture held. */
	assert_int_equal(b.calls, 0);
	assert_int_equal(f->nl->nreqs, before + 6);
	for (unsigned i = before + 3; i < before + 6; i++) {
		const struct fake_req *r = &f->nl->reqs[i];

		assert_int_equal(r->type, REQ_SET_LINK);
		assert_true(r->change.set_up && r->change.up);
		assert_int_equal(r->change.mtu, 1500);
	}
	f->nl->fail_set_ifindex = 0;
	kernel_run(f->nl);

	assert_int_equal(b.calls, 1);
	assert_int_equal(b.error, -EINVAL);
	assert_string_equal(b.error_link, "macvtap1");
	assert_string_equal(b.error_message, "mtu refused");
	for (unsigned i = 0; i < 3; i++) {
		struct fake_dev *d = dev_by_name(f->nl, names[i]);

		assert_true(d->link.flags & IFF_UP);
		assert_int_equal(d->link.mtu, 1500);
		assert_memory_equal(d->link.mac, orig[i].mac, NL_MAC_LEN);
		assert_memory_equal(link_find(f->l, names[i])->mac, orig[i].mac, NL_MAC_LEN);
	}
	assert_int_equal(rows(f, "links", "mac LIKE '06:%'"), 0);
	assert_false(link_find(f->l, "macvtap1")->setting);
}

/* alice's one link, macvtap0, made (made answered); a SetLinks of its
 * MTU to 1400 out (set to be answered). */
static void mtu_set_out(struct fix *f, struct answer *made, struct answer *set_answer)
{
	struct links_refusal refusal = { 0 };
	const char *names[] = { "macvtap0" };
	struct nl_link_change c[1] = { { .set_mtu = true, .mtu = 1400 } };

	links_start(f);
	create_ok(f, "alice", 1, made);
	events_for_all(f);
	assert_int_equal(set(f, "alice", 1, names, c, set_answer, &refusal), 0);
}

/* A link whose SetLinks is still out is busy for a delete too (the
 * interface's LinkBusy "setting"), by name and by owner, until that call
 * is answered. */
static void test_delete_refused_while_set(void **state)
{
	struct fix *f = *state;
	struct answer a = { 0 }, b = { 0 }, d = { 0 };
	struct links_refusal refusal = { 0 };
	const char *names[] = { "macvtap0" };

	mtu_set_out(f, &a, &b);
	assert_int_equal(links_op_delete(f->l, "alice", names, 1, on_done, &d, &refusal), -EBUSY);
	assert_string_equal(refusal.name, "macvtap0");
	assert_string_equal(refusal.state, "setting");
	memset(&refusal, 0, sizeof(refusal));
	assert_int_equal(links_op_delete(f->l, "alice", NULL, 0, on_done, &d, &refusal), -EBUSY);
	assert_string_equal(refusal.state, "setting");

	links_flush(f->l);
	kernel_run(f->nl);
	assert_int_equal(b.calls, 1);
	assert_int_equal(b.error, 0);
	assert_int_equal(links_op_delete(f->l, "alice", names, 1, on_done, &d, &refusal), 0);
	links_flush(f->l);
	kernel_run(f->nl);
	assert_int_equal(d.calls, 1);
	assert_int_equal(d.error, 0);
	assert_true(links_idle(f->l));
}

static void test_set_links_freed_in_flight(void **state)
{
	struct fix *f = *state;
	struct answer a = { 0 }, b = { 0 };
	struct links_refusal refusal = { 0 };
	const char *names[] = { "macvtap0", "macvtap1" };
	struct nl_link_change c[2] = { { .set_up = true }, { .set_mtu = true, .mtu = 1400 } };
	struct nl *nl = f->nl;
	unsigned first;

	links_start(f);
	create_ok(f, "alice", 2, &a);
	events_for_all(f);
	first = nl->nreqs;
	assert_int_equal(set(f, "alice", 2, names, c, &b, &refusal), 0);
	/* Stopping with both sets in flight: their completions go. */
	nl->keep_on_free = true;
	links_stop(f);
	assert_int_equal(nl->cancels, 2);
	for (unsigned i = first; i < first + 2; i++) {
		assert_null(nl->reqs[i].done);
		answer(nl, i, 0, NULL, NULL);
	}
	assert_int_equal(b.calls, 0);
	free(nl);
}

static void test_set_links_lost_ack_is_set_back(void **state)
{
	struct fix *f = *state;
	struct answer a = { 0 }, b = { 0 };

	mtu_set_out(f, &a, &b);
	/* The kernel did it, the ack was lost: the outcome is made known by
	 * setting it back, and the caller hears of the loss. */
	lose_acks(f->nl, f->l, 1);
	assert_int_equal(dev_by_name(f->nl, "macvtap0")->link.mtu, 1400);
	assert_int_equal(b.calls, 0);
	kernel_run_type(f->nl, REQ_SET_LINK);
	assert_int_equal(b.calls, 1);
	assert_int_equal(b.error, -ENOBUFS);
	assert_int_equal(dev_by_name(f->nl, "macvtap0")->link.mtu, 1500);
	assert_false(link_find(f->l, "macvtap0")->setting);
}

static void test_create_acked_without_echo_learns_ifindex(void **state)
{
	struct fix *f = *state;
	struct answer a = { 0 };
	struct link *k;

	links_start(f);
	/* The acks come, their echoes were lost (an overflowing request
	 * socket drops the long echo and keeps the short ack), and the
	 * devices' events are still queued. */
	f->nl->no_echo = true;
	create_ok(f, "guest1", 2, &a);
	k = link_find(f->l, "macvtap1");
	assert_non_null(k);
	assert_int_equal(k->state, LINK_PRESENT);
	assert_int_equal(k->ifindex, 0);
	/* The event is the device netd made, not a replacement. */
	events_for_all(f);
	k = link_find(f->l, "macvtap1");
	assert_non_null(k);
	assert_int_equal(k->ifindex, dev_by_name(f->nl, "macvtap1")->link.ifindex);
	assert_int_equal(f->l->vanished, 0);
	assert_false(is_foreign(f->l, "macvtap1"));
	assert_int_equal(rows(f, "links", "name = 'macvtap1' AND ifindex > 0"), 1);
}

/* macvtap0 is owner's, present, with its own device's ifindex. */
static void assert_reused_name_ours(struct fix *f, const char *owner)
{
	struct link *k = link_find(f->l, "macvtap0");

	assert_non_null(k);
	assert_string_equal(k->owner, owner);
	assert_int_equal(k->state, LINK_PRESENT);
	assert_int_equal(k->ifindex, dev_by_name(f->nl, "macvtap0")->link.ifindex);
	assert_false(is_foreign(f->l, "macvtap0"));
	assert_int_equal(f->l->vanished, 0);
}

/* A name deleted and taken again before the old device's events are
 * read (events lag acks): those late events name the old device, by its
 * smaller ifindex, and must touch neither the new link nor the name. Read
 * while the new link's own device was not in the picture yet, the old
 * device's RTM_NEWLINK was taken for a replacement: the new link vanished
 * (missing from its owner's list) and its own device was then called
 * someone else's (links-concurrency.sh under the sanitizers). */
static void test_late_events_of_a_reused_name(void **state)
{
	struct fix *f = *state;
	struct answer a = { 0 }, b = { 0 }, c = { 0 }, e = { 0 };
	struct nl_link old;

	links_start(f);
	/* None of the old device's events read before the name is taken
	 * again and the new create acked. */
	create_ok(f, "guest1", 1, &a);
	old = dev_by_name(f->nl, "macvtap0")->link;
	delete_ok(f, "guest1");
	create_ok(f, "guest2", 1, &b);
	assert_int_not_equal(dev_by_name(f->nl, "macvtap0")->link.ifindex, old.ifindex);
	links_nl_callbacks.link_event(f->l, true, &old);
	links_nl_callbacks.link_event(f->l, false, &old);
	events_for_all(f);
	assert_reused_name_ours(f, "guest2");

	/* The old device known to the picture, its late events read while
	 * the new create is still out. */
	old = dev_by_name(f->nl, "macvtap0")->link;
	delete_ok(f, "guest2");
	assert_int_equal(create(f, "guest3", 1, NULL, &c, NULL), 0);
	links_nl_callbacks.link_event(f->l, true, &old);
	links_nl_callbacks.link_event(f->l, false, &old);
	links_flush(f->l);
	kernel_run(f->nl);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.error, 0);
	events_for_all(f);
	assert_reused_name_ours(f, "guest3");

	/* The old device known, the new create acked first. */
	old = dev_by_name(f->nl, "macvtap0")->link;
	delete_ok(f, "guest3");
	create_ok(f, "guest4", 1, &e);
	links_nl_callbacks.link_event(f->l, true, &old);
	links_nl_callbacks.link_event(f->l, false, &old);
	events_for_all(f);
	assert_reused_name_ours(f, "guest4");
}

static void test_empty_database_readopts_tagged_links(void **state)
{
	struct fix *f = *state;
	struct fake_dev *d;

	/* The kernel holds netd's links (tagged), the database nothing. */
	for (int i = 0; i < 3; i++) {
		char name[IFNAMSIZ];

		snprintf(name, sizeof(name), "macvtap%d", i);
		d = dev_add(f->nl, name, "macvtap");
		d->link.parent_ifindex = f->parent_ifindex;
		snprintf(d->link.alias, sizeof(d->link.alias), "netd:%s", i < 2 ? "alice" : "bob");
	}
	dev_add(f->nl, "macvtap3", "macvtap"); /* untagged: foreign */
	d = dev_add(f->nl, "macvtap4", "macvtap");
	snprintf(d->link.alias, sizeof(d->link.alias), "netd:"); /* no owner: foreign */

	links_start(f);
	assert_int_equal(f->l->adopted, 3);
	assert_true(f->l->empty_db_adopted);
	assert_string_equal(link_find(f->l, "macvtap0")->owner, "alice");
	assert_string_equal(link_find(f->l, "macvtap2")->owner, "bob");
	assert_string_equal(link_find(f->l, "macvtap2")->parent, "eth0");
	assert_int_equal(link_find(f->l, "macvtap1")->state, LINK_PRESENT);
	assert_true(is_foreign(f->l, "macvtap3"));
	assert_true(is_foreign(f->l, "macvtap4"));
	assert_int_equal(rows(f, "links", "owner = 'alice' AND state = 'present'"), 2);
	assert_int_equal(rows(f, "names", "state = 'owned'"), 3);
	assert_int_equal(rows(f, "audit", "method = 'netd.LinksAdopted'"
			      " AND parameters LIKE '%\"database_empty\":true%'"), 1);

	/* The next start knows them: nothing to adopt, nothing said. */
	crash_and_restart(f);
	assert_int_equal(f->l->adopted, 0);
	assert_false(f->l->empty_db_adopted);
	assert_int_equal(f->l->nlinks, 3);
	assert_int_equal(rows(f, "audit", "method = 'netd.LinksAdopted'"), 1);
}

/* --- the reconciliation after a dump, in steps --- */

/* Names of ports the filters were told are gone (links_set_port_hooks). */
struct ports_gone {
	char names[16][IFNAMSIZ];
	unsigned n;
};

static bool port_never_bound(void *data, const char *port)
{
	return false;
}

static void port_gone_record(void *data, const char *port)
{
	struct ports_gone *g = data;

	assert_true(g->n < 16);
	snprintf(g->names[g->n++], IFNAMSIZ, "%s", port);
}

static struct fake_dev *dev_add_tagged(struct fix *f, const char *name, const char *owner)
{
	struct fake_dev *d = dev_add(f->nl, name, "macvtap");

	d->link.parent_ifindex = f->parent_ifindex;
	snprintf(d->link.alias, sizeof(d->link.alias), "netd:%s", owner);
	return d;
}

static void put_row_op(struct fix *f, const char *name, const char *state, uint64_t op)
{
	struct store_link_row row = {
		.name = name, .kind = "macvtap", .mode = "bridge", .parent = "eth0",
		.owner = "old", .state = state, .created = "2026-01-01T00:00:00.000Z", .op = op,
	};

	assert_int_equal(store_link_put(f->store, &row), 0);
	assert_int_equal(store_name_put(f->store, "macvtap", (unsigned)atoi(name + 7), name,
					"owned"), 0);
}

#define REC_LINKS_N (RECONCILE_CHUNK * 2 + 10)

/*
 * What a start finds, big enough for several pieces of each phase:
 * REC_LINKS_N links of 'old' with their devices, 10 whose device went,
 * an unanswered create of 3 (2 devices made), 10 foreign names without
 * a device, 300 foreign macvlans, 3 tagged devices without rows and 300
 * veth devices.
 */
static void big_start_state(struct fix *f)
{
	char name[IFNAMSIZ];

	for (unsigned i = 0; i < REC_LINKS_N + 10; i++) {
		snprintf(name, sizeof(name), "macvtap%u", i);
		put_row_op(f, name, "present", 0);
		if (i < REC_LINKS_N)
			dev_add_tagged(f, name, "old");
	}
	for (unsigned i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "macvtap%u", 1000 + i);
		put_row_op(f, name, "creating", 7);
		if (i < 2)
			dev_add_tagged(f, name, "old");
	}
	for (unsigned i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "macvtap%u", 1100 + i);
		assert_int_equal(store_name_put(f->store, "macvtap", 1100 + i, name, "foreign"), 0);
	}
	assert_int_equal(store_commit(f->store), 0);
	for (unsigned i = 0; i < 303; i++) {
		snprintf(name, sizeof(name), "macvlan%u", i);
		if (i < 300)
			dev_add(f->nl, name, "macvlan");
		else
			dev_add_tagged(f, name, "bob");
	}
	for (unsigned i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "p%u", i);
		dev_add(f->nl, name, "veth");
	}
}

/* Loop iterations until l is ready (at most max). */
static unsigned run_until_ready(struct fix *f, unsigned max)
{
	unsigned n = 0;

	while (!links_ready(f->l) && n < max) {
		ev_run(f->loop, EVRUN_NOWAIT);
		n++;
	}
	return n;
}

/* The start's reconciliation is spread over loop iterations, a piece
 * each (the budget is spent at once outside the loop's iterations), and
 * does what it did in one callback: vanished links released, the
 * unanswered create rolled back, foreign names freed and marked, tagged
 * devices re-adopted, its audit row. */
static void test_reconcile_spread_over_iterations(void **state)
{
	struct fix *f = *state;
	unsigned iterations;

	big_start_state(f);
	f->nl->freed = &f->nl_freed;
	assert_int_equal(links_new_with_kernel(f->loop, f->store, &cfg, &fake_ops, f->nl, &f->l), 0);
	dump_end(f->nl, f->l, 0);
	/* The dump's end only swapped the pictures. */
	assert_true(reconcile_running(f->l));
	assert_false(links_ready(f->l));
	assert_false(links_idle(f->l));
	assert_int_equal(f->l->vanished, 0);
	assert_int_equal(foreign_count(f->l), 10);
	assert_int_equal(links_port_lookup(f->l, "p7", &(struct links_port){ 0 }), 0);

	iterations = run_until_ready(f, 1000);
	assert_true(links_ready(f->l));
	assert_false(reconcile_running(f->l));
	/* Three pieces of links, eight of the 2,048 buckets, six more phases. */
	assert_true(iterations >= 15);
	assert_int_equal(f->l->rec.steps, iterations);

	assert_int_equal(f->l->vanished, 10);
	assert_null(link_find(f->l, "macvtap522"));
	assert_non_null(link_find(f->l, "macvtap521"));
	assert_int_equal(rows(f, "audit", "method = 'kernel.LinkRemoved'"), 10);
	assert_int_equal(f->l->rolled_back, 3);
	assert_int_equal(rows(f, "audit", "method = 'netd.CreateLinksRolledBack'"), 1);
	assert_int_equal(link_find(f->l, "macvtap1000")->state, LINK_DELETING);
	assert_null(link_find(f->l, "macvtap1002"));
	assert_int_equal(f->l->adopted, 3);
	assert_string_equal(link_find(f->l, "macvlan301")->owner, "bob");
	assert_int_equal(foreign_count(f->l), 300);
	assert_true(is_foreign(f->l, "macvlan299"));
	assert_false(is_foreign(f->l, "macvtap1105"));
	assert_false(alloc_is_taken(f->l->macvtap, 1105));
	assert_int_equal(rows(f, "names", "state = 'foreign'"), 300);
	assert_int_equal(rows(f, "audit", "method = 'netd.LinksReconciled' AND parameters LIKE "
			      "'%\"start\"%' AND outcome LIKE '%\"vanished\":10,\"rolled_back\":3,"
			      "\"adopted\":3,\"foreign_freed\":10,\"deletions_finished\":2}'"), 1);
	/* The rolled-back devices are deleted through the delete group. */
	kernel_run(f->nl);
	for (int i = 0; i < 10 && !links_idle(f->l); i++)
		ev_run(f->loop, EVRUN_NOWAIT);
	assert_null(link_find(f->l, "macvtap1000"));
	assert_null(dev_by_name(f->nl, "macvtap1001"));
	assert_int_equal(f->l->nlinks, REC_LINKS_N + 3);
	assert_int_equal(rows(f, "links", "state = 'present'"), REC_LINKS_N + 3);
	assert_true(links_idle(f->l));
}

/* Steps of the reconciliation after events were lost until phase (and,
 * for REC_LINKS, one piece into it). */
static void step_until(struct fix *f, enum rec_phase phase)
{
	for (int i = 0; i < 1000 && f->l->rec.phase != phase; i++)
		ev_run(f->loop, EVRUN_NOWAIT);
	assert_int_equal(f->l->rec.phase, phase);
	if (phase == REC_LINKS)
		ev_run(f->loop, EVRUN_NOWAIT);
	assert_true(reconcile_running(f->l));
}

/* Between two steps of a resync's reconciliation: link events, another
 * loss of events, a CreateLinks call, the removal of the link it would
 * look at next. Each is handled as at any time, and the reconciliation
 * still ends with the kernel's picture. */
static void test_reconcile_events_and_calls_between_steps(void **state)
{
	struct fix *f = *state;
	struct ports_gone gone = { 0 };
	struct answer a = { 0 };
	struct fake_dev *d;
	struct link *k;
	uint64_t dumps;

	big_start_state(f);
	links_start(f);
	links_set_port_hooks(f->l, port_never_bound, port_gone_record, &gone);
	kernel_run(f->nl); /* the rollback's deletions */
	for (int i = 0; i < 10 && !links_idle(f->l); i++)
		ev_run(f->loop, EVRUN_NOWAIT);
	/* While events are lost: one of ours goes, two ports go, one
	 * foreign macvlan comes. */
	dev_by_name(f->nl, "macvtap5")->present = false;
	dev_by_name(f->nl, "p1")->present = false;
	dev_by_name(f->nl, "p2")->present = false;
	dev_add(f->nl, "macvlan400", "macvlan");
	links_nl_callbacks.events_lost(f->l);
	dumps = f->nl->dumps;
	dump_end(f->nl, f->l, 0);
	assert_true(links_ready(f->l)); /* it was, and stays */
	assert_true(reconcile_running(f->l));

	/* p2 comes back before the filters hear of it: not gone for them. */
	step_until(f, REC_GONE);
	d = dev_add(f->nl, "p2", "veth");
	links_nl_callbacks.link_event(f->l, true, &d->link);
	/* Lost again: the next dump waits for this reconciliation. */
	links_nl_callbacks.events_lost(f->l);
	links_nl_callbacks.events_lost(f->l);
	assert_int_equal(f->nl->dumps, dumps);
	assert_false(f->nl->dumping);

	/* The link the reconciliation looks at next is removed. */
	step_until(f, REC_LINKS);
	k = f->l->rec.cursor;
	assert_non_null(k);
	assert_int_equal(k->state, LINK_PRESENT);
	char next_name[IFNAMSIZ];

	snprintf(next_name, sizeof(next_name), "%s", k->name);
	d = dev_by_name(f->nl, next_name);
	d->present = false;
	links_nl_callbacks.link_event(f->l, false, &d->link);
	assert_null(link_find(f->l, next_name));
	assert_ptr_not_equal(f->l->rec.cursor, k);

	/* A call is served meanwhile; its links are not the reconciliation's. */
	assert_int_equal(create(f, "guest2", 2, NULL, &a, NULL), 0);
	links_flush(f->l);
	kernel_run(f->nl);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.error, 0);
	/* And a delete, its device's RTM_DELLINK still unread: the picture
	 * shows a device tagged as netd's without a link. */
	const char *victim[] = { "macvtap7" };
	struct answer del = { 0 };

	assert_int_equal(links_op_delete(f->l, "old", victim, 1, on_done, &del,
					 &(struct links_refusal){ 0 }), 0);
	for (int i = 0; i < 10 && del.calls == 0; i++) {
		links_flush(f->l);
		kernel_run(f->nl);
		ev_run(f->loop, EVRUN_NOWAIT);
	}
	assert_int_equal(del.calls, 1);
	assert_int_equal(del.error, 0);
	assert_null(link_find(f->l, "macvtap7"));
	assert_non_null(kdev_by_name(f->l, "macvtap7"));
	assert_true(f->l->rec.phase < REC_DEVICES);
	/* A foreign device comes and one goes. */
	d = dev_add(f->nl, "macvlan401", "macvlan");
	links_nl_callbacks.link_event(f->l, true, &d->link);
	d = dev_by_name(f->nl, "macvlan3");
	d->present = false;
	links_nl_callbacks.link_event(f->l, false, &d->link);

	for (int i = 0; i < 1000 && reconcile_running(f->l); i++)
		ev_run(f->loop, EVRUN_NOWAIT);
	assert_false(reconcile_running(f->l));
	/* The dump wanted meanwhile started once it was over. */
	assert_true(f->nl->dumping);
	assert_int_equal(f->nl->dumps, dumps + 1);
	assert_int_equal(f->l->resyncs, 2);

	/* The ports the dump lacked (the rollback's two deleted devices
	 * among them), in name order, not p2; then those of the events. */
	assert_int_equal(gone.n, 6);
	assert_string_equal(gone.names[0], "macvtap1000");
	assert_string_equal(gone.names[1], "macvtap1001");
	assert_string_equal(gone.names[2], "macvtap5");
	assert_string_equal(gone.names[3], "p1");
	assert_string_equal(gone.names[4], next_name);
	assert_string_equal(gone.names[5], "macvlan3");
	assert_int_equal(f->l->vanished, 10 + 2);
	/* The call took the names freed: macvtap5's (reconciled before the
	 * call) and the removed link's; the reconciliation left them alone
	 * (the picture does not show them: the fake sends no events). */
	assert_string_equal(a.names[0], "macvtap5");
	assert_string_equal(a.names[1], next_name);
	for (int i = 0; i < 2; i++) {
		k = link_find(f->l, a.names[i]);
		assert_non_null(k);
		assert_string_equal(k->owner, "guest2");
		assert_int_equal(k->state, LINK_PRESENT);
	}
	assert_true(is_foreign(f->l, "macvlan400"));
	assert_true(is_foreign(f->l, "macvlan401"));
	assert_false(is_foreign(f->l, "macvlan3"));
	/* The deleted link is neither re-adopted nor foreign. */
	assert_null(link_find(f->l, "macvtap7"));
	assert_false(is_foreign(f->l, "macvtap7"));
	assert_int_equal(f->l->adopted, 3);
	/* Its audit row counts its own repairs, not the event's. */
	assert_int_equal(rows(f, "audit", "method = 'netd.LinksReconciled' AND parameters LIKE "
			      "'%events lost%' AND outcome LIKE '%\"vanished\":1,%'"), 1);
	dump_finish(f->nl, f->l, 0);
	assert_int_equal(f->l->vanished, 10 + 2);
	assert_int_equal(foreign_count(f->l), 301);
	assert_int_equal(f->l->nlinks, REC_LINKS_N + 3 - 3 + 2);
	assert_true(links_idle(f->l));
}

/* netd stops in the middle of a reconciliation: everything it holds is
 * freed (the sanitizers' build checks), and the next start reconciles. */
static void test_reconcile_stopped_midway(void **state)
{
	struct fix *f = *state;

	big_start_state(f);
	links_start(f);
	kernel_run(f->nl);
	for (int i = 0; i < 10 && !links_idle(f->l); i++)
		ev_run(f->loop, EVRUN_NOWAIT);
	dev_by_name(f->nl, "macvtap5")->present = false;
	dev_add_tagged(f, "macvtap2000", "carol");
	links_nl_callbacks.events_lost(f->l);
	dump_end(f->nl, f->l, 0);
	step_until(f, REC_DEVICES);
	ev_run(f->loop, EVRUN_NOWAIT);
	assert_true(f->l->kc.frozen);
	crash_and_restart(f);
	assert_null(link_find(f->l, "macvtap5"));
	assert_string_equal(link_find(f->l, "macvtap2000")->owner, "carol");
	assert_int_equal(foreign_count(f->l), 300);
	assert_false(f->l->kc.frozen);

	/* And while the replaced picture is half freed. */
	links_nl_callbacks.events_lost(f->l);
	dump_end(f->nl, f->l, 0);
	ev_run(f->loop, EVRUN_NOWAIT);
	assert_int_equal(f->l->rec.phase, REC_OLD);
	assert_true(f->l->rec.bucket > 0);
	crash_and_restart(f);
	assert_int_equal(f->l->nlinks, REC_LINKS_N + 3 - 1 + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_success, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_kernel_error_rolls_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eexist_marks_foreign_and_retries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eexist_retries_are_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_by_group, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_link_busy_until_its_create_is_answered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_refused_while_set, setup, teardown),
		cmocka_unit_test_setup_teardown(test_events_foreign_device, setup, teardown),
		cmocka_unit_test_setup_teardown(test_events_ours_vanishes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_events_lost_redumps_and_reconciles, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dump_interrupted_dumps_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dump_failure_at_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_completions_answer_every_op, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_move_failure_moves_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_startup_reconcile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_work_spread_over_iterations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_made_rows_written_together, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_with_requests_out_cancels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_storage_failure_undoes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unanswered_create_rolled_back_at_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unanswered_delete_all_or_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_intents_marked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_database_readopts_tagged_links, setup, teardown),
		cmocka_unit_test_setup_teardown(test_created_links_are_tagged_before_the_answer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lost_acks_settled_from_a_dump, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lost_acks_of_a_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rows_rewritten_after_failed_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_link_vanishes_before_the_answer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_brings_links_up_unless_down, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_links_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_links_batched, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_links_all_or_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_links_freed_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_links_lost_ack_is_set_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_acked_without_echo_learns_ifindex, setup, teardown),
		cmocka_unit_test_setup_teardown(test_late_events_of_a_reused_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reconcile_spread_over_iterations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reconcile_events_and_calls_between_steps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reconcile_stopped_midway, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
