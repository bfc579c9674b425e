package avrofile

import (
	"errors"
	"fmt"
	"math"

	"github.com/hamba/avro/v2"
)

// Nesting depth.
//
// hamba decodes recursively, and Go cannot recover from a goroutine
// exceeding its maximum stack size: it is a fatal error, not a panic. A
// value of a recursive schema (a linked list, a tree) nests as deeply as the
// data says, one level per byte or so, so a 64 MiB block could nest tens of
// millions of levels and kill the process. For such schemas the Reader first
// walks each block with scanner, which checks the structure of every record
// and its nesting depth without recursion deeper than maxNesting, and only
// then lets hamba decode it. Schemas that cannot nest deeper than maxNesting
// skip the scan.

// maxNesting bounds the nesting of a value: records, arrays, maps and unions
// each add a level. It also bounds AppendJSON.
const maxNesting = 10000

var errTooDeep = fmt.Errorf("value nests deeper than %d levels", maxNesting)

// mayNestTooDeep reports whether values of s can nest deeper than
// maxNesting: whether s is recursive or absurdly deep. Heights of named
// types are memoized, so schemas sharing a type along many paths cost
// linear time.
func mayNestTooDeep(s avro.Schema) bool {
	const infinite = -1
	memo := map[string]int{}
	onPath := map[string]bool{}
	var height func(s avro.Schema) int
	height = func(s avro.Schema) int {
		s = deref(s)
		var name string
		if n, ok := s.(avro.NamedSchema); ok {
			name = n.FullName()
			if h, ok := memo[name]; ok {
				return h
			}
			if onPath[name] {
				return infinite // recursive
			}
			onPath[name] = true
			defer delete(onPath, name)
		}
		var children []avro.Schema
		switch s := s.(type) {
		case *avro.RecordSchema:
			for _, f := range s.Fields() {
				children = append(children, f.Type())
			}
		case *avro.UnionSchema:
			children = s.Types()
		case *avro.ArraySchema:
			children = []avro.Schema{s.Items()}
		case *avro.MapSchema:
			children = []avro.Schema{s.Values()}
		default:
			return 0
		}
		h := 0
		for _, c := range children {
			ch := height(c)
			if ch == infinite || ch >= maxNesting {
				h = infinite
				break
			}
			h = max(h, ch+1)
		}
		if name != "" {
			memo[name] = h
		}
		return h
	}
	h := height(s)
	return h == infinite || h > maxNesting
}

// isRecursive reports whether a named type of s refers to itself.
func isRecursive(s avro.Schema) bool {
	done := map[string]bool{}
	onPath := map[string]bool{}
	var walk func(s avro.Schema) bool
	walk = func(s avro.Schema) bool {
		s = deref(s)
		if n, ok := s.(avro.NamedSchema); ok {
			name := n.FullName()
			if onPath[name] {
				return true
			}
			if done[name] {
				return false
			}
			onPath[name] = true
			defer func() { delete(onPath, name); done[name] = true }()
		}
		switch s := s.(type) {
		case *avro.RecordSchema:
			for _, f := range s.Fields() {
				if walk(f.Type()) {
					return true
				}
			}
		case *avro.UnionSchema:
			for _, t := range s.Types() {
				if walk(t) {
					return true
				}
			}
		case *avro.ArraySchema:
			return walk(s.Items())
		case *avro.MapSchema:
			return walk(s.Values())
		}
		return false
	}
	return walk(s)
}

// minSizes computes lower bounds of encoded sizes, memoized per schema.
type minSizes struct {
	memo   map[avro.Schema]int
	onPath map[avro.Schema]bool
}

func newMinSizes() *minSizes {
	return &minSizes{memo: map[avro.Schema]int{}, onPath: map[avro.Schema]bool{}}
}

// of returns a lower bound of the encoded size of a value of s.
func (m *minSizes) of(s avro.Schema) int {
	s = deref(s)
	switch s := s.(type) {
	case *avro.NullSchema:
		return 0
	case *avro.FixedSchema:
		return s.Size()
	case *avro.PrimitiveSchema:
		switch s.Type() {
		case avro.Float:
			return 4
		case avro.Double:
			return 8
		default:
			return 1
		}
	case *avro.RecordSchema:
		if n, ok := m.memo[s]; ok {
			return n
		}
		if m.onPath[s] {
			return 0 // cannot happen in a valid schema; 0 is a safe bound
		}
		m.onPath[s] = true
		defer delete(m.onPath, s)
		n := 0
		for _, f := range s.Fields() {
			n = min(n+m.of(f.Type()), math.MaxInt32)
		}
		m.memo[s] = n
		return n
	default: // enum, array, map, union: at least one varint byte
		return 1
	}
}

var errScanEOF = errors.New("record extends past the end of the block")

// scanner walks encoded values without decoding them.
type scanner struct {
	data  []byte
	pos   int
	sizes *minSizes
}

// value skips one value of schema s at nesting depth d.
func (sc *scanner) value(s avro.Schema, d int) error {
	if d > maxNesting {
		return errTooDeep
	}
	switch s := deref(s).(type) {
	case *avro.NullSchema:
		return nil
	case *avro.PrimitiveSchema:
		switch s.Type() {
		case avro.Boolean:
			return sc.skip(1)
		case avro.Int, avro.Long:
			_, err := sc.long()
			return err
		case avro.Float:
			return sc.skip(4)
		case avro.Double:
			return sc.skip(8)
		default: // string, bytes
			return sc.skipBytes()
		}
	case *avro.FixedSchema:
		return sc.skip(s.Size())
	case *avro.EnumSchema:
		i, err := sc.long()
		if err == nil && (i < 0 || i >= int64(len(s.Symbols()))) {
			err = fmt.Errorf("enum index %d out of range", i)
		}
		return err
	case *avro.UnionSchema:
		i, err := sc.long()
		if err != nil {
			return err
		}
		if i < 0 || i >= int64(len(s.Types())) {
			return fmt.Errorf("union index %d out of range", i)
		}
		return sc.value(s.Types()[i], d+1)
	case *avro.RecordSchema:
		for _, f := range s.Fields() {
			if err := sc.value(f.Type(), d+1); err != nil {
				return err
			}
		}
		return nil
	case *avro.ArraySchema:
		return sc.blocks(s.Items(), false, d)
	case *avro.MapSchema:
		return sc.blocks(s.Values(), true, d)
	}
	return fmt.Errorf("unexpected schema %s", s.Type())
}

// blocks skips the blocks of an array or a map.
func (sc *scanner) blocks(item avro.Schema, isMap bool, d int) error {
	size := sc.sizes.of(item)
	if isMap {
		size++ // the key's length
	}
	for {
		n, err := sc.long()
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if n < 0 {
			if n == -n { // math.MinInt64
				return fmt.Errorf("invalid block count %d", n)
			}
			n = -n
			if _, err := sc.long(); err != nil { // the block's byte size
				return err
			}
		}
		if size == 0 {
			// Items take no bytes: nothing to walk, nothing nests.
			continue
		}
		if n > int64(len(sc.data)-sc.pos)/int64(size) {
			return errScanEOF
		}
		for range n {
			if isMap {
				if err := sc.skipBytes(); err != nil {
					return err
				}
			}
			if err := sc.value(item, d+1); err != nil {
				return err
			}
		}
	}
}

func (sc *scanner) long() (int64, error) {
	var u uint64
	for i := 0; i < 10; i++ {
		if sc.pos >= len(sc.data) {
			return 0, errScanEOF
		}
		c := sc.data[sc.pos]
		sc.pos++
		if i == 9 && c > 1 {
			return 0, errVarintOverflow
		}
		u |= uint64(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			return int64(u>>1) ^ -int64(u&1), nil
		}
	}
	return 0, errVarintOverflow
}

func (sc *scanner) skip(n int) error {
	if n > len(sc.data)-sc.pos {
		return errScanEOF
	}
	sc.pos += n
	return nil
}

func (sc *scanner) skipBytes() error {
	n, err := sc.long()
	if err != nil {
		return err
	}
	if n < 0 {
		return fmt.Errorf("negative length %d", n)
	}
	if n > int64(len(sc.data)-sc.pos) {
		return errScanEOF
	}
	sc.pos += int(n)
	return nil
}
