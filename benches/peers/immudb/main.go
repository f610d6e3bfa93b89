// immudb appends the leaves compare gives it to immudb's embedded store (the storage engine
// under the immudb server, used as a library) and scans the whole store with its integrity
// checks, for `compare --peers` (see benches/README.md).
//
// Durability: the store is opened synced (its default), so a commit returns only once the
// value log, transaction log and commit log holding it are fsynced; the sync frequency is
// zero, so a commit does not wait for other commits to share its fsync.
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/codenotary/immudb/embedded/store"

	"trailseal.bench/peers/harness"
)

func main() {
	harness.Main(harness.Peer{
		Name:    "immudb",
		Version: "v1.10.0",
		Open:    open,
		Verify:  verify,
	})
}

func options() *store.Options {
	return store.DefaultOptions().
		WithSynced(true).
		// The syncer sleeps a quarter of this while more commits arrive before it fsyncs
		// (default 20 ms); with one committer there is nothing to wait for.
		WithSyncFrequency(0)
}

type log struct {
	st   *store.ImmuStore
	next uint64
	last uint64
}

func open(dir string, batch int) (harness.Log, error) {
	opts := options()
	// One transaction per caller batch (the default limit is 1,024 entries).
	if batch > opts.MaxTxEntries {
		opts = opts.WithMaxTxEntries(batch)
	}
	st, err := store.Open(dir, opts)
	if err != nil {
		return nil, err
	}
	return &log{st: st}, nil
}

func (l *log) AppendBatch(leaves [][]byte) error {
	ctx := context.Background()
	tx, err := l.st.NewWriteOnlyTx(ctx)
	if err != nil {
		return err
	}
	for _, leaf := range leaves {
		// The key is the entry's index, big-endian: the order of the log.
		var key [8]byte
		binary.BigEndian.PutUint64(key[:], l.next)
		if err := tx.Set(key[:], nil, leaf); err != nil {
			return err
		}
		l.next++
	}
	hdr, err := tx.Commit(ctx)
	if err != nil {
		return err
	}
	l.last = hdr.ID
	return nil
}

// Finish has nothing to wait for: a commit is durable when it returns. (immudb builds its key
// index in the background, off the commit path; no reader of this benchmark needs it.)
func (l *log) Finish() (map[string]any, error) {
	return nil, nil
}

func (l *log) Close() error {
	return l.st.Close()
}

// verify reads every transaction in order with immudb's integrity check (each entry's digest
// rebuilt into the transaction's hash tree and its accumulated linear hash recomputed and
// compared), holds each transaction's PrevAlh to the previous one's Alh (the chain), and
// reads every value, which immudb checks against the digest in its transaction.
func verify(dir string) (uint64, error) {
	// Not read-only: the embedded store cannot open its indexer read-only; nothing is written.
	st, err := store.Open(dir, options())
	if err != nil {
		return 0, err
	}
	defer st.Close()
	tx := store.NewTx(st.MaxTxEntries(), st.MaxKeyLen())
	r, err := st.NewTxReader(1, false, tx)
	if err != nil {
		return 0, err
	}
	var n uint64
	var prev [32]byte
	for {
		tx, err := r.Read()
		if errors.Is(err, store.ErrNoMoreEntries) {
			break
		}
		if err != nil {
			return n, err
		}
		hdr := tx.Header()
		// The first transaction's PrevAlh is the store's starting value, not a previous Alh.
		if hdr.ID > 1 && hdr.PrevAlh != prev {
			return n, fmt.Errorf("tx %d: PrevAlh does not match tx %d's Alh", hdr.ID, hdr.ID-1)
		}
		prev = hdr.Alh()
		for _, e := range tx.Entries() {
			if _, err := st.ReadValue(e); err != nil {
				return n, fmt.Errorf("tx %d: %w", hdr.ID, err)
			}
			n++
		}
	}
	return n, nil
}
