#include "lib/placement.h"

#include <stdbool.h>

/* splitmix64's finalizer: a fast, well-mixed 64-bit hash. */
static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= UINT64_C(0xbf58476d1ce4e5b9);
	x ^= x >> 27;
	x *= UINT64_C(0x94d049bb133111eb);
	x ^= x >> 31;
	return x;
}

uint64_t placement_weight(uint64_t block_id, uint64_t worker_id)
{
	return mix(mix(block_id) ^ (worker_id * UINT64_C(0x9e3779b97f4a7c15)));
}

size_t placement_owners(uint64_t block_id, const uint64_t *workers, size_t n, size_t k,
			size_t *owners)
{
	if (k > n)
		k = n;
	uint64_t best[16];
	if (k > 16)
		k = 16;
	size_t got = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t w = placement_weight(block_id, workers[i]);
		/* Insertion into the top-k list, highest first; ties go to the
		 * lower worker id so every node agrees. */
		size_t pos = got;
		while (pos > 0 && (w > best[pos - 1] ||
				   (w == best[pos - 1] && workers[i] < workers[owners[pos - 1]])))
			pos--;
		if (pos >= k)
			continue;
		size_t last = got < k ? got : k - 1;
		for (size_t j = last; j > pos; j--) {
			best[j] = best[j - 1];
			owners[j] = owners[j - 1];
		}
		best[pos] = w;
		owners[pos] = i;
		if (got < k)
			got++;
	}
	return got;
}

uint64_t placement_pick_data_id(uint64_t start, unsigned tries, uint64_t index, uint64_t self,
				const uint64_t *workers, size_t n)
{
	const uint64_t id_max = UINT64_MAX >> PLACEMENT_INDEX_BITS;
	bool member = false;
	for (size_t i = 0; i < n && !member; i++)
		member = workers[i] == self;
	if (!member || n < 2 || start == 0 || index > PLACEMENT_MAX_INDEX)
		return 0;
	for (unsigned t = 0; t < tries && start <= id_max - t; t++) {
		size_t owner;
		uint64_t data_id = start + t, block_id = placement_block_id(data_id, index);
		if (placement_owners(block_id, workers, n, 1, &owner) == 1 && workers[owner] == self)
			return data_id;
	}
	return 0;
}
