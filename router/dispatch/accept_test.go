package dispatch

import (
	"testing"
)

// TestAcceptFilter checks accept: valid and all against messages with and
// without tracking-plan violations, and that the other filters come first.
func TestAcceptFilter(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		in   int // violations on the message
		typ  string
		want string
	}{
		{name: "all takes violations", opts: Options{Accept: AcceptAll}, in: 2, typ: "track", want: ""},
		{name: "default is all", opts: Options{}, in: 2, typ: "track", want: ""},
		{name: "valid skips violations", opts: Options{Accept: AcceptValid}, in: 2, typ: "track", want: ReasonViolations},
		{name: "valid takes clean", opts: Options{Accept: AcceptValid}, in: 0, typ: "track", want: ""},
		{name: "type filter first", opts: Options{Accept: AcceptValid, Types: []string{"identify"}}, in: 2, typ: "track", want: ReasonType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := tt.opts.withDefaults("dest")
			if err != nil {
				t.Fatal(err)
			}
			m := routed(0, tt.typ, "e", "")
			m.Violations = tt.in
			if got := newFilter("dest", o).reason(&m); got != tt.want {
				t.Errorf("reason = %q, want %q", got, tt.want)
			}
		})
	}
	if _, err := (Options{Accept: "clean"}).withDefaults("dest"); err == nil {
		t.Error("accept: clean was accepted")
	}
}
