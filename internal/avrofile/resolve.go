package avrofile

import (
	"fmt"
	"math/big"
	"time"

	"github.com/hamba/avro/v2"
)

// Union values and schema resolution.
//
// hamba decodes a union into an `any` in one of two shapes (v2.31.0,
// codec_union.go, decoderOfResolvedUnion): as the bare branch value when
// every branch's Go type is registered in the config's type resolver (the
// primitives and a few logical types, see hambaRegistered), and as a
// single-entry map {branch: value} as soon as one branch is not (records,
// enums, fixed, arrays, maps, local timestamps). So ["null","string"] gives
// "x" while ["null",{"type":"array",...}] gives {"array": [...]}.
//
// With a reader schema there is a second inconsistency: the value has the
// shape of the composite schema Resolve returns, which follows the writer
// where unions are concerned. A writer "string" read as a reader
// ["null","string"] decodes bare, a writer ["int","long"] read as a reader
// "long" decodes as a union.
//
// normalize rewrites decoded values into one documented form: the shape of
// the schema the caller asked for, with every non-null union value wrapped
// as {branch: value}. The Reader calls it when the schema contains a union
// or a reader schema is set. TestHambaUnionShapes pins the hamba behaviour
// this relies on.

// hambaRegistered lists the union branch names (unionKey) hamba's default
// type resolver knows, with the Go type it decodes them to.
var hambaRegistered = map[string]func(any) bool{
	"null":                  func(v any) bool { return v == nil },
	"boolean":               isType[bool],
	"int":                   isType[int],
	"long":                  isType[int64],
	"float":                 isType[float32],
	"double":                isType[float64],
	"string":                isType[string],
	"bytes":                 isType[[]byte],
	"int.date":              isType[time.Time],
	"int.time-millis":       isType[time.Duration],
	"long.timestamp-millis": isType[time.Time],
	"long.timestamp-micros": isType[time.Time],
	"long.time-micros":      isType[time.Duration],
	"bytes.decimal":         isType[*big.Rat],
	"string.uuid":           isType[string],
}

func isType[T any](v any) bool { _, ok := v.(T); return ok }

// hambaBare reports whether hamba decodes values of u bare.
func hambaBare(u *avro.UnionSchema) bool {
	for _, t := range u.Types() {
		if _, ok := hambaRegistered[unionKey(t)]; !ok {
			return false
		}
	}
	return true
}

// needsNormalize reports whether values of s need normalize: whether s
// contains a union.
func needsNormalize(s avro.Schema) bool {
	seen := map[string]bool{}
	var walk func(avro.Schema) bool
	walk = func(s avro.Schema) bool {
		s = deref(s)
		if n, ok := s.(avro.NamedSchema); ok {
			if seen[n.FullName()] {
				return false
			}
			seen[n.FullName()] = true
		}
		switch s := s.(type) {
		case *avro.UnionSchema:
			return true
		case *avro.RecordSchema:
			for _, f := range s.Fields() {
				if walk(f.Type()) {
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

// normalize converts v, decoded by hamba with schema decoded (the writer
// schema, or the composite resolved from writer and reader), into the
// generic form of target (the writer or the reader schema). Maps and slices
// are rewritten in place.
func normalize(target, decoded avro.Schema, v any) (any, error) {
	target, decoded = deref(target), deref(decoded)
	targetUnion, _ := target.(*avro.UnionSchema)

	if du, ok := decoded.(*avro.UnionSchema); ok {
		if v == nil {
			return nil, nil
		}
		branch, inner, err := hambaBranch(du, v)
		if err != nil {
			return nil, err
		}
		if branch.Type() == avro.Null {
			return nil, nil
		}
		if targetUnion != nil {
			return wrapBranch(targetUnion, branch, inner)
		}
		// A writer union read as a reader non-union.
		return normalize(target, branch, inner)
	}
	if targetUnion != nil {
		// A writer non-union read as a reader union.
		return wrapBranch(targetUnion, decoded, v)
	}

	switch ts := target.(type) {
	case *avro.RecordSchema:
		ds, ok := decoded.(*avro.RecordSchema)
		m, isMap := v.(map[string]any)
		if !ok || !isMap {
			return v, nil
		}
		for _, tf := range ts.Fields() {
			df := fieldByName(ds, tf.Name())
			if df == nil {
				continue
			}
			c, err := normalize(tf.Type(), df.Type(), m[tf.Name()])
			if err != nil {
				return nil, fmt.Errorf("field %s: %w", tf.Name(), err)
			}
			m[tf.Name()] = c
		}
		return m, nil
	case *avro.ArraySchema:
		ds, ok := decoded.(*avro.ArraySchema)
		a, isSlice := v.([]any)
		if !ok || !isSlice {
			return v, nil
		}
		for i, item := range a {
			c, err := normalize(ts.Items(), ds.Items(), item)
			if err != nil {
				return nil, err
			}
			a[i] = c
		}
		return a, nil
	case *avro.MapSchema:
		ds, ok := decoded.(*avro.MapSchema)
		m, isMap := v.(map[string]any)
		if !ok || !isMap {
			return v, nil
		}
		for k, item := range m {
			c, err := normalize(ts.Values(), ds.Values(), item)
			if err != nil {
				return nil, err
			}
			m[k] = c
		}
		return m, nil
	}
	return v, nil
}

func fieldByName(r *avro.RecordSchema, name string) *avro.Field {
	for _, f := range r.Fields() {
		if f.Name() == name {
			return f
		}
	}
	return nil
}

// hambaBranch returns the branch of u that hamba decoded v from and the
// branch value.
func hambaBranch(u *avro.UnionSchema, v any) (avro.Schema, any, error) {
	if hambaBare(u) {
		// Two branches decoding to the same Go type (string and uuid,
		// date and timestamp-millis) cannot be told apart: the first wins.
		for _, t := range u.Types() {
			if hambaRegistered[unionKey(t)](v) {
				return deref(t), v, nil
			}
		}
		return nil, nil, fmt.Errorf("%T is no branch of union %s", v, u)
	}
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return nil, nil, fmt.Errorf("union value %T is not a single-entry map", v)
	}
	key, inner := singleEntry(m)
	b := unionBranch(u, key)
	if b == nil {
		return nil, nil, fmt.Errorf("union value names unknown branch %q", key)
	}
	return b, inner, nil
}

// singleEntry returns the entry of a map holding one.
func singleEntry(m map[string]any) (key string, value any) {
	for k, v := range m {
		key, value = k, v
	}
	return key, value
}

// wrapBranch wraps v, decoded with schema decoded (a branch of target, or
// derived from one by resolution), as a value of union target.
func wrapBranch(target *avro.UnionSchema, decoded avro.Schema, v any) (any, error) {
	key := unionKey(decoded)
	branch := unionBranch(target, key)
	if branch == nil {
		return nil, fmt.Errorf("union %s has no branch %q", target, key)
	}
	if branch.Type() == avro.Null {
		return nil, nil
	}
	c, err := normalize(branch, decoded, v)
	if err != nil {
		return nil, err
	}
	return map[string]any{key: c}, nil
}

// unionBranch returns the branch of u whose key (see unionKey) is key.
func unionBranch(u *avro.UnionSchema, key string) avro.Schema {
	for _, t := range u.Types() {
		if unionKey(t) == key {
			return deref(t)
		}
	}
	return nil
}

// unionKey is the key hamba uses for a union branch in generic values:
// the full name of a named type, otherwise the type name followed by
// "." and the logical type, if any ("long.timestamp-millis").
func unionKey(s avro.Schema) string {
	s = deref(s)
	if n, ok := s.(avro.NamedSchema); ok {
		return n.FullName()
	}
	name := string(s.Type())
	if lt, ok := s.(avro.LogicalTypeSchema); ok {
		if ls := lt.Logical(); ls != nil {
			name += "." + string(ls.Type())
		}
	}
	return name
}

func deref(s avro.Schema) avro.Schema {
	for range 64 {
		r, ok := s.(*avro.RefSchema)
		if !ok {
			return s
		}
		s = r.Schema()
	}
	return s
}

// probeResolution decodes a synthetic record of the writer schema (the
// smallest encoding of each type) with the resolved schema and normalizes
// it, so that a reader schema hamba cannot apply fails when the file is
// opened rather than on every record. hamba v2.31.0 fails, for instance, to
// apply a reader-only field's default when the field is a union whose first
// branch is a record, enum, fixed or logical type ("decode default: ...").
func probeResolution(api avro.API, writer, resolved, reader avro.Schema) (err error) {
	budget := 100000
	data, ok := appendZero(nil, writer, 0, &budget)
	if !ok {
		return nil // no finite value to try (cannot happen for a valid schema)
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("decoder panicked: %v", p)
		}
	}()
	var v any
	r := avro.NewReader(nil, 0, avro.WithReaderConfig(api)).Reset(data)
	r.ReadVal(resolved, &v)
	if r.Error != nil {
		return r.Error
	}
	_, err = normalize(reader, resolved, v)
	return err
}

// appendZero appends the smallest encoding of a value of s: zero numbers,
// empty strings, arrays and maps, the first union branch that has a finite
// value. It reports false if it finds none within a bounded depth and a
// bounded number of steps (a hostile schema could otherwise make the search
// exponential).
func appendZero(dst []byte, s avro.Schema, depth int, budget *int) ([]byte, bool) {
	*budget--
	if depth > 64 || *budget < 0 {
		return dst, false
	}
	switch s := deref(s).(type) {
	case *avro.NullSchema:
		return dst, true
	case *avro.PrimitiveSchema:
		switch s.Type() {
		case avro.Float:
			return append(dst, 0, 0, 0, 0), true
		case avro.Double:
			return append(dst, 0, 0, 0, 0, 0, 0, 0, 0), true
		default: // false, 0, or a zero length
			return append(dst, 0), true
		}
	case *avro.FixedSchema:
		return append(dst, make([]byte, s.Size())...), true
	case *avro.EnumSchema, *avro.ArraySchema, *avro.MapSchema:
		return append(dst, 0), true // index 0, or no items
	case *avro.UnionSchema:
		for i, t := range s.Types() {
			if b, ok := appendZero(nil, t, depth+1, budget); ok {
				return append(appendLong(dst, int64(i)), b...), true
			}
		}
		return dst, false
	case *avro.RecordSchema:
		ok := true
		for _, f := range s.Fields() {
			if dst, ok = appendZero(dst, f.Type(), depth+1, budget); !ok {
				return dst, false
			}
		}
		return dst, true
	}
	return dst, false
}
