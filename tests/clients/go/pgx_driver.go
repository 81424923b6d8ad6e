// Driver matrix: Go pgx v4 (Debian's golang-github-jackc-pgx-v4-dev) doing what an
// application does, through the target in PG* variables: a pool of 20 with 24 goroutines,
// CRUD by key (pgx prepares and caches every statement), a transaction over two shards, a
// nested transaction (a savepoint), a *pgconn.PgError 23505, a batch over both shards with a
// failing row, a cursor in a transaction, CopyFrom (binary COPY). SG_S0 / SG_S1: keys on shard
// s0 / s1. Exits 1 on a wrong answer; prints {"total": N}; tests/integration/test_driver_go.py
// checks the rows on the shards.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgconn"
	"github.com/jackc/pgx/v4"
	"github.com/jackc/pgx/v4/pgxpool"
)

var ctx = context.Background()

func keys(name string) []int64 {
	var out []int64
	for _, s := range strings.Split(os.Getenv(name), ",") {
		v, err := strconv.ParseInt(s, 10, 64)
		must(err)
		out = append(out, v)
	}
	return out
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func check(what string, got, want interface{}) {
	if fmt.Sprint(got) != fmt.Sprint(want) {
		fmt.Fprintf(os.Stderr, "%s: got %v, want %v\n", what, got, want)
		os.Exit(1)
	}
}

func sqlstate(err error) string {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code
	}
	return fmt.Sprint(err)
}

func main() {
	s0, s1 := keys("SG_S0"), keys("SG_S1")
	cfg, err := pgxpool.ParseConfig("pool_max_conns=20")
	must(err)
	pool, err := pgxpool.ConnectConfig(ctx, cfg)
	must(err)
	defer pool.Close()

	_, err = pool.Exec(ctx, "DROP TABLE IF EXISTS accounts")
	must(err)
	_, err = pool.Exec(ctx, "CREATE TABLE accounts (id bigint PRIMARY KEY, owner text NOT NULL, balance bigint NOT NULL DEFAULT 0)")
	must(err)

	// CRUD by key, statements prepared and cached by pgx.
	ks := []int64{s0[0], s0[1], s1[0], s1[1]}
	for _, k := range ks {
		_, err = pool.Exec(ctx, "INSERT INTO accounts (id, owner, balance) VALUES ($1, $2, 100)", k, fmt.Sprint("o", k))
		must(err)
	}
	for _, k := range ks {
		var owner string
		var balance int64
		must(pool.QueryRow(ctx, "SELECT owner, balance FROM accounts WHERE id = $1", k).Scan(&owner, &balance))
		check("owner", owner, fmt.Sprint("o", k))
		check("balance", balance, 100)
	}
	tag, err := pool.Exec(ctx, "UPDATE accounts SET owner = 'renamed' WHERE id = $1", s1[1])
	must(err)
	check("update", tag.RowsAffected(), 1)

	// A transaction over two shards, one rolled back, and a savepoint.
	move := "UPDATE accounts SET balance = balance + $1 WHERE id = $2"
	must(pool.BeginFunc(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, move, -30, s0[0]); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, move, 30, s1[0])
		return err
	}))
	abort := errors.New("abort")
	err = pool.BeginFunc(ctx, func(tx pgx.Tx) error {
		tx.Exec(ctx, move, -1000, s0[0])
		tx.Exec(ctx, move, 1000, s1[0])
		return abort
	})
	check("rollback", err, abort)
	must(pool.BeginFunc(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, move, 1, s0[1]); err != nil {
			return err
		}
		sp := tx.BeginFunc(ctx, func(inner pgx.Tx) error { // SAVEPOINT ... ROLLBACK TO
			inner.Exec(ctx, move, 500, s1[1])
			return abort
		})
		check("savepoint", sp, abort)
		_, err := tx.Exec(ctx, move, 2, s1[1])
		return err
	}))

	// A unique violation: *pgconn.PgError 23505; the transaction failed until rollback.
	tx, err := pool.Begin(ctx)
	must(err)
	_, err = tx.Exec(ctx, move, 5, s0[0])
	must(err)
	_, err = tx.Exec(ctx, "INSERT INTO accounts (id, owner) VALUES ($1, 'dup')", s1[0])
	check("unique violation", sqlstate(err), "23505")
	_, err = tx.Exec(ctx, "SELECT 1")
	check("failed transaction", sqlstate(err), "25P02")
	must(tx.Rollback(ctx))

	// A batch over both shards with a failing row applies nothing.
	b := &pgx.Batch{}
	b.Queue("INSERT INTO accounts (id, owner) VALUES ($1, 'n')", s0[2])
	b.Queue("INSERT INTO accounts (id, owner) VALUES ($1, 'n')", s1[2])
	b.Queue("INSERT INTO accounts (id, owner) VALUES ($1, 'dup')", s1[0])
	err = pool.SendBatch(ctx, b).Close()
	check("batch", sqlstate(err), "23505")
	var n int64
	must(pool.QueryRow(ctx, "SELECT count(*) FROM accounts WHERE owner = 'n'").Scan(&n))
	check("nothing applied", n, 0)

	// A cursor in a transaction, declared on s1, fetched after a statement on s0.
	must(pool.BeginFunc(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "DECLARE c CURSOR FOR SELECT id FROM accounts WHERE id = ANY($1) ORDER BY id", []int64{s1[0], s1[1]}); err != nil {
			return err
		}
		var got []int64
		for i := 0; i < 2; i++ {
			var id int64
			if err := tx.QueryRow(ctx, "FETCH 1 FROM c").Scan(&id); err != nil {
				return err
			}
			got = append(got, id)
			if _, err := tx.Exec(ctx, move, 0, s0[0]); err != nil {
				return err
			}
		}
		want := []int64{s1[0], s1[1]}
		sort.Slice(want, func(i, j int) bool { return want[i] < want[j] })
		check("cursor", got, want)
		return nil
	}))

	// CopyFrom: binary COPY over both shards.
	copied, err := pool.CopyFrom(ctx, pgx.Identifier{"accounts"}, []string{"id", "owner", "balance"},
		pgx.CopyFromRows([][]interface{}{{s0[2], "copied", int64(7)}, {s1[2], "copied", int64(7)}}))
	must(err)
	check("copied", copied, 2)

	// LISTEN/NOTIFY on a connection of its own (one LISTEN sent as a simple query, one through a
	// named prepared statement): a NOTIFY from another connection of the pool arrives with its
	// payload; after UNLISTEN only the channel still listened on is heard.
	lc, err := pool.Acquire(ctx)
	must(err)
	_, err = lc.Exec(ctx, "LISTEN pgx_ch")
	must(err)
	_, err = lc.Conn().Prepare(ctx, "listen_sync", "LISTEN pgx_sync")
	must(err)
	_, err = lc.Exec(ctx, "listen_sync")
	must(err)
	wait := func() string {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		n, err := lc.Conn().WaitForNotification(wctx)
		must(err)
		return n.Channel + ":" + n.Payload
	}
	_, err = pool.Exec(ctx, "SELECT pg_notify($1, $2)", "pgx_ch", "hello")
	must(err)
	check("notification", wait(), "pgx_ch:hello")
	_, err = lc.Exec(ctx, "UNLISTEN pgx_ch")
	must(err)
	_, err = pool.Exec(ctx, "NOTIFY pgx_ch, 'after UNLISTEN'")
	must(err)
	_, err = pool.Exec(ctx, "NOTIFY pgx_sync, 'last'")
	must(err)
	check("after UNLISTEN", wait(), "pgx_sync:last")
	_, err = lc.Exec(ctx, "UNLISTEN *")
	must(err)
	must(lc.Conn().Deallocate(ctx, "listen_sync"))
	lc.Release()

	// 24 goroutines on the pool of 20.
	var wg sync.WaitGroup
	errs := make(chan error, 24)
	for t := 0; t < 24; t++ {
		wg.Add(1)
		go func(t int) {
			defer wg.Done()
			amount := int64(t%41 - 20)
			moves := [][2]int64{{s0[t%2], -amount}, {s1[(t/2)%2], amount}}
			sort.Slice(moves, func(i, j int) bool { return moves[i][0] < moves[j][0] })
			errs <- pool.BeginFunc(ctx, func(tx pgx.Tx) error {
				for _, m := range moves {
					if _, err := tx.Exec(ctx, move, m[1], m[0]); err != nil {
						return err
					}
				}
				return nil
			})
		}(t)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		must(e)
	}
	var total int64
	must(pool.QueryRow(ctx, "SELECT sum(balance) FROM accounts").Scan(&total))
	out, _ := json.Marshal(map[string]int64{"total": total})
	fmt.Println(string(out))
}
