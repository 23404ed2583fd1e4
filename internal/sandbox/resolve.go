package sandbox

import (
	"errors"
	"fmt"
	"mime"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/vektah/gqlparser/v2/ast"
)

// maxAssetsIDs is the documented limit of assets(id: [...]).
const maxAssetsIDs = 1000

// dateTimeLayout renders DateTime values: UTC, milliseconds.
const dateTimeLayout = "2006-01-02T15:04:05.000Z"

// execute runs a prepared operation against the store.
func (s *Server) execute(e *execution) *reply {
	var root object = queryRoot{s: s}
	if e.op.Operation == ast.Mutation {
		root = mutationRoot{s: s}
	}
	return e.run(root)
}

// queryRoot resolves Query's fields.
type queryRoot struct{ s *Server }

func (queryRoot) typeName() string { return "Query" }

func (q queryRoot) resolve(field string, args map[string]any) (any, error) {
	switch field {
	case "node":
		return q.node(str(args["id"])), nil
	case "assets":
		ids := strs(args["id"])
		if len(ids) > maxAssetsIDs {
			return nil, badInput(fmt.Sprintf("assets accepts at most %d ids, got %d", maxAssetsIDs, len(ids)))
		}
		out := make([]object, len(ids))
		for i, id := range ids {
			out[i] = q.node(id)
		}
		return out, nil
	case "assetSearch":
		return q.s.assetSearch(args)
	}
	return nil, fmt.Errorf("the sandbox does not implement Query.%s", field)
}

// node returns the asset with the global id, or nil (never a typed nil).
func (q queryRoot) node(id string) object {
	if typ, _, ok := parseGlobalID(id); !ok || typ != "Asset" {
		return nil
	}
	if a, ok := q.s.store.get(id); ok {
		return assetObject(a)
	}
	return nil
}

// mutationRoot resolves Mutation's fields.
type mutationRoot struct{ s *Server }

func (mutationRoot) typeName() string { return "Mutation" }

func (m mutationRoot) resolve(field string, args map[string]any) (any, error) {
	if field != "createAsset" {
		return nil, fmt.Errorf("the sandbox does not implement Mutation.%s", field)
	}
	input, _ := args["input"].(map[string]any)
	a, err := assetFromInput(m.s.schema, input)
	if err != nil {
		return nil, err
	}
	if err := m.s.access.check(a.AssetRepositoryID); err != nil {
		return nil, err
	}
	created, err := m.s.store.create(a, m.s.now(), m.s.opts.DuplicateNames == DuplicatesReject)
	if errors.Is(err, errDuplicateName) {
		return nil, &apiError{code: codeDuplicateName,
			message: fmt.Sprintf("an asset named %q already exists in this repository", a.Name)}
	}
	if err != nil {
		return nil, err
	}
	m.s.log.Info("asset created", "asset_id", created.AssetID, "name", created.Name)
	return assetObject(created), nil
}

// assetFromInput checks a coerced CreateAssetInput beyond what the schema says: enum values in
// their exact case (coercion accepts any case), non-empty name and filename, and an absolute
// http(s) src without user-info.
func assetFromInput(schema *ast.Schema, in map[string]any) (Asset, error) {
	a := Asset{
		Name:               str(in["name"]),
		Filename:           str(in["filename"]),
		Src:                str(in["src"]),
		Type:               str(in["type"]),
		AssetRepositoryID:  str(in["assetRepositoryId"]),
		AssetFolderID:      str(in["assetFolderId"]),
		Label:              str(in["label"]),
		Locale:             str(in["locale"]),
		LocaleGroup:        str(in["localeGroup"]),
		Tags:               strs(in["tags"]),
		Contents:           strs(in["contents"]),
		ThumbFile:          str(in["thumbFile"]),
		WorkflowAssignedTo: str(in["workflowAssignedTo"]),
		WorkflowStatus:     str(in["workflowStatus"]),
	}
	for field, enum := range map[string]string{"type": "AssetType", "workflowStatus": "WorkflowStatus"} {
		if v := str(in[field]); v != "" && schema.Types[enum].EnumValues.ForName(v) == nil {
			return Asset{}, badInput(fmt.Sprintf("input.%s: value %q does not exist in %q enum", field, v, enum))
		}
	}
	switch {
	case strings.TrimSpace(a.Name) == "":
		return Asset{}, badInput("input.name must not be empty")
	case strings.TrimSpace(a.Filename) == "":
		return Asset{}, badInput("input.filename must not be empty")
	case strings.TrimSpace(a.AssetRepositoryID) == "":
		return Asset{}, badInput("input.assetRepositoryId must not be empty")
	}
	if a.Src != "" {
		u, err := url.Parse(a.Src)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
			return Asset{}, badInput("input.src must be an absolute http or https URL without user-info")
		}
	}
	if a.Label == "" {
		a.Label = a.Filename
	}
	return a, nil
}

// assetObject resolves Asset's fields.
type assetObject Asset

func (assetObject) typeName() string { return "Asset" }

func (a assetObject) resolve(field string, _ map[string]any) (any, error) {
	switch field {
	case "id":
		return a.ID, nil
	case "assetId":
		return a.AssetID, nil
	case "assetRepositoryId":
		return orNil(a.AssetRepositoryID), nil
	case "assetFolderId":
		return orNil(a.AssetFolderID), nil
	case "createdDate":
		return formatTime(a.CreatedDate), nil
	case "status":
		return "ACTIVE", nil
	case "published":
		return false, nil
	case "filename":
		return a.Filename, nil
	case "label":
		return a.Label, nil
	case "name":
		return a.Name, nil
	case "mimeType":
		return orNil(mime.TypeByExtension(strings.ToLower(path.Ext(a.Filename)))), nil
	case "locale":
		return orNil(a.Locale), nil
	case "localeGroup":
		return orNil(a.LocaleGroup), nil
	case "thumbFile":
		return orNil(a.ThumbFile), nil
	case "tags":
		return a.Tags, nil
	case "type":
		return a.Type, nil
	case "revisionNumber":
		return 1.0, nil
	case "workflowAssignedTo":
		return orNil(a.WorkflowAssignedTo), nil
	case "workflowStatus":
		return orNil(a.WorkflowStatus), nil
	case "contents":
		return a.Contents, nil
	case "file", "thumbUrl", "workflowAssignedBy", "workflowAssignedAt":
		return nil, nil // the sandbox stores no file and runs no workflow
	}
	return nil, fmt.Errorf("the sandbox does not implement Asset.%s", field)
}

// str returns v as a string: strings as they are, other scalars (IDs given as numbers)
// formatted, nil as "".
func str(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		return fmt.Sprint(v)
	}
}

// strs returns a list value as strings, skipping nulls.
func strs(v any) []string {
	var list []any
	switch v := v.(type) {
	case nil:
		return nil
	case []any:
		list = v
	case []string: // coercion wraps a single value in a typed slice
		return v
	default:
		list = []any{v}
	}
	out := make([]string, 0, len(list))
	for _, item := range list {
		if item != nil {
			out = append(out, str(item))
		}
	}
	return out
}

// orNil returns nil for "", so optional fields answer null.
func orNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// formatTime renders a DateTime value.
func formatTime(t time.Time) string { return t.UTC().Format(dateTimeLayout) }
