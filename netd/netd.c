/*
 * netd.c: main() of the daemon: options, configuration, detaching from the
 * terminal, and handing over to the core. Everything else lives in the
 * internal library.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf.h"
#include "core.h"
#include "log.h"
#include "service.h"
#include "util.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: netd [OPTION]...\n"
		"Manage macvtap/macvlan devices and per-port packet filters for a\n"
		"hypervisor daemon, over a varlink UNIX socket.\n"
		"\n"
		"  -f, --foreground    stay in the foreground and log to stderr\n"
		"  -c, --config FILE   configuration file (default %s)\n"
		"  -s, --socket PATH   control socket (default %s)\n"
		"  -d, --db PATH       database (default %s)\n"
		"  -v, --verbose       log debug messages\n"
		"  -h, --help          show this help\n"
		"  -V, --version       show the version\n",
		NETD_DEFAULT_CONFIG, NETD_DEFAULT_SOCKET, NETD_DEFAULT_DB);
}

/*
 * Fork into the background. The parent waits until the child says it is
 * serving (or why it is not), so "netd && netdctl status" works and a
 * failed start gives a non-zero exit status with the error on stderr.
 * Returns the write end of the readiness pipe in the child.
 */
static int detach(void)
{
	int pfd[2];
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0) {
		log_error("pipe: %m");
		exit(EXIT_FAILURE);
	}
	pid = fork();
	if (pid < 0) {
		log_error("fork: %m");
		exit(EXIT_FAILURE);
	}
	if (pid > 0) {
		unsigned char status = 1;
		ssize_t n;

		close(pfd[1]);
		do
			n = read(pfd[0], &status, 1);
		while (n < 0 && errno == EINTR);
		/* EOF without a byte: the child died before it was ready. */
		_exit(n == 1 ? status : EXIT_FAILURE);
	}
	close(pfd[0]);
	if (setsid() < 0)
		log_warn("setsid: %m, ignoring");
	if (chdir("/") < 0)
		log_warn("chdir /: %m, ignoring");
	return pfd[1];
}

/* Tell the waiting parent how the start went and drop the terminal. */
static void ready(int fd, unsigned char status)
{
	int null;

	if (fd < 0)
		return;
	(void)!write(fd, &status, 1);
	close(fd);
	if (status != 0)
		return;
	log_open("netd", LOG_TARGET_SYSLOG);
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		if (null > STDERR_FILENO)
			close(null);
	}
}

/* Read the command line into core and *ret_foreground. -1: go on;
 * otherwise main()'s exit code (help, version, or 2 for a usage error). */
static int parse_args(int argc, char **argv, struct core *core, bool *ret_foreground)
{
	static const struct option options[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "db", required_argument, NULL, 'd' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "fc:s:d:vhV", options, NULL)) != -1) {
		switch (opt) {
		case 'f':
			*ret_foreground = true;
			break;
		case 'c':
			core->config_path = optarg;
			core->config_must_exist = true;
			break;
		case 's':
			core->overrides.socket_path = optarg;
			break;
		case 'd':
			core->overrides.db_path = optarg;
			break;
		case 'v':
			core->overrides.verbose = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_SUCCESS;
		case 'V':
			printf("netd %s\n", PACKAGE_VERSION);
			return EXIT_SUCCESS;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "netd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if ((core->overrides.socket_path && core->overrides.socket_path[0] != '/') ||
	    (core->overrides.db_path && core->overrides.db_path[0] != '/')) {
		fprintf(stderr, "netd: --socket and --db take absolute paths\n");
		return 2;
	}
	return -1;
}

int main(int argc, char **argv)
{
	struct core core = { .lock_fd = -1, .listen_fd = -1, .config_path = NETD_DEFAULT_CONFIG };
	bool foreground = false;
	int notify_fd = -1;
	int r;

	/* glibc gives the heap's free top back to the kernel once it passes
	 * 128 KiB, and large operations free and take that much over and
	 * over: each give-back is a TLB flush on every CPU, which on this
	 * project's VMs was 23 % of netd's CPU during a create of 4,096
	 * links and made one callback 34 ms of CPU (5-11 ms with 4 MiB
	 * kept). Up to 4 MiB stays with the process instead. */
	mallopt(M_TRIM_THRESHOLD, 4 << 20);
	/* Started by systemd, stderr is the journal: levels as prefixes. */
	log_open("netd", log_stderr_is_journal() ? LOG_TARGET_JOURNAL : LOG_TARGET_STDERR);
	r = parse_args(argc, argv, &core, &foreground);
	if (r >= 0)
		return r;

	if (conf_init(&core.cfg) < 0) {
		log_error("out of memory");
		return EXIT_FAILURE;
	}
	if (core_load_config(&core) < 0) {
		conf_done(&core.cfg);
		return EXIT_FAILURE;
	}

	/* Before detaching: the socket is passed to this pid only. */
	if (service_listen_fd(core.cfg.socket_path, &core.listen_fd) < 0) {
		conf_done(&core.cfg);
		return EXIT_FAILURE;
	}
	if (!foreground)
		notify_fd = detach();

	r = core_start(&core);
	if (r < 0) {
		service_status("not started: %s (see the log)", strerror(-r));
		ready(notify_fd, 1);
		core_done(&core);
		return EXIT_FAILURE;
	}
	ready(notify_fd, 0);
	core_run(&core);
	core_done(&core);
	log_close();
	return EXIT_SUCCESS;
}
