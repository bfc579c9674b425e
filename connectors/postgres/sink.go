// Package postgres is a PostgreSQL sink on pgx, exactly-once in either of two modes:
//
//   - Upsert (the default): rows are written with INSERT ... ON CONFLICT (key columns)
//     DO UPDATE, in batches. A record replayed after a crash overwrites the same row with
//     the same values, so the table ends exactly as if every record had been written
//     once, provided each record's row is a function of the record (a running count
//     keyed by its key, a window result keyed by key and window). Needs a unique index on
//     KeyColumns.
//   - Transactional, for non-idempotent writes (plain INSERTs into a log table, say): each
//     sink subtask writes its epoch inside one PostgreSQL transaction, which the barrier
//     prepares (PREPARE TRANSACTION 'riffle-<ID>-<subtask>-<epoch>', durable but
//     invisible) and the checkpoint's commit commits (COMMIT PREPARED). It is the job's
//     two-phase commit (stream.PreCommitter, stream.TwoPhaseCommitSink). After a crash,
//     Recover commits the prepared transactions of the last committed epoch (if their
//     COMMIT PREPARED did not run) and rolls back every riffle-<ID>- transaction of a later
//     epoch: rows appear exactly once. The server needs max_prepared_transactions > 0.
//
// Without checkpoints both modes write each batch in its own transaction (at-least-once
// for plain inserts).
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/riffle-streams/riffle/stream"
)

// Mode is how a Sink gets exactly-once.
type Mode int

const (
	// Upsert writes rows idempotently by KeyColumns.
	Upsert Mode = iota
	// Transactional writes each epoch in a prepared transaction, committed with the
	// checkpoint.
	Transactional
)

// Sink writes records as rows of Table.
type Sink[T any] struct {
	// ConnString is a pgx connection string (postgres://user@host:port/db?...).
	ConnString string
	// Table receives the rows ("schema.table" or "table").
	Table string
	// Columns are the columns Values fills, in order.
	Columns []string
	// KeyColumns, for Upsert, is the conflict target: a unique index on them must exist.
	KeyColumns []string
	// Values returns a record's column values, in Columns' order.
	Values func(T) ([]any, error)
	Mode   Mode
	// ID names the sink's prepared transactions (Transactional). Default: Table.
	ID string
	// BatchSize is how many rows one statement writes. Default 500.
	BatchSize int
}

func (s *Sink[T]) id() string {
	if s.ID != "" {
		return s.ID
	}
	return s.Table
}

func (s *Sink[T]) check() error {
	switch {
	case s.ConnString == "" || s.Table == "" || len(s.Columns) == 0 || s.Values == nil:
		return errors.New("postgres: Sink needs ConnString, Table, Columns and Values")
	case s.Mode == Upsert && len(s.KeyColumns) == 0:
		return fmt.Errorf("postgres: sink to %s: Upsert needs KeyColumns", s.Table)
	}
	return nil
}

// gidPrefix is the prefix of this sink's prepared transactions.
func (s *Sink[T]) gidPrefix() string { return "riffle-" + s.id() + "-" }

func (s *Sink[T]) gid(subtask int, epoch uint64) string {
	return s.gidPrefix() + strconv.Itoa(subtask) + "-" + strconv.FormatUint(epoch, 10)
}

// Open implements stream.Sink.
func (s *Sink[T]) Open(ctx stream.Context) (stream.SinkWriter[T], error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	conn, err := pgx.Connect(context.Background(), s.ConnString)
	if err != nil {
		return nil, fmt.Errorf("postgres: sink to %s: connect: %w", s.Table, err)
	}
	w := &writer[T]{s: s, conn: conn, subtask: ctx.Subtask(), size: s.BatchSize,
		checkpointed: stream.Transactions(ctx) != nil}
	if w.size <= 0 {
		w.size = 500
	}
	if txns := stream.Transactions(ctx); txns != nil {
		w.epoch = txns.FirstEpoch()
	}
	w.sql = s.statement()
	return w, nil
}

// statement builds the multi-row INSERT prefix and its ON CONFLICT suffix.
func (s *Sink[T]) statement() [2]string {
	cols := make([]string, len(s.Columns))
	for i, c := range s.Columns {
		cols[i] = pgx.Identifier{c}.Sanitize()
	}
	table := pgx.Identifier(strings.Split(s.Table, ".")).Sanitize()
	head := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES "
	tail := ""
	if s.Mode == Upsert {
		keys := make([]string, len(s.KeyColumns))
		isKey := map[string]bool{}
		for i, c := range s.KeyColumns {
			keys[i] = pgx.Identifier{c}.Sanitize()
			isKey[c] = true
		}
		var sets []string
		for i, c := range s.Columns {
			if !isKey[c] {
				sets = append(sets, cols[i]+" = EXCLUDED."+cols[i])
			}
		}
		tail = " ON CONFLICT (" + strings.Join(keys, ", ") + ") DO NOTHING"
		if len(sets) > 0 {
			tail = " ON CONFLICT (" + strings.Join(keys, ", ") + ") DO UPDATE SET " + strings.Join(sets, ", ")
		}
	}
	return [2]string{head, tail}
}

type writer[T any] struct {
	s            *Sink[T]
	conn         *pgx.Conn
	subtask      int
	size         int
	checkpointed bool
	epoch        uint64
	sql          [2]string
	rows         [][]any
	tx           pgx.Tx // Transactional with checkpoints: the epoch's open transaction
	rowsInTx     int
	keyIdx       []int // Upsert: the key columns' indexes in Columns
}

func (w *writer[T]) Write(r stream.Record[T]) error {
	vals, err := w.s.Values(r.Value)
	if err != nil {
		return fmt.Errorf("postgres: sink to %s: values: %w", w.s.Table, err)
	}
	if len(vals) != len(w.s.Columns) {
		return fmt.Errorf("postgres: sink to %s: Values returned %d values for %d columns", w.s.Table, len(vals), len(w.s.Columns))
	}
	w.rows = append(w.rows, vals)
	if len(w.rows) >= w.size {
		return w.flush()
	}
	return nil
}

// flush writes the buffered rows: in the epoch's transaction (Transactional, with
// checkpoints) or in a transaction of their own.
func (w *writer[T]) flush() error {
	if len(w.rows) == 0 {
		return nil
	}
	ctx := context.Background()
	if w.s.Mode == Upsert {
		w.rows = w.lastPerKey(w.rows)
	}
	var b strings.Builder
	b.WriteString(w.sql[0])
	args := make([]any, 0, len(w.rows)*len(w.s.Columns))
	for i, row := range w.rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for j := range row {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("$" + strconv.Itoa(len(args)+1))
			args = append(args, row[j])
		}
		b.WriteByte(')')
	}
	b.WriteString(w.sql[1])
	var err error
	if w.s.Mode == Transactional && w.checkpointed {
		if w.tx == nil {
			if w.tx, err = w.conn.Begin(ctx); err != nil {
				return fmt.Errorf("postgres: sink to %s: begin: %w", w.s.Table, err)
			}
		}
		_, err = w.tx.Exec(ctx, b.String(), args...)
		w.rowsInTx += len(w.rows)
	} else {
		_, err = w.conn.Exec(ctx, b.String(), args...)
	}
	if err != nil {
		return fmt.Errorf("postgres: sink to %s: write %d rows (first: %s): %w", w.s.Table, len(w.rows), abbreviate(w.rows[0]), err)
	}
	clear(w.rows)
	w.rows = w.rows[:0]
	return nil
}

// lastPerKey keeps each key's last row, in order: one INSERT ... ON CONFLICT DO UPDATE
// may not touch a row twice.
func (w *writer[T]) lastPerKey(rows [][]any) [][]any {
	if w.keyIdx == nil {
		for _, k := range w.s.KeyColumns {
			for i, c := range w.s.Columns {
				if c == k {
					w.keyIdx = append(w.keyIdx, i)
				}
			}
		}
	}
	last := make(map[string]int, len(rows))
	key := make([]any, len(w.keyIdx))
	for i, row := range rows {
		for j, ki := range w.keyIdx {
			key[j] = row[ki]
		}
		last[fmt.Sprintf("%#v", key)] = i
	}
	if len(last) == len(rows) {
		return rows
	}
	out := rows[:0]
	for i, row := range rows {
		for j, ki := range w.keyIdx {
			key[j] = row[ki]
		}
		if last[fmt.Sprintf("%#v", key)] == i {
			out = append(out, row)
		}
	}
	clear(rows[len(out):])
	return out
}

func abbreviate(row []any) string {
	s := fmt.Sprint(row)
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

// PreCommit implements stream.PreCommitter: Transactional prepares the epoch's
// transaction and returns its gid; Upsert just flushes (its writes are idempotent).
func (w *writer[T]) PreCommit(epoch uint64) ([]byte, error) {
	w.epoch = epoch
	if err := w.flush(); err != nil {
		return nil, err
	}
	w.epoch = epoch + 1
	if w.s.Mode != Transactional || w.tx == nil {
		return nil, nil
	}
	gid := w.s.gid(w.subtask, epoch)
	// PREPARE TRANSACTION ends the transaction in this session; pgx's Tx is done with.
	if _, err := w.conn.Exec(context.Background(), "PREPARE TRANSACTION "+quoteLiteral(gid)); err != nil {
		return nil, fmt.Errorf("postgres: sink to %s: prepare %s: %w", w.s.Table, gid, err)
	}
	w.tx, w.rowsInTx = nil, 0
	return []byte(gid), nil
}

func (w *writer[T]) Close() error {
	err := w.flush()
	if w.tx != nil {
		// Not pre-committed: the epoch never commits; its rows must not appear.
		err = errors.Join(err, w.tx.Rollback(context.Background()))
	}
	return errors.Join(err, w.conn.Close(context.Background()))
}

// CommitEpoch implements stream.TwoPhaseCommitSink: COMMIT PREPARED each gid; a gid
// already committed (unknown to the server) is fine.
func (s *Sink[T]) CommitEpoch(ctx context.Context, epoch uint64, handles [][]byte) error {
	if s.Mode != Transactional {
		return nil
	}
	var gids []string
	for _, h := range handles {
		if len(h) > 0 {
			gids = append(gids, string(h))
		}
	}
	if len(gids) == 0 {
		return nil
	}
	conn, err := pgx.Connect(ctx, s.ConnString)
	if err != nil {
		return fmt.Errorf("postgres: sink to %s: connect: %w", s.Table, err)
	}
	defer conn.Close(ctx)
	return commitPrepared(ctx, conn, gids)
}

func commitPrepared(ctx context.Context, conn *pgx.Conn, gids []string) error {
	for _, gid := range gids {
		if _, err := conn.Exec(ctx, "COMMIT PREPARED "+quoteLiteral(gid)); err != nil && !isUnknownGID(err) {
			return fmt.Errorf("postgres: commit prepared %s: %w", gid, err)
		}
	}
	return nil
}

// isUnknownGID reports PostgreSQL's error for a prepared transaction that does not exist
// (committed or rolled back already).
func isUnknownGID(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "42704"
}

// Recover implements stream.TwoPhaseCommitSink: it commits the last committed epoch's
// prepared transactions and rolls back this sink's prepared transactions of any later
// epoch.
func (s *Sink[T]) Recover(ctx context.Context, epoch uint64, handles [][]byte) error {
	if err := s.check(); err != nil {
		return err
	}
	if s.Mode != Transactional {
		return nil
	}
	conn, err := pgx.Connect(ctx, s.ConnString)
	if err != nil {
		return fmt.Errorf("postgres: sink to %s: connect: %w", s.Table, err)
	}
	defer conn.Close(ctx)
	var gids []string
	for _, h := range handles {
		if len(h) > 0 {
			gids = append(gids, string(h))
		}
	}
	if err := commitPrepared(ctx, conn, gids); err != nil {
		return err
	}
	rows, err := conn.Query(ctx, "SELECT gid FROM pg_prepared_xacts WHERE gid LIKE $1", likePrefix(s.gidPrefix()))
	if err != nil {
		return fmt.Errorf("postgres: sink to %s: list prepared transactions: %w", s.Table, err)
	}
	later, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	for _, gid := range later {
		e, ok := gidEpoch(gid)
		if !ok || e <= epoch {
			continue // not ours, or committed above
		}
		if _, err := conn.Exec(ctx, "ROLLBACK PREPARED "+quoteLiteral(gid)); err != nil && !isUnknownGID(err) {
			return fmt.Errorf("postgres: sink to %s: roll back %s: %w", s.Table, gid, err)
		}
	}
	return nil
}

// gidEpoch reads the epoch at the end of a gid.
func gidEpoch(gid string) (uint64, bool) {
	i := strings.LastIndexByte(gid, '-')
	if i < 0 {
		return 0, false
	}
	e, err := strconv.ParseUint(gid[i+1:], 10, 64)
	return e, err == nil
}

func likePrefix(p string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(p) + "%"
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
