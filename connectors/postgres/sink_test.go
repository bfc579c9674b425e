package postgres

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	logconn "github.com/riffle-streams/riffle/connectors/log"
	rlog "github.com/riffle-streams/riffle/log"
	"github.com/riffle-streams/riffle/operators"
	"github.com/riffle-streams/riffle/stream"
)

func query(t *testing.T, sql string) []string {
	t.Helper()
	c, err := pgx.Connect(context.Background(), connString)
	require.NoError(t, err)
	defer c.Close(context.Background())
	rows, err := c.Query(context.Background(), sql)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		vals, err := r.Values()
		return fmt.Sprint(vals...), err
	})
	require.NoError(t, err)
	sort.Strings(out)
	return out
}

type event struct {
	ID  int64
	Key string
}

// job reads topic "in" (bodies "ID KEY") and writes through sink; failAt, when set, fails
// the first attempt's n-th record.
func job(t *testing.T, l *rlog.Log, state string, sink stream.Sink[event], failAt int64) *stream.Job {
	var n atomic.Int64
	var failed atomic.Bool
	j := stream.NewJob("pg", stream.JobOptions{Parallelism: 2,
		Checkpoints: &stream.Checkpointing{Log: l, StateDir: state, Interval: 20 * time.Millisecond},
		Restart:     stream.RestartStrategy{MaxAttempts: 2, Delay: time.Millisecond}})
	in := stream.FromSource(j, "in", &logconn.Source[event]{Log: l, Topic: "in", Start: logconn.Earliest, Bounded: true,
		Decode: func(m *rlog.Message) (event, error) {
			var e event
			_, err := fmt.Sscan(string(m.Body), &e.ID, &e.Key)
			return e, err
		}}, stream.WatermarkStrategy[event]{NoWatermarks: true})
	checked := operators.MapErr(in, "check", func(e event) (event, error) {
		if failAt > 0 && n.Add(1) == failAt && failed.CompareAndSwap(false, true) {
			return e, fmt.Errorf("injected failure")
		}
		return e, nil
	})
	checked.To("pg", sink)
	return j
}

func fillLog(t *testing.T, n int) (*rlog.Log, string) {
	dir := t.TempDir()
	l, err := rlog.Open(filepath.Join(dir, "log"), rlog.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	require.NoError(t, l.CreateTopic(context.Background(), "in", 2))
	var msgs []*rlog.Message
	for i := 0; i < n; i++ {
		msgs = append(msgs, &rlog.Message{Topic: "in", Queue: i % 2, Body: []byte(fmt.Sprintf("%d k%d", i, i%7))})
	}
	require.NoError(t, l.Append(context.Background(), msgs...))
	return l, filepath.Join(dir, "state")
}

// TestTransactionalExactlyOnce: plain INSERTs (no key) through prepared transactions;
// a failure mid-run and the restart leave every row exactly once.
func TestTransactionalExactlyOnce(t *testing.T) {
	mustExec(t, `DROP TABLE IF EXISTS events_tx; CREATE TABLE events_tx (id bigint, k text)`)
	l, state := fillLog(t, 3000)
	sink := &Sink[event]{ConnString: connString, Table: "events_tx", Columns: []string{"id", "k"}, Mode: Transactional,
		Values: func(e event) ([]any, error) { return []any{e.ID, e.Key}, nil }, BatchSize: 100}
	require.NoError(t, job(t, l, state, sink, 1700).Run(context.Background()))
	got := query(t, `SELECT count(*), count(DISTINCT id), min(id), max(id) FROM events_tx`)
	assert.Equal(t, []string{"3000 3000 0 2999"}, got, "3000 rows, 3000 distinct ids 0..2999")
	assert.Empty(t, query(t, `SELECT gid FROM pg_prepared_xacts`), "nothing left prepared")
}

// TestUpsert: rows by key; the records replayed after the failure overwrite the rows
// they wrote before it, and a batch holding a key twice keeps its last row.
func TestUpsert(t *testing.T) {
	mustExec(t, `DROP TABLE IF EXISTS rows_by_id; CREATE TABLE rows_by_id (id bigint PRIMARY KEY, k text)`)
	l, state := fillLog(t, 700)
	sink := &Sink[event]{ConnString: connString, Table: "rows_by_id", Columns: []string{"id", "k"}, KeyColumns: []string{"id"},
		Values: func(e event) ([]any, error) { return []any{e.ID, e.Key}, nil }}
	require.NoError(t, job(t, l, state, sink, 300).Run(context.Background()))
	assert.Equal(t, []string{"700 700 0 699"}, query(t, `SELECT count(*), count(DISTINCT id), min(id), max(id) FROM rows_by_id`))

	w := &writer[event]{s: sink}
	rows := w.lastPerKey([][]any{{int64(1), "a"}, {int64(2), "b"}, {int64(1), "c"}})
	assert.Equal(t, [][]any{{int64(2), "b"}, {int64(1), "c"}}, rows)
}

// TestRecover: Recover commits the last committed epoch's prepared transactions and
// rolls back this sink's later ones, leaving other gids alone.
func TestRecover(t *testing.T) {
	mustExec(t, `DROP TABLE IF EXISTS rec; CREATE TABLE rec (id bigint)`)
	prepare := func(gid string, id int) {
		c, err := pgx.Connect(context.Background(), connString)
		require.NoError(t, err)
		defer c.Close(context.Background())
		_, err = c.Exec(context.Background(), "BEGIN")
		require.NoError(t, err)
		_, err = c.Exec(context.Background(), "INSERT INTO rec VALUES ($1)", id)
		require.NoError(t, err)
		_, err = c.Exec(context.Background(), "PREPARE TRANSACTION "+quoteLiteral(gid))
		require.NoError(t, err)
	}
	s := &Sink[event]{ConnString: connString, Table: "rec", Columns: []string{"id"}, Mode: Transactional,
		Values: func(e event) ([]any, error) { return []any{e.ID}, nil }}
	prepare(s.gid(0, 4), 4)
	prepare(s.gid(1, 5), 5)
	prepare(s.gid(0, 6), 6)
	prepare("someone-else-7", 7)
	require.NoError(t, s.Recover(context.Background(), 5, [][]byte{[]byte(s.gid(1, 5)), []byte(s.gid(0, 5))}))
	assert.Equal(t, []string{"5"}, query(t, `SELECT id FROM rec`), "epoch 5 committed; 6 rolled back")
	assert.Equal(t, []string{"riffle-rec-0-4", "someone-else-7"}, query(t, `SELECT gid FROM pg_prepared_xacts`),
		"earlier and foreign gids are left alone")
	mustExec(t, "ROLLBACK PREPARED 'riffle-rec-0-4'")
	mustExec(t, "ROLLBACK PREPARED 'someone-else-7'")
	// Idempotent: committing epoch 5 again is fine.
	require.NoError(t, s.CommitEpoch(context.Background(), 5, [][]byte{[]byte(s.gid(1, 5))}))
}

func TestErrors(t *testing.T) {
	l, state := fillLog(t, 10)
	sink := &Sink[event]{ConnString: connString, Table: "no_such_table", Columns: []string{"id"}, KeyColumns: []string{"id"},
		Values: func(e event) ([]any, error) { return []any{e.ID}, nil }}
	err := job(t, l, state, sink, 0).Run(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no_such_table")
	assert.Contains(t, err.Error(), `relation "no_such_table" does not exist`)
	assert.Error(t, (&Sink[event]{ConnString: connString, Table: "t", Columns: []string{"a"},
		Values: func(event) ([]any, error) { return nil, nil }}).check(), "Upsert without KeyColumns")
}
