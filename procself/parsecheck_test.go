package procself

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// checkParsed is the common end of a parser table test: with wantErr set, err must be a
// *ParseError containing it; otherwise err must be nil and got must equal want.
func checkParsed[T any](t *testing.T, got T, err error, want T, wantErr string) {
	t.Helper()
	if wantErr != "" {
		var pe *ParseError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("error = %v, want a *ParseError containing %q", err, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
}
