// Package harness is what both peer programs share: the command line, the leaves file that
// `compare` writes, the timed loops and the JSON they print. Each peer supplies only how it
// appends, closes and verifies (see Log and Peer), so the two are measured by the same code.
package harness

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Inflight is how many caller batches a peer may keep in flight (--inflight): with more than
// one, AppendBatch may return before its batch is durable, and Finish waits for all of them.
var Inflight = 1

// Log is one open store of a peer.
type Log interface {
	// AppendBatch appends leaves and returns once they are durable (each peer's own meaning
	// of it, the same as trailseal's durable mode: synced to disk).
	AppendBatch(leaves [][]byte) error
	// Finish waits for whatever the peer does after the last append before a reader can rely
	// on it (Tessera: the checkpoint published); it is timed with the appends.
	Finish() (map[string]any, error)
	// Close releases the store (not timed).
	Close() error
}

// Peer opens a fresh store for appending and verifies a whole store.
type Peer struct {
	Name    string
	Version string
	// Open makes a new, empty store in dir; batch is how many leaves the caller will hand
	// over per AppendBatch (1 for durable single appends).
	Open func(dir string, batch int) (Log, error)
	// Verify reads the whole store at dir with the peer's own checks; returns the entries.
	Verify func(dir string) (uint64, error)
	// Counted says whether a file under the store counts towards its bytes (Tessera's
	// partial bundles and tiles, which its garbage collector deletes later, do not).
	Counted func(rel string) bool
}

// Main runs one mode of the peer's program and prints its figures as one JSON object:
//
//	PEER batch  --leaves FILE --dir DIR --count N [--batch 1000]
//	PEER single --leaves FILE --dir DIR --count N --secs S [--prefill 1000]
//	PEER verify --dir DIR
func Main(p Peer) {
	if err := run(p, os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", p.Name, err)
		os.Exit(1)
	}
}

func run(p Peer, args []string) error {
	if len(args) < 1 {
		return fmt.Errorf("usage: %s batch|single|verify [flags]", p.Name)
	}
	fl := flag.NewFlagSet(args[0], flag.ContinueOnError)
	leaves := fl.String("leaves", "", "file of length-prefixed leaves (u32 little-endian length, bytes)")
	dir := fl.String("dir", "", "the store's directory (created; must not exist for batch and single)")
	count := fl.Uint64("count", 0, "entries to append")
	batch := fl.Int("batch", 1000, "entries per durable commit (batch mode)")
	secs := fl.Float64("secs", 0, "single mode: stop after this many seconds")
	prefill := fl.Int("prefill", 1000, "single mode: entries appended in one batch first, untimed")
	fl.IntVar(&Inflight, "inflight", 1, "batch mode: caller batches a peer may have in flight at once (Tessera only; 1: each batch durable before the next is handed over)")
	if err := fl.Parse(args[1:]); err != nil {
		return err
	}
	if *dir == "" {
		return fmt.Errorf("--dir is required")
	}
	out := map[string]any{"system": p.Name, "version": p.Version, "mode": args[0]}
	switch args[0] {
	case "batch":
		if err := appendBatches(p, *leaves, *dir, *count, *batch, out); err != nil {
			return err
		}
	case "single":
		if err := appendSingles(p, *leaves, *dir, *count, *secs, *prefill, out); err != nil {
			return err
		}
	case "verify":
		t := time.Now()
		n, err := p.Verify(*dir)
		if err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		s := time.Since(t).Seconds()
		out["entries"], out["secs"], out["eps"] = n, s, float64(n)/s
	default:
		return fmt.Errorf("unknown mode %q", args[0])
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}

// reader yields the leaves of the file in order, a batch at a time, so no run holds them all.
type reader struct {
	r *bufio.Reader
	f *os.File
}

func openLeaves(path string) (*reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	return &reader{bufio.NewReaderSize(f, 1<<20), f}, nil
}

func (r *reader) next(n int) ([][]byte, error) {
	out := make([][]byte, 0, n)
	var hdr [4]byte
	for len(out) < n {
		if _, err := io.ReadFull(r.r, hdr[:]); err != nil {
			return nil, fmt.Errorf("leaves file: %w (after %d of %d)", err, len(out), n)
		}
		b := make([]byte, binary.LittleEndian.Uint32(hdr[:]))
		if _, err := io.ReadFull(r.r, b); err != nil {
			return nil, fmt.Errorf("leaves file: %w", err)
		}
		out = append(out, b)
	}
	return out, nil
}

func appendBatches(p Peer, leaves, dir string, count uint64, batch int, out map[string]any) error {
	src, err := openLeaves(leaves)
	if err != nil {
		return err
	}
	defer src.f.Close()
	l, err := p.Open(dir, batch)
	if err != nil {
		return err
	}
	var secs float64
	for done := uint64(0); done < count; {
		n := int(min(count-done, uint64(batch)))
		b, err := src.next(n)
		if err != nil {
			return err
		}
		// Reading the input is not timed, as making it is not for trailseal.
		t := time.Now()
		if err := l.AppendBatch(b); err != nil {
			return err
		}
		secs += time.Since(t).Seconds()
		done += uint64(n)
	}
	t := time.Now()
	extra, err := l.Finish()
	if err != nil {
		return err
	}
	finish := time.Since(t).Seconds()
	secs += finish
	if err := l.Close(); err != nil {
		return err
	}
	for k, v := range extra {
		out[k] = v
	}
	length, all, disk, err := sizes(dir, p.Counted)
	if err != nil {
		return err
	}
	out["entries"], out["secs"], out["eps"], out["finish_secs"] = count, secs, float64(count)/secs, finish
	out["file_bytes"], out["file_bytes_all"], out["disk_bytes"] = length, all, disk
	out["peak_rss_mib"] = peakRSSMiB()
	return nil
}

func appendSingles(p Peer, leaves, dir string, count uint64, secs float64, prefill int, out map[string]any) error {
	src, err := openLeaves(leaves)
	if err != nil {
		return err
	}
	defer src.f.Close()
	l, err := p.Open(dir, 1)
	if err != nil {
		return err
	}
	first, err := src.next(prefill)
	if err != nil {
		return err
	}
	if err := l.AppendBatch(first); err != nil {
		return err
	}
	// The same stream again, as compare's durable runs reuse entries 0, 1, 2, ...
	if err := src.f.Close(); err != nil {
		return err
	}
	if src, err = openLeaves(leaves); err != nil {
		return err
	}
	defer src.f.Close()
	const warmup = 20
	for i := 0; i < warmup; i++ {
		b, err := src.next(1)
		if err != nil {
			return err
		}
		if err := l.AppendBatch(b); err != nil {
			return err
		}
	}
	deadline := time.Now().Add(time.Duration(secs * float64(time.Second)))
	var n uint64
	var timed float64
	for n < count && time.Now().Before(deadline) {
		b, err := src.next(1)
		if err != nil {
			return err
		}
		t := time.Now()
		if err := l.AppendBatch(b); err != nil {
			return err
		}
		timed += time.Since(t).Seconds()
		n++
	}
	if _, err := l.Finish(); err != nil {
		return err
	}
	if err := l.Close(); err != nil {
		return err
	}
	out["appends"], out["secs"], out["eps"] = n, timed, float64(n)/timed
	return nil
}

// sizes of the store under dir: file lengths of the files that count, of all files, and the
// disk blocks of all files.
func sizes(dir string, counted func(string) bool) (length, all, disk int64, err error) {
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		all += info.Size()
		if counted == nil || counted(rel) {
			length += info.Size()
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			disk += st.Blocks * 512
		}
		return nil
	})
	return
}

// peakRSSMiB is the process's VmHWM, as compare reads it for its own children.
func peakRSSMiB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	var kib float64
	for _, line := range strings.Split(string(b), "\n") {
		if n, _ := fmt.Sscanf(line, "VmHWM: %f kB", &kib); n == 1 {
			return kib / 1024
		}
	}
	return 0
}
