package buildinfo

import (
	"bytes"
	"encoding/json"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/prometheus/client_golang/prometheus"
)

// TestMake checks where each field of `eventrouter version`
// comes from: the module version Go records (a tag for `go install
// ...@v0.1.0`, a pseudo-version between tags), the VCS settings of a build
// in a checkout, and -ldflags, which win.
func TestMake(t *testing.T) {
	vcs := []debug.BuildSetting{
		{Key: "vcs.revision", Value: "90c56c02c1dba77345b2451af0e3c673763a2f96"},
		{Key: "vcs.time", Value: "2026-12-05T14:03:59Z"},
		{Key: "vcs.modified", Value: "true"},
	}
	tests := []struct {
		name                    string
		bi                      *debug.BuildInfo
		ldVersion, ldCommit, ld string
		want                    Info
	}{
		{name: "go install of a tag", bi: &debug.BuildInfo{Main: debug.Module{Version: "v0.1.0"}},
			want: Info{Version: "v0.1.0"}},
		{name: "go install of a pseudo-version names its commit",
			bi:   &debug.BuildInfo{Main: debug.Module{Version: "v0.1.1-0.20261205140359-90c56c02c1db"}},
			want: Info{Version: "v0.1.1-0.20261205140359-90c56c02c1db", Commit: "90c56c02c1db"}},
		{name: "a build in a dirty checkout",
			bi:   &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261205140359-90c56c02c1db+dirty"}, Settings: vcs},
			want: Info{Version: "v0.0.0-20261205140359-90c56c02c1db+dirty", Commit: "90c56c02c1dba77345b2451af0e3c673763a2f96", Date: "2026-12-05T14:03:59Z", Modified: true}},
		{name: "go run: (devel) is dev", bi: &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}},
			want: Info{Version: "dev"}},
		{name: "no build information", bi: nil, want: Info{Version: "dev"}},
		{name: "-ldflags win", bi: &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs},
			ldVersion: "v1.2.3", ldCommit: "abc", ld: "2027-01-01T00:00:00Z",
			want: Info{Version: "v1.2.3", Commit: "abc", Date: "2027-01-01T00:00:00Z", Modified: true}},
		{name: "not a pseudo-version", bi: &debug.BuildInfo{Main: debug.Module{Version: "v1.0.0-rc.1"}},
			want: Info{Version: "v1.0.0-rc.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Make(tt.bi, Stamp{Version: tt.ldVersion, Commit: tt.ldCommit, Date: tt.ld}, "v1.0.0")
			if got.Version != tt.want.Version || got.Commit != tt.want.Commit || got.Date != tt.want.Date || got.Modified != tt.want.Modified {
				t.Errorf("got version %q commit %q date %q modified %v, want %q %q %q %v",
					got.Version, got.Commit, got.Date, got.Modified, tt.want.Version, tt.want.Commit, tt.want.Date, tt.want.Modified)
			}
			if got.Go != runtime.Version() || got.NATSServer != "v"+server.VERSION || got.OS != runtime.GOOS || got.DuckDB != "v1.0.0" || got.Build != "default" {
				t.Errorf("go %q nats %q os %q duckdb %q build %q", got.Go, got.NATSServer, got.OS, got.DuckDB, got.Build)
			}
		})
	}
}

// TestStaticAndText checks the static build (no DuckDB) and the human form
// of both builds.
func TestStaticAndText(t *testing.T) {
	b := Make(nil, Stamp{Version: "v1.2.3", Commit: "abc", Date: "2027-01-01T00:00:00Z"}, "")
	if b.Build != "static" || b.DuckDB != "" {
		t.Errorf("without DuckDB: build %q duckdb %q, want static and none", b.Build, b.DuckDB)
	}
	text := b.Text()
	for _, want := range []string{"eventrouter v1.2.3 " + runtime.Version() + "\n", "  commit:      abc\n", "  build:       static (no cgo, tag noduckdb; warehouses use driver: postgres)\n", "  duckdb:      none\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("Text() lacks %q:\n%s", want, text)
		}
	}
	d := Make(nil, Stamp{}, "v1.4.0")
	if text := d.Text(); !strings.HasPrefix(text, "eventrouter dev ") || !strings.Contains(text, "  commit:      unknown\n") || !strings.Contains(text, "  duckdb:      v1.4.0\n") {
		t.Errorf("Text() of a dev build:\n%s", text)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(b.Gauge())
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 1 || mfs[0].GetName() != "eventrouter_build_info" || len(mfs[0].GetMetric()) != 1 {
		t.Fatalf("gathered %v, %v", mfs, err)
	}
	m := mfs[0].GetMetric()[0]
	labels := map[string]string{}
	for _, l := range m.GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	if m.GetGauge().GetValue() != 1 || labels["version"] != "v1.2.3" || labels["build"] != "static" || labels["duckdb"] != "none" || labels["revision"] != "abc" {
		t.Errorf("eventrouter_build_info = %v %v", m.GetGauge().GetValue(), labels)
	}
}

// TestWrite checks what `eventrouter version` prints: the text, or one
// indented JSON object with every field.
func TestWrite(t *testing.T) {
	b := Make(nil, Stamp{Version: "v1.2.3", Commit: "abc", Date: "2027-01-01T00:00:00Z"}, "v1.4.0")
	var text bytes.Buffer
	if err := b.Write(&text, false); err != nil || text.String() != b.Text() {
		t.Errorf("Write(text) = %q, %v; want Text()", text.String(), err)
	}
	var js bytes.Buffer
	if err := b.Write(&js, true); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(js.String(), "{\n  \"version\": \"v1.2.3\",\n") || !strings.HasSuffix(js.String(), "}\n") {
		t.Errorf("Write(json) is not one indented object:\n%s", js.String())
	}
	var back Info
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back != b {
		t.Errorf("Write(json) reads back as %+v, %v; want %+v", back, err, b)
	}
}
