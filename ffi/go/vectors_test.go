package trailseal

// The shared conformance vectors (tests/vectors, see its README), through the Go package.

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

const vectorsDir = "../../tests/vectors"

func readVectors(t *testing.T, name string, v any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(vectorsDir, name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func unhex(t *testing.T, s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMerkleVectors(t *testing.T) {
	for _, file := range []string{"merkle-sha256.json", "merkle-blake3.json"} {
		t.Run(file, func(t *testing.T) {
			var v struct {
				Hash        HashAlg           `json:"hash"`
				EmptyRoot   Hash              `json:"empty_root"`
				LeavesHex   []string          `json:"leaves_hex"`
				Roots       []Hash            `json:"roots"`
				Inclusion   []json.RawMessage `json:"inclusion"`
				Consistency []json.RawMessage `json:"consistency"`
			}
			readVectors(t, file, &v)
			if len(v.LeavesHex) != 20 || len(v.Inclusion) != 210 || len(v.Consistency) != 210 {
				t.Fatal("unexpected vector counts")
			}
			leaves := make([][]byte, len(v.LeavesHex))
			for i, h := range v.LeavesHex {
				leaves[i] = unhex(t, h)
			}
			l := mustCreate(t, "v.redb", CreateOptions{Hash: v.Hash, Raw: true, Durability: NotDurableUntilSync})
			for _, leaf := range leaves[:7] {
				if _, err := l.AppendRaw(leaf); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := l.AppendRawBatch(leaves[7:]); err != nil {
				t.Fatal(err)
			}
			if r, err := l.RootAt(0); err != nil || r != v.EmptyRoot {
				t.Fatalf("empty root %v, %v", r, err)
			}
			for i, want := range v.Roots {
				if r, err := l.RootAt(uint64(i + 1)); err != nil || r != want {
					t.Fatalf("root of %d: %v, %v", i+1, r, err)
				}
			}
			for _, text := range v.Inclusion {
				var p InclusionProof
				if err := json.Unmarshal(text, &p); err != nil {
					t.Fatal(err)
				}
				if err := VerifyInclusionJSON(text, leaves[p.Index], nil); err != nil {
					t.Fatalf("%s: %v", text, err)
				}
				if err := VerifyInclusion(p, leaves[p.Index], nil); err != nil {
					t.Fatal(err)
				}
				mine, err := l.ProveInclusion(p.Index, p.TreeSize)
				if err != nil || !sameProof(mine, p) {
					t.Fatalf("ledger proof %+v differs from %+v (%v)", mine, p, err)
				}
				other := leaves[(p.Index+1)%20]
				wantCode(t, VerifyInclusion(p, other, nil), ErrVerificationFailed)
				p.Root[5] ^= 0x40
				wantCode(t, p.Verify(), ErrVerificationFailed)
			}
			for _, text := range v.Consistency {
				var p ConsistencyProof
				if err := json.Unmarshal(text, &p); err != nil {
					t.Fatal(err)
				}
				if err := VerifyConsistencyJSON(text, nil); err != nil {
					t.Fatalf("%s: %v", text, err)
				}
				mine, err := l.ProveConsistency(p.OldSize, p.NewSize)
				if err != nil || !sameProof(mine, p) {
					t.Fatalf("ledger proof %+v differs from %+v (%v)", mine, p, err)
				}
				p.NewRoot[0] ^= 1
				wantCode(t, p.Verify(), ErrVerificationFailed)
			}
		})
	}
}

func sameProof(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func rfc6962Leaves(t *testing.T) ([][]byte, map[string]Hash) {
	var v struct {
		LeavesHex   []string        `json:"leaves_hex"`
		RootsBySize map[string]Hash `json:"roots_by_size"`
	}
	readVectors(t, "rfc6962-classic.json", &v)
	leaves := make([][]byte, len(v.LeavesHex))
	for i, h := range v.LeavesHex {
		leaves[i] = unhex(t, h)
	}
	return leaves, v.RootsBySize
}

func TestRFC6962Roots(t *testing.T) {
	leaves, roots := rfc6962Leaves(t)
	l := mustCreate(t, "rfc.redb", CreateOptions{Hash: SHA256, Raw: true})
	if _, err := l.AppendRawBatch(leaves); err != nil {
		t.Fatal(err)
	}
	if len(roots) != 9 {
		t.Fatal("want the roots of sizes 0 to 8")
	}
	for size, want := range roots {
		var n uint64
		fmt.Sscan(size, &n)
		if got, err := l.RootAt(n); err != nil || got != want {
			t.Errorf("root of %d: %v, want %v (%v)", n, got, want, err)
		}
	}
}

func TestSignedNoteVectors(t *testing.T) {
	var v struct {
		Vectors []struct {
			SignerKey   string `json:"signer_key"`
			VerifierKey string `json:"verifier_key"`
			Body        string `json:"body"`
			SignedNote  string `json:"signed_note"`
		} `json:"vectors"`
	}
	readVectors(t, "signed-note.json", &v)
	leaves, _ := rfc6962Leaves(t)
	reproduced := 0
	for i, vec := range v.Vectors {
		s, err := ParseSigner(vec.SignerKey)
		if err != nil {
			t.Fatal(err)
		}
		if key, _ := s.PrivateKey(); key != vec.SignerKey || s.VerifierKey() != vec.VerifierKey {
			t.Fatalf("vector %d: keys do not round-trip", i)
		}
		info, err := VerifyCheckpoint(vec.SignedNote, vec.VerifierKey)
		if err != nil {
			t.Fatalf("vector %d: %v", i, err)
		}
		lines := strings.Split(strings.TrimSuffix(vec.Body, "\n"), "\n")
		if info.Origin != lines[0] || fmt.Sprint(info.Size) != lines[1] ||
			base64.StdEncoding.EncodeToString(info.Root[:]) != lines[2] ||
			strings.Join(info.Extensions, "\n") != strings.Join(lines[3:], "\n") {
			t.Fatalf("vector %d: %+v does not match the body %q", i, info, vec.Body)
		}
		_, err = VerifyCheckpoint("x"+vec.SignedNote[1:], vec.VerifierKey)
		wantCode(t, err, ErrVerificationFailed)
		other := v.Vectors[(i+3)%len(v.Vectors)].VerifierKey
		_, err = VerifyCheckpoint(vec.SignedNote, other)
		wantCode(t, err, ErrVerificationFailed)

		// Where the ledger can hold the same tree (the empty SHA-256 tree, or the RFC 6962
		// tree of 8 leaves), its checkpoint is Go's signed note byte for byte.
		if len(lines) == 3 && (info.Size == 0 || info.Size == 8) {
			l := mustCreate(t, fmt.Sprintf("n%d.redb", i), CreateOptions{Origin: info.Origin, Hash: SHA256, Raw: true})
			if info.Size == 8 {
				l.AppendRawBatch(leaves)
			}
			if root, _ := l.Root(); root == info.Root {
				note, err := l.Checkpoint(s, CurrentSize)
				if err != nil || note != vec.SignedNote {
					t.Fatalf("vector %d: signed\n%q\nwant\n%q (%v)", i, note, vec.SignedNote, err)
				}
				reproduced++
			}
		}
		s.Close()
	}
	if len(v.Vectors) != 6 || reproduced != 4 {
		t.Fatalf("%d vectors, %d reproduced", len(v.Vectors), reproduced)
	}
}

// transparency-dev/merkle's proof cases: base64 hashes (of any length, so that trailseal's
// own parser decides), converted to SPEC JSON text. README deviation 1: one case expected
// to be rejected as malformed.
func TestTransparencyDevVectors(t *testing.T) {
	const deviation = "consistency/additional/sizes-are-equal-one-and-proof-is-empty.json"
	root := filepath.Join(vectorsDir, "transparency-dev-merkle")
	var files []string
	filepath.Walk(root, func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && strings.HasSuffix(path, ".json") {
			files = append(files, path)
		}
		return nil
	})
	sort.Strings(files)
	if len(files) < 190 {
		t.Fatalf("only %d cases", len(files))
	}
	hexOf := func(s string) string {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return hex.EncodeToString(b)
	}
	accepted, rejected := 0, 0
	for _, file := range files {
		rel, _ := filepath.Rel(root, file)
		rel = filepath.ToSlash(rel)
		var c struct {
			LeafIdx, TreeSize, Size1, Size2 uint64
			Root, LeafHash, Root1, Root2    string
			Proof                           []string
			WantErr                         bool
		}
		data, _ := os.ReadFile(file)
		if err := json.Unmarshal(data, &c); err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		path := make([]string, len(c.Proof))
		for i, p := range c.Proof {
			path[i] = hexOf(p)
		}
		var err error
		if strings.HasPrefix(rel, "inclusion/") {
			text, _ := json.Marshal(map[string]any{"hash": "sha256", "index": c.LeafIdx, "tree_size": c.TreeSize,
				"leaf_hash": hexOf(c.LeafHash), "root": hexOf(c.Root), "path": path})
			err = VerifyInclusionJSON(text, nil, nil)
		} else {
			text, _ := json.Marshal(map[string]any{"hash": "sha256", "old_size": c.Size1, "new_size": c.Size2,
				"old_root": hexOf(c.Root1), "new_root": hexOf(c.Root2), "path": path})
			err = VerifyConsistencyJSON(text, nil)
		}
		switch {
		case rel == deviation:
			if c.WantErr {
				t.Fatalf("%s: the deviation case changed upstream", rel)
			}
			wantCode(t, err, ErrMalformed)
			rejected++
		case c.WantErr && err != nil:
			rejected++
		case !c.WantErr && err == nil:
			accepted++
		default:
			t.Errorf("%s: wantErr %v, got %v", rel, c.WantErr, err)
		}
	}
	if accepted < 10 || rejected < 150 {
		t.Fatalf("%d accepted, %d rejected", accepted, rejected)
	}
	t.Logf("%d transparency-dev cases: %d accepted, %d rejected", len(files), accepted, rejected)
}
