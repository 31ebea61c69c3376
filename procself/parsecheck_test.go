package procself

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// checkParsed is the common end of a parser table test. With fields set, err must be a *FieldErrors
// naming exactly those fields (in order) and containing wantErr, and got must still equal want: the
// rest of the file is kept. With only wantErr set, err must be a whole-file *ParseError (not a
// *FieldErrors) containing it. Otherwise err must be nil and got must equal want.
func checkParsed[T any](t *testing.T, got T, err error, want T, wantErr string, fields ...string) {
	t.Helper()
	if len(fields) > 0 {
		checkFieldErrors(t, err, wantErr, fields...)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("value kept beside the field errors: mismatch (-want +got):\n%s", diff)
		}
		return
	}
	if wantErr != "" {
		var pe *ParseError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("error = %v, want a *ParseError containing %q", err, wantErr)
		}
		if IsPartial(err) {
			t.Fatalf("error = %v is a *FieldErrors, want a whole-file *ParseError", err)
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

// checkFieldErrors checks that err is a *FieldErrors naming exactly fields, in order, whose text
// contains wantErr, and that each of its errors is a *ParseError with a line.
func checkFieldErrors(t *testing.T, err error, wantErr string, fields ...string) {
	t.Helper()
	var fe *FieldErrors
	if !errors.As(err, &fe) {
		t.Fatalf("error = %v (%T), want a *FieldErrors naming %q", err, err, fields)
	}
	if got := fe.Fields(); !slices.Equal(got, fields) {
		t.Errorf("unread fields = %q, want %q (error %v)", got, fields, err)
	}
	if !strings.Contains(err.Error(), wantErr) {
		t.Errorf("error = %q, want it to contain %q", err, wantErr)
	}
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Errorf("errors.As(%v, *ParseError) = false, want true", err)
	}
}

// checkFuzzErr is what every parser fuzz target asserts about a parser's error: a whole-file
// *ParseError, or a *FieldErrors whose every entry is a *ParseError naming a field.
func checkFuzzErr(t *testing.T, err error) {
	t.Helper()
	var fe *FieldErrors
	if errors.As(err, &fe) {
		if len(fe.Errs) == 0 {
			t.Fatalf("empty *FieldErrors: %v", err)
		}
		for _, pe := range fe.Errs {
			if pe == nil || pe.Field == "" {
				t.Fatalf("field error without a field name in %v", err)
			}
		}
		return
	}
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *ParseError", err, err)
	}
	if pe.Field != "" {
		t.Fatalf("whole-file error %v names a field", err)
	}
}
