package nexmark

import (
	"encoding/json"
	"math"
	"strconv"
)

// The results of q0 and q1 are as many as the bids: encoding them with encoding/json's
// reflection was the largest single cost of q1 through the log (24% of its CPU). Their
// types write their JSON by hand instead, byte for byte what encoding/json writes
// (jsonfast_test.go compares the two on random values), and fall back to it for what
// the fast path does not handle.

// marshalJSON is json.Marshal(v), through v's hand-written encoding when it has one.
func marshalJSON(v any) ([]byte, error) {
	if a, ok := v.(interface{ appendJSON([]byte) ([]byte, bool) }); ok {
		if b, ok := a.appendJSON(make([]byte, 0, 256)); ok {
			return b, nil
		}
	}
	return json.Marshal(v)
}

func (o BidOut) appendJSON(b []byte) ([]byte, bool) {
	b = append(b, `{"auction":`...)
	b = strconv.AppendInt(b, o.Auction, 10)
	b = append(b, `,"bidder":`...)
	b = strconv.AppendInt(b, o.Bidder, 10)
	b = append(b, `,"price":`...)
	b, ok := appendJSONFloat(b, o.Price)
	b = append(b, `,"dateTime":`...)
	b = strconv.AppendInt(b, o.DateTime, 10)
	b = append(b, `,"extra":`...)
	b = appendJSONString(b, o.Extra)
	return append(b, '}'), ok
}

func (o Q0Out) appendJSON(b []byte) ([]byte, bool) {
	b = append(b, `{"auction":`...)
	b = strconv.AppendInt(b, o.Auction, 10)
	b = append(b, `,"bidder":`...)
	b = strconv.AppendInt(b, o.Bidder, 10)
	b = append(b, `,"price":`...)
	b = strconv.AppendInt(b, o.Price, 10)
	b = append(b, `,"dateTime":`...)
	b = strconv.AppendInt(b, o.DateTime, 10)
	b = append(b, `,"extra":`...)
	b = appendJSONString(b, o.Extra)
	return append(b, '}'), true
}

// appendJSONFloat writes f as encoding/json does; false for NaN and infinities, which
// encoding/json refuses.
func appendJSONFloat(b []byte, f float64) ([]byte, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, false
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 to e-9, as encoding/json does
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, true
}

// appendJSONString writes s quoted and escaped as encoding/json does (with its HTML
// escaping). ASCII is escaped here; a string with other bytes goes through encoding/json.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
