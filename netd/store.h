/*
 * store.h: netd's SQLite database, the only module that includes sqlite3.h.
 *
 * The schema lives in db/NNN_*.sql, compiled in, applied in order, each in
 * its own transaction, tracked by PRAGMA user_version. Writes made while
 * handling events are grouped: the first write opens a transaction and the
 * loop commits it once per iteration (store_commit), before any reply that
 * depends on it leaves the process. A transaction that fails (a full
 * disk, an I/O error, a read-only file) is rolled back as a whole and
 * reported once by store_commit(); writers note its number (store_txn())
 * to undo what they did in it.
 */
#ifndef NETD_STORE_H
#define NETD_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct store;

/* 'netd' as a big-endian integer, in PRAGMA application_id. */
#define STORE_APPLICATION_ID 0x6e657464

/*
 * Open (creating if missing) and migrate the database at path. A file that
 * is not SQLite, an SQLite database that is not netd's, or a netd database
 * from a newer schema is refused: -EINVAL / -EPROTO with *ret_error (caller
 * frees) explaining; nothing in the file is changed then.
 */
int store_open(const char *path, struct store **ret, char **ret_error);

/* Commit what is pending and close. Accepts NULL; returns NULL. */
struct store *store_close(struct store *s);

/* Schema version of the open database, and the newest this build knows. */
int store_version(const struct store *s);
int store_latest_version(void);

/* Open the grouped write transaction if none is open. */
int store_begin(struct store *s);

/*
 * Settle the grouped transaction: commit it if one is open. 0, or -errno
 * (-ENOSPC for SQLITE_FULL, -EACCES for READONLY, -EIO, -EBUSY...) when it
 * failed, on a write or on the COMMIT: then it is rolled back, whatever
 * was written since the last settle is lost, and the failure counts in
 * store_failures() with its reason in store_failure_reason(). Between a
 * failed write and this settle every write is refused with that error (an
 * iteration's writes are all or nothing). Reads work throughout; the next
 * write opens a fresh transaction.
 */
int store_commit(struct store *s);

/* The number of the grouped transaction now open or next to open: a
 * writer notes it to know, when a settle fails, whether its writes were in
 * the failed transaction (its number is store_txn() read before that
 * store_commit()). */
uint64_t store_txn(const struct store *s);

/* True between a failed write and the settle (store_commit()). */
bool store_failed(const struct store *s);

/* True while the grouped transaction is open (something was written in
 * this loop iteration). */
bool store_in_txn(const struct store *s);

/* Bound the database file to pages pages (PRAGMA max_page_count, this
 * connection only): a full disk, for tests. 0 or -EIO. */
int store_limit_pages(struct store *s, unsigned pages);

/* Failed transactions so far, and the reason of the last ("" if none). */
uint64_t store_failures(const struct store *s);
const char *store_failure_reason(const struct store *s);

struct store_peer {
	uid_t uid;
	gid_t gid;
	pid_t pid;
	const char *comm; /* process name at connect time; NULL: unknown */
	const char *unit; /* systemd unit at connect time; NULL: none */
};

/*
 * Append one audit row (inside the grouped transaction). params and detail
 * are JSON texts; detail may be NULL. result is "ok" or an error name.
 */
int store_audit_append(struct store *s, const struct store_peer *peer,
		       const char *method, const char *params,
		       const char *result, const char *detail);

/* The same with outcome, a JSON text saying what the call or event did
 * (NULL: nothing more than result). */
int store_audit_append_outcome(struct store *s, const struct store_peer *peer,
			       const char *method, const char *params, const char *result,
			       const char *detail, const char *outcome);

/*
 * A row of netd's own (an event no call asked for: a port gone, an
 * asynchronous failure, a reload, a start-up repair): the peer is netd
 * itself (its uid, gid, pid, comm "netd"). params and outcome are JSON
 * texts (params NULL: "null"); result "ok" or what failed.
 */
int store_audit_event(struct store *s, const char *method, const char *params,
		      const char *result, const char *outcome);

/* Number of audit rows. */
int store_audit_count(struct store *s, int64_t *ret);

/* The lowest and highest audit row ids; -ENOENT when there is none. Cheap
 * (the primary key): rows are only ever deleted from the head, so there
 * are *ret_hi - *ret_lo + 1 of them. */
int store_audit_span(struct store *s, int64_t *ret_lo, int64_t *ret_hi);

/* The highest id among the oldest limit rows that is older than days
 * days; 0 if none is. */
int store_audit_old_head(struct store *s, unsigned days, unsigned limit, int64_t *ret);

/* Delete the audit rows with id <= last (inside the grouped transaction;
 * the oldest rows only, the newest never: see db/005). Returns how many. */
int store_audit_prune(struct store *s, int64_t last);

/* --- links and names (db/002_links.sql); writes join the grouped
 * transaction --- */

struct store_link_row {
	const char *name;
	int ifindex;
	const char *kind;    /* "macvtap", "macvlan" */
	const char *mode;    /* "bridge", "vepa", "private", "passthru" */
	const char *parent;
	const char *mac;     /* NULL until known */
	const char *owner;
	const char *state;   /* "creating", "present", "deleting" */
	const char *created; /* NULL: now */
	uint64_t op;         /* the unanswered call it belongs to, 0: none (db/006) */
};

/* Insert or replace the row of row->name. */
int store_link_put(struct store *s, const struct store_link_row *row);

int store_link_delete(struct store *s, const char *name);

/* The call op was answered: its rows no longer belong to it (op NULL),
 * in the transaction that carries its reply. */
int store_links_settle(struct store *s, uint64_t op);
/* The intent of deleting the links named (up to STORE_MARK_MAX), as op,
 * in two statements: their rows 'deleting' with op, their names
 * 'releasing'. -ESTALE (after the first statement) unless every row was
 * present and in no call: write those rows whole then. */
#define STORE_MARK_MAX 64
int store_links_mark_deleting(struct store *s, uint64_t op, const char *const *names, unsigned n);

/* Insert or replace the row of (prefix, idx); state "owned", "foreign" or
 * "releasing". */
int store_name_put(struct store *s, const char *prefix, unsigned idx, const char *name,
		   const char *state);
int store_name_delete(struct store *s, const char *prefix, unsigned idx);

/* Call fn for every row; the row's strings live until fn returns. */
typedef void (*store_link_fn)(void *userdata, const struct store_link_row *row);
int store_links_foreach(struct store *s, store_link_fn fn, void *userdata);
typedef void (*store_name_fn)(void *userdata, const char *prefix, unsigned idx,
			      const char *name, const char *state);
int store_names_foreach(struct store *s, store_name_fn fn, void *userdata);

/* --- filter bindings (db/003_filters.sql) --- */

struct store_binding_row {
	const char *port;
	const char *filter;
	const char *owner;
	const char *parameters;   /* JSON */
	const char *desired_hash;
	const char *applied_hash; /* "" if never applied */
	const char *norm[3];      /* eb, ip4, ip6: "" where none */
	const char *state;        /* "pending", "applied", "failed", "removing" */
	const char *error;        /* NULL unless failed */
	const char *created;      /* NULL: now */
	const char *applied;      /* time of the last apply, NULL if none */
	const char *backend;      /* "xtables" or "nftables" (db/008); NULL: "xtables" */
	const char *nft_norm;     /* nftables: fingerprint of its chains; NULL: "" */
	const char *learning;     /* "", "dhcp", "any" (db/009); NULL: "" */
	const char *learned_at;   /* when its address was learned; NULL: not (yet) */
	const char *input_hash;   /* what desired_hash was rendered from (db/010); NULL: "" */
	unsigned chains;          /* the chains of that rendering (db/010 says which bit) */
};

int store_binding_put(struct store *s, const struct store_binding_row *row);
int store_binding_delete(struct store *s, const char *port);
typedef void (*store_binding_fn)(void *userdata, const struct store_binding_row *row);
int store_bindings_foreach(struct store *s, store_binding_fn fn, void *userdata);

/* The fingerprint of netd's dispatch chains in family ("eb", "ip4", "ip6"). */
int store_root_put(struct store *s, const char *family, const char *norm);
typedef void (*store_root_fn)(void *userdata, const char *family, const char *norm);
int store_roots_foreach(struct store *s, store_root_fn fn, void *userdata);

/* Frames in the write-ahead log after the last commit. The store never
 * checkpoints the WAL by itself (that would stall a commit); the WAL
 * helper process (below) runs store_wal_checkpoint_file() when this grows. */
unsigned store_wal_frames(const struct store *s);

/* A PASSIVE checkpoint of the database at path, on a connection of its
 * own: for the WAL helper process. 0 or -EIO (the reason on stderr). */
int store_wal_checkpoint_file(const char *path);

/* --- the WAL helper (store-wal.c): a child process that checkpoints the
 * WAL off the loop --- */

struct ev_loop;
struct store_wal;

/*
 * Fork the WAL helper for the database at db_path and watch its answers
 * in loop. Call it BEFORE store_open() in this process: an SQLite
 * connection must not cross a fork. The helper keeps no descriptor but
 * its socket. -errno if it cannot be started (the daemon then runs
 * without: the WAL is checkpointed at close only).
 */
int store_wal_helper_start(struct ev_loop *loop, const char *db_path, struct store_wal **ret);

/* Once s is open: look at the size of its WAL every second and ask the
 * helper for a checkpoint past 1000 frames, one at a time. */
void store_wal_helper_watch(struct store_wal *h, struct store *s);

/* Ask for no more checkpoints (a graceful stop has begun); one already
 * asked for still completes and is counted. */
void store_wal_helper_quiesce(struct store_wal *h);

/* Checkpoints the helper has completed; 0 for NULL (no helper). */
uint64_t store_wal_checkpoints(const struct store_wal *h);

/* Close the helper's socket and wait for it to exit (it finishes a
 * checkpoint in progress first). Accepts NULL; returns NULL. */
struct store_wal *store_wal_helper_stop(struct store_wal *h);

/* The filter checkpoint (see db/004_checkpoint.sql): the nf_tables
 * generation at which the kernel matched every recorded fingerprint, and
 * which kernel boot and namespace that was. get: 0, -ENOENT if none, or
 * -errno. */
int store_checkpoint_put(struct store *s, const char *kernel, uint32_t generation);
int store_checkpoint_clear(struct store *s);
int store_checkpoint_get(struct store *s, char *ret_kernel, size_t size, uint32_t *ret_generation);

#endif
