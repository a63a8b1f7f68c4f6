/*
 * api.h: the methods netd serves (org.varlink.service and io.netd): their
 * parameters, who may call them, what they answer, and the audit row of
 * every mutating call.
 */
#ifndef NETD_API_H
#define NETD_API_H

struct ctl_call;

/* ctl's dispatch function; userdata is the struct core. */
void api_dispatch(struct ctl_call *call, void *userdata);

/* Names of the interfaces served, NULL-terminated. */
extern const char *const api_interfaces[];

#endif
