/*
 * nl-internal.h: what nl.c and nl-sender.c share (struct nl and its
 * requests); nothing else includes it.
 */
#ifndef NETD_NL_INTERNAL_H
#define NETD_NL_INTERNAL_H

#include <ev.h>
#include <libmnl/libmnl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "nl.h"

/* Messages per sendmsg: ~64 link creations keep one sendmsg, and so one
 * callback, to a few milliseconds of kernel work. */
#define NL_BATCH_MSGS 64
/* Requests in flight at once; their acks and echoes must fit in the
 * request socket's receive buffer. */
#define NL_MAX_IN_FLIGHT 512
#define NL_REQ_RCVBUF (8 << 20)
#define NL_MSG_MAX 256
/* Receive buffer for one recv: large enough for a dump's multipart skb. */
#define NL_RECV_BUF 65536
/* recv calls per read callback, to bound its length. */
#define NL_RECVS_PER_CB 8

struct nl_req {
	uint32_t seq;
	size_t len;
	char msg[NL_MSG_MAX];
	nl_done_fn done;
	void *data;
	bool has_echo;
	bool sent;                /* the sender reported its sendmsg done */
	bool lost;                /* its ack may be lost; completed once sent */
	struct nl_link echo;
	TAILQ_ENTRY(nl_req) link;
};

TAILQ_HEAD(req_list, nl_req);

/* What the sender tells the loop after each batch. */
struct sender_reply {
	uint32_t first_seq;
	uint32_t count;
	int32_t error; /* 0, or -errno of the sendmsg itself */
};

struct nl {
	struct ev_loop *loop;
	struct mnl_socket *req_sock, *ev_sock;
	/* Dumps have a socket of their own: when acks overflow the request
	 * socket, the dump that settles them must not stall behind them. */
	struct mnl_socket *dump_sock;
	ev_io req_io, ev_io_w, dump_io;
	int sender_fd;            /* our end of the pair; -1: send directly */
	pid_t sender_pid;
	int hold_fd;              /* handed to every sender (see nl_new) */
	ev_io sender_io;
	/* The link dump process (nl-dumper.c); -1: dumps are read here,
	 * from dump_sock. */
	int dumper_fd;
	pid_t dumper_pid;
	ev_io dumper_io;
	uint32_t seq;
	unsigned req_portid;
	struct req_list queue;
	struct nl_req *in_flight[NL_MAX_IN_FLIGHT]; /* slot: seq % NL_MAX_IN_FLIGHT */
	unsigned n_in_flight, n_queued;
	bool dumping, dump_intr;
	/* The request socket overflowed and has not been read empty since:
	 * the kernel reports one overflow (ENOBUFS) per congestion, and
	 * drops acks silently until the queue is empty again. */
	bool congested;
	uint32_t dump_seq;
	struct nl_callbacks cb;
	void *userdata;
	struct nl_stats stats;
	char *rbuf;
};

/* Complete r (its slot freed, its done called) and free it. */
void nl_req_complete(struct nl *nl, struct nl_req *r, int error, const char *message);
/* The acks of what is in flight may be lost: complete each (once sent)
 * with -ENOBUFS and ask the owner for a dump. */
void nl_lose_in_flight(struct nl *nl, const char *why);
/* Fork the sender. Failure is not fatal: the loop then sends itself. */
void nl_sender_start(struct nl *nl, int hold_fd);
/* Send an RTM_GETLINK dump request numbered seq on s: 0 or -errno. */
int nl_send_dump_request(struct mnl_socket *s, uint32_t seq);
/* Fork the link dump process; false (logged) if it cannot be: the loop
 * then reads dumps itself. */
bool nl_dumper_start(struct nl *nl);
/* End it (if there is one); dumper_fd is -1 after. */
void nl_dumper_stop(struct nl *nl);
/* Ask it for a dump numbered seq, starting another once if it is gone:
 * 0, or -ESRCH if there is none (the loop dumps itself). */
int nl_dumper_request(struct nl *nl, uint32_t seq);
/* The running dump is over with error (0, -EINTR to dump again, -errno):
 * link events are read again, then the owner is told. */
void nl_dump_end(struct nl *nl, int error);

#endif
