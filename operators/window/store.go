package window

import (
	"fmt"

	"github.com/riffle-streams/riffle/state"
)

// contentsState is the name of the state holding window (or pane) contents.
const contentsState = "window-contents"

// store keeps the contents of windows (or panes, or session state windows) per
// namespace: an accumulator for incremental functions, the elements for full-window ones.
type store[IN, ACC any] interface {
	setNamespace(ns []byte)
	// add adds v to the contents of the current namespace and reports whether it held
	// nothing before.
	add(v IN) (fresh bool, err error)
	get() (ACC, bool, error)
	clear() error
	// merge moves the contents of sources into target (session windows).
	merge(target []byte, sources [][]byte) error
	// fold folds the contents of the current namespace into acc, which the caller owns
	// (panes of a sliding window); has reports whether acc holds anything.
	fold(acc ACC, has bool) (ACC, bool, error)
}

// valueStore keeps one accumulator per namespace (reduce and aggregate functions).
type valueStore[IN, ACC any] struct {
	s       state.ValueState[ACC]
	ns      state.Namespaced
	addFn   func(acc ACC, has bool, v IN) ACC
	mergeFn func(a, b ACC) ACC
}

func newValueStore[IN, ACC any](b state.Backend, codec state.Codec[ACC], addFn func(ACC, bool, IN) ACC, mergeFn func(a, b ACC) ACC) (*valueStore[IN, ACC], error) {
	s, err := state.NewValue(b, state.Desc[ACC]{Name: contentsState, Codec: codec})
	if err != nil {
		return nil, err
	}
	ns, ok := s.(state.Namespaced)
	if !ok {
		return nil, fmt.Errorf("window: state backend %T has no namespaces", b)
	}
	return &valueStore[IN, ACC]{s: s, ns: ns, addFn: addFn, mergeFn: mergeFn}, nil
}

func (s *valueStore[IN, ACC]) setNamespace(ns []byte)  { s.ns.SetNamespace(ns) }
func (s *valueStore[IN, ACC]) get() (ACC, bool, error) { return s.s.Value() }
func (s *valueStore[IN, ACC]) clear() error            { return s.s.Clear() }

func (s *valueStore[IN, ACC]) add(v IN) (bool, error) {
	acc, ok, err := s.s.Value()
	if err != nil {
		return false, err
	}
	return !ok, s.s.Update(s.addFn(acc, ok, v))
}

func (s *valueStore[IN, ACC]) fold(acc ACC, has bool) (ACC, bool, error) {
	v, ok, err := s.s.Value()
	if err != nil || !ok {
		return acc, has, err
	}
	if !has {
		return v, true, nil
	}
	return s.mergeFn(acc, v), true, nil
}

// merge is state.Mergeable's MergeNamespaces for a value state: the accumulators of the
// sources are merged into target's in order, and the sources cleared.
func (s *valueStore[IN, ACC]) merge(target []byte, sources [][]byte) error {
	if len(sources) == 0 {
		return nil
	}
	s.ns.SetNamespace(target)
	acc, has, err := s.s.Value()
	if err != nil {
		return err
	}
	for _, src := range sources {
		s.ns.SetNamespace(src)
		v, ok, err := s.s.Value()
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if has {
			acc = s.mergeFn(acc, v)
		} else {
			acc, has = v, true
		}
		if err := s.s.Clear(); err != nil {
			return err
		}
	}
	s.ns.SetNamespace(target)
	if !has {
		return nil
	}
	return s.s.Update(acc)
}

// listStore keeps the elements of each namespace (full-window process functions) in a
// list state, merged with state.Mergeable.
type listStore[IN any] struct {
	s       state.ListState[IN]
	ns      state.Namespaced
	m       state.Mergeable
	scratch []IN
}

func newListStore[IN any](b state.Backend, codec state.Codec[IN]) (*listStore[IN], error) {
	s, err := state.NewList(b, state.Desc[IN]{Name: contentsState, Codec: codec})
	if err != nil {
		return nil, err
	}
	ns, ok := s.(state.Namespaced)
	m, ok2 := s.(state.Mergeable)
	if !ok || !ok2 {
		return nil, fmt.Errorf("window: list state of backend %T cannot merge", b)
	}
	return &listStore[IN]{s: s, ns: ns, m: m}, nil
}

func (s *listStore[IN]) setNamespace(ns []byte) { s.ns.SetNamespace(ns) }
func (s *listStore[IN]) clear() error           { return s.s.Clear() }
func (s *listStore[IN]) get() ([]IN, bool, error) {
	l, err := s.s.Get()
	return l, len(l) > 0, err
}

func (s *listStore[IN]) add(v IN) (bool, error) {
	l, err := s.s.Get()
	if err != nil {
		return false, err
	}
	return len(l) == 0, s.s.Add(v)
}

func (s *listStore[IN]) fold(acc []IN, has bool) ([]IN, bool, error) {
	l, err := s.s.Get()
	if err != nil || len(l) == 0 {
		return acc, has, err
	}
	if !has {
		acc = s.scratch[:0]
	}
	acc = append(acc, l...)
	s.scratch = acc
	return acc, true, nil
}

func (s *listStore[IN]) merge(target []byte, sources [][]byte) error {
	if len(sources) == 0 {
		return nil
	}
	return s.m.MergeNamespaces(target, sources)
}
