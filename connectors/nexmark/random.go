package nexmark

import "math"

// javaRandom is java.util.Random: the 48-bit linear congruential generator of
// Knuth (TAOCP 3.2.1) with Java's exact derivation of ints, bounded ints,
// longs and doubles, so that the draws below are those the Java generator
// makes from a Random with the same seed. Signed 32-bit arithmetic wraps in
// Go as in Java, which the rejection loop of nextIntN relies on.
type javaRandom struct {
	seed uint64
}

const (
	javaMultiplier = 0x5DEECE66D
	javaAddend     = 0xB
	javaMask       = 1<<48 - 1
)

// setSeed is Random.setSeed (and new Random(seed)).
func (r *javaRandom) setSeed(seed int64) {
	r.seed = (uint64(seed) ^ javaMultiplier) & javaMask
}

// next is Random.next(bits): the top bits of the advanced state, as int.
func (r *javaRandom) next(bits uint) int32 {
	r.seed = (r.seed*javaMultiplier + javaAddend) & javaMask
	return int32(r.seed >> (48 - bits))
}

// nextInt is Random.nextInt(): 32 random bits as a signed int.
func (r *javaRandom) nextInt() int32 { return r.next(32) }

// nextIntN is Random.nextInt(bound) for bound > 0: uniform in [0, bound).
func (r *javaRandom) nextIntN(bound int32) int32 {
	v := r.next(31)
	m := bound - 1
	if bound&m == 0 { // a power of two: take the high bits
		return int32((int64(bound) * int64(v)) >> 31)
	}
	// Reject the top partial range of [0, 2^31) so every residue is equally likely.
	for u := v; ; u = r.next(31) {
		v = u % bound
		if u-v+m >= 0 {
			return v
		}
	}
}

// nextLong is Random.nextLong().
func (r *javaRandom) nextLong() int64 {
	hi := int64(r.next(32)) << 32
	return hi + int64(r.next(32))
}

// nextDouble is Random.nextDouble(): uniform in [0, 1) with 53 random bits.
func (r *javaRandom) nextDouble() float64 {
	hi := int64(r.next(26)) << 27
	return float64(hi+int64(r.next(27))) * (1.0 / (1 << 53))
}

// nextLongN is the Java generator's LongGenerator.nextLong(random, n): a
// bounded int draw when n fits in an int, else |nextLong() % n| (skewed, as
// the Java comment admits; it only happens for n ≥ 2^31-1).
func (r *javaRandom) nextLongN(n int64) int64 {
	if n < math.MaxInt32 {
		return int64(r.nextIntN(int32(n)))
	}
	v := r.nextLong() % n
	if v < 0 {
		v = -v
	}
	return v
}

// Seeds. The Java generator of nexmark/nexmark draws from one unseeded
// Random, so its output differs from run to run; Apache Beam's generator
// seeds a fresh Random with the raw event id, which makes each event a pure
// function of its id but correlates neighbouring events: seeds one apart give
// first outputs about 0x5DEECE66D/2^17 apart out of 2^32, so the first
// nextInt(2) of consecutive ids agrees in runs of up to 8,192 events. Here
// every random stream is seeded with a SplitMix64
// hash of (Seed, domain, n), which keeps the pure-function property and
// decorrelates neighbours:
//
//	base(domain) = mix64(uint64(Seed) ^ domain)
//	seed(n)      = int64(mix64(base(domain) + uint64(n)*0x9E3779B97F4A7C15))
//
// and the stream is new java.util.Random(seed(n)). Domains: events (n = event
// id), the four hot-channel URLs (n = 0, one Random for all four) and the
// 10,000 channel-i URLs (n = i).
const (
	domainEvent   uint64 = 0x4e584d4b2d45564e // "NXMK-EVN"
	domainHotURL  uint64 = 0x4e584d4b2d484f54 // "NXMK-HOT"
	domainChannel uint64 = 0x4e584d4b2d43484e // "NXMK-CHN"

	golden = 0x9E3779B97F4A7C15
)

// mix64 is the SplitMix64 output function (Stafford's variant 13).
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

func streamBase(seed int64, domain uint64) uint64 { return mix64(uint64(seed) ^ domain) }

func streamSeed(base uint64, n int64) int64 { return int64(mix64(base + uint64(n)*golden)) }
