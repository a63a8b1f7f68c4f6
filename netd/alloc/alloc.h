/*
 * alloc.h: interface name allocator. One instance per name prefix (for
 * example "macvtap" or "macvlan") hands out the lowest free index, so names
 * read prefix0, prefix1, ... and holes left by released names are reused
 * first. Also parses and formats such names. Pure: libc only, no logging,
 * no I/O.
 */
#ifndef NETD_ALLOC_H
#define NETD_ALLOC_H

#include <stdbool.h>
#include <stddef.h>

/* Longest name plus its NUL: the kernel's IFNAMSIZ. */
#define ALLOC_NAME_MAX 16

struct alloc;

/*
 * Create an allocator for names prefix0, prefix1, ... The prefix must be
 * 1 to 14 characters of [A-Za-z_-]: no digits, so that where the prefix
 * ends and the index begins is never ambiguous, and no prefix can claim
 * another's names. -EINVAL for a bad prefix, -ENOMEM.
 *
 * The capacity (number of usable indices) is what fits in a name of at most
 * ALLOC_NAME_MAX - 1 characters, 10^(15 - strlen(prefix)), but never more
 * than 1 << 24: nobody needs 16M interfaces of one kind, and the cap keeps
 * the bitmap at most 2 MiB. The bitmap grows on demand, so memory follows
 * the highest index in use, not the capacity.
 */
int alloc_new(const char *prefix, struct alloc **ret);

/* Free the allocator. Accepts NULL; returns NULL. */
struct alloc *alloc_free(struct alloc *a);

/* The prefix given to alloc_new(); valid as long as a is. */
const char *alloc_prefix(const struct alloc *a);

/* Number of usable indices: 0 .. alloc_capacity() - 1. */
unsigned alloc_capacity(const struct alloc *a);

/* Number of indices currently taken. */
unsigned alloc_count(const struct alloc *a);

/*
 * Take the lowest free index and store it in *ret_index. O(1) amortised
 * for repeated allocation. -ENOSPC if every index below the capacity is
 * taken, -ENOMEM if the bitmap could not grow.
 */
int alloc_take_lowest(struct alloc *a, unsigned *ret_index);

/*
 * Mark a specific index taken: one restored from the database, or a name
 * that something else already uses. -ERANGE if index >= capacity, -EEXIST
 * if it is already taken (nothing changes), -ENOMEM if the bitmap could
 * not grow.
 */
int alloc_take(struct alloc *a, unsigned index);

/* Give an index back. -ERANGE if index >= capacity, -ENOENT if it was not
 * taken. */
int alloc_release(struct alloc *a, unsigned index);

/* Whether index is taken; false for any index >= capacity. */
bool alloc_is_taken(const struct alloc *a, unsigned index);

/*
 * If name is exactly the prefix followed by a canonical decimal index (only
 * digits, no sign, no leading zero except "0" itself) below the capacity,
 * store the index in *ret_index and return 0; otherwise -EINVAL. Whether
 * the index is taken does not matter.
 */
int alloc_parse_name(const struct alloc *a, const char *name, unsigned *ret_index);

/*
 * Write prefix and index as a NUL-terminated name into buf (size bytes;
 * ALLOC_NAME_MAX is always enough). -ERANGE if index >= capacity, -ENOBUFS
 * if size is too small; buf is untouched on failure.
 */
int alloc_format_name(const struct alloc *a, unsigned index, char *buf, size_t size);

#endif
