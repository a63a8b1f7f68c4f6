/*
 * guests.c: libnetd-client's asynchronous API in a libev loop, the way a
 * hypervisor daemon starts many guests at once. Each guest is one
 * CreateLinks (its macvtaps on the parent) and, once that is answered, one
 * BindFilter per bridge port of the guest, all in flight together on one
 * connection. A guest has started when its last binding is answered; the
 * program prints each guest's start time and their p50/p99/max.
 *
 *   guests [options]
 *     -n N        guests (20)
 *     -l N        macvtap links per guest (8)
 *     -P DEV      parent of the macvtaps (required)
 *     -b PATTERN  bridge port of guest g's link i: PATTERN with %u
 *                 replaced by g * links + i (default "gp%u"); -b "" binds
 *                 nothing
 *     -f FILTER   filter bound to each port (no-mac-spoofing)
 *     -o PREFIX   owner of guest g: PREFIX followed by g (guest)
 *     -s SOCKET   netd's socket (default: $NETD_SOCKET, else the library's)
 *     -t MS       timeout of each call (60000)
 *     -d          delete every guest's links and bindings again at the end
 *     -q          only the summary line
 *
 * Output: "guest G start_ms T" per guest, then
 * "guests N links L bindings B failed F wall_ms W p50_ms X p99_ms Y max_ms Z".
 * Exit 0 when every guest started, 1 when one failed, 2 on usage errors.
 *
 * Build: cc guests.c $(pkg-config --cflags --libs netd-client) -lev
 */
#include <errno.h>
#include <ev.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <netd/client.h>

struct opts {
	unsigned guests, links;
	const char *parent, *ports, *filter, *owner, *socket;
	int timeout_ms;
	bool cleanup, quiet;
};

struct guest {
	struct app *app;
	unsigned id;
	char owner[64];
	double t_start, t_done; /* seconds, monotonic */
	unsigned binds_left;
	bool failed, done;
};

struct app {
	struct opts o;
	struct ev_loop *loop;
	struct netd_client *client;
	ev_io io;
	ev_timer timer;
	struct guest *guests;
	unsigned done, failed, cleanups_left;
};

static double now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Watch the socket for what the library wants now, and wake up for the
 * next timeout. Called after every change (a call queued, a process). */
static void app_update(struct app *a)
{
	short ev = netd_client_events(a->client);
	int events = (ev & POLLIN ? EV_READ : 0) | (ev & POLLOUT ? EV_WRITE : 0);
	int t = netd_client_timeout(a->client);

	if (events != (a->io.events & (EV_READ | EV_WRITE))) {
		ev_io_stop(a->loop, &a->io);
		ev_io_set(&a->io, netd_client_fd(a->client), events);
		if (events)
			ev_io_start(a->loop, &a->io);
	}
	ev_timer_stop(a->loop, &a->timer);
	if (t >= 0) {
		ev_timer_set(&a->timer, t / 1000.0, 0);
		ev_timer_start(a->loop, &a->timer);
	}
}

static void app_process(struct app *a)
{
	int r = netd_client_process(a->client);

	if (r < 0) {
		fprintf(stderr, "guests: connection to netd: %s\n", strerror(-r));
		ev_break(a->loop, EVBREAK_ALL);
		return;
	}
	app_update(a);
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop, (void)revents;
	app_process(w->data);
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop, (void)revents;
	app_process(w->data);
}

static void guest_finish(struct guest *g, bool failed)
{
	struct app *a = g->app;

	if (g->done)
		return;
	g->done = true;
	g->failed = failed;
	g->t_done = now_sec();
	a->done++;
	a->failed += failed;
	if (a->done == a->o.guests)
		ev_break(a->loop, EVBREAK_ALL);
}

/* The pattern's first %u replaced by n (the pattern comes from the
 * command line: not a printf format). */
static void port_name(const char *pattern, unsigned n, char *buf, size_t size)
{
	const char *p = strstr(pattern, "%u");

	snprintf(buf, size, "%.*s%u%s", (int)(p - pattern), pattern, n, p + 2);
}

/* Why a call failed, on stderr. */
static void report(const struct guest *g, const char *what, int r, const struct netd_error *e)
{
	if (r == -EREMOTEIO)
		fprintf(stderr, "guests: %s: %s: %s (%s)\n", g->owner, what, netd_strerror(e->name),
			e->name);
	else
		fprintf(stderr, "guests: %s: %s: %s\n", g->owner, what, strerror(-r));
}

static void bound_cb(struct netd_client *c, int r, struct netd_binding_result *res,
		     void *userdata)
{
	struct guest *g = userdata;

	(void)c;
	if (r < 0) {
		report(g, "BindFilter", r, &res->error);
		guest_finish(g, true);
		return;
	}
	if (--g->binds_left == 0)
		guest_finish(g, false);
}

static void created_cb(struct netd_client *c, int r, struct netd_links_result *res,
		       void *userdata)
{
	struct guest *g = userdata;
	const struct opts *o = &g->app->o;
	char port[64];

	if (r < 0) {
		report(g, "CreateLinks", r, &res->error);
		guest_finish(g, true);
		return;
	}
	if (!*o->ports) {
		guest_finish(g, false);
		return;
	}
	/* The guest's bridge ports get their filters, all at once. */
	g->binds_left = o->links;
	for (unsigned i = 0; i < o->links; i++) {
		port_name(o->ports, g->id * o->links + i, port, sizeof(port));
		r = netd_bind_filter_async(c, port, o->filter, g->owner, NULL, o->timeout_ms,
					   bound_cb, g);
		if (r < 0) {
			report(g, "BindFilter", r, NULL);
			guest_finish(g, true);
			return;
		}
	}
}

static void deleted_cb(struct netd_client *c, int r, struct netd_names_result *res,
		       void *userdata)
{
	struct guest *g = userdata;

	(void)c;
	if (r < 0 && r != -EREMOTEIO) {
		report(g, "cleanup", r, &res->error);
		g->app->failed++;
	}
	if (--g->app->cleanups_left == 0)
		ev_break(g->app->loop, EVBREAK_ALL);
}

/* Every guest's start, queued at once. */
static int app_start(struct app *a)
{
	for (unsigned i = 0; i < a->o.guests; i++) {
		struct guest *g = &a->guests[i];
		int r;

		*g = (struct guest){ .app = a, .id = i, .t_start = now_sec() };
		snprintf(g->owner, sizeof(g->owner), "%s%u", a->o.owner, i);
		r = netd_create_links_async(a->client,
					    &(struct netd_link_request){ .parent = a->o.parent,
									 .kind = "macvtap",
									 .owner = g->owner,
									 .count = a->o.links },
					    a->o.timeout_ms, created_cb, g);
		if (r < 0) {
			fprintf(stderr, "guests: CreateLinks: %s\n", strerror(-r));
			return r;
		}
	}
	return 0;
}

/* Tear every guest down again: unbind its ports, delete its links. */
static int app_cleanup(struct app *a)
{
	char port[64];
	int r;

	for (unsigned i = 0; i < a->o.guests; i++) {
		struct guest *g = &a->guests[i];

		for (unsigned j = 0; *a->o.ports && j < a->o.links; j++) {
			port_name(a->o.ports, i * a->o.links + j, port, sizeof(port));
			r = netd_unbind_filter_async(a->client, port, g->owner, a->o.timeout_ms,
						     deleted_cb, g);
			if (r < 0)
				return r;
			a->cleanups_left++;
		}
		r = netd_delete_links_async(a->client, g->owner, NULL, 0, a->o.timeout_ms,
					    deleted_cb, g);
		if (r < 0)
			return r;
		a->cleanups_left++;
	}
	return 0;
}

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return a < b ? -1 : a > b;
}

static void app_print(const struct app *a, double wall)
{
	unsigned n = a->o.guests;
	double *ms = calloc(n, sizeof(*ms));

	if (!ms)
		return;
	for (unsigned i = 0; i < n; i++) {
		const struct guest *g = &a->guests[i];

		ms[i] = g->done ? (g->t_done - g->t_start) * 1000 : -1;
		if (!a->o.quiet)
			printf("guest %u start_ms %.1f%s\n", i, ms[i], g->failed ? " FAILED" : "");
	}
	qsort(ms, n, sizeof(*ms), cmp_double);
	/* Nearest rank: the smallest value with at least p% at or below. */
	printf("guests %u links %u bindings %u failed %u wall_ms %.1f p50_ms %.1f p99_ms %.1f "
	       "max_ms %.1f\n",
	       n, n * a->o.links, *a->o.ports ? n * a->o.links : 0, a->failed, wall * 1000,
	       ms[(n * 50 + 99) / 100 - 1], ms[(n * 99 + 99) / 100 - 1], ms[n - 1]);
	free(ms);
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	int c;

	*o = (struct opts){ .guests = 20, .links = 8, .ports = "gp%u", .filter = "no-mac-spoofing",
			    .owner = "guest", .timeout_ms = 60000 };
	while ((c = getopt(argc, argv, "n:l:P:b:f:o:s:t:dq")) != -1) {
		switch (c) {
		case 'n': o->guests = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'l': o->links = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'P': o->parent = optarg; break;
		case 'b': o->ports = optarg; break;
		case 'f': o->filter = optarg; break;
		case 'o': o->owner = optarg; break;
		case 's': o->socket = optarg; break;
		case 't': o->timeout_ms = atoi(optarg); break;
		case 'd': o->cleanup = true; break;
		case 'q': o->quiet = true; break;
		default: return -EINVAL;
		}
	}
	if (optind != argc || !o->parent || !o->guests || o->guests > 100000 || !o->links ||
	    o->links > 4096 || (*o->ports && !strstr(o->ports, "%u")))
		return -EINVAL;
	return 0;
}

int main(int argc, char **argv)
{
	struct app a = { 0 };
	double t0;
	int r;

	if (parse_opts(argc, argv, &a.o) < 0) {
		fprintf(stderr, "usage: guests -P PARENT [-n GUESTS] [-l LINKS] [-b PORT%%u] "
			"[-f FILTER] [-o OWNER] [-s SOCKET] [-t MS] [-d] [-q]\n");
		return 2;
	}
	r = netd_client_connect(a.o.socket, &a.client);
	if (r < 0) {
		fprintf(stderr, "guests: cannot connect to netd: %s\n", strerror(-r));
		return 1;
	}
	a.loop = ev_default_loop(0);
	a.guests = calloc(a.o.guests, sizeof(*a.guests));
	if (!a.guests)
		return 1;
	ev_io_init(&a.io, io_cb, netd_client_fd(a.client), 0);
	ev_timer_init(&a.timer, timer_cb, 0, 0);
	a.io.data = a.timer.data = &a;

	t0 = now_sec();
	if (app_start(&a) < 0)
		return 1;
	app_update(&a);
	ev_run(a.loop, 0);
	app_print(&a, now_sec() - t0);
	if (a.done < a.o.guests)
		a.failed += a.o.guests - a.done;
	if (a.o.cleanup && a.done == a.o.guests) {
		if (app_cleanup(&a) < 0)
			a.failed++;
		app_update(&a);
		ev_run(a.loop, 0);
	}
	netd_client_free(a.client);
	free(a.guests);
	return a.failed ? 1 : 0;
}
