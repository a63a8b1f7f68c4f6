/*
 * conf.c: INI parsing of /etc/netd/netd.conf with libinih.
 *
 * The file is parsed into a scratch copy so that a bad file (on start or on
 * SIGHUP) leaves the running configuration untouched. libinih reports the
 * line of the first error when a handler returns 0; the handler records
 * which key it was and why.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <grp.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "log.h"
#include "util.h"

int conf_set_string(char **field, const char *value)
{
	char *s = NULL;

	assert(field);
	if (value) {
		s = strdup(value);
		if (!s)
			return -ENOMEM;
	}
	free(*field);
	*field = s;
	return 0;
}

int conf_init(struct netd_config *c)
{
	assert(c);
	memset(c, 0, sizeof(*c));
	c->log_level = LOG_INFO;
	c->socket_mode = 0666;
	c->max_clients = 1024;
	c->max_message_size = 1u << 20;
	c->max_output_buffer = 8u << 20;
	c->shutdown_timeout_ms = 5000;
	c->delete_group = 0x6e657464; /* 'netd' */
	c->event_rcvbuf = 4 << 20;
	c->helper_timeout_ms = 30000;
	c->max_clients_per_uid = 64;
	c->reserved_clients = 16;
	c->client_idle_timeout_ms = 60000;
	c->max_input_total = 64u << 20;
	c->max_connection_buffer = 16u << 20;
	c->audit_refusal_burst = 10;
	c->audit_refusal_interval_ms = 60000;
	c->audit_max_rows = 1000000;
	c->audit_max_days = 0;
	if (conf_set_string(&c->socket_path, NETD_DEFAULT_SOCKET) < 0 ||
	    conf_set_string(&c->db_path, NETD_DEFAULT_DB) < 0 ||
	    conf_set_string(&c->macvtap_prefix, "macvtap") < 0 ||
	    conf_set_string(&c->macvlan_prefix, "macvlan") < 0 ||
	    conf_set_string(&c->filter_dir, NETD_DEFAULT_FILTER_DIR) < 0) {
		conf_done(c);
		return -ENOMEM;
	}
	return 0;
}

void conf_done(struct netd_config *c)
{
	assert(c);
	free(c->socket_path);
	free(c->db_path);
	free(c->admin_group);
	free(c->db_group);
	free(c->macvtap_prefix);
	free(c->macvlan_prefix);
	free(c->filter_dir);
	memset(c, 0, sizeof(*c));
}

struct parse_state {
	struct netd_config *cfg;
	char *error; /* first error, without file:line */
};

static int set_error(struct parse_state *st, const char *fmt, ...) _printf_(2, 3);
static int set_error(struct parse_state *st, const char *fmt, ...)
{
	va_list ap;

	if (!st->error) {
		va_start(ap, fmt);
		if (vasprintf(&st->error, fmt, ap) < 0)
			st->error = NULL;
		va_end(ap);
	}
	return 0; /* tells inih this line failed */
}

static int parse_size(const char *v, unsigned long long min,
		      unsigned long long max, unsigned long long *ret)
{
	return parse_uint(v, min, max, ret);
}

/* Parse one numeric key in min..max into *ret; 1 or 0 as handle_number(). */
static int set_number(struct parse_state *st, const char *name, const char *value,
		      unsigned long long min, unsigned long long max, const char *what,
		      unsigned long long *ret)
{
	if (parse_size(value, min, max, ret) < 0)
		return set_error(st, "key '%s': '%s' is not %s in %llu..%llu", name, value, what,
				 min, max);
	return 1;
}

#define SET_NUMBER(field, min, max, what) \
	do { \
		unsigned long long n_; \
		if (!set_number(st, name, value, min, max, what, &n_)) \
			return 0; \
		c->field = n_; \
	} while (0)

/* The keys of the limits that protect root and of the audit trail;
 * returns as handle_number(). */
static int handle_limit(struct parse_state *st, const char *name, const char *value)
{
	struct netd_config *c = st->cfg;

	if (streq(name, "max_clients_per_uid"))
		SET_NUMBER(max_clients_per_uid, 0, 65536, "a number");
	else if (streq(name, "reserved_clients"))
		SET_NUMBER(reserved_clients, 0, 65535, "a number");
	else if (streq(name, "client_idle_timeout_ms"))
		SET_NUMBER(client_idle_timeout_ms, 0, 86400000, "a number of milliseconds");
	else if (streq(name, "max_input_total"))
		SET_NUMBER(max_input_total, 0, 1ull << 34, "a byte count");
	else if (streq(name, "max_connection_buffer"))
		SET_NUMBER(max_connection_buffer, 0, 1ull << 31, "a byte count");
	else if (streq(name, "audit_refusal_burst"))
		SET_NUMBER(audit_refusal_burst, 0, 1000000, "a number");
	else if (streq(name, "audit_refusal_interval_ms"))
		SET_NUMBER(audit_refusal_interval_ms, 1000, 86400000, "a number of milliseconds");
	else if (streq(name, "audit_max_rows"))
		SET_NUMBER(audit_max_rows, 0, 1ull << 40, "a number of rows");
	else if (streq(name, "audit_max_days"))
		SET_NUMBER(audit_max_days, 0, 36500, "a number of days");
	else
		return -1;
	return 1;
}

/* Limits that only make sense together; an error text or NULL. */
static const char *check_limits(const struct netd_config *c)
{
	if (c->audit_max_rows > 0 && c->audit_max_rows < 10)
		return "audit_max_rows must be 0 or at least 10";
	if (c->max_connection_buffer > 0 && c->max_connection_buffer < c->max_message_size)
		return "max_connection_buffer must be 0 or at least max_message_size";
	if (c->max_input_total > 0 && c->max_input_total < 2 * c->max_message_size)
		return "max_input_total must be 0 or at least twice max_message_size";
	return NULL;
}

/* The numeric keys. 1: set; 0: refused (the error recorded); -1: not a
 * numeric key. */
static int handle_number(struct parse_state *st, const char *name, const char *value)
{
	struct netd_config *c = st->cfg;
	unsigned long long n;

	if (streq(name, "max_clients")) {
		if (parse_size(value, 1, 65536, &n) < 0)
			return set_error(st, "key '%s': '%s' is not a number in 1..65536", name, value);
		c->max_clients = (unsigned)n;
	} else if (streq(name, "max_message_size")) {
		if (parse_size(value, 4096, 64ull << 20, &n) < 0)
			return set_error(st, "key '%s': '%s' is not a byte count in 4096..67108864", name, value);
		c->max_message_size = (size_t)n;
	} else if (streq(name, "max_output_buffer")) {
		if (parse_size(value, 65536, 1ull << 30, &n) < 0)
			return set_error(st, "key '%s': '%s' is not a byte count in 65536..1073741824", name, value);
		c->max_output_buffer = (size_t)n;
	} else if (streq(name, "shutdown_timeout_ms")) {
		if (parse_size(value, 0, 600000, &n) < 0)
			return set_error(st, "key '%s': '%s' is not a number of milliseconds in 0..600000", name, value);
		c->shutdown_timeout_ms = (unsigned)n;
	} else if (streq(name, "helper_timeout_ms")) {
		if (parse_size(value, 100, 600000, &n) < 0)
			return set_error(st, "key '%s': '%s' is not a number of milliseconds in 100..600000", name, value);
		c->helper_timeout_ms = (unsigned)n;
	} else if (streq(name, "delete_group")) {
		if (parse_size(value, 1, UINT32_MAX, &n) < 0)
			return set_error(st, "key '%s': '%s' is not an interface group in 1..4294967295", name, value);
		c->delete_group = (uint32_t)n;
	} else if (streq(name, "netlink_request_rcvbuf")) {
		if (parse_size(value, 0, 1ull << 30, &n) < 0)
			return set_error(st, "key '%s': '%s' is not a byte count in 0..1073741824", name, value);
		c->netlink_request_rcvbuf = (int)n;
	} else if (streq(name, "event_rcvbuf")) {
		if (parse_size(value, 4096, 1ull << 30, &n) < 0)
			return set_error(st, "key '%s': '%s' is not a byte count in 4096..1073741824", name, value);
		c->event_rcvbuf = (int)n;
	} else {
		return handle_limit(st, name, value);
	}
	return 1;
}

/* The keys whose values are paths, names or modes; returns as
 * handle_number(). */
static int handle_other(struct parse_state *st, const char *name, const char *value)
{
	struct netd_config *c = st->cfg;

	if (streq(name, "socket") || streq(name, "database")) {
		if (value[0] != '/')
			return set_error(st, "key '%s': '%s' is not an absolute path", name, value);
		if (conf_set_string(streq(name, "socket") ? &c->socket_path : &c->db_path, value) < 0)
			return set_error(st, "key '%s': %s", name, "out of memory");
	} else if (streq(name, "log_level")) {
		int l = log_level_from_string(value);
		if (l < 0)
			return set_error(st, "key '%s': '%s' is not one of error, warning, info, debug", name, value);
		c->log_level = l;
	} else if (streq(name, "admin_group")) {
		if (value[0] == '\0') {
			conf_set_string(&c->admin_group, NULL); /* cannot fail: nothing to copy */
		} else {
			if (!getgrnam(value))
				return set_error(st, "key '%s': no group named '%s'", name, value);
			if (conf_set_string(&c->admin_group, value) < 0)
				return set_error(st, "key '%s': %s", name, "out of memory");
		}
	} else if (streq(name, "db_group")) {
		if (value[0] == '\0') {
			conf_set_string(&c->db_group, NULL); /* cannot fail: nothing to copy */
		} else {
			if (!getgrnam(value))
				return set_error(st, "key '%s': no group named '%s'", name, value);
			if (conf_set_string(&c->db_group, value) < 0)
				return set_error(st, "key '%s': %s", name, "out of memory");
		}
	} else if (streq(name, "socket_mode")) {
		char *end;
		unsigned long m;

		errno = 0;
		m = strtoul(value, &end, 8);
		if (value[0] < '0' || value[0] > '7' || *end || errno || m > 0777)
			return set_error(st, "key '%s': '%s' is not an octal mode up to 0777", name, value);
		c->socket_mode = (mode_t)m;
	} else if (streq(name, "macvtap_prefix") || streq(name, "macvlan_prefix")) {
		size_t len = strlen(value);

		/* Letters, '_' and '-' only, so prefix+index parses one way;
		 * at most 14 so at least one digit fits IFNAMSIZ. */
		if (len < 1 || len > 14 ||
		    strspn(value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-") != len)
			return set_error(st, "key '%s': '%s' is not 1-14 letters, '_' or '-'", name, value);
		if (conf_set_string(streq(name, "macvtap_prefix") ? &c->macvtap_prefix : &c->macvlan_prefix, value) < 0)
			return set_error(st, "key '%s': %s", name, "out of memory");
	} else if (streq(name, "filter_dir")) {
		if (value[0] != '/')
			return set_error(st, "key '%s': '%s' is not an absolute path", name, value);
		if (conf_set_string(&c->filter_dir, value) < 0)
			return set_error(st, "key '%s': %s", name, "out of memory");
	} else {
		return -1;
	}
	return 1;
}

/* libinih's callback: 1 for a line taken, 0 for an error (recorded). */
static int handler(void *user, const char *section, const char *name,
		   const char *value)
{
	struct parse_state *st = user;
	int r;

	if (!streq(section, "netd"))
		return set_error(st, "unknown section [%s] (key '%s')", section, name);
	r = handle_number(st, name, value);
	if (r < 0)
		r = handle_other(st, name, value);
	if (r < 0)
		return set_error(st, "unknown key '%s' in section [%s]", name, section);
	return r;
}

static int conf_copy(struct netd_config *dst, const struct netd_config *src)
{
	*dst = *src;
	dst->socket_path = dst->db_path = dst->admin_group = dst->db_group = NULL;
	dst->macvtap_prefix = dst->macvlan_prefix = dst->filter_dir = NULL;
	if (conf_set_string(&dst->socket_path, src->socket_path) < 0 ||
	    conf_set_string(&dst->db_path, src->db_path) < 0 ||
	    conf_set_string(&dst->admin_group, src->admin_group) < 0 ||
	    conf_set_string(&dst->db_group, src->db_group) < 0 ||
	    conf_set_string(&dst->macvtap_prefix, src->macvtap_prefix) < 0 ||
	    conf_set_string(&dst->macvlan_prefix, src->macvlan_prefix) < 0 ||
	    conf_set_string(&dst->filter_dir, src->filter_dir) < 0) {
		conf_done(dst);
		return -ENOMEM;
	}
	return 0;
}

int conf_load(struct netd_config *c, const char *path, bool must_exist,
		char **ret_error)
{
	_cleanup_fclose_ FILE *f = NULL;
	struct netd_config scratch;
	struct parse_state st = { .cfg = &scratch };
	int line, r;

	assert(c);
	assert(path);
	assert(ret_error);
	f = fopen(path, "re");
	if (!f) {
		r = -errno;
		if (r == -ENOENT && !must_exist)
			return 0;
		if (asprintf(ret_error, "%s: cannot open: %s", path, strerror(-r)) < 0)
			*ret_error = NULL;
		return r;
	}

	r = conf_copy(&scratch, c);
	if (r < 0)
		return r;

	line = ini_parse_file(f, handler, &st);
	if (line != 0) {
		if (line < 0) {
			r = asprintf(ret_error, "%s: cannot parse: %s", path,
				     line == -2 ? "out of memory" : "read error");
		} else {
			r = asprintf(ret_error, "%s:%d: %s", path, line,
				     st.error ? st.error : "syntax error (expected 'key = value' or '[section]')");
		}
		if (r < 0)
			*ret_error = NULL;
		free(st.error);
		conf_done(&scratch);
		return -EINVAL;
	}
	if (check_limits(&scratch)) {
		if (asprintf(ret_error, "%s: %s", path, check_limits(&scratch)) < 0)
			*ret_error = NULL;
		conf_done(&scratch);
		return -EINVAL;
	}

	conf_done(c);
	*c = scratch;
	return 0;
}
