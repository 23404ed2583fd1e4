package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/events"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/ledger"
)

// createAssetQuery is the mutation the minimal loop sends: the same selection as the service's.
const createAssetQuery = `mutation CreateAsset($input: CreateAssetInput!) {
  createAsset(input: $input) { id }
}`

// minimal is the baseline: the least any consumer must do per event, with no telemetry and no
// logging. concurrency workers share one Messages iterator on the service's durable consumer;
// each decodes the event, POSTs createAsset with a token fetched once, publishes asset.ingested
// and waits for the stream's acknowledgement, then acks.
//
// With ledger set it also makes the ledger writes SPEC requires of every event, as the
// service's first delivery does: the claim (a key-value Create) before the call, the asset
// index (a Create) after it, then the created entry (a compare-and-set Update) in flight
// together with the completion. That is the least a consumer of this contract must do; the
// difference to the service is the service's own cost (decisions, tracing, metrics, flow
// control), and the difference to the plain loop is the contract's.
type minimal struct {
	r           *rig
	concurrency int
	ledger      bool
	client      *http.Client
	token       string
}

// startMinimal starts the minimal loop, with the ledger writes when ledger is set; it stops
// when the test ends.
func (r *rig) startMinimal(concurrency int, ledger bool) {
	tb := r.tb
	tb.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = concurrency
	m := &minimal{r: r, concurrency: concurrency, ledger: ledger, client: &http.Client{Transport: tr, Timeout: r.cfg.Amplience.Timeout}}
	if err := m.fetchToken(); err != nil {
		tb.Fatalf("minimal loop: %v", err)
	}
	it, err := r.bound.Consumer.Messages(jetstream.PullMaxMessages(concurrency))
	if err != nil {
		tb.Fatalf("minimal loop: consuming: %v", err)
	}
	var wg sync.WaitGroup
	var nextErrs atomic.Int64
	var lastErr atomic.Value
	for range concurrency {
		wg.Go(func() {
			for {
				msg, err := it.Next()
				if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
					return
				}
				if err != nil {
					nextErrs.Add(1)
					lastErr.Store(err.Error())
					continue
				}
				if err := m.handle(msg); err != nil {
					tb.Errorf("minimal loop: %v", err)
					_ = msg.Nak()
				}
			}
		})
	}
	tb.Cleanup(func() {
		it.Stop()
		wg.Wait()
		tr.CloseIdleConnections()
		if n := nextErrs.Load(); n > 0 {
			tb.Logf("minimal loop: %d errors from the message iterator, the last: %v", n, lastErr.Load())
		}
	})
}

func (m *minimal) fetchToken() error {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {clientSecret}}
	resp, err := m.client.PostForm(m.r.cfg.Amplience.AuthURL, form)
	if err != nil {
		return fmt.Errorf("fetching a token: %w", err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		return fmt.Errorf("fetching a token: status %d, %v", resp.StatusCode, err)
	}
	m.token = tok.AccessToken
	return nil
}

// inbound is what the minimal loop reads of an event.
type inbound struct {
	ID     string `json:"id"`
	Source string `json:"source"`
	Data   struct {
		Src  string `json:"src"`
		Name string `json:"name"`
	} `json:"data"`
}

type createAssetInput struct {
	Src               string `json:"src"`
	Name              string `json:"name"`
	Filename          string `json:"filename"`
	Type              string `json:"type"`
	AssetRepositoryID string `json:"assetRepositoryId"`
}

type gqlRequest struct {
	Query         string         `json:"query"`
	OperationName string         `json:"operationName"`
	Variables     map[string]any `json:"variables"`
}

type gqlResponse struct {
	Data struct {
		CreateAsset *struct {
			ID string `json:"id"`
		} `json:"createAsset"`
	} `json:"data"`
	Errors []json.RawMessage `json:"errors"`
}

type ingestedData struct {
	EventID           string `json:"eventId"`
	EventSource       string `json:"eventSource"`
	AssetID           string `json:"assetId"`
	Name              string `json:"name"`
	AssetRepositoryID string `json:"assetRepositoryId"`
	Src               string `json:"src"`
	Attempts          int    `json:"attempts"`
}

type ingestedEvent struct {
	SpecVersion string       `json:"specversion"`
	ID          string       `json:"id"`
	Source      string       `json:"source"`
	Type        string       `json:"type"`
	Time        string       `json:"time"`
	Data        ingestedData `json:"data"`
}

func (m *minimal) handle(msg jetstream.Msg) error {
	var ev inbound
	if err := json.Unmarshal(msg.Data(), &ev); err != nil {
		return fmt.Errorf("decoding the event: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), m.r.cfg.Amplience.Timeout)
	defer cancel()
	var key string
	var rev uint64
	if m.ledger {
		key = "event." + events.Key(msg.Subject()[strings.LastIndexByte(msg.Subject(), '.')+1:], ev.Source, ev.ID)
		now := time.Now().UTC()
		claim, err := json.Marshal(ledger.Entry{State: ledger.StatePending, Owner: "bench-minimal", Heartbeat: now, Attempts: 1, FirstAttempt: now})
		if err != nil {
			return err
		}
		if rev, err = m.r.bound.Ledger.Create(ctx, key, claim); err != nil {
			return fmt.Errorf("claiming: %w", err)
		}
	}
	filename := ev.Data.Src[strings.LastIndexByte(ev.Data.Src, '/')+1:]
	body, err := json.Marshal(gqlRequest{Query: createAssetQuery, OperationName: "CreateAsset", Variables: map[string]any{
		"input": createAssetInput{Src: ev.Data.Src, Name: ev.Data.Name, Filename: filename, Type: "IMAGE", AssetRepositoryID: repository},
	}})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.r.cfg.Amplience.APIURL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+m.token)
	resp, err := m.client.Do(req)
	if err != nil {
		return fmt.Errorf("createAsset: %w", err)
	}
	var out gqlResponse
	err = json.NewDecoder(resp.Body).Decode(&out)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || len(out.Errors) > 0 || out.Data.CreateAsset == nil {
		return fmt.Errorf("createAsset: status %d, %d errors, decoding: %v", resp.StatusCode, len(out.Errors), err)
	}

	id := ev.ID + ":ingested"
	done, err := json.Marshal(ingestedEvent{
		SpecVersion: "1.0", ID: id, Source: "urn:bench-minimal", Type: "asset.ingested",
		Time: time.Now().UTC().Format(time.RFC3339Nano),
		Data: ingestedData{EventID: ev.ID, EventSource: ev.Source, AssetID: out.Data.CreateAsset.ID,
			Name: ev.Data.Name, AssetRepositoryID: repository, Src: ev.Data.Src, Attempts: 1},
	})
	if err != nil {
		return err
	}
	out2 := nats.NewMsg("assets.ingested.akeneo")
	out2.Data = done
	out2.Header.Set("Nats-Msg-Id", id)
	if !m.ledger {
		if _, err := m.r.js.PublishMsg(ctx, out2); err != nil {
			return fmt.Errorf("publishing the completion: %w", err)
		}
		return msg.Ack()
	}

	assetID := out.Data.CreateAsset.ID
	sum := sha256.Sum256([]byte(assetID))
	if _, err := m.r.bound.Ledger.Create(ctx, "asset."+hex.EncodeToString(sum[:]), []byte(key)); err != nil {
		return fmt.Errorf("recording the asset: %w", err)
	}
	created, err := json.Marshal(ledger.Entry{State: ledger.StateCreated, Attempts: 1, AssetID: assetID, Completion: done})
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	var ledgerErr error
	wg.Go(func() { _, ledgerErr = m.r.bound.Ledger.Update(ctx, key, created, rev) })
	_, pubErr := m.r.js.PublishMsg(ctx, out2)
	wg.Wait()
	if err := errors.Join(ledgerErr, pubErr); err != nil {
		return fmt.Errorf("recording the created asset: %w", err)
	}
	return msg.Ack()
}
