/*
 * core.h: the daemon: one libev loop that owns every watcher and every
 * piece of state (configuration, database, control socket), the start-up
 * and shutdown sequences, and the signals.
 */
#ifndef NETD_CORE_H
#define NETD_CORE_H

#include <ev.h>
#include <sys/types.h>
#include <stdbool.h>
#include <stdint.h>

#include "conf.h"
#include "repair.h"

struct audit;
struct ctl_server;
struct filters;
struct links;
struct store;
struct store_wal;

/* What the command line said; it wins over the configuration file, also
 * after a reload. NULL / false: not given. */
struct core_overrides {
	const char *socket_path;
	const char *db_path;
	bool verbose;
};

struct core {
	struct ev_loop *loop;
	struct netd_config cfg;
	const char *config_path;
	bool config_must_exist;
	struct core_overrides overrides;

	int lock_fd;
	/* The socket systemd passed (socket activation), taken by main()
	 * before it detaches; -1: none, core_start() makes its own. */
	int listen_fd;
	struct store *store;
	struct links *links;
	struct filters *filters;
	struct ctl_server *ctl;
	struct audit *audit;       /* refusal rows and retention */
	uint64_t start_us;

	ev_signal sig_term, sig_int, sig_hup;
	ev_prepare prepare;
	ev_check iteration;        /* first after each poll: the iteration's clock */
	ev_timer shutdown_timer;
	bool stopping;
	bool ready_sent;           /* READY=1 told the service manager */

	struct store_wal *wal;     /* the WAL helper process, NULL if none */
	struct spawner *spawner;   /* starts helper programs; NULL: the loop does */
	struct repair repair;      /* rows lost with a failed transaction */
};

/*
 * Read the configuration (file, then overrides) into c->cfg. Returns 0, or
 * -errno after printing the error (which names file, line and key).
 */
int core_load_config(struct core *c);

/* Take the database lock, open and migrate the database, listen on the
 * socket (c->listen_fd if set, else a socket of its own at the configured
 * path), install the signal handlers. Logs and returns -errno on
 * failure, leaving nothing behind that core_done() does not undo. */
int core_start(struct core *c);

/* Run until SIGTERM/SIGINT and a graceful stop. The service manager is
 * told READY=1 once the start-up reconciliation of the filters is through
 * too (the socket already listens), STOPPING=1 at the stop. Returns 0. */
int core_run(struct core *c);

/* Release everything core_start() took. Safe after a partial start. */
void core_done(struct core *c);

#endif
