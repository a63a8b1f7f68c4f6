/*
 * alloc.c: see alloc.h. The taken indices are a bitmap of 64-bit words,
 * one bit per index, that starts at one word and doubles when an index
 * beyond it is taken, up to the words the capacity needs. The lowest free
 * index is found a word at a time (a full word is ~w == 0; inside a word
 * the count of trailing zeros of ~w is the lowest clear bit), starting at a
 * hint below which every word is known to be full, so that taking names
 * one after another does not rescan the full prefix of the bitmap.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

#define ALLOC_PREFIX_MAX (ALLOC_NAME_MAX - 2) /* leave room for one digit */
#define ALLOC_CAPACITY_MAX (1u << 24)
#define WORD_BITS 64

struct alloc {
	char prefix[ALLOC_PREFIX_MAX + 1];
	size_t prefix_len;
	unsigned capacity;
	unsigned count;
	uint64_t *words;
	size_t n_words;   /* allocated */
	size_t max_words; /* enough for capacity bits */
	size_t hint;      /* every word below this is full */
};

static bool prefix_valid(const char *prefix, size_t *ret_len)
{
	size_t n;

	if (!prefix)
		return false;
	for (n = 0; prefix[n]; n++) {
		char c = prefix[n];

		if (n >= ALLOC_PREFIX_MAX)
			return false;
		/* Spelled out rather than isalpha(): locale must not matter. */
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '-'))
			return false;
	}
	if (n == 0)
		return false;
	*ret_len = n;
	return true;
}

int alloc_new(const char *prefix, struct alloc **ret)
{
	struct alloc *a;
	uint64_t cap = 1;
	size_t len;

	assert(ret);
	if (!prefix_valid(prefix, &len))
		return -EINVAL;

	/* 10^(digits available), stopping at the cap so it cannot overflow. */
	for (size_t i = 0; i < ALLOC_NAME_MAX - 1 - len && cap < ALLOC_CAPACITY_MAX; i++)
		cap *= 10;
	if (cap > ALLOC_CAPACITY_MAX)
		cap = ALLOC_CAPACITY_MAX;

	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->words = calloc(1, sizeof(*a->words));
	if (!a->words) {
		free(a);
		return -ENOMEM;
	}
	memcpy(a->prefix, prefix, len + 1);
	a->prefix_len = len;
	a->capacity = (unsigned)cap;
	a->n_words = 1;
	a->max_words = ((size_t)cap + WORD_BITS - 1) / WORD_BITS;
	*ret = a;
	return 0;
}

struct alloc *alloc_free(struct alloc *a)
{
	if (a) {
		free(a->words);
		free(a);
	}
	return NULL;
}

const char *alloc_prefix(const struct alloc *a)
{
	return a->prefix;
}

unsigned alloc_capacity(const struct alloc *a)
{
	return a->capacity;
}

unsigned alloc_count(const struct alloc *a)
{
	return a->count;
}

/* Make word w addressable: double (at least) up to max_words. */
static int alloc_grow(struct alloc *a, size_t w)
{
	size_t n = a->n_words;
	uint64_t *p;

	assert(w < a->max_words);
	if (w < n)
		return 0;
	while (n <= w)
		n *= 2;
	if (n > a->max_words)
		n = a->max_words;
	p = realloc(a->words, n * sizeof(*p));
	if (!p)
		return -ENOMEM;
	memset(p + a->n_words, 0, (n - a->n_words) * sizeof(*p));
	a->words = p;
	a->n_words = n;
	return 0;
}

int alloc_take_lowest(struct alloc *a, unsigned *ret_index)
{
	size_t w = a->hint;
	uint64_t index;
	int r;

	while (w < a->n_words && ~a->words[w] == 0)
		w++;
	a->hint = w;

	if (w < a->n_words)
		index = (uint64_t)w * WORD_BITS + (unsigned)__builtin_ctzll(~a->words[w]);
	else
		index = (uint64_t)w * WORD_BITS;
	/* Every lower index is taken: the lower words are full and so are the
	 * lower bits of this one. Bits past the capacity are never set, so
	 * the last word is never full and this is where that shows. */
	if (index >= a->capacity)
		return -ENOSPC;

	r = alloc_grow(a, w);
	if (r < 0)
		return r;
	a->words[w] |= UINT64_C(1) << (index % WORD_BITS);
	a->count++;
	*ret_index = (unsigned)index;
	return 0;
}

int alloc_take(struct alloc *a, unsigned index)
{
	size_t w = index / WORD_BITS;
	uint64_t bit = UINT64_C(1) << (index % WORD_BITS);
	int r;

	if (index >= a->capacity)
		return -ERANGE;
	if (w < a->n_words && (a->words[w] & bit))
		return -EEXIST;
	r = alloc_grow(a, w);
	if (r < 0)
		return r;
	a->words[w] |= bit;
	a->count++;
	/* Setting a bit cannot make a word below the hint non-full. */
	return 0;
}

int alloc_release(struct alloc *a, unsigned index)
{
	size_t w = index / WORD_BITS;
	uint64_t bit = UINT64_C(1) << (index % WORD_BITS);

	if (index >= a->capacity)
		return -ERANGE;
	if (w >= a->n_words || !(a->words[w] & bit))
		return -ENOENT;
	a->words[w] &= ~bit;
	a->count--;
	if (w < a->hint)
		a->hint = w;
	return 0;
}

bool alloc_is_taken(const struct alloc *a, unsigned index)
{
	size_t w = index / WORD_BITS;

	if (index >= a->capacity || w >= a->n_words)
		return false;
	return a->words[w] & (UINT64_C(1) << (index % WORD_BITS));
}

int alloc_parse_name(const struct alloc *a, const char *name, unsigned *ret_index)
{
	const char *p;
	uint64_t v = 0;

	if (!name || strncmp(name, a->prefix, a->prefix_len) != 0)
		return -EINVAL;
	p = name + a->prefix_len;
	if (*p == '\0')
		return -EINVAL;
	if (p[0] == '0' && p[1] != '\0')
		return -EINVAL;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(*p - '0');
		/* Stop as soon as it is too big, so a long digit string
		 * cannot overflow v. */
		if (v >= a->capacity)
			return -EINVAL;
	}
	*ret_index = (unsigned)v;
	return 0;
}

int alloc_format_name(const struct alloc *a, unsigned index, char *buf, size_t size)
{
	char tmp[ALLOC_NAME_MAX];
	int n;

	if (index >= a->capacity)
		return -ERANGE;
	/* Capacity guarantees the name fits in tmp. */
	n = snprintf(tmp, sizeof(tmp), "%s%u", a->prefix, index);
	assert(n > 0 && (size_t)n < sizeof(tmp));
	if (size < (size_t)n + 1)
		return -ENOBUFS;
	memcpy(buf, tmp, (size_t)n + 1);
	return 0;
}
