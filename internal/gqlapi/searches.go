package gqlapi

import (
	"context"
	"strconv"
	"sync"
)

// searchOp is the operation name of a request carrying the first pages of several searches.
const searchOp = "FindAssetsByNames"

// searchDocuments caches searchesDocument's results, one per size.
var searchDocuments sync.Map // int -> string

// searchesDocument returns the query reading the first page of n searches in one request: n
// aliased assetSearch fields m0..m<n-1>, each with its own variables $repo<i> and $name<i>, and
// the arguments and selection of FindAssetsByName.
func searchesDocument(n int) string {
	return batchDocument(&searchDocuments, n, "query "+searchOp,
		func(i string) string { return "$repo" + i + ": ID!, $name" + i + ": String!" },
		func(i string) string {
			return "assetSearch(keyword: $name" + i + ", first: 100, filters: {assetRepositoryId: [$repo" + i + "]}, " +
				"sort: {createdDate: DESC}) { pageInfo { hasNextPage endCursor } edges { node { id assetId name assetRepositoryId createdDate } } }"
		})
}

// firstPage is the first page of one search, or its error.
type firstPage struct {
	page *FindAssetsByNameAssetSearchAssetConnection
	err  error
}

// searchArgs is what one search looks for.
type searchArgs struct{ repositoryID, name string }

// firstPages sends one request reading the first page of each search (at least two). Its
// errors are as for createAssets: a failure of the whole request as err, an error wrapping
// errRefused for a request refused before execution, and otherwise each member's page, its own
// error (classified as for a single search), or KindTransient when the answer has neither.
func (c *Client) firstPages(ctx context.Context, searches []searchArgs) ([]firstPage, error) {
	n := len(searches)
	vars := make(map[string]any, 2*n)
	for i, s := range searches {
		vars["repo"+strconv.Itoa(i)] = s.repositoryID
		vars["name"+strconv.Itoa(i)] = s.name
	}
	body, err := c.sendBatch(ctx, searchOp, searchesDocument(n), vars, n)
	if err != nil {
		return nil, err
	}
	pages, own, err := readMembers[FindAssetsByNameAssetSearchAssetConnection](searchOp, body, n)
	if err != nil {
		return nil, err
	}
	out := make([]firstPage, n)
	for i, p := range pages {
		if p != nil && len(own[i]) == 0 {
			out[i].page = p
			continue
		}
		out[i].err = memberFailure("FindAssetsByName", own[i], "the answer has no page for this search")
	}
	return out, nil
}
