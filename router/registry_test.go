package router

import (
	"context"
	"strings"
	"testing"
)

type destType string

func (d destType) Type() string                                          { return string(d) }
func (destType) DefaultConfig() any                                      { return &struct{}{} }
func (destType) New(context.Context, any, Settings) (Destination, error) { return nil, nil }

type sourceType string

func (s sourceType) Type() string                          { return string(s) }
func (sourceType) DefaultConfig() any                      { return &struct{}{} }
func (sourceType) New(any, SourceSettings) (Source, error) { return nil, nil }

// TestRegistry looks destination and source types up: each kind in its
// own namespace, an unknown type an error listing the known ones, a type
// registered twice refused.
func TestRegistry(t *testing.T) {
	if _, err := NewRegistry(destType("a"), destType("a")); err == nil || !strings.Contains(err.Error(), `type "a" registered twice`) {
		t.Errorf("two destinations of one type: %v", err)
	}
	r, err := NewRegistry(destType("webhook"), destType("file"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.LookupSource("webhook"); err == nil || err.Error() != `unknown source type "webhook" (known types: )` {
		t.Errorf("a source type before any is added: %v", err)
	}
	if err := r.AddSources(sourceType("segment"), sourceType("webhook")); err != nil {
		t.Fatal(err)
	}
	if err := r.AddSources(sourceType("growsurf"), sourceType("segment")); err == nil || !strings.Contains(err.Error(), `sources: type "segment" registered twice`) {
		t.Errorf("a source type added twice: %v", err)
	}
	if got := strings.Join(r.SourceTypes(), ","); got != "segment,webhook" {
		t.Errorf("SourceTypes = %s (a refused AddSources adds nothing)", got)
	}
	if got := strings.Join(r.Types(), ","); got != "file,webhook" {
		t.Errorf("Types = %s", got)
	}
	if f, err := r.LookupSource("webhook"); err != nil || f != (sourceType("webhook")) {
		t.Errorf("LookupSource(webhook) = %v, %v", f, err)
	}
	if f, err := r.Lookup("webhook"); err != nil || f != (destType("webhook")) {
		t.Errorf("Lookup(webhook) = %v, %v", f, err)
	}
	if _, err := r.LookupSource("kafka"); err == nil || err.Error() != `unknown source type "kafka" (known types: segment, webhook)` {
		t.Errorf("LookupSource(kafka) = %v", err)
	}
	if _, err := r.Lookup("kafka"); err == nil || err.Error() != `unknown destination type "kafka" (known types: file, webhook)` {
		t.Errorf("Lookup(kafka) = %v", err)
	}
}
