package sandbox

import (
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Page sizes of assetSearch. Amplience does not publish its own; the sandbox refuses a larger
// first, so a client asking for more finds out in tests.
const (
	defaultPageSize = 20
	maxPageSize     = 100
)

// cursorPrefix starts every decoded cursor: an opaque base64 string holding the offset.
const cursorPrefix = "arrayconnection:"

// assetSearch resolves Query.assetSearch: keyword (case-insensitive substring of the name),
// filters {assetRepositoryId, assetFolderId} (any of the listed ids), sort {createdDate: ASC |
// DESC} (newest first when absent), first (default 20, at most 100) and after (a cursor).
// Cursors are offsets into the current result, so results created between two pages shift them.
func (s *Server) assetSearch(args map[string]any) (any, error) {
	q := searchQuery{keyword: str(args["keyword"])}
	if filters, ok := args["filters"].(map[string]any); ok {
		q.repositoryIDs = strs(filters["assetRepositoryId"])
		q.folderIDs = strs(filters["assetFolderId"])
	}
	if err := s.access.check(q.repositoryIDs...); err != nil {
		return nil, err
	}
	if sort, ok := args["sort"].(map[string]any); ok {
		switch dir := str(sort["createdDate"]); dir {
		case "ASC":
			q.ascending = true
		case "DESC", "":
		default:
			return nil, badInput(fmt.Sprintf("sort.createdDate: value %q does not exist in \"SortDirection\" enum", dir))
		}
	}
	first := defaultPageSize
	if v := args["first"]; v != nil {
		n, ok := toInt(v)
		if !ok || n < 0 || n > maxPageSize {
			return nil, badInput(fmt.Sprintf("first must be between 0 and %d", maxPageSize))
		}
		first = n
	}
	start := 0
	if after := str(args["after"]); after != "" {
		n, ok := decodeCursor(after)
		if !ok {
			return nil, badInput("after is not a cursor that assetSearch returned")
		}
		start = n + 1
	}

	matches := s.store.search(q)
	from, to := min(start, len(matches)), min(start+first, len(matches))
	conn := connectionObject{total: len(matches)}
	for i, a := range matches[from:to] {
		conn.edges = append(conn.edges, edgeObject{cursor: encodeCursor(from + i), node: assetObject(a)})
	}
	conn.pageInfo = pageInfoObject{hasNext: to < len(matches), hasPrevious: from > 0}
	if len(conn.edges) > 0 {
		conn.pageInfo.start = encodeCursor(from)
		conn.pageInfo.end = encodeCursor(to - 1)
	}
	return conn, nil
}

func encodeCursor(offset int) string {
	return base64.StdEncoding.EncodeToString([]byte(cursorPrefix + strconv.Itoa(offset)))
}

func decodeCursor(cursor string) (int, bool) {
	b, err := base64.StdEncoding.DecodeString(cursor)
	if err != nil {
		return 0, false
	}
	digits, ok := strings.CutPrefix(string(b), cursorPrefix)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(digits)
	return n, err == nil && n >= 0
}

// toInt returns an Int argument as an int: literals arrive as int64, variables as float64.
func toInt(v any) (int, bool) {
	switch v := v.(type) {
	case int:
		return v, true
	case int64:
		return int(v), v >= math.MinInt32 && v <= math.MaxInt32
	case float64:
		return int(v), v == math.Trunc(v) && v >= math.MinInt32 && v <= math.MaxInt32
	}
	return 0, false
}

// connectionObject resolves AssetConnection's fields.
type connectionObject struct {
	total    int
	edges    []object
	pageInfo pageInfoObject
}

func (connectionObject) typeName() string { return "AssetConnection" }

func (c connectionObject) resolve(field string, _ map[string]any) (any, error) {
	switch field {
	case "total":
		return c.total, nil
	case "edges":
		if c.edges == nil {
			return []object{}, nil
		}
		return c.edges, nil
	case "pageInfo":
		return c.pageInfo, nil
	}
	return nil, fmt.Errorf("the sandbox does not implement AssetConnection.%s", field)
}

// edgeObject resolves AssetEdge's fields.
type edgeObject struct {
	cursor string
	node   assetObject
}

func (edgeObject) typeName() string { return "AssetEdge" }

func (e edgeObject) resolve(field string, _ map[string]any) (any, error) {
	switch field {
	case "cursor":
		return e.cursor, nil
	case "node":
		return e.node, nil
	}
	return nil, fmt.Errorf("the sandbox does not implement AssetEdge.%s", field)
}

// pageInfoObject resolves PageInfo's fields.
type pageInfoObject struct {
	hasNext, hasPrevious bool
	start, end           string
}

func (pageInfoObject) typeName() string { return "PageInfo" }

func (p pageInfoObject) resolve(field string, _ map[string]any) (any, error) {
	switch field {
	case "hasNextPage":
		return p.hasNext, nil
	case "hasPreviousPage":
		return p.hasPrevious, nil
	case "startCursor":
		return orNil(p.start), nil
	case "endCursor":
		return orNil(p.end), nil
	}
	return nil, fmt.Errorf("the sandbox does not implement PageInfo.%s", field)
}
