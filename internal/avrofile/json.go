package avrofile

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/hamba/avro/v2"
)

// The JSON rendering is specified in doc.go ("JSON rendering"); keep the two
// in step.

// AppendJSON appends the JSON rendering of v, a value of schema s in the
// generic form a Reader returns, to dst and returns the extended buffer.
// Objects keep the schema's field order and maps are sorted by key, so
// equal values always render to equal bytes. It fails if v does not have
// the shape s describes.
func AppendJSON(dst []byte, s avro.Schema, v any) ([]byte, error) {
	return appendValue(dst, s, v, 0)
}

// WriteJSONLines writes each remaining record of r to w as one line of JSON
// (AppendJSON with r.Schema()) and returns how many it wrote. It stops at
// the first error: a write error, a rendering error or r.Err(); the lines
// of the records before it are written.
func WriteJSONLines(w io.Writer, r *Reader) (int64, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	var (
		line []byte
		n    int64
		err  error
	)
	for r.Next() {
		line, err = AppendJSON(line[:0], r.Schema(), r.Value())
		if err != nil {
			err = fmt.Errorf("avrofile: %s: record %d: %w", r.name, r.record-1, err)
			break
		}
		line = append(line, '\n')
		if _, err = bw.Write(line); err != nil {
			return n, err
		}
		n++
	}
	if ferr := bw.Flush(); ferr != nil {
		return n, ferr
	}
	if err != nil {
		return n, err
	}
	return n, r.Err()
}

func appendValue(dst []byte, s avro.Schema, v any, depth int) ([]byte, error) {
	if depth > maxNesting {
		return nil, errTooDeep
	}
	s = deref(s)
	mismatch := func() ([]byte, error) {
		return nil, fmt.Errorf("%T is not a value of Avro %s", v, typeLabel(s))
	}
	switch s := s.(type) {
	case *avro.NullSchema:
		if v != nil {
			return mismatch()
		}
		return append(dst, "null"...), nil

	case *avro.PrimitiveSchema:
		return appendPrimitive(dst, s, v)

	case *avro.RecordSchema:
		m, ok := v.(map[string]any)
		if !ok {
			return mismatch()
		}
		dst = append(dst, '{')
		for i, f := range s.Fields() {
			fv, ok := m[f.Name()]
			if !ok {
				return nil, fmt.Errorf("record %s has no field %q", s.FullName(), f.Name())
			}
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, f.Name())
			dst = append(dst, ':')
			var err error
			if dst, err = appendValue(dst, f.Type(), fv, depth+1); err != nil {
				return nil, fmt.Errorf("%s: %w", f.Name(), err)
			}
		}
		return append(dst, '}'), nil

	case *avro.EnumSchema:
		sym, ok := v.(string)
		if !ok {
			return mismatch()
		}
		return appendString(dst, sym), nil

	case *avro.ArraySchema:
		rv := reflect.ValueOf(v)
		if rv.Kind() != reflect.Slice {
			return mismatch()
		}
		dst = append(dst, '[')
		for i := range rv.Len() {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendValue(dst, s.Items(), rv.Index(i).Interface(), depth+1); err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
		}
		return append(dst, ']'), nil

	case *avro.MapSchema:
		m, ok := v.(map[string]any)
		if !ok {
			return mismatch()
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, k)
			dst = append(dst, ':')
			var err error
			if dst, err = appendValue(dst, s.Values(), m[k], depth+1); err != nil {
				return nil, fmt.Errorf("[%q]: %w", k, err)
			}
		}
		return append(dst, '}'), nil

	case *avro.UnionSchema:
		return appendUnion(dst, s, v, depth)

	case *avro.FixedSchema:
		if ls := s.Logical(); ls != nil {
			switch ls.Type() {
			case avro.Decimal:
				if d, ok := ls.(*avro.DecimalLogicalSchema); ok {
					if out, ok := appendDecimal(dst, v, d.Scale()); ok {
						return out, nil
					}
				}
			case avro.Duration:
				if d, ok := v.(avro.LogicalDuration); ok {
					dst = append(dst, `{"months":`...)
					dst = strconv.AppendUint(dst, uint64(d.Months), 10)
					dst = append(dst, `,"days":`...)
					dst = strconv.AppendUint(dst, uint64(d.Days), 10)
					dst = append(dst, `,"milliseconds":`...)
					dst = strconv.AppendUint(dst, uint64(d.Milliseconds), 10)
					return append(dst, '}'), nil
				}
			}
		}
		b, ok := bytesOf(v)
		if !ok || len(b) != s.Size() {
			return mismatch()
		}
		return appendLatin1(dst, b), nil
	}
	return mismatch()
}

// appendUnion renders nil as null and {branch: value} as Avro's JSON
// encoding does: {"<branch name>": value}, the branch named by its full
// name when it is a named type and by its type name otherwise.
func appendUnion(dst []byte, u *avro.UnionSchema, v any, depth int) ([]byte, error) {
	if v == nil {
		if unionBranch(u, string(avro.Null)) == nil {
			return nil, fmt.Errorf("nil value for a union without null (%s)", u)
		}
		return append(dst, "null"...), nil
	}
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return nil, fmt.Errorf("union value must be nil or a map with one entry {branch: value}, got %T", v)
	}
	key, inner := singleEntry(m)
	branch := unionBranch(u, key)
	if branch == nil {
		// Also accept the Avro JSON name ("long" for a timestamp-millis
		// branch), as values built by hand use it.
		for _, t := range u.Types() {
			if jsonBranchName(t) == key {
				branch = deref(t)
				break
			}
		}
	}
	if branch == nil {
		return nil, fmt.Errorf("union %s has no branch %q", typeLabel(u), key)
	}
	if branch.Type() == avro.Null {
		return append(dst, "null"...), nil
	}
	dst = append(dst, '{')
	dst = appendString(dst, jsonBranchName(branch))
	dst = append(dst, ':')
	dst, err := appendValue(dst, branch, inner, depth+1)
	if err != nil {
		return nil, err
	}
	return append(dst, '}'), nil
}

// jsonBranchName is a union branch's name in Avro's JSON encoding.
func jsonBranchName(s avro.Schema) string {
	s = deref(s)
	if n, ok := s.(avro.NamedSchema); ok {
		return n.FullName()
	}
	return string(s.Type())
}

func appendPrimitive(dst []byte, s *avro.PrimitiveSchema, v any) ([]byte, error) {
	var lt avro.LogicalType
	if ls := s.Logical(); ls != nil {
		lt = ls.Type()
	}
	mismatch := func() ([]byte, error) {
		return nil, fmt.Errorf("%T is not a value of Avro %s", v, typeLabel(s))
	}
	switch s.Type() {
	case avro.Boolean:
		b, ok := v.(bool)
		if !ok {
			return mismatch()
		}
		return strconv.AppendBool(dst, b), nil
	case avro.Int, avro.Long:
		switch t := v.(type) {
		case time.Time:
			if out, ok := appendTime(dst, lt, t); ok {
				return out, nil
			}
			return mismatch()
		case time.Duration:
			if out, ok := appendTimeOfDay(dst, lt, t); ok {
				return out, nil
			}
			return mismatch()
		}
		i, ok := intOf(v)
		if !ok {
			return mismatch()
		}
		return strconv.AppendInt(dst, i, 10), nil
	case avro.Float, avro.Double:
		bits := 64
		if s.Type() == avro.Float {
			bits = 32
		}
		f, ok := floatOf(v)
		if !ok {
			return mismatch()
		}
		return appendFloat(dst, f, bits), nil
	case avro.String:
		switch t := v.(type) {
		case string:
			return appendString(dst, t), nil
		case []byte: // a bytes value promoted to string by resolution
			return appendString(dst, string(t)), nil
		}
		return mismatch()
	case avro.Bytes:
		if lt == avro.Decimal {
			if d, ok := s.Logical().(*avro.DecimalLogicalSchema); ok {
				if out, ok := appendDecimal(dst, v, d.Scale()); ok {
					return out, nil
				}
			}
		}
		if str, ok := v.(string); ok { // a string promoted to bytes
			return appendLatin1(dst, []byte(str)), nil
		}
		b, ok := bytesOf(v)
		if !ok {
			return mismatch()
		}
		return appendLatin1(dst, b), nil
	}
	return mismatch()
}

// appendTime renders date and timestamp logical types. Instants outside the
// years 0000-9999, which RFC 3339 cannot express, render as the underlying
// number.
func appendTime(dst []byte, lt avro.LogicalType, t time.Time) ([]byte, bool) {
	var layout string
	var raw int64
	switch lt {
	case avro.Date:
		t = t.UTC()
		layout = "2006-01-02"
		raw = floorDiv(t.Unix(), 86400)
	case avro.TimestampMillis:
		t = t.UTC()
		layout = "2006-01-02T15:04:05.000Z07:00"
		raw = t.UnixMilli()
	case avro.TimestampMicros:
		t = t.UTC()
		layout = "2006-01-02T15:04:05.000000Z07:00"
		raw = t.UnixMicro()
	case avro.LocalTimestampMillis:
		layout = "2006-01-02T15:04:05.000"
		raw = wallClock(t).UnixMilli()
	case avro.LocalTimestampMicros:
		layout = "2006-01-02T15:04:05.000000"
		raw = wallClock(t).UnixMicro()
	default:
		return nil, false
	}
	if y := t.Year(); y < 0 || y > 9999 {
		return strconv.AppendInt(dst, raw, 10), true
	}
	dst = append(dst, '"')
	dst = t.AppendFormat(dst, layout)
	return append(dst, '"'), true
}

// wallClock returns t's wall clock as a UTC time (a local timestamp's
// underlying value counts from 1970-01-01T00:00 on the wall clock).
func wallClock(t time.Time) time.Time {
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	return time.Date(y, mo, d, h, mi, s, t.Nanosecond(), time.UTC)
}

// appendTimeOfDay renders time-millis and time-micros as "15:04:05.000"
// and "15:04:05.000000"; values outside [0, 24h) render as the underlying
// number.
func appendTimeOfDay(dst []byte, lt avro.LogicalType, d time.Duration) ([]byte, bool) {
	var unit time.Duration
	var digits int
	switch lt {
	case avro.TimeMillis:
		unit, digits = time.Millisecond, 3
	case avro.TimeMicros:
		unit, digits = time.Microsecond, 6
	default:
		return nil, false
	}
	if d < 0 || d >= 24*time.Hour {
		return strconv.AppendInt(dst, int64(d/unit), 10), true
	}
	t := time.Unix(0, 0).UTC().Add(d)
	layout := "15:04:05.000"
	if digits == 6 {
		layout = "15:04:05.000000"
	}
	dst = append(dst, '"')
	dst = t.AppendFormat(dst, layout)
	return append(dst, '"'), true
}

// appendDecimal renders a decimal exactly, with scale digits after the
// point, as a JSON string ("-12.30").
func appendDecimal(dst []byte, v any, scale int) ([]byte, bool) {
	var r *big.Rat
	switch t := v.(type) {
	case *big.Rat:
		r = t
	case big.Rat:
		r = &t
	default:
		return nil, false
	}
	if r == nil {
		return nil, false
	}
	dst = append(dst, '"')
	dst = append(dst, r.FloatString(scale)...)
	return append(dst, '"'), true
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func intOf(v any) (int64, bool) {
	switch t := v.(type) {
	case int:
		return int64(t), true
	case int8:
		return int64(t), true
	case int16:
		return int64(t), true
	case int32:
		return int64(t), true
	case int64:
		return t, true
	case uint8:
		return int64(t), true
	case uint16:
		return int64(t), true
	case uint32:
		return int64(t), true
	}
	return 0, false
}

func floatOf(v any) (float64, bool) {
	switch t := v.(type) {
	case float32:
		return float64(t), true
	case float64:
		return t, true
	}
	if i, ok := intOf(v); ok { // an int or long promoted by resolution
		return float64(i), true
	}
	return 0, false
}

// bytesOf returns the bytes of a []byte or of a byte array ([N]byte, how
// hamba decodes fixed values).
func bytesOf(v any) ([]byte, bool) {
	if b, ok := v.([]byte); ok {
		return b, true
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Array || rv.Type().Elem().Kind() != reflect.Uint8 {
		return nil, false
	}
	b := make([]byte, rv.Len())
	reflect.Copy(reflect.ValueOf(b), rv)
	return b, true
}

// appendFloat renders like encoding/json (shortest representation that
// round-trips at the given precision, exponent form outside [1e-6, 1e21)),
// and renders NaN and infinities, which JSON cannot express as numbers, as
// the strings "NaN", "Infinity" and "-Infinity".
func appendFloat(dst []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(dst, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(dst, `"-Infinity"`...)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	dst = strconv.AppendFloat(dst, f, format, -1, bits)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD;
// control characters, U+2028 and U+2029 are escaped; HTML characters are
// not.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = appendEscapedASCII(dst, c)
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\u202`...)
			dst = append(dst, hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendLatin1 renders bytes as Avro's JSON encoding does: a string whose
// code points U+0000-U+00FF are the byte values.
func appendLatin1(dst []byte, b []byte) []byte {
	dst = append(dst, '"')
	for _, c := range b {
		switch {
		case c >= utf8.RuneSelf:
			dst = utf8.AppendRune(dst, rune(c))
		case c < 0x20 || c == '"' || c == '\\':
			dst = appendEscapedASCII(dst, c)
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

func appendEscapedASCII(dst []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(dst, '\\', c)
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	case '\b':
		return append(dst, '\\', 'b')
	case '\f':
		return append(dst, '\\', 'f')
	}
	return append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
}

func typeLabel(s avro.Schema) string {
	s = deref(s)
	if n, ok := s.(avro.NamedSchema); ok {
		return fmt.Sprintf("%s %s", s.Type(), n.FullName())
	}
	return unionKey(s)
}
