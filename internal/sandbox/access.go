package sandbox

import "sync"

// repositoryAccess holds the repositories the API key may no longer use, as when a key loses
// its DAM permission on them: createAsset and assetSearch there answer HTTP 200 with an error
// naming status 403 and no code, as Amplience has been seen doing.
type repositoryAccess struct {
	mu     sync.Mutex
	denied map[string]bool
}

// SetRepositoryAccess denies (ok false) or restores (ok true) the API key's access to the
// repository with the given id.
func (s *Server) SetRepositoryAccess(repositoryID string, ok bool) {
	s.access.mu.Lock()
	defer s.access.mu.Unlock()
	if s.access.denied == nil {
		s.access.denied = map[string]bool{}
	}
	if ok {
		delete(s.access.denied, repositoryID)
	} else {
		s.access.denied[repositoryID] = true
	}
}

// check refuses when any of the repositories is denied.
func (a *repositoryAccess) check(repositoryIDs ...string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, id := range repositoryIDs {
		if a.denied[id] {
			return &apiError{message: "Request failed with status code 403"}
		}
	}
	return nil
}
