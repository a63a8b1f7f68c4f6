/*
 * vlclient.c: a test client for netd's socket that does what socat and
 * netdctl cannot: send raw bytes and tell whether the server closed the
 * connection, hold hundreds of connections at once, pipeline, and play a
 * client that never reads.
 *
 *   vlclient raw SOCKET [WAIT_MS [AT PAUSE_MS]]
 *                                        stdin bytes out as they are; each
 *                                        reply printed on a line; last
 *                                        line CLOSED or OPEN. With AT: the
 *                                        first AT bytes, a pause of
 *                                        PAUSE_MS, then the rest (a client
 *                                        whose socket filled mid-call and
 *                                        that got the CPU back later).
 *                                        With $VLCLIENT_RAW_ANSWERED set: ends
 *                                        (OPEN) once every call is answered
 *   vlclient many SOCKET N               N connections at once, one
 *                                        GetStatus each
 *   vlclient pipeline SOCKET N           N calls in one write, replies
 *                                        checked in order
 *   vlclient flood SOCKET SECONDS        pipeline calls, never read;
 *                                        print DROPPED or NOT-DROPPED
 *   vlclient status SOCKET TIMEOUT_MS    one GetStatus; print latency µs
 *   vlclient lazy SOCKET N DELAY_MS      N GetStatus calls, wait, then read
 *                                        all N replies
 *   vlclient hold SOCKET N BYTES SECONDS N connections, each sends BYTES of
 *                                        a message without its end (0:
 *                                        nothing); prints how many are open,
 *                                        refused, closed; holds them SECONDS
 *                                        and prints that again ("final")
 *   vlclient repeat SOCKET FILE N        FILE (one message) sent N times on
 *                                        one connection while replies are
 *                                        read; prints each error name and
 *                                        how many replies had it
 *   vlclient monitor-hold SOCKET N SECONDS  a Monitor, then N GetStatus
 *                                        calls behind it, never read; print
 *                                        DROPPED or NOT-DROPPED
 *   vlclient monitor SOCKET SECONDS      a Monitor; print each reply on a
 *                                        line until the server ends it or
 *                                        SECONDS pass
 *   vlclient describe SOCKET             fetch the interfaces served
 *                                        (GetInfo, GetInterfaceDescription)
 *                                        and print them
 *   vlclient check-reply METHOD [SOCKET] stdin: replies to METHOD, as
 *                                        netdctl --json prints them (the
 *                                        parameters, or {error, parameters})
 *                                        or as whole varlink messages
 *
 * Every reply read is checked against the interfaces the server serves
 * (vlschema.c): an undeclared field or error, a missing field that is not
 * optional or a value of the wrong type is printed as "schema violation"
 * and makes vlclient exit 3 whatever the mode's own result. The interfaces
 * are fetched once over SOCKET, or read from the file $VLCLIENT_SCHEMA
 * (the descriptions one after another) when it exists, written there when
 * not. Each violation is also appended to $VLCLIENT_VIOLATIONS when set,
 * so that a test ignoring vlclient's status still sees it.
 * VLCLIENT_NO_SCHEMA=1 turns the check off.
 *
 * Exit 0 when the check holds, 1 when not, 2 on usage errors, 3 on a reply
 * that does not conform to the interface.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vlschema.h"

/* The interfaces replies are checked against; NULL: no check. */
static struct vlschema *schema;
static bool schema_failed;

static void schema_violation(const char *method, const char *what, const char *reply);
static void check_reply(const char *method, json_t *reply);

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int connect_to(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || strlen(path) >= sizeof(a.sun_path)) {
		perror("socket");
		exit(1);
	}
	strcpy(a.sun_path, path);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		fprintf(stderr, "connect %s: %s\n", path, strerror(errno));
		exit(1);
	}
	return fd;
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "write: %s\n", strerror(errno));
			exit(1);
		}
		p += w;
		n -= (size_t)w;
	}
}

/* The calls of a raw input that get a reply, in order: each method name,
 * or NULL for a message that is not a call (its reply must be an error). */
struct raw_calls {
	char **method; /* n of them, room for cap */
	size_t n, cap, head;
};

static void raw_calls_parse(struct raw_calls *rc, const char *in, size_t n)
{
	size_t start = 0;

	for (size_t i = 0; i < n; i++) {
		json_t *m, *meth, *params;

		if (in[i] != '\0')
			continue;
		if (rc->n == rc->cap) {
			rc->cap = rc->cap ? 2 * rc->cap : 4096;
			rc->method = realloc(rc->method, rc->cap * sizeof(*rc->method));
			if (!rc->method) {
				fprintf(stderr, "vlclient: out of memory\n");
				exit(1);
			}
		}
		m = json_loadb(in + start, i - start, JSON_REJECT_DUPLICATES, NULL);
		start = i + 1;
		meth = json_object_get(m, "method");
		params = json_object_get(m, "parameters");
		/* A valid oneway call is not answered. */
		if (json_is_string(meth) && json_is_true(json_object_get(m, "oneway")) &&
		    !json_is_true(json_object_get(m, "more")) && (!params || json_is_object(params))) {
			json_decref(m);
			continue;
		}
		rc->method[rc->n++] = json_is_string(meth) ? strdup(json_string_value(meth)) : NULL;
		json_decref(m);
	}
}

/* Check the reply text against the call at the head of rc. */
static void raw_check(struct raw_calls *rc, const char *text, size_t len)
{
	json_t *r = json_loadb(text, len, 0, NULL);
	const char *method = rc->head < rc->n ? rc->method[rc->head] : NULL;

	if (!schema)
		return;
	if (!r) {
		schema_violation(method, "not JSON", "");
		return;
	}
	check_reply(method, r);
	if (!json_is_true(json_object_get(r, "continues")) && rc->head < rc->n)
		rc->head++;
	json_decref(r);
}

/* Send in[0..n) on fd as the server takes it, until it closes on us. */
static void raw_send(int fd, const char *in, size_t n)
{
	for (size_t off = 0; off < n;) {
		ssize_t w = send(fd, in + off, n - off, MSG_NOSIGNAL);

		if (w < 0)
			break;
		off += (size_t)w;
	}
}

/* Send stdin (the first at bytes, a pause of pause_ms, the rest), then read
 * replies until the server closes or wait_ms pass without data. Prints
 * each reply on a line, then CLOSED or OPEN. */
static int cmd_raw(const char *path, int wait_ms, size_t at, int pause_ms)
{
	static char in[4 << 20];
	static struct raw_calls rc;
	char buf[65536];
	size_t n = 0, start = 0;
	ssize_t r;
	int fd = connect_to(path);
	bool answered_stop = getenv("VLCLIENT_RAW_ANSWERED") != NULL;

	while ((r = read(STDIN_FILENO, in + n, sizeof(in) - n)) > 0)
		n += (size_t)r;
	raw_calls_parse(&rc, in, n);
	/* Write what the server takes; it may close on us midway. */
	if (at > n)
		at = n;
	raw_send(fd, in, at);
	if (at < n && pause_ms > 0)
		poll(NULL, 0, pause_ms);
	raw_send(fd, in + at, n - at);

	n = 0;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		r = poll(&p, 1, wait_ms);
		if (r == 0) {
			puts("OPEN");
			return 0;
		}
		r = read(fd, buf, sizeof(buf));
		if (r <= 0) {
			puts("CLOSED");
			return 0;
		}
		for (ssize_t i = 0; i < r; i++) {
			if (buf[i] == '\0') {
				fwrite(in + start, 1, n - start, stdout);
				putchar('\n');
				raw_check(&rc, in + start, n - start);
				start = n = 0;
				/* VLCLIENT_RAW_ANSWERED: done once every call is
				 * answered, so a long WAIT_MS costs nothing then. */
				if (answered_stop && rc.head >= rc.n) {
					puts("OPEN");
					return 0;
				}
			} else if (n < sizeof(in)) {
				in[n++] = buf[i];
			}
		}
		fflush(stdout);
	}
}

/* Bytes read past the reply last returned, per descriptor, so pipelined
 * replies can be read in large chunks and still be taken one by one. */
struct rbuf {
	char *data;
	size_t len, cap;
};
static struct rbuf rbufs[4096];

/* Read one NUL-terminated reply into a JSON value; NULL on timeout, EOF
 * or garbage. */
static json_t *read_reply(int fd, int timeout_ms)
{
	struct rbuf *b = &rbufs[fd];
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;

	for (;;) {
		char *nul = b->len ? memchr(b->data, '\0', b->len) : NULL;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left;
		ssize_t r;

		if (nul) {
			size_t n = (size_t)(nul - b->data);
			json_t *v = json_loadb(b->data, n, 0, NULL);

			memmove(b->data, nul + 1, b->len - n - 1);
			b->len -= n + 1;
			return v;
		}
		if (b->cap - b->len < 65536) {
			b->cap = b->cap ? b->cap * 2 : 131072;
			b->data = realloc(b->data, b->cap);
			if (!b->data)
				return NULL;
		}
		left = (int64_t)(deadline - now_ms());
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return NULL;
		r = read(fd, b->data + b->len, b->cap - b->len);
		if (r <= 0)
			return NULL;
		b->len += (size_t)r;
	}
}

/* Record a violation: stderr, $VLCLIENT_VIOLATIONS, the exit status. */
static void schema_violation(const char *method, const char *what, const char *reply)
{
	const char *file = getenv("VLCLIENT_VIOLATIONS");

	schema_failed = true;
	fprintf(stderr, "vlclient: schema violation in the reply to %s: %s\n  reply: %.2000s\n",
		method ? method : "(not a call)", what, reply);
	if (file && *file) {
		FILE *f = fopen(file, "ae");

		if (f) {
			fprintf(f, "%s: %s: %.2000s\n", method ? method : "(not a call)", what, reply);
			fclose(f);
		}
	}
}

/* Check one reply to method (NULL: not a call) if a schema is loaded. */
static void check_reply(const char *method, json_t *reply)
{
	char err[512];
	char *text;

	if (!schema || !reply || vlschema_check_reply(schema, method, reply, err, sizeof(err)))
		return;
	text = json_dumps(reply, JSON_COMPACT);
	schema_violation(method, err, text ? text : "?");
	free(text);
}

/* One call on fd and its reply; NULL on any failure. */
static json_t *call_once(int fd, const char *method, json_t *params)
{
	json_t *msg = json_pack("{s:s, s:O}", "method", method, "parameters", params);
	char *text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
	json_t *r;

	json_decref(msg);
	if (!text)
		return NULL;
	write_all(fd, text, strlen(text) + 1);
	free(text);
	r = read_reply(fd, 10000);
	if (r && !json_object_get(r, "error"))
		return r;
	json_decref(r);
	return NULL;
}

/* The descriptions of every interface the server at path serves, one
 * after another; NULL on failure. */
static char *schema_fetch(const char *path)
{
	json_auto_t *none = json_object();
	json_t *info, *v;
	char *all = strdup("");
	size_t i;
	int fd = connect_to(path);

	info = call_once(fd, "org.varlink.service.GetInfo", none);
	if (!info || !all) {
		free(all);
		return NULL;
	}
	json_array_foreach(json_object_get(json_object_get(info, "parameters"), "interfaces"), i, v) {
		json_auto_t *p = json_pack("{s:O}", "interface", v);
		json_t *d = call_once(fd, "org.varlink.service.GetInterfaceDescription", p);
		const char *text = json_string_value(json_object_get(json_object_get(d, "parameters"),
								     "description"));
		char *more;

		if (!text || asprintf(&more, "%s%s\n", all, text) < 0) {
			json_decref(d);
			free(all);
			all = NULL;
			break;
		}
		free(all);
		all = more;
		json_decref(d);
	}
	json_decref(info);
	close(fd);
	return all;
}

static char *read_file(const char *file)
{
	FILE *f = fopen(file, "re");
	char *text = NULL;
	size_t len = 0;

	if (!f)
		return NULL;
	if (getdelim(&text, &len, '\0', f) < 0) {
		free(text);
		text = NULL;
	}
	fclose(f);
	return text;
}

/* Load the schema from $VLCLIENT_SCHEMA or the server (path may be NULL
 * when the file must exist). Exits 2 when neither works. */
static void schema_init(const char *path)
{
	const char *file = getenv("VLCLIENT_SCHEMA");
	const char *off = getenv("VLCLIENT_NO_SCHEMA");
	char err[512];
	char *text = NULL;

	if (off && *off && strcmp(off, "0") != 0)
		return;
	if (file && *file)
		text = read_file(file);
	if (!text && path) {
		text = schema_fetch(path);
		if (text && file && *file) {
			FILE *f = fopen(file, "we");

			if (f) {
				fputs(text, f);
				fclose(f);
			}
		}
	}
	if (!text) {
		fprintf(stderr, "vlclient: cannot get the interfaces to check replies against "
			"(set VLCLIENT_NO_SCHEMA=1 to run without)\n");
		exit(2);
	}
	schema = vlschema_parse(NULL, text, err, sizeof(err));
	free(text);
	if (!schema) {
		fprintf(stderr, "vlclient: %s\n", err);
		exit(2);
	}
}

/* read_reply(), and the reply checked as one to method. */
static json_t *read_checked(int fd, int timeout_ms, const char *method)
{
	json_t *r = read_reply(fd, timeout_ms);

	check_reply(method, r);
	return r;
}

static const char status_call[] = "{\"method\":\"io.netd.GetStatus\"}";

static int cmd_many(const char *path, int count)
{
	int *fds = calloc((size_t)count, sizeof(int));
	int ok = 0;

	for (int i = 0; i < count; i++)
		fds[i] = connect_to(path);
	/* All connected at once; now every one of them asks. */
	for (int i = 0; i < count; i++)
		write_all(fds[i], status_call, sizeof(status_call));
	for (int i = 0; i < count; i++) {
		json_t *r = read_checked(fds[i], 10000, "io.netd.GetStatus");

		if (r && json_object_get(r, "parameters") && !json_object_get(r, "error"))
			ok++;
		json_decref(r);
	}
	for (int i = 0; i < count; i++)
		close(fds[i]);
	free(fds);
	printf("%d of %d answered\n", ok, count);
	return ok == count ? 0 : 1;
}

static int cmd_pipeline(const char *path, int count)
{
	size_t cap = (size_t)count * 128, n = 0;
	char *out = malloc(cap);
	int fd = connect_to(path), bad = 0;

	/* Alternate two kinds of call; the unknown interface names carry the
	 * sequence number so the reply order can be checked. */
	for (int i = 0; i < count; i++) {
		if (i % 2)
			n += (size_t)sprintf(out + n, "%s", status_call) + 1;
		else
			n += (size_t)sprintf(out + n,
					     "{\"method\":\"org.varlink.service.GetInterfaceDescription\","
					     "\"parameters\":{\"interface\":\"com.example.i%d\"}}", i) + 1;
	}
	write_all(fd, out, n);
	for (int i = 0; i < count; i++) {
		json_t *r = read_checked(fd, 10000, i % 2 ? "io.netd.GetStatus" :
					 "org.varlink.service.GetInterfaceDescription");
		char want[64];

		if (!r) {
			bad++;
			break;
		}
		if (i % 2) {
			if (!json_object_get(json_object_get(r, "parameters"), "uptime_sec"))
				bad++;
		} else {
			snprintf(want, sizeof(want), "com.example.i%d", i);
			if (!json_is_string(json_object_get(json_object_get(r, "parameters"), "interface")) ||
			    strcmp(json_string_value(json_object_get(json_object_get(r, "parameters"),
								     "interface")), want) != 0)
				bad++;
		}
		json_decref(r);
	}
	close(fd);
	free(out);
	printf("%d of %d replies in order\n", count - bad, count);
	return bad ? 1 : 0;
}

static int cmd_flood(const char *path, int seconds)
{
	static const char call[] =
		"{\"method\":\"org.varlink.service.GetInterfaceDescription\","
		"\"parameters\":{\"interface\":\"io.netd\"}}";
	char batch[sizeof(call) * 64];
	uint64_t deadline = now_ms() + (uint64_t)seconds * 1000;
	unsigned long long sent = 0;
	int fd = connect_to(path);

	for (int i = 0; i < 64; i++)
		memcpy(batch + i * sizeof(call), call, sizeof(call));
	fcntl(fd, F_SETFL, O_NONBLOCK);
	while (now_ms() < deadline) {
		ssize_t w = send(fd, batch, sizeof(batch), MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EAGAIN) {
				struct pollfd p = { .fd = fd, .events = POLLOUT };

				poll(&p, 1, 50);
				/* POLLHUP/ERR: the server closed on us. */
				if (p.revents & (POLLHUP | POLLERR)) {
					printf("DROPPED after %llu bytes\n", sent);
					return 0;
				}
				continue;
			}
			printf("DROPPED after %llu bytes (%s)\n", sent, strerror(errno));
			return 0;
		}
		sent += (unsigned long long)w;
	}
	printf("NOT-DROPPED after %llu bytes\n", sent);
	return 1;
}

static int cmd_status(const char *path, int timeout_ms)
{
	uint64_t t0 = now_ms();
	int fd = connect_to(path);
	json_t *r;

	write_all(fd, status_call, sizeof(status_call));
	r = read_checked(fd, timeout_ms, "io.netd.GetStatus");
	close(fd);
	if (!r || !json_object_get(r, "parameters")) {
		printf("no reply within %d ms\n", timeout_ms);
		return 1;
	}
	json_decref(r);
	printf("%llu\n", (unsigned long long)(now_ms() - t0));
	return 0;
}

static int cmd_lazy(const char *path, int count, int delay_ms)
{
	int fd = connect_to(path), got = 0;

	for (int i = 0; i < count; i++)
		write_all(fd, status_call, sizeof(status_call));
	usleep((useconds_t)delay_ms * 1000);
	for (int i = 0; i < count; i++) {
		json_t *r = read_checked(fd, 10000, "io.netd.GetStatus");

		if (!r || !json_object_get(json_object_get(r, "parameters"), "uptime_sec"))
			break;
		json_decref(r);
		got++;
	}
	close(fd);
	printf("%d of %d answered\n", got, count);
	return got == count ? 0 : 1;
}

/* Count one reply by its error name (or "ok") in names/counts. */
static void repeat_count(const char *reply, char names[][128], int *counts, int *nnames)
{
	const char *e = strstr(reply, "\"error\":\"");
	char name[128] = "ok";
	int i;

	if (e) {
		e += 9;
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(e, "\""), e);
	}
	for (i = 0; i < *nnames; i++)
		if (strcmp(names[i], name) == 0)
			break;
	if (i == *nnames) {
		if (*nnames == 16)
			return;
		strcpy(names[(*nnames)++], name);
	}
	counts[i]++;
}

static int cmd_repeat(const char *path, const char *file, int count)
{
	static char rbuf[1 << 16], reply[4096];
	char names[16][128];
	int counts[16] = { 0 }, nnames = 0, got = 0;
	size_t len, off = 0, rn = 0;
	uint64_t deadline = now_ms() + 60000;
	FILE *f = fopen(file, "re");
	json_t *call;
	const char *method;
	char *msg;
	int fd;

	if (!f)
		return 2;
	fseek(f, 0, SEEK_END);
	len = (size_t)ftell(f);
	rewind(f);
	msg = malloc(len);
	if (!msg || fread(msg, 1, len, f) != len)
		return 2;
	fclose(f);
	call = json_loadb(msg, strnlen(msg, len), 0, NULL);
	method = json_string_value(json_object_get(call, "method"));
	fd = connect_to(path);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	while (got < count && now_ms() < deadline) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (off < len * (size_t)count)
			p.events |= POLLOUT;
		poll(&p, 1, 100);
		if (p.revents & POLLOUT) {
			size_t at = off % len;

			r = send(fd, msg + at, len - at, MSG_NOSIGNAL);
			if (r > 0)
				off += (size_t)r;
		}
		if (!(p.revents & (POLLIN | POLLHUP)))
			continue;
		r = read(fd, rbuf, sizeof(rbuf));
		if (r <= 0)
			break;
		for (ssize_t i = 0; i < r; i++) {
			if (rbuf[i] != '\0') {
				if (rn < sizeof(reply) - 1)
					reply[rn++] = rbuf[i];
				continue;
			}
			reply[rn] = '\0';
			repeat_count(reply, names, counts, &nnames);
			if (rn < sizeof(reply) - 1) {
				json_t *rj = json_loads(reply, 0, NULL);

				if (rj)
					check_reply(method, rj);
				else
					schema_violation(method, "not JSON", reply);
				json_decref(rj);
			}
			rn = 0;
			got++;
		}
	}
	close(fd);
	free(msg);
	json_decref(call);
	for (int i = 0; i < nnames; i++)
		printf("%s %d\n", names[i], counts[i]);
	printf("replies %d of %d\n", got, count);
	return got == count ? 0 : 1;
}

enum hold_state { HOLD_OPEN, HOLD_REFUSED, HOLD_CLOSED };

/* Without reading what is not an answer: a refusal is a reply naming
 * TooManyClients; EOF or a hang-up is closed. */
static enum hold_state hold_classify(int fd, enum hold_state was)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLRDHUP };
	char buf[256];
	ssize_t n;

	if (was != HOLD_OPEN)
		return was;
	if (poll(&p, 1, 0) <= 0)
		return HOLD_OPEN;
	n = recv(fd, buf, sizeof(buf) - 1, MSG_PEEK | MSG_DONTWAIT);
	if (n > 0) {
		buf[n] = '\0';
		if (strstr(buf, "TooManyClients"))
			return HOLD_REFUSED;
	}
	if (n == 0 || (p.revents & (POLLHUP | POLLRDHUP | POLLERR)))
		return HOLD_CLOSED;
	return HOLD_OPEN;
}

static void hold_print(const char *what, int count, const int *fds, enum hold_state *st)
{
	int n[3] = { 0 };

	for (int i = 0; i < count; i++) {
		st[i] = hold_classify(fds[i], st[i]);
		n[st[i]]++;
	}
	printf("%s open=%d refused=%d closed=%d\n", what, n[HOLD_OPEN], n[HOLD_REFUSED],
	       n[HOLD_CLOSED]);
	fflush(stdout);
}

static int cmd_hold(const char *path, int count, size_t bytes, int seconds)
{
	static const char head[] = "{\"method\":\"io.netd.GetStatus\",\"parameters\":{\"x\":\"";
	int *fds = calloc((size_t)count, sizeof(int));
	enum hold_state *st = calloc((size_t)count, sizeof(*st));
	char *msg = malloc(bytes + sizeof(head));

	if (!fds || !st || !msg)
		return 2;
	memcpy(msg, head, sizeof(head) - 1);
	if (bytes > sizeof(head) - 1)
		memset(msg + sizeof(head) - 1, 'a', bytes - (sizeof(head) - 1));
	for (int i = 0; i < count; i++)
		fds[i] = connect_to(path);
	for (int i = 0; i < count && bytes > 0; i++) {
		size_t off = 0;

		while (off < bytes) {
			ssize_t w = send(fds[i], msg + off, bytes - off, MSG_NOSIGNAL);

			if (w < 0) {
				if (errno == EINTR)
					continue;
				break; /* refused or dropped: classified below */
			}
			off += (size_t)w;
		}
	}
	usleep(500000);
	hold_print("held", count, fds, st);
	for (int t = 0; t < seconds * 10; t++)
		usleep(100000);
	hold_print("final", count, fds, st);
	for (int i = 0; i < count; i++)
		close(fds[i]);
	free(fds);
	free(st);
	free(msg);
	return 0;
}

static int cmd_monitor_hold(const char *path, int count, int seconds)
{
	static const char monitor[] = "{\"method\":\"io.netd.Monitor\",\"more\":true}";
	uint64_t deadline = now_ms() + (uint64_t)seconds * 1000;
	int fd = connect_to(path);

	write_all(fd, monitor, sizeof(monitor));
	for (int i = 0; i < count; i++) {
		if (send(fd, status_call, sizeof(status_call), MSG_NOSIGNAL) < 0) {
			printf("DROPPED after %d calls (%s)\n", i, strerror(errno));
			return 0;
		}
	}
	while (now_ms() < deadline) {
		struct pollfd p = { .fd = fd, .events = POLLRDHUP };

		poll(&p, 1, 100);
		if (p.revents & (POLLHUP | POLLRDHUP | POLLERR)) {
			printf("DROPPED\n");
			return 0;
		}
	}
	printf("NOT-DROPPED\n");
	return 1;
}

/* A Monitor: each reply printed on a line until the final one (or EOF,
 * or seconds pass). */
static int cmd_monitor(const char *path, int seconds)
{
	static const char monitor[] = "{\"method\":\"io.netd.Monitor\",\"more\":true}";
	uint64_t deadline = now_ms() + (uint64_t)seconds * 1000;
	int fd = connect_to(path);

	write_all(fd, monitor, sizeof(monitor));
	while (now_ms() < deadline) {
		json_t *r = read_checked(fd, (int)(deadline - now_ms()), "io.netd.Monitor");
		char *text;
		bool last;

		if (!r) {
			puts("CLOSED");
			return 0;
		}
		text = json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS);
		puts(text ? text : "?");
		fflush(stdout);
		free(text);
		last = !json_is_true(json_object_get(r, "continues"));
		json_decref(r);
		if (last) {
			puts("END");
			return 0;
		}
	}
	puts("TIMEOUT");
	return 1;
}

static int cmd_describe(const char *path)
{
	char *text = schema_fetch(path);

	if (!text)
		return 1;
	fputs(text, stdout);
	free(text);
	return 0;
}

/* One value as netdctl --json prints it (the parameters, or the error
 * object) or a whole reply message, checked as a reply to method. */
static void check_printed(const char *method, json_t *v)
{
	json_t *msg;

	if (json_is_object(v) && (json_object_get(v, "error") ||
				  (json_object_size(v) == 1 && json_is_object(json_object_get(v, "parameters")))))
		msg = json_incref(v);
	else
		msg = json_pack("{s:O}", "parameters", v);
	check_reply(method, msg);
	json_decref(msg);
}

/* stdin: one or more such values (netdctl --json monitor prints one per
 * line), each a reply to method. */
static int cmd_check_reply(const char *method)
{
	char *in = NULL;
	size_t cap = 0, off = 0;
	ssize_t n = getdelim(&in, &cap, '\0', stdin);
	int count = 0;

	while (n > 0 && off < (size_t)n) {
		json_error_t jerr;
		json_t *v;

		off += strspn(in + off, " \t\r\n");
		if (off >= (size_t)n)
			break;
		v = json_loadb(in + off, (size_t)n - off, JSON_DISABLE_EOF_CHECK, &jerr);
		if (!v) {
			fprintf(stderr, "vlclient: check-reply: stdin is not JSON: %s\n", jerr.text);
			free(in);
			return 2;
		}
		check_printed(method, v);
		json_decref(v);
		off += (size_t)jerr.position;
		count++;
	}
	free(in);
	if (count == 0) {
		fprintf(stderr, "vlclient: check-reply: nothing on stdin\n");
		return 2;
	}
	return 0;
}

static int run(int argc, char **argv)
{
	if (strcmp(argv[1], "raw") == 0)
		return cmd_raw(argv[2], argc > 3 ? atoi(argv[3]) : 2000,
			       argc > 4 ? (size_t)atol(argv[4]) : (size_t)-1, argc > 5 ? atoi(argv[5]) : 0);
	if (strcmp(argv[1], "describe") == 0)
		return cmd_describe(argv[2]);
	if (strcmp(argv[1], "check-reply") == 0)
		return cmd_check_reply(argv[2]);
	if (argc < 4)
		return -1;
	if (strcmp(argv[1], "many") == 0)
		return cmd_many(argv[2], atoi(argv[3]));
	if (strcmp(argv[1], "pipeline") == 0)
		return cmd_pipeline(argv[2], atoi(argv[3]));
	if (strcmp(argv[1], "flood") == 0)
		return cmd_flood(argv[2], atoi(argv[3]));
	if (strcmp(argv[1], "status") == 0)
		return cmd_status(argv[2], atoi(argv[3]));
	if (strcmp(argv[1], "monitor") == 0)
		return cmd_monitor(argv[2], atoi(argv[3]));
	if (strcmp(argv[1], "hold") == 0 && argc > 5)
		return cmd_hold(argv[2], atoi(argv[3]), (size_t)atol(argv[4]), atoi(argv[5]));
	if (strcmp(argv[1], "repeat") == 0 && argc > 4)
		return cmd_repeat(argv[2], argv[3], atoi(argv[4]));
	if (strcmp(argv[1], "monitor-hold") == 0 && argc > 4)
		return cmd_monitor_hold(argv[2], atoi(argv[3]), atoi(argv[4]));
	if (strcmp(argv[1], "lazy") == 0 && argc > 4)
		return cmd_lazy(argv[2], atoi(argv[3]), atoi(argv[4]));
	return -1;
}

int main(int argc, char **argv)
{
	int rc;

	if (argc < 3)
		goto usage;
	/* Modes that never read a reply need no schema; describe fetches
	 * it itself. */
	if (strcmp(argv[1], "check-reply") == 0)
		schema_init(argc > 3 ? argv[3] : NULL);
	else if (strcmp(argv[1], "describe") != 0 && strcmp(argv[1], "flood") != 0 &&
		 strcmp(argv[1], "hold") != 0 && strcmp(argv[1], "monitor-hold") != 0)
		schema_init(argv[2]);
	rc = run(argc, argv);
	if (rc < 0)
		goto usage;
	vlschema_free(schema);
	return schema_failed ? 3 : rc;
usage:
	fprintf(stderr, "usage: vlclient raw|many|pipeline|flood|status|lazy|hold|repeat|"
		"monitor|monitor-hold|describe SOCKET [ARG]...\n"
		"       vlclient check-reply METHOD [SOCKET]\n");
	return 2;
}
