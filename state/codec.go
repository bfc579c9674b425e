package state

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"math"
	"reflect"
)

// Codec encodes values of T for snapshots, changelogs and disk. Encodings must be
// deterministic (equal values, equal bytes) where they encode keys.
type Codec[T any] interface {
	Append(dst []byte, v T) []byte
	Decode(b []byte) (T, error)
}

// CodecFor returns the default codec of T: fixed-width little-endian for integers, floats
// and bool, raw bytes for string and []byte, and encoding/gob otherwise (register the
// type's concrete interface values with gob where needed, or pass a codec of your own).
func CodecFor[T any]() Codec[T] {
	var zero T
	var c any
	switch any(zero).(type) {
	case string:
		c = stringCodec{}
	case []byte:
		c = bytesCodec{}
	case int64:
		c = int64Codec{}
	case int:
		c = intCodec{}
	case int32:
		c = int32Codec{}
	case uint64:
		c = uint64Codec{}
	case float64:
		c = float64Codec{}
	case bool:
		c = boolCodec{}
	default:
		return gobCodec[T]{}
	}
	return c.(Codec[T])
}

type stringCodec struct{}

func (stringCodec) Append(dst []byte, v string) []byte { return append(dst, v...) }
func (stringCodec) Decode(b []byte) (string, error)    { return string(b), nil }

type bytesCodec struct{}

func (bytesCodec) Append(dst []byte, v []byte) []byte { return append(dst, v...) }
func (bytesCodec) Decode(b []byte) ([]byte, error)    { return append([]byte(nil), b...), nil }

var errWidth = errors.New("state: value of the wrong width")

type int64Codec struct{}

func (int64Codec) Append(dst []byte, v int64) []byte {
	return binary.LittleEndian.AppendUint64(dst, uint64(v))
}
func (int64Codec) Decode(b []byte) (int64, error) {
	if len(b) != 8 {
		return 0, errWidth
	}
	return int64(binary.LittleEndian.Uint64(b)), nil
}

type intCodec struct{}

func (intCodec) Append(dst []byte, v int) []byte {
	return binary.LittleEndian.AppendUint64(dst, uint64(int64(v)))
}
func (intCodec) Decode(b []byte) (int, error) {
	if len(b) != 8 {
		return 0, errWidth
	}
	return int(int64(binary.LittleEndian.Uint64(b))), nil
}

type int32Codec struct{}

func (int32Codec) Append(dst []byte, v int32) []byte {
	return binary.LittleEndian.AppendUint32(dst, uint32(v))
}
func (int32Codec) Decode(b []byte) (int32, error) {
	if len(b) != 4 {
		return 0, errWidth
	}
	return int32(binary.LittleEndian.Uint32(b)), nil
}

type uint64Codec struct{}

func (uint64Codec) Append(dst []byte, v uint64) []byte {
	return binary.LittleEndian.AppendUint64(dst, v)
}
func (uint64Codec) Decode(b []byte) (uint64, error) {
	if len(b) != 8 {
		return 0, errWidth
	}
	return binary.LittleEndian.Uint64(b), nil
}

type float64Codec struct{}

func (float64Codec) Append(dst []byte, v float64) []byte {
	return binary.LittleEndian.AppendUint64(dst, math.Float64bits(v))
}
func (float64Codec) Decode(b []byte) (float64, error) {
	if len(b) != 8 {
		return 0, errWidth
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(b)), nil
}

type boolCodec struct{}

func (boolCodec) Append(dst []byte, v bool) []byte {
	if v {
		return append(dst, 1)
	}
	return append(dst, 0)
}
func (boolCodec) Decode(b []byte) (bool, error) {
	if len(b) != 1 {
		return false, errWidth
	}
	return b[0] == 1, nil
}

// gobCodec is the fallback for structs, slices and maps. It is not canonical for maps:
// use it for values, not keys.
type gobCodec[T any] struct{}

func (gobCodec[T]) Append(dst []byte, v T) []byte {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(&v); err != nil {
		panic(fmt.Sprintf("state: gob cannot encode %T: %v (give the state a Codec)", v, err))
	}
	return append(dst, buf.Bytes()...)
}

func (gobCodec[T]) Decode(b []byte) (T, error) {
	var v T
	err := gob.NewDecoder(bytes.NewReader(b)).Decode(&v)
	return v, err
}

// KeyCodec encodes keys canonically: the encoding decides the key group (see KeyGroup),
// so it must be deterministic and must never change for a type.
type KeyCodec[K any] interface {
	Codec[K]
}

// KeyCodecFor returns the canonical key codec of K: the default codecs for basic types,
// and for structs and arrays a field-by-field encoding of those (length-prefixed strings).
// It fails for types it cannot encode canonically (maps, pointers, interfaces, floats in
// structs are allowed), naming the type.
func KeyCodecFor[K any]() (KeyCodec[K], error) {
	var zero K
	switch any(zero).(type) {
	case string, []byte, int64, int, int32, uint64, bool:
		return CodecFor[K](), nil
	}
	t := reflect.TypeOf(zero)
	if t == nil || !canonical(t) {
		return nil, fmt.Errorf("state: no canonical key encoding for %v: use strings, integers, bools, or structs and arrays of them, or give a KeyCodec", t)
	}
	return reflectKeyCodec[K]{t: t}, nil
}

func canonical(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return true
	case reflect.Array:
		return canonical(t.Elem())
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			if !t.Field(i).IsExported() || !canonical(t.Field(i).Type) {
				return false
			}
		}
		return true
	}
	return false
}

type reflectKeyCodec[K any] struct{ t reflect.Type }

func (c reflectKeyCodec[K]) Append(dst []byte, k K) []byte {
	return appendCanonical(dst, reflect.ValueOf(k))
}

func appendCanonical(dst []byte, v reflect.Value) []byte {
	le := binary.LittleEndian
	switch v.Kind() {
	case reflect.String:
		dst = le.AppendUint32(dst, uint32(v.Len()))
		return append(dst, v.String()...)
	case reflect.Bool:
		if v.Bool() {
			return append(dst, 1)
		}
		return append(dst, 0)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return le.AppendUint64(dst, uint64(v.Int()))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return le.AppendUint64(dst, v.Uint())
	case reflect.Float32, reflect.Float64:
		return le.AppendUint64(dst, math.Float64bits(v.Float()))
	case reflect.Array:
		for i := 0; i < v.Len(); i++ {
			dst = appendCanonical(dst, v.Index(i))
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			dst = appendCanonical(dst, v.Field(i))
		}
	}
	return dst
}

func (c reflectKeyCodec[K]) Decode(b []byte) (K, error) {
	var k K
	rest, err := decodeCanonical(b, reflect.ValueOf(&k).Elem())
	if err == nil && len(rest) != 0 {
		err = errors.New("state: trailing bytes in key")
	}
	return k, err
}

func decodeCanonical(b []byte, v reflect.Value) ([]byte, error) {
	le := binary.LittleEndian
	need := func(n int) error {
		if len(b) < n {
			return errors.New("state: truncated key")
		}
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		if err := need(4); err != nil {
			return nil, err
		}
		n := int(le.Uint32(b))
		if err := need(4 + n); err != nil {
			return nil, err
		}
		v.SetString(string(b[4 : 4+n]))
		return b[4+n:], nil
	case reflect.Bool:
		if err := need(1); err != nil {
			return nil, err
		}
		v.SetBool(b[0] == 1)
		return b[1:], nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if err := need(8); err != nil {
			return nil, err
		}
		v.SetInt(int64(le.Uint64(b)))
		return b[8:], nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if err := need(8); err != nil {
			return nil, err
		}
		v.SetUint(le.Uint64(b))
		return b[8:], nil
	case reflect.Float32, reflect.Float64:
		if err := need(8); err != nil {
			return nil, err
		}
		v.SetFloat(math.Float64frombits(le.Uint64(b)))
		return b[8:], nil
	case reflect.Array:
		var err error
		for i := 0; i < v.Len() && err == nil; i++ {
			b, err = decodeCanonical(b, v.Index(i))
		}
		return b, err
	case reflect.Struct:
		var err error
		for i := 0; i < v.NumField() && err == nil; i++ {
			b, err = decodeCanonical(b, v.Field(i))
		}
		return b, err
	}
	return nil, fmt.Errorf("state: cannot decode a key of kind %v", v.Kind())
}
