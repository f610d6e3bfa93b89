// Command interop checks trailseal output with Go's own sumdb libraries
// (golang.org/x/mod/sumdb/note and golang.org/x/mod/sumdb/tlog), so that
// "Go verifies what trailseal writes" is tested against the real thing rather
// than against our reading of it.
//
// Usage (flags may be combined; every check given must pass):
//
//	go run . -vkey '<name>+<hash>+<key>' -note checkpoint.note
//	go run . -inclusion proof.json      # SPEC inclusion proof, hash "sha256"
//	go run . -consistency proof.json    # SPEC consistency proof, hash "sha256"
//	go run . -genkey example.com/log    # prints note.GenerateKey's skey and vkey
//
// Exit status 0 when every requested check passes, 1 otherwise (with a message
// on standard error).
package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func main() {
	vkey := flag.String("vkey", "", "verifier key string for -note")
	noteFile := flag.String("note", "", "file holding a signed checkpoint note")
	inclusionFile := flag.String("inclusion", "", "file holding a SPEC inclusion proof (JSON)")
	consistencyFile := flag.String("consistency", "", "file holding a SPEC consistency proof (JSON)")
	genkey := flag.String("genkey", "", "print a new signer key and verifier key for this name")
	flag.Parse()

	if flag.NArg() > 0 {
		fail(fmt.Errorf("unexpected arguments: %q", flag.Args()))
	}
	if *vkey == "" && *noteFile == "" && *inclusionFile == "" && *consistencyFile == "" && *genkey == "" {
		flag.Usage()
		os.Exit(1)
	}
	if (*vkey == "") != (*noteFile == "") {
		fail(errors.New("-vkey and -note go together"))
	}

	if *genkey != "" {
		skey, vk, err := note.GenerateKey(rand.Reader, *genkey)
		if err != nil {
			fail(err)
		}
		fmt.Println(skey)
		fmt.Println(vk)
	}
	if *noteFile != "" {
		check("note", checkNote(*vkey, *noteFile))
	}
	if *inclusionFile != "" {
		check("inclusion", checkInclusion(*inclusionFile))
	}
	if *consistencyFile != "" {
		check("consistency", checkConsistency(*consistencyFile))
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "interop:", err)
	os.Exit(1)
}

func check(what string, err error) {
	if err != nil {
		fail(fmt.Errorf("%s: %w", what, err))
	}
	fmt.Fprintf(os.Stderr, "%s: ok\n", what)
}

// checkNote opens the note with note.Open and parses its body the way
// tlog.ParseTree does, minus ParseTree's fixed "go.sum database tree" origin:
// any non-empty origin, canonical decimal size, standard base64 32-byte root,
// and (C2SP tlog-checkpoint) non-empty extension lines.
func checkNote(vkey, file string) error {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return fmt.Errorf("verifier key: %w", err)
	}
	msg, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return err
	}
	lines := strings.SplitN(n.Text, "\n", 4)
	if len(lines) < 4 {
		return errors.New("checkpoint body has fewer than three lines")
	}
	origin, sizeText, rootText, rest := lines[0], lines[1], lines[2], lines[3]
	if origin == "" {
		return errors.New("empty origin")
	}
	size, err := strconv.ParseUint(sizeText, 10, 64)
	if err != nil || sizeText != strconv.FormatUint(size, 10) {
		return fmt.Errorf("tree size %q is not canonical decimal", sizeText)
	}
	root, err := base64.StdEncoding.DecodeString(rootText)
	if err != nil || len(root) != tlog.HashSize {
		return fmt.Errorf("root %q is not base64 of %d bytes", rootText, tlog.HashSize)
	}
	// note.Open guarantees the text ends in "\n", so rest is "" or lines ending in "\n".
	if rest != "" {
		for _, ext := range strings.Split(strings.TrimSuffix(rest, "\n"), "\n") {
			if ext == "" {
				return errors.New("empty extension line")
			}
		}
	}
	fmt.Printf("origin=%s size=%d root=%x signatures=%d\n", origin, size, root, len(n.Sigs))
	return nil
}

type inclusionProof struct {
	Hash     string   `json:"hash"`
	Index    *uint64  `json:"index"`
	TreeSize *uint64  `json:"tree_size"`
	LeafHash string   `json:"leaf_hash"`
	Root     string   `json:"root"`
	Path     []string `json:"path"`
}

type consistencyProof struct {
	Hash    string   `json:"hash"`
	OldSize *uint64  `json:"old_size"`
	NewSize *uint64  `json:"new_size"`
	OldRoot string   `json:"old_root"`
	NewRoot string   `json:"new_root"`
	Path    []string `json:"path"`
}

func checkInclusion(file string) error {
	var p inclusionProof
	if err := readJSON(file, &p); err != nil {
		return err
	}
	if err := requireSHA256(p.Hash); err != nil {
		return err
	}
	index, err := toInt64("index", p.Index)
	if err != nil {
		return err
	}
	size, err := toInt64("tree_size", p.TreeSize)
	if err != nil {
		return err
	}
	leaf, err := parseHex("leaf_hash", p.LeafHash)
	if err != nil {
		return err
	}
	root, err := parseHex("root", p.Root)
	if err != nil {
		return err
	}
	path, err := parsePath(p.Path)
	if err != nil {
		return err
	}
	if err := tlog.CheckRecord(tlog.RecordProof(path), size, root, index, leaf); err != nil {
		return err
	}
	fmt.Printf("inclusion index=%d tree_size=%d ok\n", index, size)
	return nil
}

func checkConsistency(file string) error {
	var p consistencyProof
	if err := readJSON(file, &p); err != nil {
		return err
	}
	if err := requireSHA256(p.Hash); err != nil {
		return err
	}
	oldSize, err := toInt64("old_size", p.OldSize)
	if err != nil {
		return err
	}
	newSize, err := toInt64("new_size", p.NewSize)
	if err != nil {
		return err
	}
	oldRoot, err := parseHex("old_root", p.OldRoot)
	if err != nil {
		return err
	}
	newRoot, err := parseHex("new_root", p.NewRoot)
	if err != nil {
		return err
	}
	path, err := parsePath(p.Path)
	if err != nil {
		return err
	}
	if oldSize == 0 {
		// tlog.CheckTree refuses n < 1. SPEC section 2: the proof from size 0 is
		// empty and every tree extends the empty tree, whose root is SHA-256("").
		empty := tlog.Hash(sha256.Sum256(nil))
		if len(path) != 0 || oldRoot != empty {
			return errors.New("a proof from size 0 must be empty with old_root = SHA-256(\"\")")
		}
		fmt.Printf("consistency old_size=0 new_size=%d ok (empty proof, not a tlog case)\n", newSize)
		return nil
	}
	if err := tlog.CheckTree(tlog.TreeProof(path), newSize, newRoot, oldSize, oldRoot); err != nil {
		return err
	}
	fmt.Printf("consistency old_size=%d new_size=%d ok\n", oldSize, newSize)
	return nil
}

func readJSON(file string, v any) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	return nil
}

func requireSHA256(name string) error {
	if name != "sha256" {
		return fmt.Errorf("hash is %q: Go's tlog checks only sha256 proofs", name)
	}
	return nil
}

// toInt64 keeps sizes and indexes that tlog's int64 API cannot take from
// wrapping into negative numbers.
func toInt64(field string, v *uint64) (int64, error) {
	if v == nil {
		return 0, fmt.Errorf("missing field %s", field)
	}
	if *v > math.MaxInt64 {
		return 0, fmt.Errorf("%s %d is beyond tlog's int64 range", field, *v)
	}
	return int64(*v), nil
}

// parseHex accepts only what SPEC writes: 64 lowercase hex digits.
func parseHex(field, s string) (tlog.Hash, error) {
	var h tlog.Hash
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != tlog.HashSize || s != strings.ToLower(s) {
		return h, fmt.Errorf("%s %q is not %d bytes of lowercase hex", field, s, tlog.HashSize)
	}
	copy(h[:], b)
	return h, nil
}

func parsePath(path []string) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, 0, len(path))
	for i, s := range path {
		h, err := parseHex(fmt.Sprintf("path[%d]", i), s)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, nil
}
