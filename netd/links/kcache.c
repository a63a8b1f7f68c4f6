/*
 * kcache.c: the picture of the kernel's devices (struct kcache), each
 * device found by its ifindex and by its name, in two chained hash tables
 * that double as they fill. A start's dump puts 30,000 devices in one: in
 * search trees that was two descents of fifteen levels per device (a
 * strcmp and a cache miss at each), a third of what netd spent on the
 * dump; a link event or a lookup is one bucket now. A walk over it can be
 * done a few buckets at a time (the reconciliation after a dump spreads
 * its walks over loop iterations): the tables do not grow while one is
 * under way (kc_freeze()), so a bucket index stays a place in them.
 */
#include "config.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "links-internal.h"
#include "log.h"
#include "util.h"

#define KC_MIN_BUCKETS 64u

static unsigned index_slot(const struct kcache *kc, int ifindex)
{
	return ((uint32_t)ifindex * 2654435761u) & (kc->nbuckets - 1);
}

static unsigned name_slot(const struct kcache *kc, const char *name)
{
	return links_name_slot(kc->nbuckets, name);
}

struct kdev *kc_by_index(struct kcache *kc, int ifindex)
{
	assert(kc);
	if (!kc->nbuckets)
		return NULL;
	for (struct kdev *k = kc->by_index[index_slot(kc, ifindex)]; k; k = k->next_index)
		if (k->ifindex == ifindex)
			return k;
	return NULL;
}

struct kdev *kc_by_name(struct kcache *kc, const char *name)
{
	assert(kc && name);
	if (!kc->nbuckets)
		return NULL;
	for (struct kdev *k = kc->by_name[name_slot(kc, name)]; k; k = k->next_name)
		if (streq(k->name, name))
			return k;
	return NULL;
}

/* k is no longer found by its name. */
static void name_unlink(struct kcache *kc, struct kdev *k)
{
	if (!k->named)
		return;
	for (struct kdev **p = &kc->by_name[name_slot(kc, k->name)]; *p; p = &(*p)->next_name)
		if (*p == k) {
			*p = k->next_name;
			break;
		}
	k->named = false;
	k->next_name = NULL;
}

/* k is found by its name, a stale device of that name no longer. */
static void name_link(struct kcache *kc, struct kdev *k)
{
	struct kdev *other = kc_by_name(kc, k->name);
	unsigned i;

	if (other)
		name_unlink(kc, other);
	i = name_slot(kc, k->name);
	k->next_name = kc->by_name[i];
	kc->by_name[i] = k;
	k->named = true;
}

/* Room for one more device: the tables doubled when full. false only
 * when there are none yet and none can be had. */
static bool kc_room(struct kcache *kc)
{
	unsigned n = kc->nbuckets ? kc->nbuckets * 2 : KC_MIN_BUCKETS;
	struct kcache grown = { .nbuckets = n, .count = kc->count };

	if (kc->count < kc->nbuckets || (kc->frozen && kc->nbuckets))
		return true; /* frozen: longer chains until the walk is over */
	grown.by_index = calloc(n, sizeof(*grown.by_index));
	grown.by_name = calloc(n, sizeof(*grown.by_name));
	if (!grown.by_index || !grown.by_name) {
		free(grown.by_index);
		free(grown.by_name);
		return kc->nbuckets > 0; /* longer chains, still right */
	}
	for (unsigned b = 0; b < kc->nbuckets; b++)
		for (struct kdev *k = kc->by_index[b], *next; k; k = next) {
			unsigned i = index_slot(&grown, k->ifindex);

			next = k->next_index;
			k->next_index = grown.by_index[i];
			grown.by_index[i] = k;
			if (k->named) {
				i = name_slot(&grown, k->name);
				k->next_name = grown.by_name[i];
				grown.by_name[i] = k;
			}
		}
	free(kc->by_index);
	free(kc->by_name);
	*kc = grown;
	return true;
}

void kc_remove(struct kcache *kc, struct kdev *k)
{
	assert(kc && k && kc->nbuckets);
	for (struct kdev **p = &kc->by_index[index_slot(kc, k->ifindex)]; *p; p = &(*p)->next_index)
		if (*p == k) {
			*p = k->next_index;
			kc->count--;
			break;
		}
	name_unlink(kc, k);
	free(k);
}

/* A new device of nlk's ifindex and name, or NULL without memory. */
static struct kdev *kc_add(struct kcache *kc, const struct nl_link *nlk)
{
	struct kdev *k;
	unsigned i;

	if (!kc_room(kc) || !(k = calloc(1, sizeof(*k))))
		return NULL;
	k->ifindex = nlk->ifindex;
	str_copy(k->name, sizeof(k->name), nlk->name);
	i = index_slot(kc, k->ifindex);
	k->next_index = kc->by_index[i];
	kc->by_index[i] = k;
	kc->count++;
	name_link(kc, k);
	return k;
}

void kc_update(struct kcache *kc, const struct nl_link *nlk)
{
	struct kdev *k = kc_by_index(kc, nlk->ifindex);

	assert(kc && nlk);
	if (k && !streq(k->name, nlk->name)) {
		name_unlink(kc, k);
		str_copy(k->name, sizeof(k->name), nlk->name);
		name_link(kc, k);
	} else if (!k && !(k = kc_add(kc, nlk))) {
		/* The next resync (events lost, or a restart) fills the
		 * gap; nothing here can do better. */
		log_warn("%s: no memory to record the device, ignoring", nlk->name);
		return;
	}
	if (nlk->kind[0])
		str_copy(k->kind, sizeof(k->kind), nlk->kind);
	if (nlk->has_mac) {
		memcpy(k->mac, nlk->mac, NL_MAC_LEN);
		k->has_mac = true;
	}
	/* Events and dumps carry the whole device: no alias means none. */
	k->parent_ifindex = nlk->parent_ifindex;
	k->mode = nlk->macvlan_mode;
	k->group = nlk->group;
	k->flags = nlk->flags;
	if (nlk->mtu)
		k->mtu = nlk->mtu;
	str_copy(k->alias, sizeof(k->alias), nlk->alias);
}

void kc_clear(struct kcache *kc)
{
	assert(kc);
	for (unsigned b = 0; b < kc->nbuckets; b++)
		for (struct kdev *k = kc->by_index[b], *next; k; k = next) {
			next = k->next_index;
			free(k);
		}
	free(kc->by_index);
	free(kc->by_name);
	*kc = (struct kcache){ 0 };
}

unsigned kc_count(const struct kcache *kc)
{
	assert(kc);
	return kc->count;
}

void kc_freeze(struct kcache *kc, bool frozen)
{
	assert(kc);
	kc->frozen = frozen;
}

bool kc_walk(const struct kcache *kc, unsigned *bucket, unsigned max,
	     void (*fn)(struct kdev *d, void *data), void *data)
{
	unsigned seen = 0;

	assert(kc && bucket && fn);
	/* By ifindex: a rename moves a device between the name buckets. */
	for (; *bucket < kc->nbuckets && seen < max; (*bucket)++)
		for (struct kdev *k = kc->by_index[*bucket], *next; k; k = next) {
			next = k->next_index;
			seen++;
			if (k->named)
				fn(k, data);
		}
	return *bucket >= kc->nbuckets;
}

bool kc_drain(struct kcache *kc, unsigned *bucket, unsigned max,
	      void (*fn)(struct kdev *d, void *data), void *data)
{
	unsigned seen = 0;

	assert(kc && bucket);
	for (; *bucket < kc->nbuckets && seen < max; (*bucket)++) {
		for (struct kdev *k = kc->by_index[*bucket], *next; k; k = next) {
			next = k->next_index;
			seen++;
			if (k->named && fn)
				fn(k, data);
			free(k);
		}
		kc->by_index[*bucket] = NULL;
	}
	if (*bucket < kc->nbuckets)
		return false;
	free(kc->by_index);
	free(kc->by_name);
	*kc = (struct kcache){ 0 };
	return true;
}
