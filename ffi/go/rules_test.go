package trailseal

// Decisions as code from Go (docs/RULES.md): a realistic rules document published with its
// approval, enforced on append with the rule named, refusals recorded when asked, versions read
// back at any index, the dry run and the delivery report. The rules are the core's; the shared
// case table checks the answers agree with every other front end.

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func soxRules(t *testing.T) json.RawMessage {
	t.Helper()
	text, err := os.ReadFile(filepath.Join("..", "..", "tests", "rules", "sox.json"))
	if err != nil {
		t.Fatal(err)
	}
	return text
}

func TestRulesPublishedEnforcedAndReadBack(t *testing.T) {
	l, err := Create(filepath.Join(t.TempDir(), "rules.redb"), CreateOptions{Origin: "example.com/rules"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if v, err := l.RulesAt(CurrentSize); err != nil || v != nil {
		t.Fatalf("before any rules: %v %v", v, err)
	}
	ask, err := l.Append(map[string]any{"actor": map[string]any{"id": "dana"}, "action": "policy.change.requested",
		"subject": map[string]any{"type": "rules", "id": "sox"}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := l.PublishRules(soxRules(t), "ciso", map[string]any{"decision": "allow", "policy": "rules-change"},
		[]map[string]any{{"rel": "approved_by", "index": ask.Index}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := l.RulesAt(CurrentSize)
	if err != nil || v == nil || v.Version != "sox-2026.1" || v.PublishedBy != "ciso" || v.Index != r.Index {
		t.Fatalf("in force: %+v %v", v, err)
	}
	if !strings.Contains(string(v.Authz), "rules-change") {
		t.Errorf("authz: %s", v.Authz)
	}
	if v, _ := l.RulesAt(r.Index); v != nil {
		t.Errorf("a version governs the entries after it, not its own: %+v", v)
	}
	if vs, err := l.RulesVersions(); err != nil || len(vs) != 1 {
		t.Fatalf("versions: %v %v", vs, err)
	}

	broken := map[string]any{"actor": map[string]any{"id": "alice"}, "action": "change.requested",
		"subject": map[string]any{"type": "chg", "id": "1"}}
	_, err = l.Append(broken)
	if !errors.Is(err, ErrRuleViolation) || !strings.Contains(err.Error(), "attrs.ticket") {
		t.Fatalf("want a rule violation naming the field, got %v", err)
	}
	if n, _ := l.Size(); n != 2 {
		t.Fatalf("nothing written on refusal: size %d", n)
	}
	if err := l.SetRecordRefusals(true); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(broken); !errors.Is(err, ErrRuleViolation) {
		t.Fatalf("still refused when recorded: %v", err)
	}
	var refused Entry
	if raw, err := l.Get(2); err != nil {
		t.Fatal(err)
	} else if err := json.Unmarshal(raw, &refused); err != nil {
		t.Fatal(err)
	}
	if refused.Action != "audit.refused" || refused.Attrs["class"] != "change-request" {
		t.Errorf("refusal entry: %+v", refused)
	}
	half := 0.9
	report, err := l.DeliveryReport(&half)
	if err != nil || !strings.Contains(string(report), `"threshold":0.9`) {
		t.Fatalf("report: %s %v", report, err)
	}
	bad := 1.5
	if _, err := l.DeliveryReport(&bad); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("threshold 1.5: %v", err)
	}
	if _, err := l.PublishRules(`{"version":"x","classes":[{"name":"c"}]}`, "ciso", nil, nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("a document that is not rules: %v", err)
	}
}

func TestCheckRulesIsADryRun(t *testing.T) {
	entry := map[string]any{"actor": map[string]any{"id": "sam"}, "action": "deploy.succeeded",
		"subject": map[string]any{"type": "svc", "id": "api"},
		"authz":   map[string]any{"decision": "break_glass", "policy": "cab", "policy_version": "3", "reason": "INC-7"},
		"change":  map[string]any{"before": "1", "after": "2"}}
	v, err := CheckRules(soxRules(t), entry)
	if err != nil || v.Class == nil || *v.Class != "production-deploy" || !v.BreakGlass || v.Retention == nil || *v.Retention != "sox-7y" {
		t.Fatalf("verdict %+v %v", v, err)
	}
	entry["actor"] = map[string]any{"id": "alice"}
	if _, err := CheckRules(soxRules(t), entry); !errors.Is(err, ErrRuleViolation) || !strings.Contains(err.Error(), "break-glass") {
		t.Errorf("break-glass by a developer: %v", err)
	}
}
