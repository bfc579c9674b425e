package registry

import (
	"fmt"
	"strings"

	"github.com/hamba/avro/v2"
)

// Level is a compatibility level: which earlier versions of a subject a new schema is
// checked against, and in which direction.
type Level string

// Compatibility levels (Confluent's).
const (
	// None checks nothing.
	None Level = "NONE"
	// Backward: the new schema reads data written with the latest version (consumers
	// upgrade first). The default.
	Backward Level = "BACKWARD"
	// BackwardTransitive: the new schema reads data written with every version.
	BackwardTransitive Level = "BACKWARD_TRANSITIVE"
	// Forward: the latest version reads data written with the new schema (producers
	// upgrade first).
	Forward Level = "FORWARD"
	// ForwardTransitive: every version reads data written with the new schema.
	ForwardTransitive Level = "FORWARD_TRANSITIVE"
	// Full: Backward and Forward.
	Full Level = "FULL"
	// FullTransitive: BackwardTransitive and ForwardTransitive.
	FullTransitive Level = "FULL_TRANSITIVE"
)

// ParseLevel parses a level name (case-insensitive).
func ParseLevel(s string) (Level, error) {
	l := Level(strings.ToUpper(strings.TrimSpace(s)))
	switch l {
	case None, Backward, BackwardTransitive, Forward, ForwardTransitive, Full, FullTransitive:
		return l, nil
	}
	return "", errorf(ErrInvalidCompatibility, "Invalid compatibility level %q: valid are NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE", s)
}

func (l Level) backward() bool {
	return l == Backward || l == BackwardTransitive || l == Full || l == FullTransitive
}
func (l Level) forward() bool {
	return l == Forward || l == ForwardTransitive || l == Full || l == FullTransitive
}
func (l Level) transitive() bool { return strings.HasSuffix(string(l), "_TRANSITIVE") }

// incompatibilities checks candidate against the given earlier versions in the
// directions of level, and returns one message per failed check (none: compatible).
func incompatibilities(compat *avro.SchemaCompatibility, level Level, candidate avro.Schema, against []checked) []string {
	var msgs []string
	for _, old := range against {
		if level.backward() {
			if err := compat.Compatible(candidate, old.schema); err != nil {
				msgs = append(msgs, fmt.Sprintf("%s: the new schema cannot read data written with version %d (id %d): %v", level, old.version, old.id, err))
			}
		}
		if level.forward() {
			if err := compat.Compatible(old.schema, candidate); err != nil {
				msgs = append(msgs, fmt.Sprintf("%s: version %d (id %d) cannot read data written with the new schema: %v", level, old.version, old.id, err))
			}
		}
	}
	return msgs
}

// checked is an earlier version a candidate is checked against.
type checked struct {
	version, id int
	schema      avro.Schema
}
