package sandbox_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/sandbox"
)

func TestCreateAssetThenFindIt(t *testing.T) {
	t.Parallel()
	env := newEnv(t, sandbox.Options{})
	tok := env.token(t)
	input := assetInput("sku-1042-front")
	input["tags"] = []string{"sku-1042", "spring-2027"}
	input["label"] = "SKU 1042, front view"
	ans := env.post(t, tok, `mutation Create($input: CreateAssetInput!) {
  created: createAsset(input: $input) { __typename id assetId name createdDate type tags label mimeType status }
}`, map[string]any{"input": input})
	var created struct {
		Created struct {
			Typename    string `json:"__typename"`
			ID, AssetID string
			Name        string
			CreatedDate string
			Type        string
			Tags        []string
			Label       string
			MimeType    string
			Status      string
		}
	}
	decodeData(t, ans, &created)
	c := created.Created
	idBytes, err := base64.StdEncoding.DecodeString(c.ID)
	if err != nil || string(idBytes) != "Asset:"+c.AssetID || len(c.AssetID) != 36 {
		t.Errorf("id %q decodes to %q, want Asset:<assetId %q>", c.ID, idBytes, c.AssetID)
	}
	if want := env.clock.Now().UTC().Format("2006-01-02T15:04:05.000Z"); c.CreatedDate != want {
		t.Errorf("createdDate %q, want the clock's %q", c.CreatedDate, want)
	}
	got := []string{c.Typename, c.Name, c.Type, strings.Join(c.Tags, ","), c.Label, c.MimeType, c.Status}
	want := []string{"Asset", "sku-1042-front", "IMAGE", "sku-1042,spring-2027", "SKU 1042, front view", "image/jpeg", "ACTIVE"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("created asset (-want +got):\n%s", diff)
	}
	stored := env.srv.Assets()
	if len(stored) != 1 || stored[0].ID != c.ID || stored[0].Src != input["src"] || stored[0].AssetRepositoryID != testRepo {
		t.Fatalf("Assets() = %+v, want the created asset", stored)
	}

	t.Run("node", func(t *testing.T) {
		t.Parallel()
		ans := env.post(t, tok, `query Get($id: ID!, $other: ID!) {
  node(id: $id) { __typename id ... on Asset { assetId ...names } }
  missing: node(id: $other) { id }
}
fragment names on Asset { name filename }`, map[string]any{"id": c.ID, "other": base64.StdEncoding.EncodeToString([]byte("Asset:nope"))})
		want := `{"node":{"__typename":"Asset","id":"` + c.ID + `","assetId":"` + c.AssetID +
			`","name":"sku-1042-front","filename":"sku-1042-front.jpg"},"missing":null}`
		if string(ans.Data) != want {
			t.Errorf("data\n%s\nwant\n%s", ans.Data, want)
		}
	})
	t.Run("assets", func(t *testing.T) {
		t.Parallel()
		ans := env.post(t, tok, `query($ids: [ID!]!) { assets(id: $ids) { name } }`,
			map[string]any{"ids": []string{c.ID, "not-an-id"}})
		if want := `{"assets":[{"name":"sku-1042-front"},null]}`; string(ans.Data) != want {
			t.Errorf("data %s, want %s", ans.Data, want)
		}
	})
	t.Run("assetSearch", func(t *testing.T) {
		t.Parallel()
		ans := env.post(t, tok, `query Find($keyword: String, $repositoryId: ID) {
  assetSearch(keyword: $keyword, first: 10, filters: {assetRepositoryId: [$repositoryId]}) {
    total edges { node { id name } }
  }
}`, map[string]any{"keyword": "SKU-1042", "repositoryId": testRepo})
		want := `{"assetSearch":{"total":1,"edges":[{"node":{"id":"` + c.ID + `","name":"sku-1042-front"}}]}}`
		if string(ans.Data) != want {
			t.Errorf("data %s, want %s", ans.Data, want)
		}
	})
	t.Run("skip and include", func(t *testing.T) {
		t.Parallel()
		ans := env.post(t, tok, `query($id: ID!, $yes: Boolean!) {
  node(id: $id) { id @skip(if: $yes) ... on Asset { name @include(if: $yes) label @include(if: false) } }
}`, map[string]any{"id": c.ID, "yes": true})
		if want := `{"node":{"name":"sku-1042-front"}}`; string(ans.Data) != want {
			t.Errorf("data %s, want %s", ans.Data, want)
		}
	})
}

func TestAssetsRefusesMoreThan1000IDs(t *testing.T) {
	t.Parallel()
	env := newEnv(t, sandbox.Options{})
	ids := make([]string, 1001)
	for i := range ids {
		ids[i] = "x"
	}
	query := `query($ids: [ID!]!) { assets(id: $ids) { id } }`
	tok := env.token(t)
	if ans := env.post(t, tok, query, map[string]any{"ids": ids[:1000]}); ans.Status != http.StatusOK {
		t.Errorf("1000 ids: status %d, want 200", ans.Status)
	}
	ans := env.post(t, tok, query, map[string]any{"ids": ids})
	if ans.Status != http.StatusBadRequest || len(ans.Errors) != 1 || ans.Errors[0].Extensions["code"] != "BAD_USER_INPUT" {
		t.Errorf("1001 ids: status %d errors %+v, want 400 BAD_USER_INPUT", ans.Status, ans.Errors)
	}
}

func TestAssetSearchPaging(t *testing.T) {
	t.Parallel()
	env := newEnv(t, sandbox.Options{})
	tok := env.token(t)
	for _, name := range []string{"Front-1", "back-1", "front-2", "FRONT-3", "side-1"} {
		env.create(t, tok, name)
		env.clock.Advance(time.Second)
	}
	other := assetInput("front-other-repo")
	other["assetRepositoryId"] = otherRepo
	if ans := env.post(t, tok, createMutation, map[string]any{"input": other}); ans.Status != http.StatusOK {
		t.Fatalf("create in another repository: %d %+v", ans.Status, ans.Errors)
	}

	const query = `query($after: String, $dir: SortDirection) {
  assetSearch(keyword: "front", first: 2, after: $after, filters: {assetRepositoryId: ["` + testRepo + `"]}, sort: {createdDate: $dir}) {
    total pageInfo { hasNextPage hasPreviousPage endCursor } edges { cursor node { name } }
  }
}`
	type page struct {
		AssetSearch struct {
			Total    int
			PageInfo struct {
				HasNextPage, HasPreviousPage bool
				EndCursor                    *string
			}
			Edges []struct {
				Node struct{ Name string }
			}
		}
	}
	walk := func(t *testing.T, dir any) (got []string) {
		vars := map[string]any{"dir": dir}
		for range 5 {
			var p page
			decodeData(t, env.post(t, tok, query, vars), &p)
			if p.AssetSearch.Total != 3 {
				t.Errorf("total %d, want 3", p.AssetSearch.Total)
			}
			for _, e := range p.AssetSearch.Edges {
				got = append(got, e.Node.Name)
			}
			if p.AssetSearch.PageInfo.HasPreviousPage != (vars["after"] != nil) {
				t.Errorf("hasPreviousPage %v with after %v", p.AssetSearch.PageInfo.HasPreviousPage, vars["after"])
			}
			if !p.AssetSearch.PageInfo.HasNextPage {
				return got
			}
			vars["after"] = *p.AssetSearch.PageInfo.EndCursor
		}
		t.Fatal("paging did not end")
		return nil
	}
	tests := []struct {
		name string
		dir  any
		want []string
	}{
		{name: "newest first by default", dir: nil, want: []string{"FRONT-3", "front-2", "Front-1"}},
		{name: "ascending", dir: "ASC", want: []string{"Front-1", "front-2", "FRONT-3"}},
		{name: "descending", dir: "DESC", want: []string{"FRONT-3", "front-2", "Front-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, walk(t, tt.dir)); diff != "" {
				t.Errorf("names across pages (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("bad cursor", func(t *testing.T) {
		t.Parallel()
		ans := env.post(t, tok, query, map[string]any{"after": "not-a-cursor"})
		if ans.Status != http.StatusBadRequest {
			t.Errorf("status %d, want 400", ans.Status)
		}
	})
}

func TestDuplicateNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		mode       sandbox.DuplicateNames
		wantAssets int
		wantCode   string
	}{
		{name: "accept", mode: sandbox.DuplicatesAccept, wantAssets: 3},
		{name: "reject", mode: sandbox.DuplicatesReject, wantAssets: 2, wantCode: "DUPLICATE_ASSET_NAME"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newEnv(t, sandbox.Options{DuplicateNames: tt.mode})
			tok := env.token(t)
			env.create(t, tok, "same")
			other := assetInput("same")
			other["assetRepositoryId"] = otherRepo
			if ans := env.post(t, tok, createMutation, map[string]any{"input": other}); len(ans.Errors) > 0 {
				t.Fatalf("the same name in another repository: %+v", ans.Errors)
			}

			ans := env.post(t, tok, createMutation, map[string]any{"input": assetInput("same")})
			if ans.Status != http.StatusOK {
				t.Errorf("status %d, want 200 either way", ans.Status)
			}
			var gotCode any
			if len(ans.Errors) > 0 {
				gotCode = ans.Errors[0].Extensions["code"]
				if want := []any{"createAsset"}; !cmp.Equal(want, ans.Errors[0].Path) {
					t.Errorf("error path %v, want %v", ans.Errors[0].Path, want)
				}
				if want := `{"createAsset":null}`; string(ans.Data) != want {
					t.Errorf("data %s, want %s", ans.Data, want)
				}
			}
			if (tt.wantCode == "" && gotCode != nil) || (tt.wantCode != "" && gotCode != tt.wantCode) {
				t.Errorf("error code %v, want %q", gotCode, tt.wantCode)
			}
			if got := len(env.srv.Assets()); got != tt.wantAssets {
				t.Errorf("%d assets, want %d", got, tt.wantAssets)
			}
		})
	}
}

func TestDuplicateNamesUnmarshalText(t *testing.T) {
	t.Parallel()
	var d sandbox.DuplicateNames
	if err := d.UnmarshalText([]byte("Reject")); err != nil || d != sandbox.DuplicatesReject {
		t.Errorf("UnmarshalText(Reject) = %v, %v", d, err)
	}
	if err := d.UnmarshalText([]byte("maybe")); err == nil {
		t.Error("UnmarshalText(maybe) succeeded")
	}
}
