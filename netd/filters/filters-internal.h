/*
 * filters-internal.h: what the files of netd/filters/ share, and nobody
 * else: the binding, the batch and its phases, struct filters, and the
 * functions each file offers the others. Only methods.c and list.c know
 * ctl and the wire format; the rest takes typed arguments and tells outcomes to
 * waiters (a function and its data), so unit tests drive it directly.
 *
 *   filters.c   start, stop, scheduling (filters_flush), reload, status
 *   bindings.c  binding state, its store rows, bind/unbind/port gone
 *   batch.c     one batch: render, restore, save, parse, confirm and
 *               record, as an enum phase driven by batch_advance()
 *   confirm.c   a restore confirmed without a save (nf_tables only),
 *               the fingerprints recorded by a later save (the record)
 *   dispatch.c  the dispatch chains changed line by line
 *   bisect.c    a failed batch: halves, stopping, back-off
 *   verify.c    save output to fingerprints, start-up and Resync
 *               comparison, the nf_tables generation checkpoint
 *   inputs.c    what a binding's rendering was made from: a start
 *               renders only the bindings whose inputs changed
 *   load.c      the bindings loaded at a start
 *   nftgen.c    the nf_tables generation query, the chain-name dump
 *   netdev.c    the nftables netdev backend: bindings on macvtap and
 *               macvlan ports, their `nft -f` batches and listings
 *   netdev-list.c  `nft list table netdev netd` read: chains, fingerprints
 *   methods.c   the io.netd methods: parameters in, replies out
 *   list.c      what a binding's reply says; ListBindings in pieces
 *   learn.c     address learning: the packet socket watching a port
 *   learn-pkt.c the frames it learns from, its BPF programs (pure)
 */
#ifndef NETD_FILTERS_INTERNAL_H
#define NETD_FILTERS_INTERNAL_H

#include <ev.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "filters.h"
#include "filters/learn-pkt.h"
#include "rules/rules.h"
#include "strbuf.h"

struct job;
struct job_ops;

#define F_EB RULES_EB
#define F_IP4 RULES_IP4
#define F_IP6 RULES_IP6
#define NFAM RULES_FAMILIES

/* Bindings settled per loop iteration after a batch's runs, at most, and
 * fewer once the iteration's time budget is spent: answering 1000
 * callers and writing their rows in one callback took 40 ms. */
#define FILTERS_STEP 128

extern const char *const filters_fam_names[NFAM];
extern char *const filters_restore_argv[NFAM][4];
extern char *const filters_save_argv[NFAM][4];

enum bstate { B_PENDING, B_APPLIED, B_FAILED, B_REMOVING };
extern const char *const filters_bstate_names[];

/* What a waiting caller is told. */
enum outcome_kind {
	OUTCOME_APPLIED,      /* b: the binding as it is now */
	OUTCOME_REMOVED,      /* its rules are gone (unbind, port gone) */
	OUTCOME_FAILED,       /* the tool refused it: message */
	OUTCOME_NO_BINDING,   /* the binding went away meanwhile: message */
	OUTCOME_RESYNCED,     /* a Resync: skipped, reapplied */
	OUTCOME_STORAGE,      /* the database failed, the call was undone: message */
	OUTCOME_SHUTDOWN,     /* netd stops before the outcome is known */
};

struct binding;

struct outcome {
	enum outcome_kind kind;
	const char *port;
	const struct binding *b;
	const char *message;
	unsigned skipped, reapplied;
};

typedef void (*waiter_fn)(void *data, const struct outcome *o);

/* A caller waiting for a binding's batch (or a Resync), answered once. */
struct waiter {
	waiter_fn fn;
	void *data;
	struct waiter *next;
	uint64_t txn;              /* on a binding: the transaction of its call */
};

struct binding {
	char port[16];
	char *filter;
	char *owner;
	json_t *params;            /* canonical: MAC, IP [...], DHCPSERVER [...] */
	struct rules_render want;  /* rendered now */
	bool rendered;
	char applied_hash[65];     /* "" if never applied */
	char input_hash[65];       /* what want was rendered from (inputs.c); "" unknown */
	char norm[NFAM][65];       /* fingerprint recorded after the last apply */
	bool have_in[NFAM], have_out[NFAM]; /* chains in the kernel, as far as we know */
	enum bstate state;
	char *error;
	char created[32], applied_at[32];
	bool dirty;                /* needs a batch */
	uint64_t seq;              /* its place in f->all: bindings made later have higher */
	bool in_batch;
	unsigned item;             /* its index in the batch, while in_batch */
	bool gone;                 /* the port went away: removal, not an unbind call */
	/* Its lines in the dispatch chains as the kernel has them (bit
	 * DISP_BIT(fam, to_guest)), and as the batch being restored writes
	 * them; meaningful where f->disp_known[fam]. */
	uint8_t disp, disp_next;
	bool unrecorded;           /* applied on the dumps; its fingerprints come with the next record */
	struct waiter *waiters;    /* answered by the next batch that carries it */
	/* Held by the nftables netdev backend (netdev.c: a macvtap or macvlan
	 * port), in f->netdev_all instead of f->all: the *tables batches never
	 * see it. want then carries only the hash and the chain names. */
	bool nft;
	struct rules_nft nwant;    /* its rendering for table netdev netd */
	char nnorm[65];            /* fingerprint of its chains after the last apply */
	/* Address learning (learn.c): how its IP is learned (LEARN_NONE: it
	 * is given, or not used), when it was ("" while learning: it holds
	 * the learning rules then), and the watch on its port meanwhile. */
	enum learn_mode learn;
	char learned_at[32];
	struct learner *learner;
	/* ListBindings replies that still have it to encode (list.c): a
	 * binding removed meanwhile is only marked (removed, its strings
	 * freed) and freed by the last of them. */
	unsigned listed;
	bool removed;
	TAILQ_ENTRY(binding) entry;
	TAILQ_ENTRY(binding) dirty_entry; /* in f->dirty while dirty and in f->all */
};

TAILQ_HEAD(binding_list, binding);

#define DISP_BIT(fam, to_guest) (1u << ((fam) * 2 + ((to_guest) ? 1 : 0)))
#define DISP_FAM(fam) (DISP_BIT(fam, false) | DISP_BIT(fam, true))

/* A binding as a batch carries it. */
struct item {
	struct binding *b;         /* NULL once a removal freed it */
	bool removing;
	char hash[65];             /* desired hash when the batch was built */
	bool want_in[NFAM], want_out[NFAM];
	struct waiter *waiters;
};

/*
 * The steps a batch passes through; batch_advance() moves it. An apply
 * starts at PHASE_RENDER, a verification (start, Resync) at PHASE_SAVE.
 * RESTORING and SAVING wait for helper runs; CONFIRM, PARSE, APPLY,
 * RECORD and COMPARE work a slice per loop iteration (from the work
 * watcher) so that no callback runs long. An apply answers its callers
 * only in APPLY, once the kernel was seen to hold what the restores
 * wrote: a restore that exits 0 and does nothing does not make a binding
 * applied. Two ways to see it:
 *
 * - nf_tables tools, and the generation moved by exactly our restores:
 *   RESTORING -> CONFIRM (the chain names of the families written, one
 *   dump each, no rules) -> APPLY (answers) -> SAVE -> SAVING -> PARSE ->
 *   RECORD (fingerprints; a binding the save does not show is demoted and
 *   applied again).
 * - otherwise (x_tables tools, someone else changed nf_tables meanwhile,
 *   a chain missing from the dump, a dump that failed): RESTORING ->
 *   SAVE -> SAVING -> PARSE -> APPLY, answered from the saves.
 */
enum phase {
	PHASE_RENDER,     /* build each family's restore input, start the restores */
	PHASE_RESTORING,  /* the restores run */
	PHASE_CONFIRM,    /* nf_tables: the generation, the chain names dumped */
	PHASE_SAVE,       /* start one save per family */
	PHASE_SAVING,     /* the saves run */
	PHASE_PARSE,      /* group the saves' lines by chain */
	PHASE_APPLY,      /* apply: confirm each binding (dump or saves), answer */
	PHASE_RECORD,     /* after a confirmation by dump: fingerprints from the saves */
	PHASE_COMPARE,    /* verification: compare with what was recorded */
	PHASE_BISECT,     /* a restore failed: split, or fail the bindings */
	PHASE_DONE,       /* freed by batch_advance() */
};

/* netd's hooks (rules_hook_lines()) as a save showed them: each must be
 * there exactly once, first in its built-in chain. */
#define FILTERS_HOOKS 4
struct hooks_seen {
	unsigned n;                     /* hooks of the family */
	unsigned count[FILTERS_HOOKS];  /* copies of each */
	bool missing, duplicated, not_first;
	bool ok;
};
struct chain_lines;

/* Half of a failed batch, queued to be tried on its own. The two halves
 * of one split share pair; second is the one tried last. */
struct retry_group {
	struct binding **v;
	unsigned n;
	unsigned pair;
	bool second;
};

/* Stages of building a batch's restore inputs (PHASE_RENDER). */
/* R_DISPADD: the dispatch lines a batch adds (families changed line by line). */
enum { R_HEAD, R_DECLS, R_DELETES, R_RULES, R_DISPATCH, R_DISPADD, R_TAIL, R_DONE };

struct batch {
	struct filters *f;
	enum phase phase;
	bool verify;               /* a verification, not an apply */
	bool record;               /* a record: saves for the fingerprints of earlier applies */
	bool disp_full[NFAM];      /* its input rewrites the dispatch chains whole */
	struct item *items;
	unsigned n;
	bool fam[NFAM];
	unsigned running;
	struct job *jobs[NFAM];    /* the run of each family, while it runs */
	int status[NFAM];
	char *err[NFAM];
	char *save[NFAM];
	struct strbuf input[NFAM]; /* RENDER: each family's restore input */
	unsigned rstage, rcursor;  /* RENDER: the stage, the next item */
	struct binding *rnext;     /* RENDER, R_DISPATCH: the next binding */
	bool hooks_only[NFAM];     /* the input only puts the hooks right */
	unsigned pair;             /* a half of a bisection: see struct retry_group */
	bool second;
	bool hook_deletes[NFAM];   /* its input deletes hooks the last save showed */
	/* Restores that exited 0 and must have committed (their input
	 * adds, inserts or deletes something); those whose input only
	 * declares chains may have committed nothing (see batch_render()),
	 * and count in restores_maybe instead. */
	unsigned restores;
	unsigned restores_maybe;
	bool decls_only[NFAM];     /* that family's input only declares chains */
	bool gen_short;            /* the generation moved less than they should have */
	bool gen_known;            /* gen_start read when the batch started */
	uint32_t gen_start;
	bool unconfirmed;          /* something written is not in the kernel */
	bool gen_chain;            /* the generation moved by our runs alone so far */
	uint32_t gen_expect;       /* what it should be now */
	/* CONFIRM: the restores were confirmed without a save (see enum
	 * phase); APPLY answers from live[], RECORD follows the saves. */
	bool live_ok;
	bool confirm_started;
	int dump_fam;              /* CONFIRM: the family being dumped (NFAM: all done) */
	struct nft_chain_dump *dump;
	void *live[NFAM];          /* CONFIRM: the chains looked for, seen or not (confirm.c) */
	unsigned cursor;           /* CONFIRM, APPLY, RECORD, COMPARE: the next item */
	unsigned n_ok, n_dirty;    /* COMPARE: intact, to re-apply */
	bool compare_failed;       /* COMPARE: a save is missing */
	bool cmp_started;
	struct binding *cmp_next;  /* COMPARE: the next binding */
	char now[32];
	void *trees[NFAM];         /* PARSE: struct chain_lines by name */
	const char *parse_pos[NFAM]; /* PARSE: where each save's parse is (NULL: done) */
	struct chain_lines *parse_last[NFAM];
};

struct netdev_state;

struct filters {
	struct ev_loop *loop;
	struct store *store;
	struct links *links;
	struct rules_defs *defs;
	char *filter_dir;          /* where DefineFilter writes (define.c) */
	unsigned timeout_ms;
	const struct job_ops *job_ops;
	const struct nft_ops *nft_ops;
	void *by_port;             /* tree of struct binding */
	struct binding_list all;
	/* The dirty bindings of f->all, in the order they became dirty:
	 * a flush takes them from here (at 1,000 bindings a walk of f->all
	 * for them was a tenth of the CPU netd spent on a lone BindFilter).
	 * Kept by binding_set_dirty() and binding_move_to_netdev(). */
	struct binding_list dirty;
	uint64_t next_seq;
	unsigned nbindings;
	/* Bindings (of both backends) with dirty set: 0 lets the loop's
	 * flush skip walking all of them every iteration (at 10,000
	 * bindings, 7 % of a start's CPU). Kept by binding_set_dirty(). */
	unsigned ndirty;
	/* The bindings of f->all (the *tables backend) by state, and those
	 * of them still learning their address (not being removed): what
	 * GetStatus says, kept by binding_count() so that a GetStatus does
	 * not walk every binding (7 % of netd's CPU under B5). */
	unsigned nstate[B_REMOVING + 1];
	unsigned nlearning;

	struct batch *batch;       /* the one running */
	/* Groups of bindings split off a failed batch, tried before new work. */
	struct retry_group *retry;
	unsigned nretry;

	bool root_dirty[NFAM];     /* dispatch chains or hooks need rewriting */
	bool hooks_ok[NFAM];       /* hooks seen in the last save, once each and first */
	struct hooks_seen hooks[NFAM]; /* what that save showed */
	uint64_t hook_drift;       /* saves that found the hooks wrong */
	char hook_drift_last[160]; /* what the last of them found */
	char last_resync[32];      /* when the last Resync was answered, "" if none */
	/* How the Resync being answered verified, and the last one did:
	 * "generation" (verify_resync_by_generation(): no save) or "save". */
	bool resync_by_generation;
	const char *last_resync_by;  /* static; "" if none */
	uint64_t resyncs_by_generation;
	unsigned last_resync_skipped, last_resync_reapplied;
	/* Failing batches back off: the next non-bisection batch waits until
	 * backoff_until (µs); reset by a batch that succeeds. */
	unsigned backoff_ms;
	uint64_t backoff_until;
	ev_timer backoff_timer;
	uint64_t failed_batches;
	/* Bisection: the pair of halves being tried, and whether the first
	 * failed (then its halves are the last two queued groups). */
	unsigned pair_next;
	unsigned first_failed_pair;
	bool first_failed_split;
	char root_norm[NFAM][65];
	bool dispatch_ok[NFAM];    /* the dispatch chains matched root_norm at the last save */
	bool verify_wanted;        /* run a verification (start, Resync) */
	struct waiter *resync_waiters;  /* answered when verified and re-applied */
	unsigned resync_skipped, resync_reapply;
	bool ready;
	bool stopping;             /* filters_free(): callers hear OUTCOME_SHUTDOWN */
	unsigned filter_errors;
	uint64_t gather_since;     /* first deferral of the pending batch, µs */
	unsigned gather_n;         /* pending bindings at the last look */
	unsigned last_batch_n;     /* bindings the last apply carried */
	ev_timer gather_timer;
	ev_check work_check;       /* settles the running batch step by step */
	ev_idle work_idle;         /* keeps the poll from blocking meanwhile */
	ev_idle trim_idle;         /* a big batch's memory back to the system */

	uint64_t restore_runs, save_runs, batches, applied, skipped, failed_applies;
	size_t save_len[NFAM];     /* each family's last save printed, bytes */

	/* The dispatch chains: where disp_known, each binding's disp says
	 * what they hold, so a batch adds and deletes its own lines instead
	 * of rewriting them whole (10,000 lines at 5,000 bindings). Exact
	 * (nobody else changed nf_tables since netd wrote them) while
	 * disp_gen_ok and the generation is disp_gen. */
	bool disp_known[NFAM];
	bool disp_gen_ok[NFAM];
	uint32_t disp_gen;
	/* Applies confirmed by the dumps leave their fingerprints to one
	 * record (a save per family) once no batch has run for
	 * record_idle_us, or record_max_us after the first of them. */
	bool record_fam[NFAM];
	uint64_t record_since;     /* the first apply waiting for a record, µs; 0: none */
	uint64_t last_batch_end;   /* µs */
	uint64_t record_idle_us, record_max_us;
	ev_timer record_timer;
	uint64_t records, records_preempted;

	/* How the bindings touched by calls were before the store transaction
	 * undo_txn, to undo them if it fails (bindings_storage_failed()). */
	struct bundo *undo;
	uint64_t undo_txn;

	bool gen_usable;           /* all six tools are nf_tables variants */
	char kernel_id[96];        /* boot_id/netns: where a generation means something */
	bool mark_valid;           /* the kernel matched every fingerprint at mark */
	uint32_t mark;
	bool verified_by_generation; /* the start needed no save */
	unsigned start_renders;      /* bindings the start rendered (the rest: inputs.c) */

	struct binding_list netdev_all; /* the bindings netdev.c holds */
	struct netdev_state *netdev;    /* its batches, listings, counters */

	TAILQ_HEAD(, list_job) lists;   /* ListBindings being encoded (list.c) */
	uint64_t learned;               /* addresses learned since start (learn.c) */
};

/* --- bindings.c --- */

/* Free the undo records (filters_free). */
void bindings_undo_clear(struct filters *f);

/* The binding on port, or NULL. */
struct binding *binding_find(struct filters *f, const char *port);
/* A new, empty binding on port, in the tree and the list; NULL without
 * memory. */
struct binding *binding_new(struct filters *f, const char *port);
/* Remove b; its waiters hear OUTCOME_NO_BINDING. */
void binding_free(struct filters *f, struct binding *b);
/* Render b with the current definitions: 0, or -errno with *ret_error
 * (may stay NULL) explaining; b->want is unchanged then. */
int binding_render(struct filters *f, struct binding *b, char **ret_error);
/* Take b out of f's counts of bindings by state (sign -1) or put it in
 * again (+1): around every change of b's state, learning or list once
 * b is in f->all; a binding of f->netdev_all is not counted. */
void binding_count(struct filters *f, const struct binding *b, int sign);
/* b->state = state, keeping f's counts (binding_count()). */
void binding_set_state(struct filters *f, struct binding *b, enum bstate state);
/* Count every binding again (after bindings_load(), which sets states
 * directly). */
void bindings_recount(struct filters *f);
/* Set or clear b's dirty flag, keeping f->ndirty: the only writer of
 * b->dirty. */
void binding_set_dirty(struct filters *f, struct binding *b, bool dirty);
/* Move b from f->all (and f->dirty) to f->netdev_all, out of the counts
 * by state: see netdev_adopt(). */
void binding_move_to_netdev(struct filters *f, struct binding *b);
/* Free b's rendered restore text, keeping its hash, chain names and
 * which chains it has: an applied binding needs only those, and the text
 * was a third of netd's memory at 10,000 bindings. */
void binding_drop_text(struct binding *b);
/* Make sure b's restore text (nft: its nft text) is there: rendered
 * again if binding_drop_text() freed it or the start took its stored
 * rendering (inputs.c); the same text for the same definitions. Should
 * the hash come out different from the one b had, b is dirty again (what
 * a batch took carries the old hash). 0, or -errno (logged) with b
 * unchanged. */
int binding_need_text(struct filters *f, struct binding *b);
/* --- inputs.c --- */

struct store_binding_row;

/* b's input hash (db/010) with params, the canonical text of its
 * parameters: 0 and out; -EINVAL when b has none (it learns its address:
 * it holds the learning rules), -ENOENT (its filter is unknown), -ENOMEM. */
int binding_input_hash(struct filters *f, const struct binding *b, const char *params, char out[65]);
/* b was just rendered: note its input hash ("" when it has none). */
void binding_inputs_note(struct filters *f, struct binding *b);
/* The chains of b's rendering as stored (db/010's chains). */
unsigned binding_chain_bits(const struct binding *b);
/* At load: if row's input hash is what b's inputs give now, b takes
 * row's rendering hash and chains as its rendering, without text (see
 * binding_need_text()): true. false: b must be rendered. */
bool binding_take_stored(struct filters *f, struct binding *b, const struct store_binding_row *row);

/* The canonical text of b's parameters (compact, keys sorted; malloc'd,
 * NULL without memory): what its row stores and what its input hash
 * covers (inputs.c), made here alone so that the two always agree. */
char *binding_params_text(const struct binding *b);
/* Write b's row (inside the grouped transaction); failures are logged. */
void binding_store(struct filters *f, const struct binding *b);
/* An audit row of netd's own about b (no caller waits for it): method,
 * result, and outcome (stolen; may be NULL), with b's port, filter and
 * owner as its parameters. Failures are logged. */
void binding_audit(struct filters *f, const struct binding *b, const char *method,
		   const char *result, json_t *outcome);

/* Add a copy of w at the end of *list: 0 or -ENOMEM. */
int waiters_add(struct waiter **list, const struct waiter *w);
/* Move all of *from to the end of *to. */
void waiters_move(struct waiter **to, struct waiter **from);
/* Tell every waiter o (o->port and o->b filled in by the caller). */
void waiters_answer(struct waiter **list, const struct outcome *o);

/* A BindFilter with its parameters checked and made canonical. */
struct bind_req {
	const char *port;
	const char *filter;
	const char *owner;
	json_t *params;   /* canonical; the binding takes its own reference */
	bool nft;         /* the port is a macvtap/macvlan: the netdev backend */
	enum learn_mode learn; /* learn $IP (then params has none), or not */
	struct learner *learner; /* learn: the port's watch (learn_open()), taken */
	const char *learned_at;  /* internal: an address learned before, kept */
};

/*
 * Bind (or re-bind) req->port. A binding that learns (req->learn) and
 * re-binds with the same mode keeps the address it learned (its IP)
 * instead of learning again. Returns 0 when nothing changed (already
 * applied as asked: nothing to run, the caller answers now), 1 when the
 * binding waits for a batch and w (a copy) will be told, or -EPERM
 * (another owner's), -EINVAL (does not render; *ret_error may explain),
 * -EBUSY (the port's binding is held by the other backend: a port of that
 * name of another kind; unbind it first), -ENOMEM.
 */
int bindings_bind(struct filters *f, const struct bind_req *req, const struct waiter *w,
		  char **ret_error);

/* Unbind port for owner: 0 with w to be told once the rules are gone,
 * -ENOENT, -EPERM, or -ENOMEM. */
int bindings_unbind(struct filters *f, const char *port, const char *owner,
		    const struct waiter *w);

/* Load the bindings and the dispatch chains' fingerprints from the
 * store: 0 or -errno. Asks nothing of the links. */
int bindings_load(struct filters *f);
/* Once the links are ready: bindings whose ports went while netd was
 * down are removing, learning bindings watch their ports, every binding
 * is counted. */
void bindings_check_ports(struct filters *f);

/* Render every binding again (new definitions): the number whose
 * rendering changed (they are pending again). */
unsigned bindings_rerender(struct filters *f);

/* A reload's new set d (taking it; nerrors files refused) put in force
 * (define.c): filters whose files were refused keep their previous
 * definition (*ret_kept of them), every binding is rendered again, the
 * reload is logged (the caller's netd.Reload row audits it). The number
 * of bindings changed. */
unsigned define_reload(struct filters *f, struct rules_defs *d, unsigned nerrors, size_t *ret_kept);

/* --- batch.c --- */

/* Set up and stop the work watcher that runs the batch's slices. */
void batch_work_init(struct filters *f);
void batch_work_stop(struct filters *f);

/* Start an apply of these bindings as f->batch. */
void batch_start_apply(struct filters *f, struct binding **v, unsigned n);
/* Start a verification (every family's save) as f->batch. */
void batch_start_verify(struct filters *f);
/* A new batch with room for n items, NULL without memory. */
struct batch *batch_new(struct filters *f, unsigned n);
/* Start an apply of these bindings as f->batch; pair and second: see
 * struct retry_group (0 and false for a batch that is no half). */
void batch_start_group(struct filters *f, struct binding **v, unsigned n, unsigned pair,
		       bool second);

/* --- confirm.c --- */

/* After an apply's restores exited 0: can they be confirmed without a
 * save (nf_tables tools, the generation known at the start)? */
bool confirm_possible(struct filters *f, const struct batch *bt);
/* A slice of CONFIRM: true when it is over; then bt->live_ok says
 * whether every chain written is in the kernel as the dumps show. */
bool confirm_step(struct filters *f, struct batch *bt);
/* A slice of RECORD: fingerprints from the saves, a binding they do not
 * show demoted; true when every item is done. */
bool confirm_record_step(struct filters *f, struct batch *bt);
/* After the saves of an apply are parsed: the dispatch chains and the
 * hooks must be there as written; then their fingerprints are recorded.
 * If not, they stay to be rewritten (after the back-off). */
void confirm_record_roots(struct filters *f, struct batch *bt);
/* Did the dump of family fam show chain name (one of the batch's or a
 * dispatch chain)? */
bool confirm_live_has(const struct batch *bt, int fam, const char *name);
/* Free what confirm kept of a dump (bt->live[]); accepts NULL. */
void confirm_live_free(void *set);
/* APPLY of a batch confirmed by the dumps is over: its fingerprints
 * wait for a record (see confirm.c). */
void confirm_record_later(struct filters *f, struct batch *bt);
/* Is a record waiting? */
bool confirm_record_pending(const struct filters *f);
/* Start a record (the saves that fingerprint earlier applies) as f->batch. */
void confirm_start_record(struct filters *f);
/* The end of a confirmed apply: if the generation moved by our runs
 * alone and everything was confirmed, the kernel matches the
 * fingerprints (the checkpoint). */
void confirm_record_checkpoint(struct filters *f, struct batch *bt);

/* --- dispatch.c --- */

/* Does family fam of bt change the dispatch chains line by line (else
 * it rewrites them whole)? Decided when its input starts. */
bool dispatch_incremental(const struct filters *f, const struct batch *bt, enum rules_family fam);
/* Does a family of bt rewrite them whole (its R_DISPATCH stage)? */
bool dispatch_any_full(const struct batch *bt);
/* Item it's dispatch lines of fam that go ("-D", !adds: before its
 * chains are deleted) or come ("-A", adds: after they are declared). */
void dispatch_put_item(struct strbuf *m, struct item *it, enum rules_family fam, bool adds);
/* bt's restores committed: the dispatch chains hold what they wrote;
 * exact: the generation moved by them alone. */
void dispatch_commit(struct filters *f, struct batch *bt, bool exact);
/* nf_tables moved from generation before to before + 1 by a run of netd's
 * own that left the dispatch chains alone (the netdev backend's nft -f):
 * if they were exact at before, they still are. */
void dispatch_own_run(struct filters *f, uint32_t before);
/* What the chains of bt's families (all: bt NULL) hold is unknown. */
void dispatch_forget(struct filters *f, const struct batch *bt);
/* Can a save of fam be trusted to show the dispatch chains as netd wrote
 * them (gen_still: the generation is still f->disp_gen)? */
bool dispatch_exact(struct filters *f, enum rules_family fam, bool gen_still);

/* --- bisect.c --- */

/* Set up the back-off timer. */
void batch_backoff_init(struct filters *f);
/* A batch failed / succeeded: the back-off grows / is reset. */
void batch_backoff(struct filters *f, bool failed);

/* A Resync asked for (bisect.c): a verification next, and the back-off of
 * a failed or unconfirmed batch waived, so that what it finds wrong is
 * repaired before its answer (an admin asking is not a tool failing in a
 * loop; a repair that fails again backs off longer). */
void batch_resync_begin(struct filters *f);
/* PHASE_BISECT: bt's restores failed: split it, or fail its bindings. */
void batch_bisect(struct filters *f, struct batch *bt);
/* Start the first group of a bisection, if one is queued: true if so. */
bool batch_start_retry(struct filters *f);
/* One slice of building the restore input of each family of bt
 * (batch-input.c): true when it is complete, false when the iteration's
 * budget ran out first. */
bool batch_render_slice(struct filters *f, struct batch *bt);

/* Drive bt as far as it goes now; bt may be freed on return. */
void batch_advance(struct batch *bt);
/* Stop bt at once: its runs are cancelled, its callers wait with their
 * bindings again, and bt is freed. */
void batch_cancel(struct batch *bt);
/* Forget the queued bisection groups. */
void batch_retry_clear(struct filters *f);

/* --- verify.c --- */

/* Group save output by chain into *tree from *pos on; false when the
 * iteration's budget ran out first (call again with the same pos and
 * last), true at the end (*pos NULL). */
bool chains_parse_step(void **tree, const char **pos, struct chain_lines **last);
/* Free a tree of chains. */
void chains_free(void *tree);
/* Fingerprint of b's chains, of netd's dispatch chains ("" if none). */
void chains_binding_norm(void **tree, const struct binding *b, char out[65]);
void chains_root_norm(void **tree, char out[65]);
struct strbuf;
/* Look at the built-in chains of a parsed save. */
void chains_hooks_check(void **tree, enum rules_family fam, struct hooks_seen *ret);
/* Restore lines that leave each hook once, at the top of its chain,
 * from the state seen (every copy deleted, then inserted first). */
void chains_hooks_repair(struct strbuf *m, enum rules_family fam, const struct hooks_seen *seen);
/* What is wrong, in words ("" if nothing). */
const char *chains_hooks_problem(const struct hooks_seen *seen);
/* Are the chain declared in a parsed save? */
bool chains_present(void **tree, const char *name);

/* netd's hooks of family fam as a save's chains (tree) show them: when
 * they are wrong (missing, duplicated, behind a foreign rule, where netd
 * has dispatch chains), that is drift: logged, counted, audited (once,
 * however many saves see it before its repair), and the family's
 * dispatch chains and hooks marked for rewriting. true then. */
bool verify_hooks_drift(struct filters *f, enum rules_family fam, void **tree);
/* Find out whether the generation can be used (the tools, the kernel). */
void verify_gen_init(struct filters *f);
/* An apply starts changing the kernel / ended: see verify.c. */
void verify_gen_begin(struct filters *f, struct batch *bt);
void verify_gen_check(struct filters *f, struct batch *bt);
/* After an apply's restores: did the generation move by at least one per
 * restore that must have committed (bt->restores; when it can be read)?
 * Sets bt->gen_short if not. */
void verify_gen_confirm(struct filters *f, struct batch *bt);
/* After an apply's restores: did the generation move by exactly one per
 * restore that must have committed, none for those that may have
 * committed nothing, and none by anyone else? */
bool verify_gen_exact(struct filters *f, const struct batch *bt);
/* Is the generation g now (false when it cannot be read)? */
bool verify_gen_is(struct filters *f, uint32_t g);
/* The kernel matches every recorded fingerprint at generation g. */
void verify_mark_set(struct filters *f, uint32_t g);
/* A verification starts: remember the generation, drop the mark. */
void verify_begin(struct filters *f, struct batch *bt);
/* A verification's saves are parsed: compare, mark what to re-apply, a
 * slice of the bindings per call; true when all are done. */
bool verify_compare_step(struct filters *f, struct batch *bt);
/* At start: true if the checkpoint shows the kernel untouched, so no
 * verification is needed. */
bool verify_from_checkpoint(struct filters *f);
/* A Resync (the caller waits in f->resync_waiters): true if it needs no
 * save because nf_tables is still at the generation of netd's checkpoint
 * (the kernel holds exactly what netd fingerprinted: any change, a flush
 * or a deleted chain, moves it), nothing runs or waits, and every binding
 * is applied as recorded: every binding counted skipped, audited as a
 * verification by "generation", answered by filters_answer_resync(). */
bool verify_resync_by_generation(struct filters *f);

/* --- nftgen.c --- */

struct nft_chain_dump;

/* What the filters ask nf_tables. The real table is nftgen_ops;
 * filters_config.nft_ops replaces it (unit tests). */
struct nft_ops {
	/* The nf_tables ruleset generation of this network namespace: a
	 * counter the kernel bumps with every committed change to any
	 * nf_tables table (which is where the nft variants of ebtables,
	 * iptables and ip6tables keep their rules). One request and its
	 * answer; the kernel answers at once. 0 or -errno. */
	int (*gen)(uint32_t *ret_gen);
	/* Start a dump of the names of the chains of family fam's table
	 * "filter" (names only, no rules): 0 and *ret, or -errno. */
	int (*chains_open)(enum rules_family fam, struct nft_chain_dump **ret);
	/* Read on: fn(data, name) for each chain. 1 at the end, 0 when the
	 * iteration's budget ran out first (call again, from a later
	 * iteration), -errno. */
	int (*chains_read)(struct nft_chain_dump *d, void (*fn)(void *data, const char *name),
			   void *data);
	/* Close a dump, ended or not; accepts NULL. */
	void (*chains_close)(struct nft_chain_dump *d);
	/* Are these chains (at most NFT_GET_MAX) in family fam's table
	 * "filter"? seen[i] for names[i]; one request each, sent together,
	 * answered at once: for a batch of a few bindings, instead of a
	 * dump of every chain. 0 or -errno. NULL: always the dump. */
	int (*chains_have)(enum rules_family fam, const char *const *names, unsigned count,
			   bool *seen);
};

/* The most chains confirm.c asks chains_have() about in one family:
 * beyond, it dumps the names. */
#define NFT_GET_MAX 64

extern const struct nft_ops nftgen_ops;

/* --- netdev.c --- */

/* Set up the backend (after the bindings are loaded and the checkpoint
 * looked at): 0 or -ENOMEM. */
int netdev_init(struct filters *f);
/* Cancel what runs and free the state (filters_free). */
void netdev_free(struct filters *f);
/* Move new binding b (no rules yet) to the netdev backend. */
void netdev_adopt(struct filters *f, struct binding *b);
/* Render b for table netdev netd: as binding_render(). */
int netdev_render(struct filters *f, struct binding *b, const struct rules_params *p,
		  char **ret_error);
/* Start the next netdev batch or verification if one is due: true if one
 * runs (then nothing else may start). */
bool netdev_flush(struct filters *f, bool more_coming);
/* Nothing running, wanted or dirty in the netdev backend. */
bool netdev_idle(const struct filters *f);
/* A Resync: verify the netdev table too. */
void netdev_resync(struct filters *f);
/* GetStatus counters of the backend. */
void netdev_status(const struct filters *f, json_t *reply);

/* --- netdev-list.c --- */

/* The chains of `nft list table` output by name, into *ret (a tree
 * pointing into out, which must outlive it): 0 or -ENOMEM. */
int netdev_list_parse(const char *out, void **ret);
/* port's fingerprint from a parsed listing ("" without memory); whether
 * both its base chains are there. */
bool netdev_list_norm(void **tree, const char *port, char out[65]);
/* Whether any of port's chains is listed. */
bool netdev_list_any(void **tree, const char *port);
/* Free a parsed listing; accepts NULL. */
void netdev_list_free(void *tree);

/* --- list.c --- */

struct ctl_call;

/* Bindings a ListBindings reply encodes per loop iteration. */
#define BINDINGS_LIST_STEP 128
/* A listed binding's reply object, bytes, as reserved ahead: 350 for
 * clean-traffic with an IP, more with more parameters. */
#define BINDINGS_LIST_BYTES 512

/* A list is done with b (b->listed was taken): frees b if it was
 * removed meanwhile. */
void binding_unlist(struct binding *b);

/* What a binding's reply says. Filled by binding_view_fill(), its
 * strings and params are the binding's (borrowed). */
struct binding_view {
	char port[16];
	char *filter, *owner, *error;
	json_t *params;
	const char *state;         /* static */
	char hash[65];             /* "" if not rendered */
	bool applied;
	unsigned fams;             /* bit i: family i has rules */
	bool netdev;               /* rules in table netdev netd */
	bool nft;
	char created[32], applied_at[32];
	const char *learning;      /* static: "dhcp", "any", NULL: it does not learn */
	char learned_at[32];       /* "" while learning */
};

/* Fill v from b, borrowing b's strings; verified: the kernel has been
 * checked since the start (until then no binding is said applied). */
void binding_view_fill(struct binding_view *v, const struct binding *b, bool verified);
/* A binding's reply object, or NULL without memory. */
json_t *binding_view_json(const struct binding_view *v);

/* What encoding many views in a row reuses: one reply object, its
 * members replaced for each view (building and dumping an object per
 * binding was most of a long list's cost), and the families arrays. */
struct view_encoder {
	json_t *obj;
	json_t *fams[1u << (NFAM + 1)]; /* by mask: a bit per family, netdev's last */
};
/* Append v's reply object, as binding_view_json() gives it, to s as
 * compact JSON (s->oom without memory). */
void view_encode(struct view_encoder *e, const struct binding_view *v, struct strbuf *s);
/* Free what e holds (it may be used again). */
void view_encoder_done(struct view_encoder *e);
/* A tool's message (at most len bytes of s) as a binding keeps it
 * (malloc'd, NULL without memory): as it is if it is UTF-8, else each
 * byte past ASCII as '?', since jansson takes no other string and the
 * message goes into replies and audit rows. */
char *filters_message(const char *s, size_t len);
/* Answer call with the bindings of owner (NULL: all), copied now and
 * encoded over loop iterations. */
void filters_list_start(struct filters *f, struct ctl_call *call, const char *owner);
/* Free the lists still being encoded (filters_free). */
void filters_lists_free(struct filters *f);

/* --- learn.c --- */

struct learner;

/* Open the watch of port for mode (not LEARN_NONE): a packet socket on
 * its ifindex with the mode's BPF program, not yet read. 0 and *ret,
 * -ENODEV (no such port), -EPERM (no CAP_NET_RAW), -errno. */
int learn_open(struct filters *f, const char *port, enum learn_mode mode, struct learner **ret);
/* Start reading l for b (b->learner = l). */
void learn_attach(struct filters *f, struct binding *b, struct learner *l);
/* Stop and free l; accepts NULL; returns NULL. */
struct learner *learn_close(struct learner *l);
/* Is b still learning its address (it holds the learning rules)? */
bool learn_pending(const struct binding *b);
/* Open or close b's watch as its state wants (learning and not being
 * removed: open); an open that fails is logged, b keeps its rules. */
void learn_sync(struct filters *f, struct binding *b);

/* --- filters.c --- */

/* Answer Resync callers if nothing is left to do. */
void filters_answer_resync(struct filters *f);
/* A Resync: w (copied) hears the outcome once the kernel is verified and
 * what differed re-applied; at once when the nf_tables generation shows
 * nothing changed (verify_resync_by_generation()), unless full (the saves
 * and the comparison all the same). 0, or -ENOMEM (nothing started). */
int filters_resync_start(struct filters *f, bool full, const struct waiter *w);

#endif
