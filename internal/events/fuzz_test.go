package events

import (
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzDecode checks Decode's invariants on arbitrary input: it never panics;
// it returns either a valid event or an *InvalidEventError; it never quotes
// the query string of data.src in an error. headers is "name: value" lines.
// Seeds live in testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	f.Add(testSubject, "", []byte(`{"specversion":"1.0","id":"1","source":"s","type":"asset.published","data":{"src":"https://a.example.com/f.jpg?sig=abcdefgh","name":"n"}}`), false)
	f.Fuzz(func(t *testing.T, subject, headers string, body []byte, allowHTTP bool) {
		h := parseFuzzHeaders(headers)
		rules := Rules{AllowHTTP: allowHTTP, DefaultRepositoryID: "repo", Sources: Sources{"restricted": {"pim://r/*"}}}
		p, err := Decode(subject, h, body, rules)
		if p.SourceToken != SourceToken(subject) {
			t.Errorf("SourceToken = %q, want %q", p.SourceToken, SourceToken(subject))
		}
		wantKey := ""
		if usableAttribute(p.ID) && usableAttribute(p.Source) {
			wantKey = Key(p.SourceToken, p.Source, p.ID)
		}
		if p.Key != wantKey {
			t.Errorf("Key = %q, want %q", p.Key, wantKey)
		}
		if err != nil {
			var ie *InvalidEventError
			if !errors.As(err, &ie) || ie == nil {
				t.Fatalf("error %T %v is not an *InvalidEventError", err, err)
			}
			if ie.Field == "" || ie.Reason == "" || err.Error() != ie.Field+": "+ie.Reason {
				t.Errorf("malformed error %#v", ie)
			}
			if q := srcQuery(h, body); len(q) >= 6 && strings.Contains(err.Error(), "?"+q) {
				t.Errorf("error %q quotes the src query %q", err, q)
			}
			return
		}
		checkValid(t, p, rules)
	})
}

// checkValid asserts what a successful Decode promises.
func checkValid(t *testing.T, p Published, rules Rules) {
	t.Helper()
	a := p.Asset
	if p.Key == "" || p.Type != TypePublished || (p.Mode != ModeBinary && p.Mode != ModeStructured) {
		t.Errorf("valid event with key %q type %q mode %q", p.Key, p.Type, p.Mode)
	}
	if !rules.Sources.Allows(p.SourceToken, p.Source) {
		t.Errorf("source %q accepted on token %q", p.Source, p.SourceToken)
	}
	if _, err := validateSrc(a.Src, rules.AllowHTTP); err != nil {
		t.Errorf("accepted src fails validation: %v", err)
	}
	if a.Name == "" || len(a.Name) > MaxNameBytes || a.Filename == "" || a.AssetRepositoryID == "" {
		t.Errorf("required field missing or too long: %+v", a)
	}
	if !strings.Contains(strings.Join(AssetTypes(), ","), a.Type) || a.Type == "" {
		t.Errorf("type %q is not an AssetType", a.Type)
	}
	if len(a.Tags) > MaxTags {
		t.Errorf("%d tags", len(a.Tags))
	}
	for _, tag := range a.Tags {
		if len(tag) > MaxTagBytes {
			t.Errorf("tag of %d bytes", len(tag))
		}
	}
}

func parseFuzzHeaders(s string) map[string][]string {
	h := map[string][]string{}
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			h[k] = append(h[k], strings.TrimSpace(v))
		}
	}
	return h
}

// srcQuery digs the query string of data.src out of either mode's body.
func srcQuery(h map[string][]string, body []byte) string {
	var ev struct {
		Src  string `json:"src"`
		Data struct {
			Src string `json:"src"`
		} `json:"data"`
	}
	if json.Unmarshal(body, &ev) != nil {
		return ""
	}
	src := ev.Data.Src
	if _, binary := findHeader(h, "ce-specversion"); binary {
		src = ev.Src
	}
	u, err := url.Parse(src)
	if err != nil {
		return cutBefore(src, "?")
	}
	return u.RawQuery
}

func cutBefore(s, sep string) string {
	if _, after, ok := strings.Cut(s, sep); ok {
		return after
	}
	return ""
}

// FuzzHeaderValue checks the binding's percent-encoding: an encoded value is printable ASCII
// without space, double quote or a bare percent, and decodes to the UTF-8 value it came from;
// DecodeHeaderValue never panics and returns only UTF-8.
func FuzzHeaderValue(f *testing.F) {
	for _, s := range []string{"sku 1042", `"quoted"`, "100%", "Euro \u20ac", "a%2", "%C0%A0", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d, err := DecodeHeaderValue(s); err == nil && !utf8.ValidString(d) {
			t.Errorf("DecodeHeaderValue(%q) = %q, not UTF-8", s, d)
		}
		if !utf8.ValidString(s) {
			return
		}
		enc := EncodeHeaderValue(s)
		for i := 0; i < len(enc); i++ {
			if c := enc[i]; c <= ' ' || c >= 0x7f || c == '"' {
				t.Fatalf("EncodeHeaderValue(%q) = %q holds byte %#x", s, enc, c)
			}
		}
		got, err := DecodeHeaderValue(enc)
		if err != nil || got != s {
			t.Errorf("DecodeHeaderValue(EncodeHeaderValue(%q)) = %q, %v", s, got, err)
		}
	})
}
