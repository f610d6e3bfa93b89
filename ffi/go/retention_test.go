package trailseal

// Retention and legal hold from Go (SPEC section 8): rules recorded and read back, a hold that
// keeps what it covers until released, and the plan of what retention allows. The rules are
// the core's; the shared case table checks the answers agree across front ends.

import (
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func TestRetentionRulesHoldsAndThePlan(t *testing.T) {
	l, err := Create(filepath.Join(t.TempDir(), "retention.redb"), CreateOptions{Origin: "example.com/retention"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	authz := map[string]any{"decision": "allow", "policy": "records-schedule", "reason": "SOX 802"}
	if v, err := l.RetentionRulesAt(CurrentSize); err != nil || v != nil {
		t.Fatalf("before any rules: %v %v", v, err)
	}
	r, err := l.PublishRetentionRules(`{"version":"sox-2026","default":"P1Y","rules":[{"action":"deploy.*","keep":"P100Y"}]}`,
		"records-officer", authz)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := l.RetentionRulesAt(CurrentSize); err != nil || v == nil || v.Index != r.Index || v.Version != "sox-2026" {
		t.Fatalf("in force: %+v %v", v, err)
	}
	if _, err := l.AppendBatch([]map[string]any{
		{"actor": map[string]any{"id": "dave"}, "action": "deploy.succeeded", "subject": map[string]any{"type": "svc", "id": "api"}},
		{"actor": map[string]any{"id": "bob"}, "action": "access.granted", "subject": map[string]any{"type": "db", "id": "payroll"}},
	}); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	plan, err := l.RetentionPlan(at)
	if err != nil || !reflect.DeepEqual(plan.Eligible, [][2]uint64{{2, 3}}) || plan.Counts["in_retention"] != 1 {
		t.Fatalf("plan: %+v %v", plan, err)
	}
	if _, err := l.PlaceHold("LIT-7", map[string]any{"subject": "db:payroll"}, "counsel", authz); err != nil {
		t.Fatal(err)
	}
	if _, err := l.PlaceHold("LIT-7", map[string]any{"actor": "bob"}, "counsel", authz); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("a second hold of the same id: %v", err)
	}
	if plan, _ := l.RetentionPlan(at); plan.Counts["held"] != 1 || len(plan.Eligible) != 0 {
		t.Errorf("held: %+v", plan)
	}
	if _, err := l.ReleaseHold("LIT-7", "counsel", authz); err != nil {
		t.Fatal(err)
	}
	holds, err := l.LegalHolds()
	if err != nil || len(holds) != 1 || holds[0].Released == nil || *holds[0].Released != 4 {
		t.Fatalf("holds: %+v %v", holds, err)
	}
	if _, err := l.ReleaseHold("LIT-7", "counsel", authz); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("releasing a released hold: %v", err)
	}
	if _, err := l.PlaceHold("H", map[string]any{}, "counsel", authz); !errors.Is(err, ErrMalformed) {
		t.Errorf("a hold that covers nothing: %v", err)
	}
}
