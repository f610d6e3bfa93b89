package trailseal

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// Personal fields and their erasure from Go (SPEC section 10): values read back as recorded,
// erased with the record saying why, every proof intact, the file holding nothing.
func TestErase(t *testing.T) {
	const alice = "alice.go@example.com"
	authz := map[string]string{"decision": "allow", "policy": "gdpr-erasure"}
	path := filepath.Join(t.TempDir(), "l.redb")
	l, err := Create(path, CreateOptions{Origin: "example.com/go-erase", Personal: []string{"actor.id", "change.before"}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fields, err := l.PersonalFields()
	if err != nil || len(fields) != 2 || fields[0] != "actor.id" {
		t.Fatalf("personal fields %v %v", fields, err)
	}
	var entries []json.RawMessage
	for i, who := range []string{alice, alice, "bob"} {
		e, _ := json.Marshal(map[string]any{"actor": map[string]string{"id": who}, "action": "access.granted",
			"subject": map[string]string{"type": "role", "id": string(rune('a' + i))},
			"change":  map[string]any{"before": map[string]string{"note": who + " private"}}})
		entries = append(entries, e)
	}
	if _, err := l.AppendBatch(entries); err != nil {
		t.Fatal(err)
	}
	e, err := l.GetEntry(1)
	if err != nil || e.Actor.ID != alice {
		t.Fatalf("entry 1 reads %+v %v", e, err)
	}
	kept, err := l.Openings(1)
	if err != nil || kept == nil {
		t.Fatalf("openings %s %v", kept, err)
	}
	var op map[string]struct {
		Salt  string          `json:"salt"`
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(kept, &op); err != nil {
		t.Fatal(err)
	}
	r, err := l.Erase(map[string]string{"actor": alice}, "DSR-1", "dpo", authz, EraseOptions{LegalBasis: "GDPR Art. 17(1)(a)"})
	if err != nil || r.Count != 2 || len(r.Records) != 1 {
		t.Fatalf("erase %+v %v", r, err)
	}
	raw, _ := l.Get(1)
	var leaf struct {
		Actor  struct{ ID string } `json:"actor"`
		Erased struct{ By uint64 } `json:"erased"`
	}
	if err := json.Unmarshal(raw, &leaf); err != nil || leaf.Erased.By != r.Records[0] {
		t.Fatalf("erased entry reads %s", raw)
	}
	if err := CheckOpening(leaf.Actor.ID, op["actor.id"].Salt, op["actor.id"].Value); err != nil {
		t.Fatalf("a kept opening no longer opens: %v", err)
	}
	if err := CheckOpening(leaf.Actor.ID, op["actor.id"].Salt, "mallory"); !errors.Is(err, ErrVerificationFailed) {
		t.Fatalf("another value opens it: %v", err)
	}
	if _, err := l.Erase(map[string]string{"actor": alice}, "again", "dpo", authz, EraseOptions{}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("erasing again: %v", err)
	}
	if o, err := l.Openings(1); err != nil || o != nil {
		t.Fatalf("openings after erasure: %s %v", o, err)
	}
	if err := l.ScrubFreePages(); err != nil {
		t.Fatal(err)
	}
	l.Close()
	data, _ := os.ReadFile(path)
	if bytes.Contains(data, []byte(alice)) {
		t.Fatal("the erased value is still in the file")
	}
}
