/*
 * core.c: see core.h.
 *
 * Commits. A database write made while handling an event joins the one
 * grouped transaction (the first write opens it). The prepare watcher,
 * which libev runs once per loop iteration right before it polls, commits
 * that transaction if one is open, and only then sends the kernel requests
 * links and filters queued, then writes the queued replies. So there is at
 * most one commit per iteration and none in an iteration that wrote
 * nothing, and no kernel request leaves before the intent rows describing
 * it are committed. The final replies of mutating calls (whose audit rows
 * and changes are in the transaction) are held by the control server until
 * that commit is settled. A commit that fails (a full disk, an I/O error,
 * a read-only file: on a write or on the COMMIT) is rolled back by the
 * store; then nothing is sent to the kernel, links and filters undo what
 * the calls of that transaction wrote (their queued kernel requests and
 * in-memory changes), and the held replies become io.netd.StorageError.
 * The next write opens a fresh transaction, so the next call after space
 * is back succeeds. Besides these,
 * start-up commits once after reconciling with the kernel (before the
 * socket listens) and store_close() commits what is left at stop.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "audit.h"
#include "budget.h"
#include "core.h"
#include "ctl.h"
#include "filters.h"
#include "job.h"
#include "links.h"
#include "log.h"
#include "safepath.h"
#include "service.h"
#include "spawner.h"
#include "stats.h"
#include "store.h"
#include "util.h"

static int apply_overrides(struct core *c, struct netd_config *cfg)
{
	if (c->overrides.socket_path &&
	    conf_set_string(&cfg->socket_path, c->overrides.socket_path) < 0)
		return -ENOMEM;
	if (c->overrides.db_path && conf_set_string(&cfg->db_path, c->overrides.db_path) < 0)
		return -ENOMEM;
	if (c->overrides.verbose)
		cfg->log_level = LOG_DEBUG;
	return 0;
}

/* Load a fresh configuration into *ret (defaults, file, overrides). */
/* Load the configuration file into ret; on failure, ret_error (if not
 * NULL) gets why (to free). */
static int load_config(struct core *c, struct netd_config *ret, char **ret_error)
{
	struct netd_config cfg;
	_cleanup_free_ char *error = NULL;
	int r;

	r = conf_init(&cfg);
	if (r < 0)
		return r;
	r = conf_load(&cfg, c->config_path, c->config_must_exist, &error);
	if (r < 0) {
		log_error("%s", error ? error : "cannot load the configuration");
		conf_done(&cfg);
		if (ret_error)
			*ret_error = TAKE_PTR(error);
		return r;
	}
	r = apply_overrides(c, &cfg);
	if (r < 0) {
		conf_done(&cfg);
		return r;
	}
	*ret = cfg;
	return 0;
}

int core_load_config(struct core *c)
{
	struct netd_config cfg;
	int r;

	assert(c);
	r = load_config(c, &cfg, NULL);
	if (r < 0)
		return r;
	conf_done(&c->cfg);
	c->cfg = cfg;
	log_set_max_level(c->cfg.log_level);
	return 0;
}

static struct ctl_limits limits_of(const struct netd_config *cfg)
{
	return (struct ctl_limits){
		.max_clients = cfg->max_clients,
		.max_message_size = cfg->max_message_size,
		.max_output_buffer = cfg->max_output_buffer,
		.max_clients_per_uid = cfg->max_clients_per_uid,
		.reserved_clients = cfg->reserved_clients,
		.client_idle_timeout_ms = cfg->client_idle_timeout_ms,
		.max_input_total = cfg->max_input_total,
		.max_connection_buffer = cfg->max_connection_buffer,
	};
}

static struct audit_config audit_config_of(const struct netd_config *cfg)
{
	return (struct audit_config){
		.refusal_burst = cfg->audit_refusal_burst,
		.refusal_interval_ms = cfg->audit_refusal_interval_ms,
		.max_rows = cfg->audit_max_rows,
		.max_days = cfg->audit_max_days,
	};
}

/* Resolve admin_group into the control server. An unknown group (it
 * existed when the file was checked but is gone now) allows root only. */
static void apply_admin_group(struct core *c)
{
	struct group *g;

	if (!c->cfg.admin_group) {
		ctl_server_set_admin_group(c->ctl, false, 0);
		return;
	}
	g = getgrnam(c->cfg.admin_group);
	if (!g) {
		log_warn("admin_group '%s' does not exist, allowing only root to make changes",
			 c->cfg.admin_group);
		ctl_server_set_admin_group(c->ctl, false, 0);
		return;
	}
	ctl_server_set_admin_group(c->ctl, true, g->gr_gid);
}

/* Carry over from the running configuration what only a restart may
 * change, warning about each that the file changed. -ENOMEM if a string
 * cannot be copied (cfg is then to be discarded). */
static int keep_restart_only(const struct core *c, struct netd_config *cfg)
{
	/* The socket and the database are what this process is; moving them
	 * takes a restart. */
	if (!streq(cfg->socket_path, c->cfg.socket_path))
		log_warn("socket '%s': changing the socket path needs a restart, ignoring",
			 cfg->socket_path);
	if (!streq(cfg->db_path, c->cfg.db_path))
		log_warn("database '%s': changing the database path needs a restart, ignoring",
			 cfg->db_path);
	if (cfg->socket_mode != c->cfg.socket_mode)
		log_warn("socket_mode: applies at the next start, ignoring");
	if (!streq(cfg->db_group ? cfg->db_group : "", c->cfg.db_group ? c->cfg.db_group : ""))
		log_warn("db_group: applies at the next start, ignoring");
	cfg->socket_mode = c->cfg.socket_mode;
	if (!streq(cfg->macvtap_prefix, c->cfg.macvtap_prefix) ||
	    !streq(cfg->macvlan_prefix, c->cfg.macvlan_prefix) ||
	    cfg->delete_group != c->cfg.delete_group || cfg->event_rcvbuf != c->cfg.event_rcvbuf)
		log_warn("name prefixes, delete_group and event_rcvbuf apply at the next start, ignoring");
	cfg->delete_group = c->cfg.delete_group;
	cfg->event_rcvbuf = c->cfg.event_rcvbuf;
	cfg->netlink_request_rcvbuf = c->cfg.netlink_request_rcvbuf; /* at start only */
	if (conf_set_string(&cfg->socket_path, c->cfg.socket_path) < 0 ||
	    conf_set_string(&cfg->db_group, c->cfg.db_group) < 0 ||
	    conf_set_string(&cfg->db_path, c->cfg.db_path) < 0 ||
	    conf_set_string(&cfg->macvtap_prefix, c->cfg.macvtap_prefix) < 0 ||
	    conf_set_string(&cfg->macvlan_prefix, c->cfg.macvlan_prefix) < 0)
		return -ENOMEM;
	return 0;
}

/* The audit row of a reload (SIGHUP): result "ok", "partial" (some
 * filter files did not load) or "failed" (the running configuration was
 * kept); outcome (stolen) says what happened. */
static void reload_audit(struct core *c, const char *result, json_t *outcome)
{
	json_t *params = json_pack("{s:s}", "config", c->config_path);
	_cleanup_free_ char *ptext = params ? json_dumps(params, JSON_COMPACT) : NULL;
	_cleanup_free_ char *otext = outcome ? json_dumps(outcome, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	int r;

	json_decref(params);
	json_decref(outcome);
	r = ptext ? store_audit_event(c->store, "netd.Reload", ptext, result, otext) : -ENOMEM;
	if (r < 0)
		log_error_errno(NULL, r, "cannot audit the reload, ignoring");
}

static void reload(struct core *c)
{
	struct netd_config cfg;
	struct ctl_limits limits;
	struct audit_config acfg;
	_cleanup_free_ char *error = NULL;
	json_t *fo;

	log_info("reloading configuration from '%s'", c->config_path);
	service_reloading();
	if (load_config(c, &cfg, &error) < 0) {
		stats.config_reload_errors++;
		log_warn("configuration not reloaded, keeping the running one");
		reload_audit(c, "failed", json_pack("{s:s}", "error",
						    error ? error : "cannot load the configuration"));
		service_notify("READY=1\nSTATUS=configuration not reloaded (see the log), serving with the running one");
		return;
	}
	if (keep_restart_only(c, &cfg) < 0) {
		conf_done(&cfg);
		stats.config_reload_errors++;
		log_warn("configuration not reloaded (out of memory), keeping the running one");
		reload_audit(c, "failed", json_pack("{s:s}", "error", "out of memory"));
		service_notify("READY=1\nSTATUS=configuration not reloaded (out of memory), serving with the running one");
		return;
	}

	conf_done(&c->cfg);
	c->cfg = cfg;
	log_set_max_level(c->cfg.log_level);
	limits = limits_of(&c->cfg);
	ctl_server_set_limits(c->ctl, &limits);
	acfg = audit_config_of(&c->cfg);
	audit_set_config(c->audit, &acfg);
	apply_admin_group(c);
	fo = filters_reload(c->filters, c->cfg.filter_dir);
	stats.config_reloads++;
	reload_audit(c, json_integer_value(json_object_get(fo, "filter_errors")) > 0 ||
			json_object_get(fo, "error") ? "partial" : "ok", fo);
	log_info("configuration reloaded (log_level %s, max_clients %u)",
		 log_level_to_string(c->cfg.log_level), c->cfg.max_clients);
	/* Not READY before the start-up one: that waits for the filters. */
	if (c->ready_sent)
		service_notify("READY=1\nSTATUS=serving (configuration reloaded)");
}

static void begin_stop(struct core *c, const char *why)
{
	if (c->stopping)
		return;
	log_info("%s, stopping", why);
	service_notify("STOPPING=1\nSTATUS=stopping: answering the calls in progress");
	c->stopping = true;
	ctl_server_shutdown(c->ctl);
	links_stop_monitors(c->links);
	if (c->wal)
		store_wal_helper_quiesce(c->wal);
	ev_timer_set(&c->shutdown_timer, c->cfg.shutdown_timeout_ms / 1000.0, 0.);
	ev_timer_start(c->loop, &c->shutdown_timer);
}

static void signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	STATS_CALLBACK("signal");
	struct core *c = w->data;

	if (w->signum == SIGHUP)
		reload(c);
	else
		begin_stop(c, w->signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

static void shutdown_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	STATS_CALLBACK("shutdown timer");

	log_warn("calls still unanswered after shutdown_timeout_ms, stopping anyway");
	ev_break(loop, EVBREAK_ALL);
}

static void iteration_cb(struct ev_loop *loop, ev_check *w, int revents)
{
	budget_iteration_begin();
}

/* Commit the iteration's transaction and release the replies it held;
 * false if it failed (and was rolled back, and undone). */
static bool commit_settle(struct core *c)
{
	uint64_t txn;
	const char *why;
	int r;

	repair_before_commit(&c->repair);
	txn = store_txn(c->store);
	r = store_commit(c->store);
	repair_committed(&c->repair, r == 0);
	if (r == 0) {
		ctl_server_settle(c->ctl, NULL);
		return true;
	}
	why = store_failure_reason(c->store);
	errno = -r;
	log_error("database '%s': transaction failed and rolled back: %m (%s); its calls are answered StorageError",
		  c->cfg.db_path, why);
	/* Before the settle: the answers the undo gives are held too. */
	links_storage_failed(c->links, txn, why);
	filters_storage_failed(c->filters, txn, why);
	ctl_server_settle(c->ctl, why);
	return false;
}

static void prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	STATS_CALLBACK("commit and flush");
	struct core *c = w->data;

	/* Intents first, then the kernel requests they describe, then the
	 * replies that report them. */
	if (commit_settle(c)) {
		links_flush(c->links);
		filters_flush(c->filters, ctl_server_more_coming(c->ctl));
	}
	/* A reply given during the flushes (a request that could not be
	 * sent) must not wait for an event that may never come. */
	if (ctl_server_holding(c->ctl))
		commit_settle(c);
	ctl_server_flush(c->ctl);
	if (!c->ready_sent && !c->stopping && filters_started(c->filters)) {
		c->ready_sent = true;
		service_notify("READY=1\nSTATUS=serving: links reconciled, filters verified");
	}
	if (c->stopping && ctl_server_idle(c->ctl) && links_idle(c->links) &&
	    filters_idle(c->filters))
		ev_break(loop, EVBREAK_ALL);
	budget_iteration_end();
}

/* The database's directory, created 0700 or accepted only when nobody
 * but root or us can change it, and its files 0600 (0640 with db_group),
 * wider ones narrowed; then they are safe to open by path. */
/* The directory of the (absolute) database path, malloc'd; NULL: no memory. */
static char *db_dir(const char *db_path)
{
	char *dir = strdup(db_path), *slash;

	if (!dir)
		return NULL;
	slash = strrchr(dir, '/');
	slash[slash == dir ? 1 : 0] = '\0';
	return dir;
}

static int secure_db_paths(struct core *c, mode_t *ret_mode)
{
	_cleanup_free_ char *dir = db_dir(c->cfg.db_path), *error = NULL;
	struct group *g = NULL;
	int r;

	if (!dir)
		return -ENOMEM;
	r = safepath_dir(dir, 0700, &error);
	if (r < 0) {
		log_error("database directory: %s; not starting", error ? error : strerror(-r));
		return r;
	}
	if (c->cfg.db_group) {
		g = getgrnam(c->cfg.db_group);
		if (!g) {
			log_error("db_group '%s' does not exist; not starting", c->cfg.db_group);
			return -ENOENT;
		}
	}
	*ret_mode = g ? 0640 : 0600;
	r = safepath_db_files(c->cfg.db_path, *ret_mode, g != NULL, g ? g->gr_gid : 0, &error);
	if (r < 0) {
		log_error("database: %s; not starting", error ? error : strerror(-r));
		return r;
	}
	return 0;
}

/* How long a start waits for the helpers of a netd that died to finish
 * (a sender still inside a kernel batch) before it gives up. */
#define CORE_LOCK_WAIT_US (10 * 1000000)

/* The pid recorded in the lock file, or 0 if none can be read. */
static pid_t lock_owner(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	unsigned long long pid;

	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (parse_uint(buf, 1, INT32_MAX, &pid) < 0)
		return 0;
	return (pid_t)pid;
}

/* flock(fd) when the lock is held only by what a dead netd left behind:
 * its netlink sender keeps the lock (see nl_new()) until the kernel has
 * carried out the batch it was sending, so that this start sees that
 * batch's devices in its dump. A netd that is alive keeps its lock: -EBUSY
 * at once. */
static int lock_wait(int fd, const char *db_path)
{
	pid_t owner = lock_owner(fd);
	uint64_t until = now_usec() + CORE_LOCK_WAIT_US;

	if (owner == 0 || kill(owner, 0) == 0 || errno != ESRCH) {
		if (owner)
			log_error("database '%s' is in use by another netd (pid %d); not starting",
				  db_path, (int)owner);
		else
			log_error("database '%s' is in use by another netd; not starting", db_path);
		return -EBUSY;
	}
	log_info("database '%s': netd (pid %d) is gone, waiting for its helper processes to end",
		 db_path, (int)owner);
	do {
		usleep(10000);
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK)
			return log_error_errno(NULL, -errno, "database '%s': lock", db_path);
	} while (now_usec() < until);
	log_error("database '%s': the lock of netd (pid %d) is still held after %d s; not starting",
		  db_path, (int)owner, CORE_LOCK_WAIT_US / 1000000);
	return -EBUSY;
}

/* One netd per database: an exclusive flock on "<db>.lock", which holds
 * the owner's pid so the refusal can name it. The kernel drops the lock
 * when the process and the helpers it shares the lock with are gone,
 * however they die. */
static int take_lock(struct core *c, mode_t mode)
{
	_cleanup_free_ char *path = NULL;
	char buf[32];
	int fd, r;

	if (asprintf(&path, "%s.lock", c->cfg.db_path) < 0)
		return -ENOMEM;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return log_error_errno(NULL, -errno, "lock file '%s'", path);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		r = errno == EWOULDBLOCK ? lock_wait(fd, c->cfg.db_path)
					 : log_error_errno(NULL, -errno, "lock file '%s'", path);
		if (r < 0) {
			close(fd);
			return r;
		}
	}
	snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, strlen(buf), 0) < 0)
		log_warn("lock file '%s': cannot record our pid: %m, ignoring", path);
	c->lock_fd = fd;
	return 0;
}

/* Enough descriptors for max_clients connections plus our own. */
static void raise_fd_limit(const struct netd_config *cfg)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)cfg->max_clients + 32)
		log_warn("RLIMIT_NOFILE is %llu, too low for max_clients %u, ignoring",
			 (unsigned long long)rl.rlim_cur, cfg->max_clients);
}

/* The database: its directory, the lock, the WAL helper, then the
 * database itself (opened and migrated). */
static int start_store(struct core *c)
{
	_cleanup_free_ char *error = NULL;
	mode_t mode;
	int r;

	service_status("opening the database '%s'", c->cfg.db_path);
	r = secure_db_paths(c, &mode);
	if (r < 0)
		return r;
	r = take_lock(c, mode);
	if (r < 0)
		return r;
	/* Before store_open(): an SQLite connection must not cross a fork. */
	r = store_wal_helper_start(c->loop, c->cfg.db_path, &c->wal);
	if (r < 0) {
		errno = -r;
		log_warn("cannot start the WAL helper: %m; the WAL is checkpointed at stop only");
	}
	r = spawner_start(c->loop, &c->spawner);
	if (r < 0)
		log_warn_errno(NULL, r, "cannot start the spawner; helpers start from the loop");
	job_use_spawner(c->spawner);

	r = store_open(c->cfg.db_path, &c->store, &error);
	if (r < 0) {
		log_error("%s; not starting", error ? error : "cannot open the database");
		return r;
	}
	log_debug("database '%s': schema version %d", c->cfg.db_path, store_version(c->store));
	return 0;
}

/* Links and filters, reconciled with the kernel and committed before
 * anyone is served: lookups are answered from this picture. */
static int start_links_filters(struct core *c)
{
	/* Checked by secure_db_paths(): only netd (or root) can write it. */
	_cleanup_free_ char *tap_dir = db_dir(c->cfg.db_path);
	int r;

	if (!tap_dir)
		return -ENOMEM;
	service_status("reconciling links with the kernel");
	r = links_new(c->loop, c->store, &(struct links_config){
			.macvtap_prefix = c->cfg.macvtap_prefix,
			.macvlan_prefix = c->cfg.macvlan_prefix,
			.delete_group = c->cfg.delete_group,
			.event_rcvbuf = c->cfg.event_rcvbuf,
			.request_rcvbuf = c->cfg.netlink_request_rcvbuf,
			.hold_fd = c->lock_fd,
			.tap_dir = tap_dir,
		}, &c->links);
	if (r < 0)
		return r;
	/* The bindings load while the link dump process reads the kernel's
	 * links; they are checked against them once those are in. */
	r = filters_load(c->loop, c->store, c->links, &(struct filters_config){
			.filter_dir = c->cfg.filter_dir,
			.helper_timeout_ms = c->cfg.helper_timeout_ms,
		}, &c->filters);
	if (r < 0)
		return r;
	while (!links_ready(c->links))
		ev_run(c->loop, EVRUN_ONCE);
	r = links_start_error(c->links);
	if (r < 0)
		return log_error_errno(NULL, r, "cannot read the kernel's links, not starting");
	r = filters_start(c->filters);
	if (r < 0)
		return log_error_errno(NULL, r, "cannot start the filters");
	links_set_port_hooks(c->links, filters_port_bound, filters_port_gone, c->filters);
	links_release_unheld(c->links);
	r = store_commit(c->store);
	if (r < 0)
		return log_error_errno(NULL, r, "database '%s': cannot commit the reconciliation",
				       c->cfg.db_path);
	return 0;
}

/* The socket, the signals, and the loop's own watchers. */
static int start_serving(struct core *c)
{
	struct ctl_limits limits = limits_of(&c->cfg);
	struct audit_config acfg = audit_config_of(&c->cfg);
	int r;

	if (c->listen_fd >= 0) {
		r = ctl_server_adopt(c->loop, c->listen_fd, &limits, api_dispatch, c, &c->ctl);
		if (r < 0)
			return r;
		c->listen_fd = -1; /* the server's now */
	} else {
		r = ctl_server_new(c->loop, c->cfg.socket_path, c->cfg.socket_mode, &limits,
				   api_dispatch, c, &c->ctl);
		if (r < 0)
			return r;
	}
	ctl_server_set_deferrable(c->ctl, api_method_deferrable);
	ctl_server_set_immediate(c->ctl, api_method_immediate);
	ctl_server_set_refusal_hook(c->ctl, api_refused, c);
	ctl_server_hold_finished(c->ctl, true);
	apply_admin_group(c);
	r = audit_new(c->loop, c->store, &acfg, &c->audit);
	if (r < 0)
		return log_error_errno(NULL, r, "audit");

	ev_signal_init(&c->sig_term, signal_cb, SIGTERM);
	ev_signal_init(&c->sig_int, signal_cb, SIGINT);
	ev_signal_init(&c->sig_hup, signal_cb, SIGHUP);
	c->sig_term.data = c->sig_int.data = c->sig_hup.data = c;
	ev_signal_start(c->loop, &c->sig_term);
	ev_signal_start(c->loop, &c->sig_int);
	ev_signal_start(c->loop, &c->sig_hup);
	signal(SIGPIPE, SIG_IGN);

	repair_init(&c->repair, c->loop, c->store, c->links, c->filters);
	ev_prepare_init(&c->prepare, prepare_cb);
	c->prepare.data = c;
	ev_prepare_start(c->loop, &c->prepare);
	if (c->wal)
		store_wal_helper_watch(c->wal, c->store);
	/* Before every other callback of an iteration. */
	ev_check_init(&c->iteration, iteration_cb);
	ev_set_priority(&c->iteration, EV_MAXPRI);
	ev_check_start(c->loop, &c->iteration);
	ev_init(&c->shutdown_timer, shutdown_timer_cb);
	c->shutdown_timer.data = c;
	return 0;
}

int core_start(struct core *c)
{
	bool activated;
	int r;

	assert(c);
	activated = c->listen_fd >= 0;

	c->lock_fd = -1;
	c->start_us = now_usec();
	c->loop = ev_default_loop(EVFLAG_AUTO | EVFLAG_NOENV);
	if (!c->loop) {
		log_error("cannot create the event loop");
		return -ENOMEM;
	}
	raise_fd_limit(&c->cfg);

	r = start_store(c);
	if (r < 0)
		return r;
	r = start_links_filters(c);
	if (r < 0)
		return r;
	r = start_serving(c);
	if (r < 0)
		return r;
	if (activated)
		log_info("serving on the passed socket, database '%s'", c->cfg.db_path);
	else
		log_info("listening on '%s', database '%s'", c->cfg.socket_path, c->cfg.db_path);
	service_status("verifying the filters against the kernel");
	return 0;
}

int core_run(struct core *c)
{
	assert(c && c->loop);
	ev_run(c->loop, 0);
	log_info("stopped");
	return 0;
}

void core_done(struct core *c)
{
	assert(c);
	if (c->loop) {
		ev_signal_stop(c->loop, &c->sig_term);
		ev_signal_stop(c->loop, &c->sig_int);
		ev_signal_stop(c->loop, &c->sig_hup);
		/* Stopping already: a second signal must not cut the database
		 * close short. */
		signal(SIGTERM, SIG_IGN);
		signal(SIGINT, SIG_IGN);
		signal(SIGHUP, SIG_IGN);
		ev_prepare_stop(c->loop, &c->prepare);
		ev_check_stop(c->loop, &c->iteration);
		ev_timer_stop(c->loop, &c->shutdown_timer);
		repair_stop(&c->repair);
	}
	if (c->links)
		links_set_port_hooks(c->links, NULL, NULL, NULL);
	/* Calls still waiting on filter runs or the kernel (the stop's
	 * timeout ran out) are answered ShuttingDown, as the filters go and
	 * by the links: while the server and the audit trail are there to
	 * take the answers, committed and sent before they go. */
	c->filters = filters_free(c->filters);
	if (c->links)
		links_stop_calls(c->links);
	if (c->ctl && c->store && store_commit(c->store) == 0) {
		ctl_server_settle(c->ctl, NULL);
		ctl_server_flush(c->ctl);
	}
	c->ctl = ctl_server_free(c->ctl);
	c->audit = audit_free(c->audit);
	c->links = links_free(c->links);
	c->wal = store_wal_helper_stop(c->wal);
	job_use_spawner(NULL);
	c->spawner = spawner_stop(c->spawner);
	c->store = store_close(c->store);
	if (c->lock_fd >= 0) {
		/* The file stays: removing a lock file races with the next
		 * owner opening it. */
		close(c->lock_fd);
		c->lock_fd = -1;
	}
	if (c->listen_fd >= 0) {
		close(c->listen_fd);
		c->listen_fd = -1;
	}
	conf_done(&c->cfg);
}
