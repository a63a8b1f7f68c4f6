/*
 * conf.h: netd's settings, from built-in defaults, then the INI file
 * (parsed by libinih), then the command line. Pure data plus a loader;
 * it never logs, errors come back as text naming file, line and key.
 */
#ifndef NETD_CONF_H
#define NETD_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The configuration follows configure's --sysconfdir (where make install
 * puts netd.conf); the socket and database are where the systemd units
 * put them, whatever the prefix. */
#ifndef NETD_SYSCONFDIR
#define NETD_SYSCONFDIR "/etc"
#endif
#define NETD_DEFAULT_CONFIG NETD_SYSCONFDIR "/netd/netd.conf"
#define NETD_DEFAULT_SOCKET "/run/netd/netd.sock"
#define NETD_DEFAULT_DB "/var/lib/netd/netd.db"
#define NETD_DEFAULT_FILTER_DIR NETD_SYSCONFDIR "/netd/filters"

struct netd_config {
	char *socket_path;
	char *db_path;
	int log_level;            /* syslog numbering */
	char *admin_group;        /* NULL: only root may mutate */
	char *db_group;           /* NULL: database files 0600, else 0640 and this group */
	mode_t socket_mode;
	unsigned max_clients;
	size_t max_message_size;  /* one inbound varlink message, bytes */
	size_t max_output_buffer; /* unsent replies per client, bytes */
	unsigned shutdown_timeout_ms;
	char *macvtap_prefix;
	char *macvlan_prefix;
	uint32_t delete_group;    /* IFLA_GROUP reserved for bulk deletion */
	int event_rcvbuf;         /* link event socket receive buffer, bytes */
	int netlink_request_rcvbuf; /* test only: request socket receive buffer, 0: netd's */
	char *filter_dir;         /* custom filter files */
	unsigned helper_timeout_ms; /* *tables-restore/-save runs are killed after this */
	/* Limits that protect root (see ctl.h's struct ctl_limits). */
	unsigned max_clients_per_uid;   /* 0: no cap */
	unsigned reserved_clients;      /* slots only root/admin_group take */
	unsigned client_idle_timeout_ms; /* 0: never */
	size_t max_input_total;         /* partial input, all clients; 0: none */
	size_t max_connection_buffer;   /* all one client holds; 0: none */
	/* The audit trail (see audit.h). */
	unsigned audit_refusal_burst;   /* refusal rows per uid per interval */
	unsigned audit_refusal_interval_ms;
	unsigned long long audit_max_rows; /* 0: no limit */
	unsigned audit_max_days;        /* 0: no limit */
};

/* Fill *c with the built-in defaults. Returns -ENOMEM on failure. */
int conf_init(struct netd_config *c);

/* Free what *c owns; *c may be partly filled or zeroed. */
void conf_done(struct netd_config *c);

/*
 * Read path into *c, overriding what the file sets. A missing file is not
 * an error unless must_exist. On failure *c is unchanged, the return is
 * -errno (-EINVAL for a bad file) and *ret_error (caller frees) says
 * "FILE:LINE: ..." naming the key.
 */
int conf_load(struct netd_config *c, const char *path, bool must_exist,
		char **ret_error);

/* Replace a string setting, e.g. from the command line. */
int conf_set_string(char **field, const char *value);

#endif
