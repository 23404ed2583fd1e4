package gqlapi

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
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
	// Errors, set by CreateAsset only, holds the errors the API answered together with the
	// created asset's id: the asset exists, and the caller logs them.
	Errors *Error
}

// CreateAsset calls the createAsset mutation once and returns the created asset; only its ID
// is read (the mutation selects nothing else).
//
// Every error is an *Error (or wraps ctx.Err() when ctx ended). Whether an asset was created
// when the call failed is unknown for KindTransient (a timeout may hide a success: reconcile
// with FindByName before calling again) and no asset was created for the other kinds. A
// createAsset that answers null without errors is KindTransient. An answer that holds an
// asset id and errors too is a success: the asset exists, and Asset.Errors holds the errors.
func (c *Client) CreateAsset(ctx context.Context, in CreateAssetInput) (Asset, error) {
	resp, err := CreateAsset(ctx, c.gql, in)
	if e, ok := errors.AsType[*Error](err); ok && e.data != nil {
		var partial CreateAssetResponse
		if json.Unmarshal(e.data, &partial) == nil && partial.CreateAsset != nil && partial.CreateAsset.Id != "" {
			return Asset{ID: partial.CreateAsset.Id, Errors: e}, nil
		}
	}
	if err != nil {
		return Asset{}, err
	}
	if resp.CreateAsset == nil || resp.CreateAsset.Id == "" {
		return Asset{}, &Error{Kind: KindTransient, Op: "CreateAsset", Status: http.StatusOK,
			Message: "createAsset answered without an asset id"}
	}
	return Asset{ID: resp.CreateAsset.Id}, nil
}

// maxSearchPages bounds FindByName: at most 3 pages of 100 assets, so that one reconciliation
// spends at most three requests of the shared budget.
const maxSearchPages = 3

// ErrSearchTooBroad is wrapped by the error of a FindByName whose matches created since the
// given time do not fit in the pages it may read: whether one of them is the asset sought
// cannot be told. Searching again finds the same or more.
var ErrSearchTooBroad = errors.New("the search matches too many assets to be read")

// FindByName returns the assets of the repository whose name is exactly name (case-sensitive)
// and that were created at or after createdSince, oldest first (ties by ID). assetSearch's
// keyword matching is loose, so it reads the search newest first and filters the results
// here, stopping at the first page that reaches assets created before createdSince (when the
// answer is in that order) and after maxSearchPages pages. With a zero createdSince every
// exact match is kept; otherwise an asset without a readable createdDate is left out.
//
// Errors are as for CreateAsset. A search that is not read to createdSince within
// maxSearchPages pages is KindRejected, wrapping ErrSearchTooBroad; one whose cursor does not
// advance is KindTransient. An empty repositoryID or name is KindRejected, with no request
// sent.
func (c *Client) FindByName(ctx context.Context, repositoryID, name string, createdSince time.Time) ([]Asset, error) {
	if err := checkSearch(repositoryID, name); err != nil {
		return nil, err
	}
	return c.findByName(ctx, repositoryID, name, createdSince, nil)
}

// checkSearch refuses a search for an empty repository id or name.
func checkSearch(repositoryID, name string) error {
	if repositoryID == "" || name == "" {
		return &Error{Kind: KindRejected, Op: "FindAssetsByName", Message: "the repository id and the name must not be empty"}
	}
	return nil
}

// findByName is FindByName, starting from first when it is not nil: the search's first page,
// read already.
func (c *Client) findByName(ctx context.Context, repositoryID, name string, createdSince time.Time,
	first *FindAssetsByNameAssetSearchAssetConnection) ([]Asset, error) {
	const op = "FindAssetsByName"
	var found []Asset
	seen := make(map[string]bool)
	cursor := ""
	// newestFirst stays true while every dated asset read is no newer than the one before, so
	// an asset older than createdSince proves that the rest are older too.
	newestFirst, last := true, time.Time{}
	for page := 0; ; page++ {
		if page == maxSearchPages {
			return nil, &Error{Kind: KindRejected, Op: op, Err: ErrSearchTooBroad,
				Message: fmt.Sprintf("more than %d assets whose names contain the name were created since the first attempt; "+
					"whether one of them is the event's cannot be told", maxSearchPages*100)}
		}
		conn := first
		if page > 0 || conn == nil {
			resp, err := FindAssetsByName(ctx, c.gql, repositoryID, name, cursor)
			if err != nil {
				return nil, err
			}
			conn = &resp.AssetSearch
		}
		reachedSince := false
		for _, edge := range conn.Edges {
			a := toAsset(edge.Node.AssetFields)
			if !a.CreatedDate.IsZero() {
				newestFirst = newestFirst && (last.IsZero() || !a.CreatedDate.After(last))
				last = a.CreatedDate
				reachedSince = reachedSince || a.CreatedDate.Before(createdSince)
			}
			if a.ID == "" || a.Name != name || seen[a.ID] {
				continue
			}
			if !createdSince.IsZero() && (a.CreatedDate.IsZero() || a.CreatedDate.Before(createdSince)) {
				continue
			}
			seen[a.ID] = true
			found = append(found, a)
		}
		if !conn.PageInfo.HasNextPage || (reachedSince && newestFirst) {
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
