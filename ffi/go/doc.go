// Package trailseal embeds a trailseal ledger in a Go program: an append-only, tamper-evident
// audit ledger (an RFC 9162 Merkle tree stored in a redb file) with inclusion and consistency
// proofs and Ed25519-signed C2SP checkpoints. It is a cgo wrapper over the trailseal C library
// (ffi/include/trailseal.h); the formats are those of SPEC.md.
//
//	l, err := trailseal.Create("audit.redb", trailseal.CreateOptions{Origin: "example.com/audit"})
//	if err != nil { ... }
//	defer l.Close()
//	r, err := l.Append(trailseal.Entry{
//		Actor:   trailseal.Actor{ID: "alice"},
//		Action:  "deploy.succeeded",
//		Subject: trailseal.Subject{Type: "service", ID: "payments-api"},
//	})
//	proof, err := l.ProveInclusion(r.Index, trailseal.CurrentSize)
//	signer, err := trailseal.GenerateSigner("example.com/audit")
//	note, err := l.Checkpoint(signer, trailseal.CurrentSize)
//	err = trailseal.VerifyInclusion(proof, nil, &trailseal.SignedCheckpoint{Note: note, VerifierKey: signer.VerifierKey()})
//
// # The auditor's questions
//
// Each question is one call: [Ledger.Query] (search by actor, action, subject, attrs, refs,
// decision, time), [Ledger.Trace] and [Ledger.Why] (what an entry rests on, and which
// policy version allowed it), [Ledger.Gate] and [Ledger.RecordGate] (release gates),
// [Ledger.Bundle] with the ledger-free [VerifyBundle] (evidence bundles), and [Ledger.Report]
// (where approvals wait). The results are the JSON of `trailseal ... --json`, decoded.
//
//	page, err := l.Query(trailseal.Query{Decision: "break_glass", Since: start})
//	result, err := l.Gate("release:2026.11.3", policyFileBytes)
//	bundle, err := l.Bundle(trailseal.SelectSubject("release:2026.11.3"), signer)
//	report, err := trailseal.VerifyBundle(bundle, signer.VerifierKey())
//
// # Errors
//
// Every error returned by this package for a failed trailseal call is an [*Error] carrying the
// trailseal code (the same numbers as the C status and the core's error codes); match it with
// errors.Is against the sentinels, e.g. errors.Is(err, trailseal.ErrTampered), or get the code
// with errors.As. [ErrNotFound] also matches fs.ErrNotExist and [ErrAlreadyExists]
// fs.ErrExist. Using a closed [Ledger] or [Signer] returns [ErrClosed].
//
// # Building
//
// The package links the trailseal C library. By default it links the static library of a
// debug build in the repository, so build that first:
//
//	cargo build -p trailseal-ffi              # target/debug/libtrailseal.a
//	cd ffi/go && go test ./...
//
// To link another build, put its directory first on the linker's path:
//
//	cargo build --release -p trailseal-ffi
//	CGO_LDFLAGS="-L$PWD/target/release" go build ./...    # also for a CARGO_TARGET_DIR
//
// or install the library (bash ffi/install.sh PREFIX) and build with a tag:
//
//	go build -tags trailseal_pkgconfig ./...   # static, via pkg-config trailseal-static
//	go build -tags trailseal_shared ./...      # libtrailseal.so, via pkg-config trailseal
//
// (PKG_CONFIG_PATH=PREFIX/lib/pkgconfig if PREFIX is not searched by default). Go's build
// cache does not notice a rebuilt C library: use go test -count=1, and go build -a (or a
// changed CGO_CFLAGS) after rebuilding it.
//
// # Threads
//
// A [Ledger] may be used from many goroutines at once: appends are serialized by the library
// and readers see consistent snapshots. [Ledger.Close] waits for calls in progress.
package trailseal
