/*
 * client-internal.h: what client.c offers the other parts of
 * libnetd-client (client-typed.c): queueing a raw call and waiting in the
 * blocking calls. Not installed.
 */
#ifndef NETD_CLIENT_INTERNAL_H
#define NETD_CLIENT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "netd/client.h"

/*
 * Run netd_client_process() and wait for the socket until done(c, arg)
 * holds: 0 then. until_usec (now_usec() clock, 0: none) bounds the wait
 * (-ETIMEDOUT); the connection's error or poll's when they come first.
 */
int client_wait(struct netd_client *c, bool (*done)(struct netd_client *c, void *arg),
		void *arg, uint64_t until_usec);

#endif
