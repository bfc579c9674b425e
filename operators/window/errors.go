package window

import "errors"

var (
	// ErrInvalid is wrapped by every configuration error Validate reports (bad sizes,
	// gaps, offsets, lateness, a trigger that cannot merge on a merging assigner, ...) and
	// by a dynamic session gap below 1ms.
	ErrInvalid = errors.New("window: invalid window operator")
	// ErrNotKeyed is returned by Open on a stream that is not keyed.
	ErrNotKeyed = errors.New("window: window operators need a keyed stream")
	// ErrNoTimestamp is returned for a record without timestamp on event-time windows.
	ErrNoTimestamp = errors.New("window: record has no timestamp (event-time windows need timestamped records and watermarks)")
	// ErrLateMerge is returned when merging would make a window end before the
	// watermark (or, for processing time, the clock): a MergingAssigner whose merge result
	// does not cover the merged windows.
	ErrLateMerge = errors.New("window: merging made a window end before the current time")
)
