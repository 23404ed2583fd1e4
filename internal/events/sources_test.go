package events

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseSources(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    Sources
		wantErr string
	}{
		{name: "unset", in: "", want: nil},
		{name: "blank", in: "  ", want: nil},
		{
			name: "spec example with spaces and a repeated token",
			in:   "akeneo=pim://akeneo/*, salsify = pim://salsify/* ,akeneo=pim://legacy",
			want: Sources{"akeneo": {"pim://akeneo/*", "pim://legacy"}, "salsify": {"pim://salsify/*"}},
		},
		{name: "pattern with =", in: "a=urn:x?y=z", want: Sources{"a": {"urn:x?y=z"}}},
		{name: "missing =", in: "akeneo=pim://a/*,salsify", wantErr: `INGEST_SOURCES entry 2 ("salsify"): want token=source-pattern`},
		{name: "empty entry", in: "akeneo=pim://a/*,,", wantErr: `INGEST_SOURCES entry 2 is empty; remove the extra comma`},
		{name: "empty token", in: "=pim://a/*", wantErr: `INGEST_SOURCES entry 1 ("=pim://a/*"): subject token is empty`},
		{name: "wildcard token", in: ">=pim://a/*", wantErr: `INGEST_SOURCES entry 1 (">=pim://a/*"): subject token ">" is a wildcard; name one publishing system`},
		{name: "dotted token", in: "a.b=pim://a/*", wantErr: `INGEST_SOURCES entry 1 ("a.b=pim://a/*"): subject token "a.b" must not contain '.', '*', '>' or whitespace`},
		{name: "empty pattern", in: "akeneo= ", wantErr: `INGEST_SOURCES entry 1 ("akeneo="): source pattern is empty`},
		{name: "inner star", in: "akeneo=pim://*/prod", wantErr: `INGEST_SOURCES entry 1 ("akeneo=pim://*/prod"): '*' is allowed only at the end of a source pattern`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseSources(tt.in)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if diff := cmp.Diff(tt.wantErr, gotErr); diff != "" {
				t.Fatalf("error (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Sources (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSourcesAllows(t *testing.T) {
	t.Parallel()
	s := Sources{"akeneo": {"pim://akeneo/*", "urn:exact"}, "any": {"*"}}
	tests := []struct {
		name          string
		s             Sources
		token, source string
		want          bool
	}{
		{"nil allows all", nil, "x", "y", true},
		{"empty allows all", Sources{}, "x", "y", true},
		{"prefix", s, "akeneo", "pim://akeneo/prod", true},
		{"prefix spans slashes", s, "akeneo", "pim://akeneo/prod/eu", true},
		{"prefix needs more", s, "akeneo", "pim://akeneo/", false},
		{"prefix is not a bare match", s, "akeneo", "pim://akeneo", false},
		{"exact", s, "akeneo", "urn:exact", true},
		{"exact is exact", s, "akeneo", "urn:exactly", false},
		{"other PIM's source", s, "akeneo", "pim://salsify/prod", false},
		{"token without entry", s, "salsify", "pim://akeneo/prod", false},
		{"star alone", s, "any", "whatever", true},
		{"question mark is literal", Sources{"a": {"pim://a?b"}}, "a", "pim://axb", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.s.Allows(tt.token, tt.source); got != tt.want {
				t.Errorf("Allows(%q, %q) = %v, want %v", tt.token, tt.source, got, tt.want)
			}
		})
	}
	if diff := cmp.Diff("akeneo=pim://akeneo/*,akeneo=urn:exact,any=*", s.String()); diff != "" {
		t.Errorf("String (-want +got):\n%s", diff)
	}
}
