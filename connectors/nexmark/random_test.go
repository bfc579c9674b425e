package nexmark

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// Expected values printed by OpenJDK 17's java.util.Random and Integer.reverse.
func TestJavaRandomMatchesJava(t *testing.T) {
	for _, tc := range []struct {
		seed   int64
		ints   [2]int32
		intN   [4]int32 // nextInt(10), nextInt(16), nextInt(10000), nextInt(1<<30|1)
		long   int64
		double float64
	}{
		{0, [2]int32{-1155484576, -723955400}, [4]int32{9, 9, 3515, 663681053}, -8292973307042192125, 0.5975452777972018},
		{42, [2]int32{-1170105035, 234785527}, [4]int32{8, 0, 9970, 595021505}, -5391787952107853122, 0.09132461105841794},
		{-1, [2]int32{1155099827, 1887904451}, [4]int32{9, 8, 5604, 894294477}, 7365572370171403210, 0.05653720805104445},
		{0x123456789ABCDEF, [2]int32{-332795332, 2022105297}, [4]int32{1, 11, 6154, 1046809738}, -7066823323598208873, 0.7925201125634714},
	} {
		var r javaRandom
		r.setSeed(tc.seed)
		assert.Equal(t, tc.ints, [2]int32{r.nextInt(), r.nextInt()}, "seed %d: nextInt()", tc.seed)
		assert.Equal(t, tc.intN, [4]int32{r.nextIntN(10), r.nextIntN(16), r.nextIntN(10000), r.nextIntN(1<<30 | 1)},
			"seed %d: nextInt(bound)", tc.seed)
		assert.Equal(t, tc.long, r.nextLong(), "seed %d: nextLong()", tc.seed)
		assert.Equal(t, tc.double, r.nextDouble(), "seed %d: nextDouble()", tc.seed)
	}
}

func TestJavaIntegerHelpers(t *testing.T) {
	assert.Equal(t, int32(-2147483648), javaAbs(javaReverse(1)), "Math.abs(Integer.reverse(1)) stays negative")
	assert.Equal(t, int32(385875968), javaAbs(javaReverse(232)))
	assert.Equal(t, int32(-253493248), javaReverse(9999))
	assert.Equal(t, int32(0), javaReverse(0))
}

func TestNextLongNBounds(t *testing.T) {
	var r javaRandom
	r.setSeed(7)
	for _, n := range []int64{1, 2, 10, 1<<31 - 2, 1<<31 - 1, 1 << 40} {
		for range 1000 {
			v := r.nextLongN(n)
			if v < 0 || v >= n {
				t.Fatalf("nextLongN(%d) = %d", n, v)
			}
		}
	}
}

func TestStreamSeedsDiffer(t *testing.T) {
	seen := map[int64]bool{}
	for _, base := range []uint64{streamBase(0, domainEvent), streamBase(1, domainEvent), streamBase(0, domainChannel)} {
		for n := range int64(1000) {
			s := streamSeed(base, n) & javaMask // java.util.Random keeps 48 bits
			assert.False(t, seen[s], "seed collision")
			seen[s] = true
		}
	}
}
