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
