package nexmark

import (
	"math"
	"strconv"
	"unsafe"
)

// The word lists of the Java PersonGenerator and BidGenerator, in order: the
// draws index them, so order is part of the determinism contract.
var (
	usStates   = [...]string{"AZ", "CA", "ID", "OR", "WA", "WY"}
	usCities   = [...]string{"Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle", "Kent", "Cheyenne"}
	firstNames = [...]string{"Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"}
	lastNames  = [...]string{"Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"}

	// hotChannels are BidGenerator.HOT_CHANNELS. Nexmark q21 of the
	// nexmark/nexmark suite maps lower(channel) 'apple', 'google', 'facebook'
	// and 'baidu' to channel ids 0..3, so these spellings matter.
	hotChannels = [...]string{"Google", "Facebook", "Baidu", "Apple"}

	// personNames[i*len(lastNames)+j] is firstNames[i] + " " + lastNames[j],
	// built once so that names cost no allocation.
	personNames = func() []string {
		names := make([]string, 0, len(firstNames)*len(lastNames))
		for _, f := range firstNames {
			for _, l := range lastNames {
				names = append(names, f+" "+l)
			}
		}
		return names
	}()
)

const (
	// minStringLength is StringsGenerator.MIN_STRING_LENGTH.
	minStringLength = 3
	// channelsNumber is BidGenerator.CHANNELS_NUMBER: channel-0..channel-9999.
	channelsNumber = 10_000
	// hotChannelsRatio is BidGenerator.HOT_CHANNELS_RATIO: half of all bids
	// come through one of the four hot channels.
	hotChannelsRatio = 2
	// maxEmailLength bounds nextString(7) + "@" + nextString(5) + ".com".
	maxEmailLength = 6 + 1 + 4 + 4
	// creditCardLength is four groups of four digits and three spaces.
	creditCardLength = 19
)

// appendNextString appends StringsGenerator.nextString(random, maxLength,
// special): 3 to maxLength-1 characters, each the special character with
// probability 1/13 and otherwise a random lower-case letter, then trimmed of
// leading and trailing white space like Java's String.trim.
func appendNextString(b []byte, r *javaRandom, maxLength int, special byte) []byte {
	start := len(b)
	n := minStringLength + int(r.nextIntN(int32(maxLength-minStringLength)))
	for range n {
		if r.nextIntN(13) == 0 {
			b = append(b, special)
		} else {
			b = append(b, byte('a'+r.nextIntN(26)))
		}
	}
	end := len(b)
	for end > start && b[end-1] <= ' ' {
		end--
	}
	lead := start
	for lead < end && b[lead] <= ' ' {
		lead++
	}
	if lead > start {
		end = start + copy(b[start:], b[lead:end])
	}
	return b[:end]
}

// appendExactString appends StringsGenerator.nextExactString(random, n): n
// characters, six from each nextInt(). Like Java it takes the remainder of a
// signed int, so negative draws give characters below 'a' ('H' to '`').
func appendExactString(b []byte, r *javaRandom, n int) []byte {
	var rnd int32
	left := 0
	for ; n > 0; n-- {
		if left == 0 {
			rnd = r.nextInt()
			left = 6 // ⌊log₂₆ 2³¹⌋
		}
		b = append(b, byte('a'+rnd%26))
		rnd /= 26
		left--
	}
	return b
}

// extraLength draws the length of StringsGenerator.nextExtra(random,
// currentSize, desiredAverageSize): uniform in [d - δ, d + δ) where d is the
// missing size and δ = round(0.2d), so that records average the desired size.
func extraLength(r *javaRandom, currentSize, desiredAverageSize int) int {
	if currentSize > desiredAverageSize {
		return 0
	}
	desired := desiredAverageSize - currentSize
	// Java's Math.round rounds halves up; for non-negative values that is
	// math.Round, which rounds them away from zero.
	delta := int(math.Round(float64(desired) * 0.2))
	minSize := desired - delta
	if delta == 0 {
		return minSize
	}
	return minSize + int(r.nextIntN(int32(2*delta)))
}

// appendCreditCard appends PersonGenerator.nextCreditCard: four groups of
// four digits ("%04d" of nextInt(10000)) separated by spaces.
func appendCreditCard(b []byte, r *javaRandom) []byte {
	for i := range 4 {
		if i > 0 {
			b = append(b, ' ')
		}
		v := r.nextIntN(10_000)
		b = append(b, byte('0'+v/1000), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
	}
	return b
}

// nextPrice is PriceGenerator.nextPrice: 100 × 10^(6u) rounded, for u uniform
// in [0, 1): log-uniform between 100 and 10⁸ (cents, so $1 to $1M).
func nextPrice(r *javaRandom) int64 {
	return int64(math.Round(math.Pow(10, r.nextDouble()*6) * 100))
}

// baseURL is BidGenerator.getBaseUrl: three random path segments of 3 or 4
// characters in which '_' replaces the space.
func baseURL(r *javaRandom) string {
	b := make([]byte, 0, 64)
	b = append(b, "https://www.nexmark.com/"...)
	for range 3 {
		b = appendNextString(b, r, 5, '_')
		b = append(b, '/')
	}
	b = append(b, "item.htm?query=1"...)
	return string(b)
}

// hotURLs returns the URLs of the four hot channels for a seed.
func hotURLs(seed int64) [len(hotChannels)]string {
	var r javaRandom
	r.setSeed(streamSeed(streamBase(seed, domainHotURL), 0))
	var urls [len(hotChannels)]string
	for i := range urls {
		urls[i] = baseURL(&r)
	}
	return urls
}

// channelTable holds the names and URLs of channel-0..channel-9999, made on
// first use (Java's CHANNEL_URL_CACHE). Channel i's URL is a function of the
// seed and i alone: a base URL, plus "&channel_id=|Integer.reverse(i)|" with
// probability 9/10.
type channelTable struct {
	base    uint64
	entries []channelEntry
}

type channelEntry struct {
	name, url string
}

func (t *channelTable) get(i int32) (name, url string) {
	if t.entries == nil {
		t.entries = make([]channelEntry, channelsNumber)
	}
	e := &t.entries[i]
	if e.name == "" {
		var r javaRandom
		r.setSeed(streamSeed(t.base, int64(i)))
		e.url = baseURL(&r)
		if r.nextIntN(10) > 0 {
			e.url += "&channel_id=" + strconv.Itoa(int(javaAbs(javaReverse(i))))
		}
		e.name = "channel-" + strconv.Itoa(int(i))
	}
	return e.name, e.url
}

// javaReverse is Integer.reverse: the bits of v in reverse order.
func javaReverse(v int32) int32 {
	u := uint32(v)
	u = (u&0x55555555)<<1 | (u>>1)&0x55555555
	u = (u&0x33333333)<<2 | (u>>2)&0x33333333
	u = (u&0x0f0f0f0f)<<4 | (u>>4)&0x0f0f0f0f
	u = u<<24 | (u&0xff00)<<8 | (u>>8)&0xff00 | u>>24
	return int32(u)
}

// javaAbs is Math.abs(int), including Math.abs(Integer.MIN_VALUE) ==
// Integer.MIN_VALUE: channel 1 has channel_id=-2147483648, as in Java.
func javaAbs(v int32) int32 {
	if v < 0 {
		return -v
	}
	return v
}

// arena hands out immutable strings carved from append-only slabs, so that
// generating an event allocates nothing but, every few hundred events, a new
// slab. A string keeps its whole slab alive; the generator keeps one arena
// per event kind, so retaining (say) every Person's strings retains person
// slabs only, about the size of the retained strings.
//
// Safety: bytes handed out as a string are never written again, because free
// only moves forward and a new slab replaces an exhausted one; the
// unsafe.String conversions therefore produce ordinary immutable strings.
type arena struct {
	free []byte // unused rest of the current slab; len(free) == cap(free)
}

const slabSize = 16 << 10

// buf returns an empty slice with room for n bytes. The caller appends at
// most n bytes (appending more still works, through a separate allocation)
// and turns the result into a string with str before calling buf again.
func (a *arena) buf(n int) []byte {
	if len(a.free) < n {
		a.free = make([]byte, max(slabSize, n))
	}
	return a.free[:0:n]
}

// str returns b, which buf returned and the caller filled, as a string, and
// gives up its bytes.
func (a *arena) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(a.free) > 0 && unsafe.SliceData(b) == unsafe.SliceData(a.free) {
		a.free = a.free[len(b):]
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}
