/* tests/sim/rng.c: the simulator's only source of randomness.
 *
 * xoshiro256** (Blackman and Vigna), its state filled by splitmix64 from the
 * seed, as its authors recommend.  Written here from the published
 * recurrences; nothing else in the simulator may draw random numbers. */
#include "sim.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void sim_rng_seed(sim_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

uint64_t sim_rng_next(sim_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

uint64_t sim_rng_below(sim_rng *r, uint64_t n)
{
    if (n == 0)
        return 0;
    /* rejection keeps it uniform: no modulo bias */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    for (;;) {
        uint64_t x = sim_rng_next(r);
        if (x < limit)
            return x % n;
    }
}

uint64_t sim_rng_range(sim_rng *r, uint64_t lo, uint64_t hi)
{
    return lo + sim_rng_below(r, hi - lo + 1);
}

int sim_rng_chance(sim_rng *r, unsigned pm)
{
    return sim_rng_below(r, 1000) < pm;
}

void sim_rng_bytes(sim_rng *r, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i += 8) {
        uint64_t x = sim_rng_next(r);
        for (size_t k = 0; k < 8 && i + k < n; k++)
            out[i + k] = (uint8_t)(x >> (8 * k));
    }
}
