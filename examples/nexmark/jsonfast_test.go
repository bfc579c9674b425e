package nexmark

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// The hand-written encodings write exactly what encoding/json writes.
func TestHandWrittenJSONIsEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	floats := []float64{0, -0.0, 1, -1, 0.908 * 12345, 1e-6, 9.99e-7, 1e-7, 1e20, 1e21, 1.5e300, -2.5e-300,
		math.MaxFloat64, math.SmallestNonzeroFloat64, 123456789012345678, 0.1, math.NaN(), math.Inf(1), math.Inf(-1)}
	strs := []string{"", "plain", `quote"d`, `back\slash`, "<html>&", "tab\there", "\x00\x1f", "é ü 日本", "\u2028\u2029", "bad \xff utf8"}
	randString := func() string {
		b := make([]byte, rng.IntN(40))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return string(b)
	}
	for i := range 5000 {
		f := math.Float64frombits(rng.Uint64())
		if i < len(floats) {
			f = floats[i]
		} else if i%2 == 0 {
			f = float64(rng.Int64N(1_000_000)) * 0.908
		}
		s := randString()
		if i < len(strs) {
			s = strs[i]
		} else if i%3 == 0 {
			s = "abcdefghijklmnopqrstuvwxyz"[:rng.IntN(26)]
		} else if i%3 == 1 { // ASCII only: every escape of the fast path
			b := []byte(s)
			for j := range b {
				b[j] &= 0x7f
			}
			s = string(b)
		}
		for _, v := range []any{
			BidOut{Auction: rng.Int64(), Bidder: -rng.Int64(), Price: f, DateTime: rng.Int64N(1 << 42), Extra: s},
			Q0Out{Auction: rng.Int64(), Bidder: rng.Int64N(100), Price: -rng.Int64(), DateTime: rng.Int64N(1 << 42), Extra: s},
		} {
			want, wantErr := json.Marshal(v)
			got, err := marshalJSON(v)
			if wantErr != nil {
				require.Error(t, err, "%#v", v)
				continue
			}
			require.NoError(t, err)
			require.Equal(t, string(want), string(got), "%#v", v)
		}
	}
}

func BenchmarkBidOutJSON(b *testing.B) {
	v := BidOut{Auction: 1000123, Bidder: 2033, Price: 0.908 * 12345, DateTime: 1700000000123, Extra: "abcdefghijklmnopqrstuvwxyz0123456789"}
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			json.Marshal(v)
		}
	})
	b.Run("hand-written", func(b *testing.B) {
		for b.Loop() {
			marshalJSON(v)
		}
	})
}
