package trailseal

// Pruning from Go (SPEC section 8.1): what retention allows goes, a read of it says where it
// went, the rest reads as before, everything still verifies, and compact gives the space back.

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPrunePrunedAndCompact(t *testing.T) {
	path := filepath.Join(t.TempDir(), "prune.redb")
	l, err := Create(path, CreateOptions{Origin: "example.com/prune"})
	if err != nil {
		t.Fatal(err)
	}
	authz := map[string]any{"decision": "allow", "policy": "records-management"}
	if _, err := l.PublishRetentionRules(`{"version":"v1","default":"P1Y","rules":[{"action":"deploy.*","keep":"P100Y"}]}`,
		"records-officer", authz); err != nil {
		t.Fatal(err)
	}
	var batch []map[string]any
	for i := 0; i < 200; i++ {
		action := "build.finished"
		if i == 10 {
			action = "deploy.succeeded"
		}
		batch = append(batch, map[string]any{"actor": map[string]any{"id": "ci"}, "action": action,
			"subject": map[string]any{"type": "build", "id": fmt.Sprint(i)}})
	}
	if _, err := l.AppendBatch(batch); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	dry, err := l.Prune(at, true, "records-officer", authz)
	if err != nil || !dry.DryRun || dry.Count == 0 || len(dry.Records) != 0 {
		t.Fatalf("dry run: %+v %v", dry, err)
	}
	if _, err := l.Get(5); err != nil {
		t.Fatalf("a dry run removes nothing: %v", err)
	}
	r, err := l.Prune(at, false, "records-officer", authz)
	if err != nil || r.Count != dry.Count || len(r.Records) != 1 || r.Kept["in_retention"] != 1 || r.Rules.Version != "v1" {
		t.Fatalf("prune: %+v %v", r, err)
	}
	if _, err := l.Get(5); !errors.Is(err, ErrOutOfRange) || !strings.Contains(err.Error(), "pruned on") {
		t.Errorf("reading a pruned entry: %v", err)
	}
	p, err := l.Pruned(5)
	if err != nil || p == nil || p.Pruned.By != r.Records[0] || p.Pruned.RulesVersion != "v1" || len(p.LeafHash) != 64 {
		t.Fatalf("pruned: %+v %v", p, err)
	}
	if p, err := l.Pruned(11); err != nil || p != nil {
		t.Errorf("the deploy is kept: %+v %v", p, err)
	}
	if _, err := l.Get(11); err != nil {
		t.Errorf("reading a kept entry: %v", err)
	}
	if _, err := Compact(path); !errors.Is(err, ErrLocked) {
		t.Errorf("compact with a handle open: %v", err)
	}
	l.Close()
	if moved, err := Compact(path); err != nil || !moved {
		t.Fatalf("compact: %v %v", moved, err)
	}
	if _, err := l.Prune(at, false, "records-officer", authz); err == nil {
		t.Errorf("a closed handle prunes nothing")
	}
}
