package trailseal

import (
	"errors"
	"testing"
)

// The cosignature vectors (tests/vectors/cosignature.json, made with Python's cryptography
// package, not trailseal) through the C ABI: Rust, Python and Node replay the same file.
func TestCosignatureVectors(t *testing.T) {
	var v struct {
		LogVkey      string   `json:"log_vkey"`
		WitnessVkeys []string `json:"witness_vkeys"`
		Cases        []struct {
			Name   string `json:"name"`
			Note   string `json:"note"`
			Quorum int    `json:"quorum"`
			OK     bool   `json:"ok"`
		} `json:"cases"`
	}
	readVectors(t, "cosignature.json", &v)
	if len(v.Cases) == 0 {
		t.Fatal("no cases")
	}
	for _, c := range v.Cases {
		got, err := VerifyCosigned(c.Note, v.LogVkey, v.WitnessVkeys, c.Quorum)
		if c.OK {
			if err != nil {
				t.Errorf("%s: %v", c.Name, err)
				continue
			}
			if len(got.Cosignatures) < c.Quorum || got.Checkpoint.Origin == "" {
				t.Errorf("%s: %+v", c.Name, got)
			}
		} else if !errors.Is(err, ErrVerificationFailed) {
			t.Errorf("%s: want ErrVerificationFailed, got %v", c.Name, err)
		}
	}
	// A negative quorum asks for every key; keys that do not parse are malformed.
	if _, err := VerifyCosigned(v.Cases[0].Note, v.LogVkey, v.WitnessVkeys, -1); err != nil {
		t.Errorf("all witnesses: %v", err)
	}
	if _, err := VerifyCosigned(v.Cases[0].Note, v.LogVkey, []string{"not a key"}, 1); !errors.Is(err, ErrMalformed) {
		t.Errorf("a bad witness key: want ErrMalformed, got %v", err)
	}
}
