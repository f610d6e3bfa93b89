// tessera appends the leaves compare gives it to a Tessera log on its POSIX driver and
// verifies the log with Tessera's fsck library, for `compare --peers` (see benches/README.md).
//
// Durability: the POSIX driver writes every bundle, tile and tree state with O_SYNC and
// fsyncs the directory, and an entry's index future resolves once its batch is sequenced and
// integrated (sequenceBatch does both inline). A batch is durable when all its futures have
// resolved; the run ends when a published checkpoint commits to the last entry.
package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"strings"
	"time"

	f_note "github.com/transparency-dev/formats/note"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/client"
	"github.com/transparency-dev/tessera/fsck"
	"github.com/transparency-dev/tessera/storage/posix"
	"golang.org/x/mod/sumdb/note"

	"trailseal.bench/peers/harness"
)

const origin = "bench.example/audit"

func main() {
	harness.Main(harness.Peer{
		Name:    "tessera",
		Version: "v1.0.4",
		Open:    open,
		Verify:  verify,
		// Partial bundles and tiles (`.../N.p/W`) are superseded by the full ones and deleted
		// by Tessera's garbage collector (every minute); counting them would charge Tessera
		// for our batch boundaries.
		Counted: func(rel string) bool { return !strings.Contains(rel, ".p/") },
	})
}

type log struct {
	ctx      context.Context
	cancel   context.CancelFunc
	add      tessera.AddFn
	reader   tessera.LogReader
	shutdown func(context.Context) error
	last     tessera.IndexFuture
	// Batches handed over and not yet waited for (--inflight above 1).
	pending [][]tessera.IndexFuture
}

func open(dir string, batch int) (harness.Log, error) {
	ctx, cancel := context.WithCancel(context.Background())
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		cancel()
		return nil, err
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		cancel()
		return nil, err
	}
	// The verifier key sits beside the log (not in it): verify's fsck needs it.
	if err := os.WriteFile(dir+".vkey", []byte(vkey), 0o644); err != nil {
		cancel()
		return nil, err
	}
	driver, err := posix.New(ctx, posix.Config{Path: dir})
	if err != nil {
		cancel()
		return nil, err
	}
	opts := tessera.NewAppendOptions().
		WithCheckpointSigner(signer).
		// One sequencing batch per caller batch, or per the caller batches in flight: the
		// queue flushes when it holds that many entries (at once for single appends); the
		// age bound only matters for a short last batch.
		WithBatching(uint(batch*harness.Inflight), 10*time.Millisecond).
		// The POSIX driver's minimum (default 10 s): a checkpoint as soon as Tessera allows.
		WithCheckpointInterval(100 * time.Millisecond)
	appender, shutdown, reader, err := tessera.NewAppender(ctx, driver, opts)
	if err != nil {
		cancel()
		return nil, err
	}
	return &log{ctx: ctx, cancel: cancel, add: appender.Add, reader: reader, shutdown: shutdown}, nil
}

func (l *log) AppendBatch(leaves [][]byte) error {
	futures := make([]tessera.IndexFuture, len(leaves))
	for i, leaf := range leaves {
		futures[i] = l.add(l.ctx, tessera.NewEntry(leaf))
	}
	l.last = futures[len(futures)-1]
	l.pending = append(l.pending, futures)
	// Wait for the oldest batches until at most Inflight-1 remain unresolved (all of them
	// with the default of 1: this batch is durable when AppendBatch returns).
	for len(l.pending) >= harness.Inflight {
		for _, f := range l.pending[0] {
			if _, err := f(); err != nil {
				return err
			}
		}
		l.pending = l.pending[1:]
	}
	return nil
}

// Finish waits until a published checkpoint commits to the last entry.
func (l *log) Finish() (map[string]any, error) {
	if l.last == nil {
		return nil, nil
	}
	for _, batch := range l.pending {
		for _, f := range batch {
			if _, err := f(); err != nil {
				return nil, err
			}
		}
	}
	l.pending = nil
	awaiter := tessera.NewPublicationAwaiter(l.ctx, l.reader.ReadCheckpoint, 10*time.Millisecond)
	idx, cp, err := awaiter.Await(l.ctx, l.last)
	if err != nil {
		return nil, err
	}
	return map[string]any{"published_index": idx.Index, "checkpoint_bytes": len(cp)}, nil
}

func (l *log) Close() error {
	defer l.cancel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return l.shutdown(ctx)
}

func verify(dir string) (uint64, error) {
	raw, err := os.ReadFile(dir + ".vkey")
	if err != nil {
		return 0, err
	}
	v, err := f_note.NewVerifier(string(raw))
	if err != nil {
		return 0, err
	}
	ctx := context.Background()
	f := client.FileFetcher{Root: dir}
	cp, err := f.ReadCheckpoint(ctx)
	if err != nil {
		return 0, err
	}
	n, err := note.Open(cp, note.VerifierList(v))
	if err != nil {
		return 0, err
	}
	var size uint64
	if _, err := fmt.Sscanf(strings.SplitN(n.Text, "\n", 3)[1], "%d", &size); err != nil {
		return 0, fmt.Errorf("checkpoint: %v", err)
	}
	// fsck: every entry bundle re-hashed, every tile recomputed from the level below, and
	// the root held to the signed checkpoint; two workers, one per core of this machine.
	if err := fsck.New(v.Name(), v, f, leafHashes, fsck.Opts{N: 2}).Check(ctx); err != nil {
		return 0, fmt.Errorf("fsck: %w", err)
	}
	return size, nil
}

// leafHashes is cmd/fsck's bundle hasher: the RFC 6962 leaf hash of each bundled entry.
func leafHashes(bundle []byte) ([][]byte, error) {
	eb := &api.EntryBundle{}
	if err := eb.UnmarshalText(bundle); err != nil {
		return nil, err
	}
	r := make([][]byte, 0, len(eb.Entries))
	for _, e := range eb.Entries {
		h := rfc6962.DefaultHasher.HashLeaf(e)
		r = append(r, h[:])
	}
	return r, nil
}
