package service_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/servicetest"
)

// SPEC "What happens to one delivery": a permission error is rejected only while the probe
// passes. Without AMPLIENCE_ASSET_REPOSITORY_ID the probe searches no repository and cannot see
// a lost DAM permission: after a permission error it searches the event's repository. A key
// that lost its permission there (and has no other repository known to work) pauses the
// replica instead of dead-lettering the event; an event naming a repository the key cannot use,
// while the repository of an earlier success still works, is the event's fault: rejected.
func TestPermissionErrorWithoutDefaultRepository(t *testing.T) {
	t.Parallel()
	const (
		usable = "QXNzZXRSZXBvc2l0b3J5OjAwMDAwMDAwLTAwMDAtNDAwMC04MDAwLTAwMDAwMDAwMDAwYQ=="
		denied = "QXNzZXRSZXBvc2l0b3J5OjAwMDAwMDAwLTAwMDAtNDAwMC04MDAwLTAwMDAwMDAwMDAwYg=="
	)
	event := func(name, repository string) servicetest.Event {
		ev := servicetest.NewEvent(name)
		ev.Data["assetRepositoryId"] = repository
		return ev
	}
	t.Run("permission lost", func(t *testing.T) {
		t.Parallel()
		e := servicetest.Start(t, servicetest.Options{Env: map[string]string{"AMPLIENCE_ASSET_REPOSITORY_ID": ""}})
		e.Sandbox.SetRepositoryAccess(denied, false)
		e.Publish(event("permission-lost", denied).Msg())

		e.WaitFor(15*time.Second, "/readyz to report the pause", func() bool {
			code, body := e.Get("/readyz")
			return code == http.StatusServiceUnavailable && strings.Contains(body, "paused") && strings.Contains(body, "403")
		})
		if n := len(e.Messages("ASSETS_DLQ")); n != 0 {
			t.Fatalf("%d dead letters while the key could not use its repository", n)
		}
		e.Sandbox.SetRepositoryAccess(denied, true)
		e.WaitFor(30*time.Second, "the event ingested once the permission is back", func() bool {
			return len(completions(t, e, "assets.ingested.")) == 1
		})
		if n := len(e.Messages("ASSETS_DLQ")); n != 0 {
			t.Errorf("%d dead letters, want none", n)
		}
	})
	t.Run("the event's repository", func(t *testing.T) {
		t.Parallel()
		e := servicetest.Start(t, servicetest.Options{Env: map[string]string{"AMPLIENCE_ASSET_REPOSITORY_ID": ""}})
		e.Sandbox.SetRepositoryAccess(denied, false)
		e.Publish(event("works", usable).Msg())
		e.WaitFor(15*time.Second, "the first event ingested", func() bool { return len(completions(t, e, "assets.ingested.")) == 1 })
		e.Publish(event("foreign-repository", denied).Msg())

		e.WaitFor(15*time.Second, "the second event dead-lettered", func() bool { return len(e.Messages("ASSETS_DLQ")) == 1 })
		if got := e.Messages("ASSETS_DLQ")[0].Header.Get("Ingest-Error-Class"); got != "rejected" {
			t.Errorf("dead letter class %q, want rejected", got)
		}
		if strings.Contains(e.Logs.String(), "replica paused") {
			t.Errorf("the replica paused for one event's repository")
		}
	})
}
