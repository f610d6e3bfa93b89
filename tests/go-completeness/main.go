// Command completeness checks a trailseal completeness proof (docs/SPEC.md section 9.5) from
// the SPEC alone, with Go's golang.org/x/mod/sumdb/note for the checkpoint and sumdb/tlog for
// the entries' inclusion proofs; the range proofs, the map and the lists are checked here.
// It prints the proven answer's indices as one JSON list, or exits 1 naming what failed.
//
//	completeness -vkey VKEY PROOF.json
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type hash = [32]byte

func h(parts ...[]byte) hash {
	d := sha256.New()
	for _, p := range parts {
		d.Write(p)
	}
	var out hash
	copy(out[:], d.Sum(nil))
	return out
}

func u64(x uint64) []byte { return binary.BigEndian.AppendUint64(nil, x) }

func unhex(s string) hash {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		fail("bad hash %q", s)
	}
	var out hash
	copy(out[:], b)
	return out
}

func fail(f string, a ...any) {
	fmt.Fprintf(os.Stderr, "completeness: "+f+"\n", a...)
	os.Exit(1)
}

// split: the largest power of two below n (n >= 2).
func split(n uint64) uint64 {
	k := uint64(1)
	for k*2 < n {
		k *= 2
	}
	return k
}

// rangeRoot: the root of a tree of size leaves from leaves [first, first+len(leaves)) and the
// maximal subtrees outside them, left to right (SPEC section 9.2).
func rangeRoot(size, first uint64, leaves []hash, proof []hash) hash {
	end := first + uint64(len(leaves))
	if len(leaves) == 0 || end > size {
		fail("a range of %d leaves from %d is not in a tree of %d", len(leaves), first, size)
	}
	var walk func(lo, hi uint64) hash
	walk = func(lo, hi uint64) hash {
		if hi <= first || lo >= end {
			if len(proof) == 0 {
				fail("range proof too short")
			}
			p := proof[0]
			proof = proof[1:]
			return p
		}
		if hi-lo == 1 {
			return leaves[lo-first]
		}
		k := split(hi - lo)
		l, r := walk(lo, lo+k), walk(lo+k, hi)
		return h([]byte{1}, l[:], r[:])
	}
	root := walk(0, size)
	if len(proof) != 0 {
		fail("range proof too long")
	}
	return root
}

func bit(id hash, d int) bool { return id[d/8]&(0x80>>(d%8)) != 0 }

type term map[string]any

func str(t term, k string) string {
	s, ok := t[k].(string)
	if !ok {
		fail("term member %s is not a string", k)
	}
	return s
}

// key: SPEC section 9.1.
func key(t term) []byte {
	part := func(s string) []byte { return append(binary.BigEndian.AppendUint32(nil, uint32(len(s))), s...) }
	switch str(t, "kind") {
	case "actor":
		return append([]byte("a"), part(str(t, "value"))...)
	case "via":
		return append([]byte("v"), part(str(t, "value"))...)
	case "action":
		return append([]byte("c"), part(str(t, "value"))...)
	case "subject":
		return append(append([]byte("s"), part(str(t, "type"))...), part(str(t, "id"))...)
	case "attr":
		return append(append([]byte("t"), part(str(t, "key"))...), part(str(t, "value"))...)
	case "ref":
		return append([]byte("r"), part(str(t, "value"))...)
	case "links_to":
		f, ok := t["index"].(float64)
		if !ok {
			fail("links_to without an index")
		}
		return append([]byte("l"), u64(uint64(f))...)
	case "decision":
		return append([]byte("d"), part(str(t, "value"))...)
	case "policy":
		return append([]byte("p"), part(str(t, "value"))...)
	}
	fail("unknown term kind")
	return nil
}

// keysOf: the keys of every term an entry holds (SPEC section 9.1), from its JSON.
func keysOf(leaf string) map[string]bool {
	var e struct {
		Actor struct {
			ID  *string  `json:"id"`
			Via []string `json:"via"`
		} `json:"actor"`
		Action  *string `json:"action"`
		Subject struct {
			Type *string `json:"type"`
			ID   *string `json:"id"`
		} `json:"subject"`
		Attrs map[string]any `json:"attrs"`
		Links []struct {
			Ref   *string  `json:"ref"`
			Index *float64 `json:"index"`
		} `json:"links"`
		Authz struct {
			Decision *string `json:"decision"`
			Policy   *string `json:"policy"`
		} `json:"authz"`
	}
	if err := json.Unmarshal([]byte(leaf), &e); err != nil {
		fail("entry is not JSON: %v", err)
	}
	out := map[string]bool{}
	add := func(t term) { out[string(key(t))] = true }
	if e.Actor.ID != nil {
		add(term{"kind": "actor", "value": *e.Actor.ID})
	}
	for _, v := range e.Actor.Via {
		add(term{"kind": "via", "value": v})
	}
	if e.Action != nil {
		add(term{"kind": "action", "value": *e.Action})
	}
	if e.Subject.Type != nil && e.Subject.ID != nil {
		add(term{"kind": "subject", "type": *e.Subject.Type, "id": *e.Subject.ID})
	}
	for k, v := range e.Attrs {
		if s, ok := v.(string); ok {
			add(term{"kind": "attr", "key": k, "value": s})
		}
	}
	for _, l := range e.Links {
		if l.Ref != nil {
			add(term{"kind": "ref", "value": *l.Ref})
		}
		if l.Index != nil {
			add(term{"kind": "links_to", "index": *l.Index})
		}
	}
	if e.Authz.Decision != nil {
		add(term{"kind": "decision", "value": *e.Authz.Decision})
	}
	if e.Authz.Policy != nil {
		add(term{"kind": "policy", "value": *e.Authz.Policy})
	}
	return out
}

type proof struct {
	Format     string   `json:"format"`
	Origin     string   `json:"origin"`
	Hash       string   `json:"hash"`
	TreeSize   uint64   `json:"tree_size"`
	Root       string   `json:"root"`
	Checkpoint string   `json:"checkpoint"`
	Range      []uint64 `json:"range"`
	Terms      []struct {
		Term term `json:"term"`
		Map  struct {
			Siblings []string        `json:"siblings"`
			Terminal json.RawMessage `json:"terminal"`
		} `json:"map"`
		List *struct {
			Count  uint64   `json:"count"`
			First  uint64   `json:"first"`
			Values []uint64 `json:"values"`
			Proof  []string `json:"proof"`
		} `json:"list"`
	} `json:"terms"`
	Log struct {
		First  uint64   `json:"first"`
		Leaves []string `json:"leaves"`
		Proof  []string `json:"proof"`
	} `json:"log"`
	Entries []struct {
		Index uint64   `json:"index"`
		Leaf  string   `json:"leaf"`
		Path  []string `json:"path"`
	} `json:"entries"`
}

func hashes(ss []string) []hash {
	out := make([]hash, len(ss))
	for i, s := range ss {
		out[i] = unhex(s)
	}
	return out
}

func main() {
	vkey := flag.String("vkey", "", "the log's verifier key")
	flag.Parse()
	data, err := os.ReadFile(flag.Arg(0))
	if err != nil {
		fail("%v", err)
	}
	var p proof
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil || p.Format != "trailseal-completeness/1" || p.Hash != "sha256" || len(p.Range) != 2 {
		fail("not a sha256 trailseal-completeness/1 proof: %v", err)
	}
	// 1. The checkpoint (Go's note), and its body.
	v, err := note.NewVerifier(*vkey)
	if err != nil {
		fail("vkey: %v", err)
	}
	n, err := note.Open([]byte(p.Checkpoint), note.VerifierList(v))
	if err != nil {
		fail("checkpoint: %v", err)
	}
	lines := strings.SplitN(n.Text, "\n", 4)
	size, err1 := strconv.ParseUint(lines[1], 10, 64)
	rootB, err2 := base64.StdEncoding.DecodeString(lines[2])
	if len(lines) < 4 || err1 != nil || err2 != nil || len(rootB) != 32 {
		fail("checkpoint body")
	}
	var root hash
	copy(root[:], rootB)
	if lines[0] != p.Origin || size != p.TreeSize || root != unhex(p.Root) {
		fail("the proof's origin, size or root is not its checkpoint's")
	}
	lo, hi := p.Range[0], p.Range[1]
	if lo > hi || hi > size {
		fail("range")
	}
	// 2. The commitment and the tail.
	first := p.Log.First
	if first+uint64(len(p.Log.Leaves)) != size {
		fail("the log range does not end at the checkpoint")
	}
	covered, haveMap := uint64(0), false
	var mapRoot hash
	type action struct {
		Action string            `json:"action"`
		Attrs  map[string]string `json:"attrs"`
	}
	if size > 0 {
		leaves := make([]hash, len(p.Log.Leaves))
		for i, l := range p.Log.Leaves {
			leaves[i] = hash(tlog.RecordHash([]byte(l)))
		}
		if rangeRoot(size, first, leaves, hashes(p.Log.Proof)) != root {
			fail("the commitment and tail do not lead to the root")
		}
		for i, l := range p.Log.Leaves {
			var a action
			_ = json.Unmarshal([]byte(l), &a)
			if a.Action != "index.committed" {
				if i == 0 && first != 0 {
					fail("leaf %d is not a commitment", first)
				}
				continue
			}
			if i > 0 {
				fail("leaf %d is a later commitment: the proof uses an old one", first+uint64(i))
			}
			if a.Attrs["size"] != strconv.FormatUint(first, 10) {
				fail("the commitment's size is not its index")
			}
			covered, haveMap, mapRoot = first, true, unhex(a.Attrs["root"])
		}
	}
	// 3. Each term's committed hits.
	chi := min(hi, covered)
	var committed []uint64
	for ti, t := range p.Terms {
		id := h([]byte{0x10}, key(t.Term))
		var hits []uint64
		switch {
		case !haveMap:
			if t.List != nil {
				fail("a list without a commitment")
			}
		default:
			var leaf hash
			var term string
			_ = json.Unmarshal(t.Map.Terminal, &term)
			if t.List == nil {
				switch term {
				case "empty":
				case "member":
					fail("term %d: member without a list", ti)
				default:
					var o struct{ ID, Value string }
					if json.Unmarshal(t.Map.Terminal, &o) != nil {
						fail("terminal")
					}
					other := unhex(o.ID)
					for d := range t.Map.Siblings {
						if bit(other, d) != bit(id, d) {
							fail("the other leaf is not beside the term")
						}
					}
					if other == id {
						fail("the other leaf is the term")
					}
					v := unhex(o.Value)
					leaf = h([]byte{0x11}, other[:], v[:])
				}
			} else {
				l := t.List
				if term != "member" || len(l.Values) == 0 || l.First+uint64(len(l.Values)) > l.Count {
					fail("term %d: a malformed list run", ti)
				}
				els := make([]hash, len(l.Values))
				for i, x := range l.Values {
					if x >= covered || (i > 0 && x <= l.Values[i-1]) {
						fail("term %d: list values", ti)
					}
					els[i] = hash(tlog.RecordHash(u64(x)))
				}
				lroot := rangeRoot(l.Count, l.First, els, hashes(l.Proof))
				value := h([]byte{0x13}, u64(l.Count), lroot[:])
				leaf = h([]byte{0x11}, id[:], value[:])
				last := l.Values[len(l.Values)-1]
				if !(l.First == 0 || l.Values[0] < lo) || !(l.First+uint64(len(l.Values)) == l.Count || last >= chi) {
					fail("term %d: the run does not span the range", ti)
				}
				for _, x := range l.Values {
					if x >= lo && x < chi {
						hits = append(hits, x)
					}
				}
			}
			sib := hashes(t.Map.Siblings)
			for d := len(sib) - 1; d >= 0; d-- {
				if bit(id, d) {
					leaf = h([]byte{0x12}, sib[d][:], leaf[:])
				} else {
					leaf = h([]byte{0x12}, leaf[:], sib[d][:])
				}
			}
			if leaf != mapRoot {
				fail("term %d: the map proof does not lead to the commitment", ti)
			}
		}
		if ti == 0 {
			committed = hits
		} else {
			keep := committed[:0]
			for _, x := range committed {
				if i := sort.Search(len(hits), func(i int) bool { return hits[i] >= x }); i < len(hits) && hits[i] == x {
					keep = append(keep, x)
				}
			}
			committed = keep
		}
	}
	// 4. The committed hits, each included and holding every term.
	if len(p.Entries) != len(committed) {
		fail("the proof's entries are not the committed hits")
	}
	holds := func(leaf string) bool {
		own := keysOf(leaf)
		for _, t := range p.Terms {
			if !own[string(key(t.Term))] {
				return false
			}
		}
		return true
	}
	var answer []uint64
	for i, e := range p.Entries {
		if e.Index != committed[i] {
			fail("the proof's entries are not the committed hits")
		}
		rp := make(tlog.RecordProof, len(e.Path))
		for j, s := range hashes(e.Path) {
			rp[j] = tlog.Hash(s)
		}
		if err := tlog.CheckRecord(rp, int64(size), tlog.Hash(root), int64(e.Index), tlog.RecordHash([]byte(e.Leaf))); err != nil {
			fail("entry %d: %v", e.Index, err)
		}
		if !holds(e.Leaf) {
			fail("entry %d does not hold the terms", e.Index)
		}
		answer = append(answer, e.Index)
	}
	// 5. The tail's entries in the range that hold every term.
	for i, l := range p.Log.Leaves {
		if x := first + uint64(i); x >= lo && x < hi && holds(l) {
			answer = append(answer, x)
		}
	}
	out, _ := json.Marshal(answer)
	if answer == nil {
		out = []byte("[]")
	}
	fmt.Println(string(out))
}
