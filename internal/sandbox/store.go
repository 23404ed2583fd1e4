package sandbox

import (
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Asset is an asset the sandbox created.
type Asset struct {
	ID                 string    `json:"id"`      // base64("Asset:" + AssetID)
	AssetID            string    `json:"assetId"` // a UUID
	Name               string    `json:"name"`
	Filename           string    `json:"filename"`
	Src                string    `json:"src,omitempty"`
	Type               string    `json:"type"`
	AssetRepositoryID  string    `json:"assetRepositoryId"`
	AssetFolderID      string    `json:"assetFolderId,omitempty"`
	Label              string    `json:"label"`
	Locale             string    `json:"locale,omitempty"`
	LocaleGroup        string    `json:"localeGroup,omitempty"`
	Tags               []string  `json:"tags,omitempty"`
	Contents           []string  `json:"contents,omitempty"`
	ThumbFile          string    `json:"thumbFile,omitempty"`
	WorkflowAssignedTo string    `json:"workflowAssignedTo,omitempty"`
	WorkflowStatus     string    `json:"workflowStatus,omitempty"`
	CreatedDate        time.Time `json:"createdDate"`
}

// errDuplicateName is returned by store.create when the name exists and duplicates are refused.
var errDuplicateName = errors.New("an asset with this name already exists in the repository")

// globalID returns the API's id for an object: base64 of "<Type>:<uuid>".
func globalID(typ, id string) string {
	return base64.StdEncoding.EncodeToString([]byte(typ + ":" + id))
}

// parseGlobalID splits a global id into its type and uuid; ok is false when id is not one.
func parseGlobalID(id string) (typ, raw string, ok bool) {
	b, err := base64.StdEncoding.DecodeString(id)
	if err != nil {
		return "", "", false
	}
	return strings.Cut(string(b), ":")
}

// store holds the created assets in memory, oldest first.
type store struct {
	mu     sync.Mutex
	assets []Asset
	byID   map[string]int // Asset.ID -> index in assets
}

func newStore() *store {
	return &store{byID: map[string]int{}}
}

// create stores a, assigning its ids and createdDate (now, to the millisecond). With rejectDuplicates, a name already used
// in the same repository fails with errDuplicateName.
func (s *store) create(a Asset, now time.Time, rejectDuplicates bool) (Asset, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rejectDuplicates {
		for _, b := range s.assets {
			if b.Name == a.Name && b.AssetRepositoryID == a.AssetRepositoryID {
				return Asset{}, errDuplicateName
			}
		}
	}
	a.AssetID = uuid.NewString()
	a.ID = globalID("Asset", a.AssetID)
	a.CreatedDate = now.UTC().Truncate(time.Millisecond) // DateTime values carry milliseconds
	s.byID[a.ID] = len(s.assets)
	s.assets = append(s.assets, a)
	return a, nil
}

// get returns the asset with the global id, if any.
func (s *store) get(id string) (Asset, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.byID[id]
	if !ok {
		return Asset{}, false
	}
	return s.assets[i], true
}

// all returns a copy of every asset, oldest first.
func (s *store) all() []Asset {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Asset, len(s.assets))
	for i, a := range s.assets {
		a.Tags = slices.Clone(a.Tags)
		a.Contents = slices.Clone(a.Contents)
		out[i] = a
	}
	return out
}

func (s *store) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.assets = nil
	clear(s.byID)
}

// searchQuery is what assetSearch filters and sorts by. Empty lists do not filter.
type searchQuery struct {
	keyword       string // case-insensitive substring of the name
	repositoryIDs []string
	folderIDs     []string
	ascending     bool // by createdDate; false: newest first
}

// search returns the assets that match q, in q's order.
func (s *store) search(q searchQuery) []Asset {
	keyword := strings.ToLower(q.keyword)
	var out []Asset
	for _, a := range s.all() {
		switch {
		case keyword != "" && !strings.Contains(strings.ToLower(a.Name), keyword):
		case len(q.repositoryIDs) > 0 && !slices.Contains(q.repositoryIDs, a.AssetRepositoryID):
		case len(q.folderIDs) > 0 && !slices.Contains(q.folderIDs, a.AssetFolderID):
		default:
			out = append(out, a)
		}
	}
	slices.SortStableFunc(out, func(a, b Asset) int { return a.CreatedDate.Compare(b.CreatedDate) })
	if !q.ascending {
		slices.Reverse(out)
	}
	return out
}
