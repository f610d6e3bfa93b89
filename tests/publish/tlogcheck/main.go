// tlogcheck reads a published trailseal log with Tessera's own client code, so the test
// scripts can hold what `trailseal publish` wrote to what Tessera's readers expect:
//
//	tlogcheck inclusion DIR INDEX        proof of INDEX in the published checkpoint's tree
//	tlogcheck consistency DIR OLD        proof from OLD to the published checkpoint's size
//	tlogcheck fsck DIR VKEYFILE          Tessera's fsck over the whole published log
//
// Proofs are printed as JSON {"size": N, "path": ["hex", ...]}, built by client.ProofBuilder
// from the tiles through client.FileFetcher. fsck is the library behind cmd/fsck, whose exit
// status does not say whether the check passed; here a failed check exits 1.
package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strconv"

	f_note "github.com/transparency-dev/formats/note"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/client"
	"github.com/transparency-dev/tessera/fsck"
	"golang.org/x/mod/sumdb/note"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "tlogcheck:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) < 3 {
		return fmt.Errorf("usage: tlogcheck inclusion|consistency|fsck DIR ARG")
	}
	ctx := context.Background()
	f := client.FileFetcher{Root: args[1]}
	switch args[0] {
	case "inclusion", "consistency":
		n, err := strconv.ParseUint(args[2], 10, 64)
		if err != nil {
			return err
		}
		size, err := publishedSize(ctx, f)
		if err != nil {
			return err
		}
		pb, err := client.NewProofBuilder(ctx, size, f.ReadTile)
		if err != nil {
			return err
		}
		var path [][]byte
		if args[0] == "inclusion" {
			path, err = pb.InclusionProof(ctx, n)
		} else {
			path, err = pb.ConsistencyProof(ctx, n, size)
		}
		if err != nil {
			return err
		}
		out := struct {
			Size uint64   `json:"size"`
			Path []string `json:"path"`
		}{size, []string{}}
		for _, h := range path {
			out.Path = append(out.Path, hex.EncodeToString(h))
		}
		return json.NewEncoder(os.Stdout).Encode(out)
	case "fsck":
		raw, err := os.ReadFile(args[2])
		if err != nil {
			return err
		}
		v, err := f_note.NewVerifier(string(raw))
		if err != nil {
			return err
		}
		if err := fsck.New(v.Name(), v, f, leafHashes, fsck.Opts{N: 2}).Check(ctx); err != nil {
			return fmt.Errorf("fsck: %w", err)
		}
		fmt.Println("fsck: ok")
		return nil
	}
	return fmt.Errorf("unknown command %q", args[0])
}

// publishedSize is the size of the checkpoint at DIR/checkpoint (its signature is checked by
// fsck, and the proofs are compared with trailseal's, which name their root).
func publishedSize(ctx context.Context, f client.FileFetcher) (uint64, error) {
	raw, err := f.ReadCheckpoint(ctx)
	if err != nil {
		return 0, err
	}
	n, err := note.Open(raw, note.VerifierList())
	if n == nil {
		if e, ok := err.(*note.UnverifiedNoteError); ok {
			n = e.Note
		} else {
			return 0, err
		}
	}
	var origin, size string
	if _, err := fmt.Sscanf(n.Text, "%s\n%s\n", &origin, &size); err != nil {
		return 0, fmt.Errorf("checkpoint: %v", err)
	}
	return strconv.ParseUint(size, 10, 64)
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
