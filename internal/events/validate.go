package events

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Limits of the data fields (SPEC "Inbound event").
const (
	MaxSrcBytes  = 2048
	MaxNameBytes = 255
	MaxTags      = 100
	MaxTagBytes  = 128
)

// MaxAttributeBytes bounds the id and source attributes, which every completion event, dead
// letter and ledger record repeats: an event with a longer one could never be recorded.
const MaxAttributeBytes = 4096

// DefaultAssetType is the type of an event that names none.
const DefaultAssetType = "IMAGE"

// AssetTypes returns the values of the schema's AssetType enum, the values
// data.type may take.
func AssetTypes() []string {
	return []string{"IMAGE", "VIDEO", "AUDIO", "DOCUMENT", "SET", "OTHER"}
}

// Rules are the deployment's settings that decide whether an event is valid.
type Rules struct {
	// AllowHTTP accepts http src URLs besides https (INGEST_ALLOW_HTTP).
	AllowHTTP bool
	// DefaultRepositoryID is the assetRepositoryId of events that name none
	// (AMPLIENCE_ASSET_REPOSITORY_ID); empty: such events are invalid.
	DefaultRepositoryID string
	// Sources restricts which CloudEvents sources may publish on which
	// subject token (INGEST_SOURCES); nil or empty: any.
	Sources Sources
}

// CreateAsset is the createAsset input of a valid event, defaults applied.
// It maps field for field onto Amplience's CreateAssetInput.
type CreateAsset struct {
	// Src is the URL Amplience fetches, exactly as the event gave it
	// (presigned query string included: never log it, see redact.URL).
	Src               string
	Name              string
	Filename          string
	Type              string // an AssetType value
	AssetRepositoryID string
	// Optional fields: nil means the event did not have them and they are
	// not sent, so Amplience applies its own defaults.
	AssetFolderID, Label, Locale, LocaleGroup *string
	// Tags is nil when the event has no tags.
	Tags []string
}

// validateData checks the data object of an event and maps it onto
// CreateAsset. A JSON null counts as absent.
func validateData(raw json.RawMessage, r Rules) (CreateAsset, *InvalidEventError) {
	var a CreateAsset
	if raw == nil {
		return a, invalid("data", "required")
	}
	var obj map[string]json.RawMessage
	if err := jsonObject(raw, &obj); err != nil {
		return a, invalid("data", "must be a JSON object: %s", err)
	}

	src, err := stringField(obj, "src")
	if err != nil {
		return a, err
	}
	if src == nil || *src == "" {
		return a, invalid("data.src", "required")
	}
	u, err := validateSrc(*src, r.AllowHTTP)
	if err != nil {
		return a, err
	}
	a.Src = *src

	name, err := stringField(obj, "name")
	if err != nil {
		return a, err
	}
	if name == nil || *name == "" {
		return a, invalid("data.name", "required")
	}
	if len(*name) > MaxNameBytes {
		return a, invalid("data.name", "%d bytes, at most %d", len(*name), MaxNameBytes)
	}
	a.Name = *name

	if a.Filename, err = filename(obj, u); err != nil {
		return a, err
	}
	if a.Type, err = assetType(obj); err != nil {
		return a, err
	}
	if a.AssetRepositoryID, err = repositoryID(obj, r.DefaultRepositoryID); err != nil {
		return a, err
	}
	for _, f := range []struct {
		name string
		dst  **string
	}{
		{"assetFolderId", &a.AssetFolderID},
		{"label", &a.Label},
		{"locale", &a.Locale},
		{"localeGroup", &a.LocaleGroup},
	} {
		if *f.dst, err = stringField(obj, f.name); err != nil {
			return a, err
		}
	}
	if a.Tags, err = tags(obj); err != nil {
		return a, err
	}
	return a, nil
}

// stringField returns data.<name>: nil when absent or null, an error when
// not a string.
func stringField(obj map[string]json.RawMessage, name string) (*string, *InvalidEventError) {
	raw, ok := obj[name]
	if !ok || jsonKind(raw) == "null" {
		return nil, nil
	}
	var s string
	if jsonKind(raw) != "string" || json.Unmarshal(raw, &s) != nil {
		return nil, invalid("data."+name, "must be a string, got %s", jsonKind(raw))
	}
	return &s, nil
}

// validateSrc enforces the src rule. Its errors never quote src: presigned
// URLs are credentials.
func validateSrc(src string, allowHTTP bool) (*url.URL, *InvalidEventError) {
	want := "an absolute https URL"
	if allowHTTP {
		want = "an absolute http or https URL"
	}
	if len(src) > MaxSrcBytes {
		return nil, invalid("data.src", "%d bytes, at most %d", len(src), MaxSrcBytes)
	}
	u, err := url.Parse(src)
	if err != nil || u.Opaque != "" || u.Host == "" {
		return nil, invalid("data.src", "must be %s", want)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && allowHTTP:
	case u.Scheme == "http":
		return nil, invalid("data.src", "must be %s (http is allowed only with INGEST_ALLOW_HTTP=true)", want)
	default:
		return nil, invalid("data.src", "must be %s", want)
	}
	if u.User != nil {
		return nil, invalid("data.src", "must not contain user-info")
	}
	if err := checkHost(u.Host); err != nil {
		return nil, err
	}
	return u, nil
}

// checkHost accepts a public DNS host name, with an optional port.
func checkHost(hostport string) *InvalidEventError {
	host := hostport
	if strings.HasPrefix(host, "[") {
		return invalid("data.src", "host must be a DNS name, not an IP address")
	}
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	name := strings.ToLower(strings.TrimSuffix(host, "."))
	if net.ParseIP(name) != nil {
		return invalid("data.src", "host must be a DNS name, not an IP address")
	}
	if name == "" || len(name) > 253 {
		return invalid("data.src", "host must be a DNS name")
	}
	labels := strings.Split(name, ".")
	for _, l := range labels {
		if !ldhLabel(l) {
			return invalid("data.src", "host %s must be a DNS name of ASCII letters, digits and hyphens (use punycode for international names)", quote(host))
		}
	}
	switch {
	case name == "localhost":
		return invalid("data.src", "host %s is not allowed: localhost", quote(host))
	case len(labels) == 1:
		return invalid("data.src", "host %s is not allowed: a single-label name", quote(host))
	}
	for _, suffix := range []string{"local", "localhost", "internal"} {
		if labels[len(labels)-1] == suffix {
			return invalid("data.src", "host %s is not allowed: .%s names are not public", quote(host), suffix)
		}
	}
	if tld := labels[len(labels)-1]; tld[0] < 'a' || tld[0] > 'z' {
		// A numeric last label is an IP address in another spelling
		// (127.1, 0x7f.1): resolvers accept those, DNS has no such TLD.
		return invalid("data.src", "host must be a DNS name, not an IP address")
	}
	return nil
}

// ldhLabel reports whether l is a DNS label: 1 to 63 letters, digits and
// hyphens (underscores tolerated), not starting or ending with a hyphen.
func ldhLabel(l string) bool {
	if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

// filename returns data.filename, or the last non-empty segment of the src
// URL's path, percent-decoded.
func filename(obj map[string]json.RawMessage, u *url.URL) (string, *InvalidEventError) {
	f, err := stringField(obj, "filename")
	if err != nil {
		return "", err
	}
	if f != nil {
		if *f == "" {
			return "", invalid("data.filename", "must not be empty; omit it to derive it from data.src")
		}
		return *f, nil
	}
	segs := strings.Split(u.EscapedPath(), "/")
	for i := len(segs) - 1; i >= 0; i-- {
		if segs[i] == "" {
			continue
		}
		name, perr := url.PathUnescape(segs[i])
		if perr != nil || name == "" {
			break
		}
		return name, nil
	}
	return "", invalid("data.filename", "required: data.src has no path segment to take it from")
}

func assetType(obj map[string]json.RawMessage) (string, *InvalidEventError) {
	t, err := stringField(obj, "type")
	if err != nil {
		return "", err
	}
	if t == nil {
		return DefaultAssetType, nil
	}
	types := AssetTypes()
	for _, v := range types {
		if *t == v {
			return v, nil
		}
	}
	return "", invalid("data.type", "%s is not an AssetType (%s)", quote(*t), strings.Join(types, ", "))
}

func repositoryID(obj map[string]json.RawMessage, def string) (string, *InvalidEventError) {
	id, err := stringField(obj, "assetRepositoryId")
	if err != nil {
		return "", err
	}
	switch {
	case id != nil && *id == "":
		return "", invalid("data.assetRepositoryId", "must not be empty")
	case id != nil:
		return *id, nil
	case def != "":
		return def, nil
	}
	return "", invalid("data.assetRepositoryId", "required: the event names none and AMPLIENCE_ASSET_REPOSITORY_ID is not set")
}

func tags(obj map[string]json.RawMessage) ([]string, *InvalidEventError) {
	raw, ok := obj["tags"]
	if !ok || jsonKind(raw) == "null" {
		return nil, nil
	}
	var items []json.RawMessage
	if jsonKind(raw) != "array" || json.Unmarshal(raw, &items) != nil {
		return nil, invalid("data.tags", "must be an array of strings, got %s", jsonKind(raw))
	}
	if len(items) > MaxTags {
		return nil, invalid("data.tags", "%d tags, at most %d", len(items), MaxTags)
	}
	out := make([]string, 0, len(items))
	for i, item := range items {
		field := fmt.Sprintf("data.tags[%d]", i)
		var s string
		if jsonKind(item) != "string" || json.Unmarshal(item, &s) != nil {
			return nil, invalid(field, "must be a string, got %s", jsonKind(item))
		}
		if len(s) > MaxTagBytes {
			return nil, invalid(field, "%d bytes, at most %d", len(s), MaxTagBytes)
		}
		out = append(out, s)
	}
	return out, nil
}
