package trailseal

import (
	"testing"
)

// A ledger rotated twice through the C ABI verifies from its first key; the rotation
// checkpoints carry both keys' signatures; a retired key signs nothing more.
func TestKeyRotation(t *testing.T) {
	const origin = "example.com/go/rotation"
	var keys []*Signer
	for i := 0; i < 3; i++ {
		s, err := GenerateSigner(origin)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		keys = append(keys, s)
	}
	l := mustCreate(t, "rot.redb", CreateOptions{Origin: origin})
	if _, err := l.Append(entry("alice", "deploy.succeeded", "api")); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Checkpoint(keys[0], CurrentSize); err != nil {
		t.Fatal(err)
	}
	r1, err := l.RotateKey(keys[0], keys[1], "alice")
	if err != nil {
		t.Fatal(err)
	}
	if r1.Index != 1 || r1.OldKey != keys[0].VerifierKey() || r1.NewKey != keys[1].VerifierKey() {
		t.Fatalf("%+v", r1)
	}
	for _, k := range keys[:2] {
		if _, err := VerifyCheckpoint(r1.Note, k.VerifierKey()); err != nil {
			t.Errorf("the rotation checkpoint lacks %s's signature: %v", k, err)
		}
	}
	_, err = l.Checkpoint(keys[0], CurrentSize)
	wantCode(t, err, ErrInvalidArgument)
	if _, err := l.RotateKey(keys[1], keys[2], "bob"); err != nil {
		t.Fatal(err)
	}
	_, err = l.RotateKey(keys[1], keys[2], "bob")
	wantCode(t, err, ErrInvalidArgument)
	if _, err := l.Checkpoint(keys[2], CurrentSize); err != nil {
		t.Fatal(err)
	}
	if vk, err := l.VerifierKey(); err != nil || vk != keys[2].VerifierKey() {
		t.Errorf("the key in force: %q, %v", vk, err)
	}
	rep, err := l.Verify(VerifyOptions{})
	if err != nil || rep.CheckpointsChecked != 4 {
		t.Errorf("verify from the first key: %+v, %v", rep, err)
	}
	page, err := l.Query(Query{Action: "key.rotated"})
	if err != nil || len(page.Entries) != 2 || page.Entries[0].Entry.Subject.ID != keys[2].VerifierKey() {
		t.Errorf("the rotation entries: %+v, %v", page, err)
	}
	_, err = l.RotateKey(nil, keys[2], "bob")
	wantCode(t, err, ErrInvalidArgument)
}
