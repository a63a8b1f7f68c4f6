/*
 * vlbench.c: the client side of netd's benchmarks. It talks varlink to
 * netd's socket (one JSON object per message, each followed by a NUL byte,
 * replies in call order), times the calls and prints exactly one line of
 * JSON on stdout.
 *
 *   vlbench create SOCK PARENT OWNER N      one CreateLinks of N macvtaps
 *                                           (mode bridge) on PARENT
 *   vlbench delete SOCK OWNER               one DeleteLinks of OWNER's links
 *   vlbench bind SOCK PORTPREFIX FIRST N FILTER [OWNERPREFIX]
 *                                           N BindFilter calls, pipelined on
 *                                           one connection: port PORTPREFIX<i>,
 *                                           owner OWNERPREFIX<i> (default "g"),
 *                                           IP 10.(i/62500).(i/250%250).(i%250+1),
 *                                           for i = FIRST .. FIRST+N-1
 *   vlbench unbind SOCK PORTPREFIX FIRST N [OWNERPREFIX]
 *                                           the same with UnbindFilter
 *   vlbench seqbind SOCK PORTPREFIX FIRST N FILTER
 *                                           the same N BindFilter calls one
 *                                           after another, each sent once the
 *                                           previous one is answered (as a
 *                                           hypervisor starting guests one by
 *                                           one); prints each call's time
 *   vlbench guest SOCK PARENT OWNER PORTPREFIX FIRST STARTFILE
 *                                           a guest started: once STARTFILE
 *                                           exists, one CreateLinks of 8
 *                                           macvtaps for OWNER, then 8
 *                                           BindFilter calls (clean-traffic)
 *                                           one after another on PORTPREFIX
 *                                           FIRST .. FIRST+7; the time of all,
 *                                           and of the CreateLinks (links_ms)
 *   vlbench guest-stop SOCK OWNER PORTPREFIX FIRST
 *                                           undo guest: its 8 UnbindFilter
 *                                           calls, then DeleteLinks of OWNER
 *   vlbench restart SOCK N NETD_ARGV...     start netd and poll GetStatus
 *                                           every 1 ms until it reports N
 *                                           bindings, all applied, and the
 *                                           rules verified; then one
 *                                           ListBindings must list them all
 *                                           applied; netd is left running
 *   vlbench latency SOCK STOPFILE           GetStatus round trips, 1 ms
 *                                           apart, until STOPFILE exists
 *   vlbench churn SOCK PARENT OWNER COUNT STOPFILE
 *                                           CreateLinks of COUNT, then
 *                                           DeleteLinks, until STOPFILE exists
 *   vlbench lister SOCK STOPFILE            ListBindings calls one after
 *                                           another until STOPFILE exists;
 *                                           the most bindings one listed
 *   vlbench resync SOCK [full]              one Resync call (full: with
 *                                           "full": true, the saves even
 *                                           when nf_tables is at netd's
 *                                           checkpoint): its time and
 *                                           its reply's skipped, reapplied
 *   vlbench status SOCK                     GetStatus's parameters
 *
 * Times are CLOCK_MONOTONIC, from just before the first byte of a call is
 * sent to the moment its last reply has been read; the messages are built
 * and the connection is made before the clock starts. restart is the
 * exception: its clock starts just before fork() and stops when the
 * GetStatus reply that reports every binding applied has been read
 * ("ms"); "listed_ms" is when the ListBindings that follows was read.
 *
 * restart's child writes to the file named by $VLBENCH_LOG, or else to
 * vlbench's own stdout and stderr, which then stay open after vlbench
 * exits (a shell's $(vlbench restart ...) would wait for netd to end).
 *
 * Exit 0 on success; 1 if a call was answered with an error or the
 * connection failed (the first error goes to stderr, the JSON line still
 * comes, with "errors" counting failed and unanswered calls); 2 on usage
 * errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

/* How long netd may stay silent while it owes replies. */
#define IDLE_TIMEOUT_MS 120000
/* How long restart waits for every binding to be applied. */
#define RESTART_TIMEOUT_MS 60000
/* Ports bind can give distinct addresses of the form 10.x.y.z. */
#define MAX_PORT_INDEX (62500u * 256u)

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void freep(void *p)
{
	free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(freep)

/* json_decrefp() comes with jansson 2.11 and later. */
#define _cleanup_json_ _cleanup_(json_decrefp)

/* A byte buffer that grows as needed. */
struct buf {
	char *data;
	size_t len, cap;
};

/* Make room for n more bytes. */
static int buf_reserve(struct buf *b, size_t n)
{
	size_t cap = b->cap ? b->cap : 65536;
	char *p;

	if (b->cap - b->len >= n)
		return 0;
	while (cap - b->len < n) {
		if (cap > SIZE_MAX / 2)
			return -ENOMEM;
		cap *= 2;
	}
	p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

/* One connection to netd: calls queued but not yet written, bytes read but
 * not yet parsed, and how many replies are still owed. */
struct conn {
	int fd;
	struct buf out;
	size_t out_done;        /* bytes of out already written */
	struct buf in;
	size_t in_scanned;      /* in.data[0 .. in_scanned) holds no NUL */
	unsigned owed;
	uint64_t read_usec;     /* when the last read() returned: the end of a
				 * timed call, before its reply is parsed */
};
#define CONN_NULL ((struct conn){ .fd = -1 })

static void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->out.data);
	free(c->in.data);
	*c = CONN_NULL;
}
#define _cleanup_conn_ _cleanup_(conn_close)

/* Connect to the socket at path. The socket is non-blocking afterwards;
 * the connect itself blocks, so a full backlog waits instead of failing. */
static int conn_open(const char *path, struct conn *ret)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(path);
	int fd, r;

	if (len >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, len + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	do
		r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	while (r < 0 && errno == EINTR);
	if (r < 0 || fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	*ret = CONN_NULL;
	ret->fd = fd;
	return 0;
}

/* Queue a call of method with params, which is consumed. NULL params
 * (a json_pack() that failed, on invalid UTF-8, say) is refused rather
 * than sent as no parameters. Nothing is written until conn_pump(). */
static int conn_call(struct conn *c, const char *method, json_t *params)
{
	_cleanup_json_ json_t *call = NULL;
	size_t n;
	int r;

	if (!params)
		return -EINVAL;
	call = json_pack("{s:s,s:o}", "method", method, "parameters", params);
	if (!call)
		return -ENOMEM;
	n = json_dumpb(call, NULL, 0, JSON_COMPACT);
	if (n == 0)
		return -ENOMEM;
	r = buf_reserve(&c->out, n + 1);
	if (r < 0)
		return r;
	json_dumpb(call, c->out.data + c->out.len, n, JSON_COMPACT);
	c->out.len += n;
	c->out.data[c->out.len++] = '\0';
	c->owed++;
	return 0;
}

/* Write what the socket takes now. */
static int conn_flush(struct conn *c)
{
	while (c->out_done < c->out.len) {
		ssize_t w = send(c->fd, c->out.data + c->out_done, c->out.len - c->out_done,
				 MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -errno;
		}
		c->out_done += (size_t)w;
	}
	c->out.len = c->out_done = 0;
	return 0;
}

typedef int (*reply_fn)(json_t *reply, void *userdata);

/* Read what has arrived and hand each complete reply to on_reply, which
 * borrows it; a negative return from on_reply stops and is returned. */
static int conn_fill(struct conn *c, reply_fn on_reply, void *userdata)
{
	size_t start = 0;
	ssize_t n;
	char *nul;
	int r;

	r = buf_reserve(&c->in, 256 * 1024);
	if (r < 0)
		return r;
	n = read(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
	if (n == 0)
		return -ECONNRESET;
	c->read_usec = now_usec();
	c->in.len += (size_t)n;

	/* Large replies arrive in many reads: scan each byte for NUL once. */
	while ((nul = memchr(c->in.data + c->in_scanned, '\0', c->in.len - c->in_scanned))) {
		size_t end = (size_t)(nul - c->in.data);
		_cleanup_json_ json_t *reply = json_loadb(c->in.data + start, end - start, 0, NULL);

		if (!reply || !json_is_object(reply))
			return -EBADMSG;
		if (c->owed == 0)
			return -EPROTO;
		c->owed--;
		start = c->in_scanned = end + 1;
		r = on_reply(reply, userdata);
		if (r < 0)
			return r;
	}
	if (start > 0) {
		memmove(c->in.data, c->in.data + start, c->in.len - start);
		c->in.len -= start;
	}
	c->in_scanned = c->in.len;
	return 0;
}

/* Write the queued calls while reading their replies, until every reply
 * owed has been read. Both directions at once: netd drops a client whose
 * unread replies pile up, and it stops reading from one that does not
 * read. timeout_ms bounds each silence, not the whole. */
static int conn_pump(struct conn *c, reply_fn on_reply, void *userdata, int timeout_ms)
{
	while (c->owed > 0) {
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		int r;

		if (c->out_done < c->out.len)
			p.events |= POLLOUT;
		r = poll(&p, 1, timeout_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		if (p.revents & POLLOUT) {
			r = conn_flush(c);
			if (r < 0)
				return r;
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			r = conn_fill(c, on_reply, userdata);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int keep_reply(json_t *reply, void *userdata)
{
	json_t **ret = userdata;

	json_decref(*ret);
	*ret = json_incref(reply);
	return 0;
}

/* Send one call and wait for its reply; on success *ret_reply is set and,
 * unless NULL, *ret_usec to the time from sending to the reply read. */
static int conn_roundtrip(struct conn *c, const char *method, json_t *params, int timeout_ms,
			  json_t **ret_reply, uint64_t *ret_usec)
{
	json_t *reply = NULL;
	uint64_t t0;
	int r;

	r = conn_call(c, method, params);
	if (r < 0)
		return r;
	t0 = now_usec();
	r = conn_pump(c, keep_reply, &reply, timeout_ms);
	if (r < 0) {
		json_decref(reply);
		return r;
	}
	if (ret_usec)
		*ret_usec = c->read_usec - t0;
	*ret_reply = reply;
	return 0;
}

/* Calls that failed: answered with an error, or never answered. */
static unsigned n_errors;

/* True if reply is an error reply; the first one goes to stderr. */
static bool reply_failed(json_t *reply)
{
	_cleanup_free_ char *s = NULL;

	if (!json_object_get(reply, "error"))
		return false;
	if (n_errors++ == 0) {
		s = json_dumps(reply, JSON_COMPACT);
		fprintf(stderr, "vlbench: %s\n", s ? s : "error reply");
	}
	return true;
}

/* The connection failed with calls outstanding: each counts as an error. */
static void conn_failed(struct conn *c, const char *method, int r)
{
	fprintf(stderr, "vlbench: %s: %s (%u replies missing)\n", method, strerror(-r), c->owed);
	n_errors += c->owed ? c->owed : 1;
}

static json_t *params(json_t *reply)
{
	return json_object_get(reply, "parameters");
}

static json_t *json_ms(uint64_t usec)
{
	return json_real((double)usec / 1000.0);
}

/* Print out as the one line of JSON; the exit status follows from the
 * errors counted. */
static int emit(json_t *out)
{
	_cleanup_free_ char *s = json_dumps(out, JSON_COMPACT | JSON_REAL_PRECISION(12));

	json_decref(out);
	if (!s) {
		fprintf(stderr, "vlbench: out of memory\n");
		return 1;
	}
	printf("%s\n", s);
	fflush(stdout);
	return n_errors ? 1 : 0;
}

static int parse_uint(const char *s, unsigned max, unsigned *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v > max)
		return -EINVAL;
	*ret = (unsigned)v;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Samples of a time, for percentiles (nearest rank). */
struct samples {
	uint64_t *v;
	size_t n, cap;
};

static int samples_add(struct samples *s, uint64_t x)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4096;
		uint64_t *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = x;
	return 0;
}

/* The p-th percentile (100: the maximum); 0 when there are no samples. */
static uint64_t samples_pct(struct samples *s, unsigned p)
{
	if (s->n == 0)
		return 0;
	qsort(s->v, s->n, sizeof(*s->v), cmp_u64);
	return s->v[(s->n * p + 99) / 100 - 1];
}

static int open_or_complain(const char *path, struct conn *ret)
{
	int r = conn_open(path, ret);

	if (r < 0)
		fprintf(stderr, "vlbench: connect \"%s\": %s\n", path, strerror(-r));
	return r;
}

/* conn_roundtrip(), counting a failed call or connection as errors. */
static int timed_call(struct conn *c, const char *method, json_t *p, json_t **ret_reply,
		      uint64_t *ret_usec)
{
	int r = conn_roundtrip(c, method, p, IDLE_TIMEOUT_MS, ret_reply, ret_usec);

	if (r < 0)
		conn_failed(c, method, r);
	else
		reply_failed(*ret_reply);
	return r;
}

static json_t *create_params(const char *parent, const char *owner, unsigned count)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:i}", "parent", parent, "kind", "macvtap",
			 "mode", "bridge", "owner", owner, "count", (json_int_t)count);
}

static int cmd_create(char **a)
{
	_cleanup_conn_ struct conn c = CONN_NULL;
	_cleanup_json_ json_t *reply = NULL;
	uint64_t usec = 0;
	unsigned n;

	if (parse_uint(a[3], 1000000, &n) < 0)
		return 2;
	if (open_or_complain(a[0], &c) < 0)
		return 1;
	timed_call(&c, "io.netd.CreateLinks", create_params(a[1], a[2], n), &reply, &usec);
	return emit(json_pack("{s:s,s:i,s:o,s:i}", "mode", "create", "n", (json_int_t)n,
			      "ms", json_ms(usec), "errors", (json_int_t)n_errors));
}

static int cmd_delete(char **a)
{
	_cleanup_conn_ struct conn c = CONN_NULL;
	_cleanup_json_ json_t *reply = NULL;
	uint64_t usec = 0;

	if (open_or_complain(a[0], &c) < 0)
		return 1;
	timed_call(&c, "io.netd.DeleteLinks", json_pack("{s:s}", "owner", a[1]), &reply, &usec);
	return emit(json_pack("{s:s,s:i,s:o,s:i}", "mode", "delete",
			      "n", (json_int_t)json_array_size(json_object_get(params(reply), "deleted")),
			      "ms", json_ms(usec), "errors", (json_int_t)n_errors));
}

/* For bind and unbind: errors counted, and bindings in state "applied". */
static int count_applied(json_t *reply, void *userdata)
{
	unsigned *applied = userdata;
	json_t *b = json_object_get(params(reply), "binding");

	if (!reply_failed(reply) &&
	    strcmp(json_string_value(json_object_get(b, "state")) ?: "", "applied") == 0)
		(*applied)++;
	return 0;
}

/* bind and unbind: N calls queued first, then written and answered at once. */
static int cmd_bind_or_unbind(char **a, bool bind)
{
	_cleanup_conn_ struct conn c = CONN_NULL;
	const char *prefix = a[1], *filter = bind ? a[4] : NULL;
	const char *owner_prefix = a[bind ? 5 : 4] ?: "g";
	const char *method = bind ? "io.netd.BindFilter" : "io.netd.UnbindFilter";
	unsigned first, n, applied = 0;
	uint64_t t0, usec;
	json_t *out;
	int r;

	/* Room for the index in the names below. */
	if (strlen(prefix) > 200 || strlen(owner_prefix) > 200)
		return 2;
	if (parse_uint(a[2], MAX_PORT_INDEX, &first) < 0 ||
	    parse_uint(a[3], MAX_PORT_INDEX - first, &n) < 0)
		return 2;
	if (open_or_complain(a[0], &c) < 0)
		return 1;
	for (unsigned i = first; i < first + n; i++) {
		char port[256], owner[256], ip[32];
		json_t *p;

		snprintf(port, sizeof(port), "%s%u", prefix, i);
		snprintf(owner, sizeof(owner), "%s%u", owner_prefix, i);
		if (bind) {
			snprintf(ip, sizeof(ip), "10.%u.%u.%u", i / 62500, i / 250 % 250, i % 250 + 1);
			p = json_pack("{s:s,s:s,s:s,s:{s:s}}", "port", port, "filter", filter,
				      "owner", owner, "parameters", "IP", ip);
		} else {
			p = json_pack("{s:s,s:s}", "port", port, "owner", owner);
		}
		r = conn_call(&c, method, p);
		if (r < 0) {
			fprintf(stderr, "vlbench: %s: %s\n", method, strerror(-r));
			return 1;
		}
	}
	c.read_usec = t0 = now_usec();    /* N = 0: nothing is read */
	r = conn_pump(&c, count_applied, &applied, IDLE_TIMEOUT_MS);
	usec = (r < 0 ? now_usec() : c.read_usec) - t0;
	if (r < 0)
		conn_failed(&c, method, r);
	out = json_pack("{s:s,s:i,s:o}", "mode", bind ? "bind" : "unbind", "n", (json_int_t)n,
			"ms", json_ms(usec));
	if (out && bind)
		json_object_set_new(out, "applied", json_integer(applied));
	if (out)
		json_object_set_new(out, "errors", json_integer(n_errors));
	return emit(out);
}

/* What restart saw last, for stderr when it gives up. */
struct restart_seen {
	int connect_error;      /* last failed connect, -errno */
	int call_error;         /* last failed GetStatus on a connection */
	json_t *error_reply;    /* last GetStatus answered with an error */
	long bindings, applied; /* in the last GetStatus reply; -1: none yet */
	bool verified;          /* its filters_verified */
};

static long param_int(json_t *reply, const char *name)
{
	json_t *v = json_object_get(params(reply), name);

	return json_is_integer(v) ? (long)json_integer_value(v) : -1;
}

/* Whether a GetStatus reply says the first check of the kernel's rules is
 * done and at least n bindings are there, every one applied. */
static bool status_all_applied(json_t *reply, unsigned n, struct restart_seen *seen)
{
	seen->bindings = param_int(reply, "bindings");
	seen->applied = param_int(reply, "bindings_now_applied");
	seen->verified = json_is_true(json_object_get(params(reply), "filters_verified"));
	return seen->verified && seen->bindings >= (long)n && seen->applied == seen->bindings;
}

/* How many bindings a ListBindings reply lists, and how many of them
 * say they are applied. */
static void list_count_applied(json_t *reply, size_t *ret_n, size_t *ret_ok)
{
	json_t *list = json_object_get(params(reply), "bindings"), *b;
	size_t i, ok = 0;

	json_array_foreach(list, i, b)
		if (json_is_true(json_object_get(b, "applied")) &&
		    strcmp(json_string_value(json_object_get(b, "state")) ?: "", "applied") == 0)
			ok++;
	*ret_n = json_array_size(list);
	*ret_ok = ok;
}

/* SIGTERM, then SIGKILL if the child has not gone within 5 s. */
static void child_stop(pid_t pid)
{
	kill(pid, SIGTERM);
	for (int i = 0; i < 5000; i++) {
		if (waitpid(pid, NULL, WNOHANG) != 0)
			return;
		sleep_ms(1);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void restart_complain(const struct restart_seen *seen, unsigned polls, uint64_t usec,
			     bool exited, int wstatus)
{
	_cleanup_free_ char *err = seen->error_reply ? json_dumps(seen->error_reply, JSON_COMPACT) : NULL;

	fprintf(stderr, "vlbench: restart: not ready after %.1f ms and %u polls", usec / 1000.0, polls);
	if (exited && WIFEXITED(wstatus))
		fprintf(stderr, "; netd exited with status %d", WEXITSTATUS(wstatus));
	else if (exited && WIFSIGNALED(wstatus))
		fprintf(stderr, "; netd was killed by signal %d", WTERMSIG(wstatus));
	if (seen->bindings >= 0)
		fprintf(stderr, "; last GetStatus: %ld bindings, %ld applied, %sverified",
			seen->bindings, seen->applied, seen->verified ? "" : "not ");
	if (seen->connect_error)
		fprintf(stderr, "; last connect: %s", strerror(-seen->connect_error));
	if (seen->call_error)
		fprintf(stderr, "; last call: %s", strerror(-seen->call_error));
	if (err)
		fprintf(stderr, "; last error reply: %s", err);
	fputc('\n', stderr);
}

/* fork and exec netd_argv, its output to the file $VLBENCH_LOG names (if
 * set). The child's pid, or -1 (said on stderr). */
static pid_t restart_spawn(char **netd_argv)
{
	const char *log = getenv("VLBENCH_LOG");
	int logfd = -1;
	pid_t pid;

	if (log) {
		logfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (logfd < 0) {
			fprintf(stderr, "vlbench: open \"%s\": %s\n", log, strerror(errno));
			return -1;
		}
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		fprintf(stderr, "vlbench: fork: %s\n", strerror(errno));
	if (pid == 0) {
		if (logfd >= 0 && (dup2(logfd, STDOUT_FILENO) < 0 || dup2(logfd, STDERR_FILENO) < 0))
			_exit(127);
		/* An ignored SIGPIPE would stay ignored across exec. */
		signal(SIGPIPE, SIG_DFL);
		execvp(netd_argv[0], netd_argv);
		fprintf(stderr, "vlbench: exec \"%s\": %s\n", netd_argv[0], strerror(errno));
		_exit(127);
	}
	if (logfd >= 0)
		close(logfd);
	return pid;
}

/* Poll pid's GetStatus on sock every 1 ms until it reports n bindings
 * applied (*ret_usec: when that reply was read), netd exits, or the
 * deadline. True when reported. */
static bool restart_wait(const char *sock, pid_t pid, unsigned n, struct conn *c,
			 uint64_t *ret_usec)
{
	_cleanup_json_ json_t *reply = NULL;
	struct restart_seen seen = { .bindings = -1, .applied = -1 };
	uint64_t t0 = now_usec(), deadline = t0 + RESTART_TIMEOUT_MS * 1000ull;
	unsigned polls = 0;
	int wstatus = 0, r;
	bool exited = false;

	for (;;) {
		uint64_t now = now_usec();

		if (waitpid(pid, &wstatus, WNOHANG) == pid) {
			exited = true;
			break;
		}
		if (now >= deadline)
			break;
		if (c->fd < 0 && (r = conn_open(sock, c)) < 0) {
			seen.connect_error = r;
			sleep_ms(1);
			continue;
		}
		polls++;
		json_decref(reply);
		reply = NULL;
		r = conn_roundtrip(c, "io.netd.GetStatus", json_object(),
				   (int)((deadline - now) / 1000) + 1, &reply, NULL);
		if (r < 0) {
			/* netd went away (an old one stopping?): connect anew. */
			seen.call_error = r;
			conn_close(c);
		} else if (json_object_get(reply, "error")) {
			json_decref(seen.error_reply);
			seen.error_reply = json_incref(reply);
		} else if (status_all_applied(reply, n, &seen)) {
			*ret_usec = c->read_usec;
			json_decref(seen.error_reply);
			return true;
		}
		sleep_ms(1);
	}
	restart_complain(&seen, polls, now_usec() - t0, exited, wstatus);
	json_decref(seen.error_reply);
	if (!exited)
		child_stop(pid);
	return false;
}

/* restart: the clock runs from fork to the GetStatus reply that first
 * reports every binding applied; then one ListBindings must list them all
 * applied (listed_ms: when its reply was read). */
static int cmd_restart(char **a, char **netd_argv)
{
	static const char *const fields[] = { "restore_runs", "save_runs", "bindings_skipped",
					      "bindings_applied", "links", "longest_callback_us",
					      "longest_callback", "longest_callback_cpu_us",
					      "longest_callback_cpu", "filters_verified_by" };
	_cleanup_conn_ struct conn c = CONN_NULL;
	_cleanup_json_ json_t *list = NULL, *status = NULL;
	uint64_t t0, t1 = 0, t2;
	size_t listed = 0, ok = 0;
	unsigned n;
	json_t *out;
	pid_t pid;

	if (parse_uint(a[1], 1000000000, &n) < 0)
		return 2;
	t0 = now_usec();
	pid = restart_spawn(netd_argv);
	if (pid < 0)
		return 1;
	if (!restart_wait(a[0], pid, n, &c, &t1))
		return 1;
	if (timed_call(&c, "io.netd.ListBindings", json_object(), &list, NULL) == 0)
		list_count_applied(list, &listed, &ok);
	t2 = c.read_usec;
	if (listed < n || ok != listed) {
		fprintf(stderr, "vlbench: restart: GetStatus reported every binding applied, "
			"but ListBindings then listed %zu, %zu of them applied\n", listed, ok);
		child_stop(pid);
		return 1;
	}
	timed_call(&c, "io.netd.GetStatus", json_object(), &status, NULL);
	/* Not an error with a wrapper that forks, but it may be an old netd. */
	if (json_integer_value(json_object_get(params(status), "pid")) != pid)
		fprintf(stderr, "vlbench: restart: the netd that answered has pid %" JSON_INTEGER_FORMAT
			", the child is %d\n", json_integer_value(json_object_get(params(status), "pid")),
			(int)pid);
	out = json_pack("{s:s,s:i,s:o,s:o,s:i}", "mode", "restart", "n", (json_int_t)n,
			"ms", json_ms(t1 - t0), "listed_ms", json_ms(t2 - t0),
			"pid", (json_int_t)pid);
	for (size_t i = 0; out && i < sizeof(fields) / sizeof(fields[0]); i++) {
		json_t *v = json_object_get(params(status), fields[i]);

		if (v)
			json_object_set(out, fields[i], v);
	}
	if (out)
		json_object_set_new(out, "errors", json_integer(n_errors));
	return emit(out);
}

static void samples_free(struct samples *s)
{
	free(s->v);
}

static int cmd_latency(char **a)
{
	_cleanup_conn_ struct conn c = CONN_NULL;
	_cleanup_json_ json_t *last = NULL;
	_cleanup_(samples_free) struct samples s = { 0 };
	uint64_t p50, p99;
	json_t *out, *st;

	if (open_or_complain(a[0], &c) < 0)
		return 1;
	while (access(a[1], F_OK) < 0) {
		json_t *reply = NULL;
		uint64_t usec;

		if (timed_call(&c, "io.netd.GetStatus", json_object(), &reply, &usec) < 0)
			break;
		if (json_object_get(reply, "error")) {
			json_decref(reply);
		} else {
			json_decref(last);
			last = reply;
		}
		if (samples_add(&s, usec) < 0) {
			fprintf(stderr, "vlbench: out of memory\n");
			return 1;
		}
		sleep_ms(1);
	}
	p50 = samples_pct(&s, 50);
	p99 = samples_pct(&s, 99);
	st = params(last);
	out = json_pack("{s:s,s:i,s:i,s:i,s:i,s:O,s:O,s:i}", "mode", "latency",
			"calls", (json_int_t)s.n, "p50_us", (json_int_t)p50, "p99_us", (json_int_t)p99,
			"max_us", (json_int_t)samples_pct(&s, 100),
			"longest_callback_us", json_object_get(st, "longest_callback_us") ?: json_null(),
			"longest_callback", json_object_get(st, "longest_callback") ?: json_null(),
			"errors", (json_int_t)n_errors);
	return emit(out);
}

static int cmd_churn(char **a)
{
	_cleanup_conn_ struct conn c = CONN_NULL;
	_cleanup_(samples_free) struct samples s = { 0 };
	unsigned count, cycles = 0;
	uint64_t p50;

	if (parse_uint(a[3], 1000000, &count) < 0)
		return 2;
	if (open_or_complain(a[0], &c) < 0)
		return 1;
	while (access(a[4], F_OK) < 0) {
		json_t *reply = NULL;
		uint64_t create_usec, delete_usec;

		if (timed_call(&c, "io.netd.CreateLinks", create_params(a[1], a[2], count), &reply,
			       &create_usec) < 0)
			break;
		json_decref(reply);
		reply = NULL;
		/* Even after a failed create: it may have left links behind. */
		if (timed_call(&c, "io.netd.DeleteLinks", json_pack("{s:s}", "owner", a[2]), &reply,
			       &delete_usec) < 0)
			break;
		json_decref(reply);
		if (samples_add(&s, create_usec) < 0 || samples_add(&s, delete_usec) < 0) {
			fprintf(stderr, "vlbench: out of memory\n");
			return 1;
		}
		cycles++;
	}
	p50 = samples_pct(&s, 50);
	return emit(json_pack("{s:s,s:i,s:o,s:o,s:i}", "mode", "churn", "cycles", (json_int_t)cycles,
			      "p50_ms", json_ms(p50), "max_ms", json_ms(samples_pct(&s, 100)),
			      "errors", (json_int_t)n_errors));
}

/* lister: a client listing every binding in a loop (B5). */
static int cmd_lister(char **a)
{
	_cleanup_conn_ struct conn c = CONN_NULL;
	_cleanup_(samples_free) struct samples s = { 0 };
	size_t most = 0;

	if (open_or_complain(a[0], &c) < 0)
		return 1;
	while (access(a[1], F_OK) < 0) {
		json_t *reply = NULL;
		uint64_t usec;
		size_t n;

		if (timed_call(&c, "io.netd.ListBindings", json_object(), &reply, &usec) < 0)
			break;
		n = json_array_size(json_object_get(params(reply), "bindings"));
		most = n > most ? n : most;
		json_decref(reply);
		if (samples_add(&s, usec) < 0) {
			fprintf(stderr, "vlbench: out of memory\n");
			return 1;
		}
	}
	return emit(json_pack("{s:s,s:i,s:i,s:o,s:o,s:i}", "mode", "lister", "calls", (json_int_t)s.n,
			      "most_bindings", (json_int_t)most, "p50_ms", json_ms(samples_pct(&s, 50)),
			      "max_ms", json_ms(samples_pct(&s, 100)), "errors", (json_int_t)n_errors));
}

/* seqbind: BindFilter calls one after another, each timed on its own. */
static int cmd_seqbind(char **a)
{
	_cleanup_conn_ struct conn c = CONN_NULL;
	_cleanup_(samples_free) struct samples s = { 0 };
	unsigned first, n, applied = 0;
	json_t *out, *us;

	if (strlen(a[1]) > 200 || parse_uint(a[2], MAX_PORT_INDEX, &first) < 0 ||
	    parse_uint(a[3], MAX_PORT_INDEX - first, &n) < 0)
		return 2;
	if (open_or_complain(a[0], &c) < 0)
		return 1;
	for (unsigned i = first; i < first + n; i++) {
		char port[256], owner[256], ip[32];
		json_t *reply = NULL;
		uint64_t usec;

		snprintf(port, sizeof(port), "%s%u", a[1], i);
		snprintf(owner, sizeof(owner), "g%u", i);
		snprintf(ip, sizeof(ip), "10.%u.%u.%u", i / 62500, i / 250 % 250, i % 250 + 1);
		if (timed_call(&c, "io.netd.BindFilter",
			       json_pack("{s:s,s:s,s:s,s:{s:s}}", "port", port, "filter", a[4],
					 "owner", owner, "parameters", "IP", ip),
			       &reply, &usec) < 0)
			break;
		count_applied(reply, &applied);
		json_decref(reply);
		if (samples_add(&s, usec) < 0) {
			fprintf(stderr, "vlbench: out of memory\n");
			return 1;
		}
	}
	us = json_array();
	for (size_t i = 0; us && i < s.n; i++)
		json_array_append_new(us, json_integer((json_int_t)s.v[i]));
	out = json_pack("{s:s,s:i,s:i,s:o,s:i}", "mode", "seqbind", "n", (json_int_t)s.n,
			"applied", (json_int_t)applied, "us", us, "errors", (json_int_t)n_errors);
	return emit(out);
}

/* guest: what a hypervisor does to start one guest. */
static int cmd_guest(char **a)
{
	_cleanup_conn_ struct conn c = CONN_NULL;
	json_t *reply = NULL;
	unsigned first, applied = 0;
	uint64_t t0, t1 = 0, usec;

	if (strlen(a[3]) > 200 || parse_uint(a[4], MAX_PORT_INDEX - 8, &first) < 0)
		return 2;
	if (open_or_complain(a[0], &c) < 0)
		return 1;
	/* Connected first, so that the guests start together. */
	while (access(a[5], F_OK) < 0)
		sleep_ms(1);
	t0 = now_usec();
	if (timed_call(&c, "io.netd.CreateLinks", create_params(a[1], a[2], 8), &reply, NULL) < 0)
		goto out;
	json_decref(reply);
	t1 = now_usec();
	for (unsigned i = first; i < first + 8; i++) {
		char port[256], ip[32];

		snprintf(port, sizeof(port), "%s%u", a[3], i);
		snprintf(ip, sizeof(ip), "10.%u.%u.%u", i / 62500, i / 250 % 250, i % 250 + 1);
		reply = NULL;
		if (timed_call(&c, "io.netd.BindFilter",
			       json_pack("{s:s,s:s,s:s,s:{s:s}}", "port", port, "filter",
					 "clean-traffic", "owner", a[2], "parameters", "IP", ip),
			       &reply, NULL) < 0)
			break;
		count_applied(reply, &applied);
		json_decref(reply);
	}
out:
	usec = now_usec() - t0;
	return emit(json_pack("{s:s,s:o,s:o,s:i,s:i}", "mode", "guest", "ms", json_ms(usec),
			      "links_ms", json_ms(t1 ? t1 - t0 : usec), "applied", (json_int_t)applied,
			      "errors", (json_int_t)n_errors));
}

static int cmd_guest_stop(char **a)
{
	_cleanup_conn_ struct conn c = CONN_NULL;
	json_t *reply = NULL;
	unsigned first;
	uint64_t t0 = now_usec();

	if (strlen(a[2]) > 200 || parse_uint(a[3], MAX_PORT_INDEX - 8, &first) < 0)
		return 2;
	if (open_or_complain(a[0], &c) < 0)
		return 1;
	for (unsigned i = first; i < first + 8; i++) {
		char port[256];

		snprintf(port, sizeof(port), "%s%u", a[2], i);
		reply = NULL;
		if (timed_call(&c, "io.netd.UnbindFilter",
			       json_pack("{s:s,s:s}", "port", port, "owner", a[1]), &reply, NULL) < 0)
			break;
		json_decref(reply);
	}
	reply = NULL;
	if (timed_call(&c, "io.netd.DeleteLinks", json_pack("{s:s}", "owner", a[1]), &reply,
		       NULL) == 0)
		json_decref(reply);
	return emit(json_pack("{s:s,s:o,s:i}", "mode", "guest-stop", "ms",
			      json_ms(now_usec() - t0), "errors", (json_int_t)n_errors));
}

static int cmd_resync(char **a, bool full)
{
	_cleanup_conn_ struct conn c = CONN_NULL;
	_cleanup_json_ json_t *reply = NULL;
	uint64_t usec = 0;
	json_t *p;

	if (open_or_complain(a[0], &c) < 0)
		return 1;
	timed_call(&c, "io.netd.Resync", full ? json_pack("{s:b}", "full", true) : json_object(),
		   &reply, &usec);
	p = params(reply);
	return emit(json_pack("{s:s,s:o,s:I,s:I,s:i}", "mode", "resync", "ms", json_ms(usec),
			      "skipped", json_integer_value(json_object_get(p, "skipped")),
			      "reapplied", json_integer_value(json_object_get(p, "reapplied")),
			      "errors", (json_int_t)n_errors));
}

static int cmd_status(char **a)
{
	_cleanup_conn_ struct conn c = CONN_NULL;
	_cleanup_json_ json_t *reply = NULL;

	if (open_or_complain(a[0], &c) < 0)
		return 1;
	if (timed_call(&c, "io.netd.GetStatus", json_object(), &reply, NULL) == 0 && n_errors == 0)
		return emit(json_incref(params(reply)));
	return emit(json_pack("{s:s,s:i}", "mode", "status", "errors", (json_int_t)n_errors));
}

static void usage(void)
{
	fprintf(stderr,
		"usage: vlbench create SOCK PARENT OWNER N\n"
		"       vlbench delete SOCK OWNER\n"
		"       vlbench bind SOCK PORTPREFIX FIRST N FILTER [OWNERPREFIX]\n"
		"       vlbench unbind SOCK PORTPREFIX FIRST N [OWNERPREFIX]\n"
		"       vlbench seqbind SOCK PORTPREFIX FIRST N FILTER\n"
		"       vlbench guest SOCK PARENT OWNER PORTPREFIX FIRST STARTFILE\n"
		"       vlbench guest-stop SOCK OWNER PORTPREFIX FIRST\n"
		"       vlbench restart SOCK N NETD_ARGV...\n"
		"       vlbench latency SOCK STOPFILE\n"
		"       vlbench churn SOCK PARENT OWNER COUNT STOPFILE\n"
		"       vlbench lister SOCK STOPFILE\n"
		"       vlbench resync SOCK [full]\n"
		"       vlbench status SOCK\n");
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	char **a = argv + 2;    /* NULL-terminated, so optional arguments read NULL */
	int n = argc - 2;
	int r = -1;

	signal(SIGPIPE, SIG_IGN);
	if (strcmp(mode, "create") == 0 && n == 4)
		r = cmd_create(a);
	else if (strcmp(mode, "delete") == 0 && n == 2)
		r = cmd_delete(a);
	else if (strcmp(mode, "bind") == 0 && (n == 5 || n == 6))
		r = cmd_bind_or_unbind(a, true);
	else if (strcmp(mode, "unbind") == 0 && (n == 4 || n == 5))
		r = cmd_bind_or_unbind(a, false);
	else if (strcmp(mode, "seqbind") == 0 && n == 5)
		r = cmd_seqbind(a);
	else if (strcmp(mode, "guest") == 0 && n == 6)
		r = cmd_guest(a);
	else if (strcmp(mode, "guest-stop") == 0 && n == 4)
		r = cmd_guest_stop(a);
	else if (strcmp(mode, "restart") == 0 && n >= 3)
		r = cmd_restart(a, a + 2);
	else if (strcmp(mode, "latency") == 0 && n == 2)
		r = cmd_latency(a);
	else if (strcmp(mode, "churn") == 0 && n == 5)
		r = cmd_churn(a);
	else if (strcmp(mode, "lister") == 0 && n == 2)
		r = cmd_lister(a);
	else if (strcmp(mode, "resync") == 0 && n == 1)
		r = cmd_resync(a, false);
	else if (strcmp(mode, "resync") == 0 && n == 2 && strcmp(a[1], "full") == 0)
		r = cmd_resync(a, true);
	else if (strcmp(mode, "status") == 0 && n == 1)
		r = cmd_status(a);
	if (r < 0 || r == 2) {
		if (r == 2)
			fprintf(stderr, "vlbench: bad argument\n");
		usage();
		return 2;
	}
	return r;
}
