// Command cosigcheck checks a cosigned checkpoint the way Go verifiers do: the log's signature
// with golang.org/x/mod/sumdb/note, each witness cosignature with the cosignature/v1 verifier
// of github.com/transparency-dev/formats. Exit 0 only if every given key's signature verifies.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

type keys []string

func (k *keys) String() string     { return strings.Join(*k, ",") }
func (k *keys) Set(v string) error { *k = append(*k, v); return nil }

func main() {
	logKey := flag.String("log", "", "the log's verifier key")
	notePath := flag.String("note", "", "the cosigned checkpoint note")
	var witnesses keys
	flag.Var(&witnesses, "witness", "a witness's cosignature/v1 vkey (repeatable)")
	flag.Parse()
	if err := run(*logKey, *notePath, witnesses); err != nil {
		fmt.Fprintln(os.Stderr, "cosigcheck:", err)
		os.Exit(1)
	}
}

func run(logKey, notePath string, witnesses []string) error {
	text, err := os.ReadFile(notePath)
	if err != nil {
		return err
	}
	logV, err := note.NewVerifier(logKey)
	if err != nil {
		return fmt.Errorf("log key: %w", err)
	}
	vs := []note.Verifier{logV}
	for _, w := range witnesses {
		v, err := fnote.NewVerifierForCosignatureV1(w)
		if err != nil {
			return fmt.Errorf("witness key %q: %w", w, err)
		}
		vs = append(vs, v)
	}
	n, err := note.Open(text, note.VerifierList(vs...))
	if err != nil {
		return err
	}
	if len(n.Sigs) != len(vs) {
		return fmt.Errorf("%d of %d keys signed", len(n.Sigs), len(vs))
	}
	for _, s := range n.Sigs[1:] {
		t, err := fnote.CoSigV1Timestamp(s)
		if err != nil {
			return err
		}
		fmt.Printf("%s cosigned at %s\n", s.Name, t.UTC().Format("2006-01-02T15:04:05Z"))
	}
	return nil
}
