package simkit

import (
	"hash/fnv"
	"math/rand/v2"
)

// Rand returns a generator seeded by parts (a user, a date, a purpose), so
// the same request always gets the same simulated data and different users
// get different data.
func Rand(parts ...string) *rand.Rand {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	sum := h.Sum64()
	return rand.New(rand.NewPCG(sum, sum^0x9e3779b97f4a7c15))
}

// Between returns a number in [lo, hi].
func Between(r *rand.Rand, lo, hi int) int { return lo + r.IntN(hi-lo+1) }
