package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// jsErrCodeStreamSubjectOverlap is the JetStream error code for a stream
// whose subjects overlap those of another stream.
const jsErrCodeStreamSubjectOverlap jetstream.ErrorCode = 10065

// streamSpec is one stream the service depends on: its role, for messages,
// and the configuration Ensure creates it with.
type streamSpec struct {
	role string
	cfg  jetstream.StreamConfig
}

// streamSpecs returns the four streams of r in the order Ensure handles them.
func streamSpecs(r Resources) (inbound, results, dlq, advisories streamSpec) {
	// A completion or dead letter republished after a redelivery must still
	// be recognised as a duplicate, and a redelivery comes at least AckWait
	// after the first attempt.
	longDup := max(DuplicateWindow, r.AckWait+ackWaitDupMargin)
	base := func(name, desc string, subjects []string, maxAge, dup time.Duration) jetstream.StreamConfig {
		return jetstream.StreamConfig{
			Name:        name,
			Description: desc,
			Subjects:    subjects,
			Retention:   jetstream.LimitsPolicy,
			Storage:     jetstream.FileStorage,
			Discard:     jetstream.DiscardOld,
			MaxAge:      maxAge,
			Duplicates:  dup,
			Replicas:    r.Replicas,
		}
	}
	inbound = streamSpec{"inbound stream", base(r.InboundStream,
		"asset.published events from PIM systems", slices.Clone(r.InboundSubjects), InboundMaxAge, DuplicateWindow)}
	results = streamSpec{"results stream", base(r.ResultsStream,
		"asset.ingested and asset.ingest_failed completion events", []string{"assets.ingested.>", "assets.failed.>"}, ResultsMaxAge, longDup)}
	dlq = streamSpec{"dead-letter stream", base(r.DLQStream,
		"asset.published events that could not be ingested", []string{"assets.dlq.>"}, DLQMaxAge, longDup)}
	advisories = streamSpec{"advisory stream", base(r.AdvisoryStream,
		"JetStream max-deliveries advisories of the asset ingest consumer",
		[]string{MaxDeliveriesSubject(r.InboundStream, r.Durable)}, AdvisoryMaxAge, DuplicateWindow)}
	return inbound, results, dlq, advisories
}

// ensureStream looks the stream of spec up and, when e.create is set,
// creates it if missing. It returns the stream, or a problem sentence when the
// stream is missing and may not be created (or cannot be, because its
// subjects overlap another stream's), or an error when JetStream fails.
func (e *ensurer) ensureStream(ctx context.Context, spec streamSpec) (jetstream.Stream, string, error) {
	name := spec.cfg.Name
	s, err := retryTimeout(ctx, e, func() (jetstream.Stream, error) { return e.js.Stream(ctx, name) })
	switch {
	case err == nil:
		e.warnStreamDrift(spec, s.CachedInfo().Config)
		return s, "", nil
	case !errors.Is(err, jetstream.ErrStreamNotFound):
		return nil, "", fmt.Errorf("looking up %s %s: %w", spec.role, name, err)
	case !e.create:
		return nil, fmt.Sprintf("%s %s does not exist (INGEST_CREATE_RESOURCES=false): create it or let the service create it", spec.role, name), nil
	}

	s, err = e.js.CreateStream(ctx, spec.cfg)
	if err == nil {
		e.log.Info("created stream", "role", spec.role, "stream", name,
			"subjects", spec.cfg.Subjects, "max_age", spec.cfg.MaxAge, "replicas", spec.cfg.Replicas)
		return s, "", nil
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode == jsErrCodeStreamSubjectOverlap {
		return nil, fmt.Sprintf("%s %s cannot be created: its subjects %v overlap those of another stream", spec.role, name, spec.cfg.Subjects), nil
	}
	if !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return nil, "", fmt.Errorf("creating %s %s: %w", spec.role, name, err)
	}
	// Another replica created it first, with settings of its own.
	s, err = retryNotFound(ctx, e, jetstream.ErrStreamNotFound, func() (jetstream.Stream, error) {
		return e.js.Stream(ctx, name)
	})
	if err != nil {
		return nil, "", fmt.Errorf("looking up %s %s after another process created it: %w", spec.role, name, err)
	}
	e.warnStreamDrift(spec, s.CachedInfo().Config)
	return s, "", nil
}

// warnStreamDrift logs, without changing anything, each setting of an
// existing stream that differs from what Ensure would have created.
func (e *ensurer) warnStreamDrift(spec streamSpec, have jetstream.StreamConfig) {
	for _, d := range streamDrift(spec.cfg, have) {
		e.log.Warn("existing stream differs from what the service would create; leaving it unchanged",
			"role", spec.role, "stream", spec.cfg.Name, "setting", d.setting,
			slog.Any("have", d.have), slog.Any("want", d.want))
	}
}

// difference is one setting whose value differs.
type difference struct {
	setting    string
	have, want any
}

// streamDrift lists the settings of have that differ from want. Subjects
// compare as sets.
func streamDrift(want, have jetstream.StreamConfig) []difference {
	var d []difference
	ws, hs := slices.Clone(want.Subjects), slices.Clone(have.Subjects)
	slices.Sort(ws)
	slices.Sort(hs)
	if !slices.Equal(ws, hs) {
		d = append(d, difference{"subjects", have.Subjects, want.Subjects})
	}
	if have.Retention != want.Retention {
		d = append(d, difference{"retention", have.Retention.String(), want.Retention.String()})
	}
	if have.Storage != want.Storage {
		d = append(d, difference{"storage", have.Storage.String(), want.Storage.String()})
	}
	if have.MaxAge != want.MaxAge {
		d = append(d, difference{"max_age", have.MaxAge.String(), want.MaxAge.String()})
	}
	if have.Duplicates < want.Duplicates {
		d = append(d, difference{"duplicate_window", have.Duplicates.String(), want.Duplicates.String()})
	}
	if have.Replicas != want.Replicas {
		d = append(d, difference{"replicas", have.Replicas, want.Replicas})
	}
	return d
}
