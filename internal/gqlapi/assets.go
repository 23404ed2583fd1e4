package gqlapi

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"
)

// Asset is what the Client reads of an Amplience asset.
type Asset struct {
	// ID is the asset's global id (base64 of "Asset:<uuid>"), the one the API takes back.
	ID string
	// AssetID is the asset's UUID.
	AssetID string
	// Name is the asset's name.
	Name string
	// AssetRepositoryID is the global id of the asset's repository; empty if not returned.
	AssetRepositoryID string
	// CreatedDate is when Amplience created the asset; zero when the API gave none or gave
	// a value that is not an RFC 3339 date.
	CreatedDate time.Time
}

// CreateAsset calls the createAsset mutation once and returns the created asset; only its ID
// is read (the mutation selects nothing else).
//
// Every error is an *Error (or wraps ctx.Err() when ctx ended). Whether an asset was created
// when the call failed is unknown for KindTransient (a timeout may hide a success: reconcile
// with FindByName before calling again) and no asset was created for the other kinds. A
// createAsset that answers null without errors is KindTransient.
func (c *Client) CreateAsset(ctx context.Context, in CreateAssetInput) (Asset, error) {
	resp, err := CreateAsset(ctx, c.gql, in)
	if err != nil {
		return Asset{}, err
	}
	if resp.CreateAsset == nil || resp.CreateAsset.Id == "" {
		return Asset{}, &Error{Kind: KindTransient, Op: "CreateAsset", Status: http.StatusOK,
			Message: "createAsset answered without an asset id"}
	}
	return Asset{ID: resp.CreateAsset.Id}, nil
}

// maxSearchPages bounds FindByName: 50 pages of 100 assets.
const maxSearchPages = 50

// FindByName returns the assets of the repository whose name is exactly name (case-sensitive)
// and that were created at or after createdSince, oldest first (ties by ID). It pages through
// every result of assetSearch, whose keyword matching is loose, and filters them here. With a
// zero createdSince every exact match is kept; otherwise an asset without a readable
// createdDate is left out.
//
// Errors are as for CreateAsset. A search matching more than 5,000 assets, which cannot be
// read in full, is KindRejected; one whose cursor does not advance is KindTransient. An empty
// repositoryID or name is KindRejected, with no request sent.
func (c *Client) FindByName(ctx context.Context, repositoryID, name string, createdSince time.Time) ([]Asset, error) {
	const op = "FindAssetsByName"
	if repositoryID == "" || name == "" {
		return nil, &Error{Kind: KindRejected, Op: op, Message: "the repository id and the name must not be empty"}
	}
	var found []Asset
	seen := make(map[string]bool)
	cursor := ""
	for page := 0; ; page++ {
		if page == maxSearchPages {
			return nil, &Error{Kind: KindRejected, Op: op,
				Message: fmt.Sprintf("more than %d assets match the name; the search cannot be read in full", maxSearchPages*100)}
		}
		resp, err := FindAssetsByName(ctx, c.gql, repositoryID, name, cursor)
		if err != nil {
			return nil, err
		}
		conn := resp.AssetSearch
		for _, edge := range conn.Edges {
			a := toAsset(edge.Node.AssetFields)
			if a.ID == "" || a.Name != name || seen[a.ID] {
				continue
			}
			if !createdSince.IsZero() && (a.CreatedDate.IsZero() || a.CreatedDate.Before(createdSince)) {
				continue
			}
			seen[a.ID] = true
			found = append(found, a)
		}
		if !conn.PageInfo.HasNextPage {
			break
		}
		if conn.PageInfo.EndCursor == "" || conn.PageInfo.EndCursor == cursor {
			return nil, &Error{Kind: KindTransient, Op: op, Status: http.StatusOK,
				Message: "the search says it has more pages but its cursor does not advance"}
		}
		cursor = conn.PageInfo.EndCursor
	}
	slices.SortStableFunc(found, func(a, b Asset) int {
		return cmp.Or(a.CreatedDate.Compare(b.CreatedDate), cmp.Compare(a.ID, b.ID))
	})
	return found, nil
}

func toAsset(f AssetFields) Asset {
	return Asset{
		ID:                f.Id,
		AssetID:           f.AssetId,
		Name:              f.Name,
		AssetRepositoryID: f.AssetRepositoryId,
		CreatedDate:       parseDateTime(f.CreatedDate),
	}
}

// parseDateTime reads a DateTime value: RFC 3339 (fractional seconds allowed), or the same
// without a zone, taken as UTC. Anything else is the zero time.
func parseDateTime(s string) time.Time {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}
