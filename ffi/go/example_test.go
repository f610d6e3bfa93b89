package trailseal_test

import (
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	trailseal "github.com/trailseal/trailseal/ffi/go"
)

func Example() {
	dir, _ := os.MkdirTemp("", "trailseal-example")
	defer os.RemoveAll(dir)

	l, err := trailseal.Create(filepath.Join(dir, "audit.redb"), trailseal.CreateOptions{
		Origin: "example.com/payments/audit",
		Hash:   trailseal.SHA256,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	r, err := l.Append(trailseal.Entry{
		Actor:   trailseal.Actor{ID: "alice"},
		Action:  "deploy.succeeded",
		Subject: trailseal.Subject{Type: "service", ID: "payments-api"},
		Attrs:   map[string]string{"env": "prod"},
	})
	if err != nil {
		log.Fatal(err)
	}
	proof, _ := l.ProveInclusion(r.Index, trailseal.CurrentSize)
	signer, _ := trailseal.GenerateSigner("example.com/payments/audit")
	defer signer.Close()
	note, _ := l.Checkpoint(signer, trailseal.CurrentSize)

	// An auditor holding the entry, the proof, the note and the public key:
	entry, _ := l.Get(r.Index)
	err = trailseal.VerifyInclusion(proof, entry, &trailseal.SignedCheckpoint{Note: note, VerifierKey: signer.VerifierKey()})
	fmt.Println(r.Index, r.TreeSize, err)
	_, err = l.Append(`{"actor":{"id":"bob"},"action":"Deploy!","subject":{"type":"service","id":"x"}}`)
	var e *trailseal.Error
	fmt.Println(errors.Is(err, trailseal.ErrInvalidEntry), errors.As(err, &e) && e.Code == trailseal.CodeInvalidEntry)
	// Output:
	// 0 1 <nil>
	// true true
}

// A release gate and its evidence: alice requested the release and approved it herself, so
// only bob's approval counts and the gate fails on self-approval. The bundle of the release's
// entries is checked with the public key alone, and one changed byte is refused.
func ExampleLedger_Gate() {
	dir, _ := os.MkdirTemp("", "trailseal-gate")
	defer os.RemoveAll(dir)
	l, err := trailseal.Create(filepath.Join(dir, "audit.redb"), trailseal.CreateOptions{Origin: "example.com/payments/audit"})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	release := trailseal.Subject{Type: "release", ID: "2026.11.3"}
	_, err = l.AppendBatch([]trailseal.Entry{
		{Actor: trailseal.Actor{ID: "alice"}, Action: "release.requested", Subject: release},
		{Actor: trailseal.Actor{ID: "github-actions"}, Action: "test.passed", Subject: release},
		{Actor: trailseal.Actor{ID: "bob", Role: "sre"}, Action: "approval.granted", Subject: release,
			Links: []trailseal.Link{trailseal.LinkIndex("approves", 0)}},
		{Actor: trailseal.Actor{ID: "alice", Role: "sre"}, Action: "approval.granted", Subject: release,
			Links: []trailseal.Link{trailseal.LinkIndex("approves", 0)}},
	})
	if err != nil {
		log.Fatal(err)
	}

	policy := trailseal.GatePolicy{MinApprovals: 1, ApproverRoles: []string{"sre"}, Require: []string{"test.passed"}}
	result, err := l.Gate("release:2026.11.3", policy)
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range result.Requirements {
		fmt.Println(r.Name, r.Met, r.Evidence)
	}
	fmt.Println("passed:", result.Passed)

	signer, _ := trailseal.GenerateSigner("example.com/payments/audit")
	defer signer.Close()
	bundle, err := l.Bundle(trailseal.SelectSubject("release:2026.11.3"), signer)
	if err != nil {
		log.Fatal(err)
	}
	report, err := trailseal.VerifyBundle(bundle, signer.VerifierKey())
	fmt.Println(len(report.Entries), report.TreeSize, err)
	bundle[len(bundle)/2] ^= 1
	_, err = trailseal.VerifyBundle(bundle, signer.VerifierKey())
	fmt.Println(errors.Is(err, trailseal.ErrVerificationFailed) || errors.Is(err, trailseal.ErrMalformed))
	// Output:
	// min_approvals true [2]
	// forbid_self_approval false [0 3]
	// test.passed true [1]
	// passed: false
	// 4 4 <nil>
	// true
}
