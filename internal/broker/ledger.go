package broker

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// ledgerConfig is the bucket configuration Ensure creates the ledger with.
// History 1 is enough: every change is a compare-and-set on the revision.
func ledgerConfig(r Resources) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:      r.LedgerBucket,
		Description: "asset ingest ledger: event key -> claim or result, asset id -> event key",
		History:     1,
		TTL:         LedgerTTL,
		Storage:     jetstream.FileStorage,
		Replicas:    r.Replicas,
	}
}

// ensureLedger looks the ledger bucket up and, when e.create is set, creates
// it if missing. It returns the bucket, or a problem sentence when it is
// missing and may not be created, or an error when JetStream fails.
func (e *ensurer) ensureLedger(ctx context.Context, r Resources) (jetstream.KeyValue, string, error) {
	want := ledgerConfig(r)
	kv, err := retryTimeout(ctx, e, func() (jetstream.KeyValue, error) { return e.js.KeyValue(ctx, want.Bucket) })
	switch {
	case err == nil:
		return kv, "", e.warnLedgerDrift(ctx, kv, want)
	case !errors.Is(err, jetstream.ErrBucketNotFound):
		return nil, "", fmt.Errorf("looking up ledger bucket %s: %w", want.Bucket, err)
	case !e.create:
		return nil, fmt.Sprintf("ledger bucket %s does not exist (INGEST_CREATE_RESOURCES=false): create it or let the service create it", want.Bucket), nil
	}

	kv, err = e.js.CreateKeyValue(ctx, want)
	if err == nil {
		e.log.Info("created ledger bucket", "bucket", want.Bucket, "ttl", want.TTL, "replicas", want.Replicas)
		return kv, "", nil
	}
	if !errors.Is(err, jetstream.ErrBucketExists) {
		return nil, "", fmt.Errorf("creating ledger bucket %s: %w", want.Bucket, err)
	}
	kv, err = retryNotFound(ctx, e, jetstream.ErrBucketNotFound, func() (jetstream.KeyValue, error) {
		return e.js.KeyValue(ctx, want.Bucket)
	})
	if err != nil {
		return nil, "", fmt.Errorf("looking up ledger bucket %s after another process created it: %w", want.Bucket, err)
	}
	return kv, "", e.warnLedgerDrift(ctx, kv, want)
}

// warnLedgerDrift logs each setting of an existing bucket that differs from
// what Ensure would have created, leaving the bucket unchanged.
func (e *ensurer) warnLedgerDrift(ctx context.Context, kv jetstream.KeyValue, want jetstream.KeyValueConfig) error {
	st, err := kv.Status(ctx)
	if err != nil {
		return fmt.Errorf("reading the status of ledger bucket %s: %w", want.Bucket, err)
	}
	var d []difference
	if st.TTL() != want.TTL {
		d = append(d, difference{"ttl", st.TTL().String(), want.TTL.String()})
	}
	if bs, ok := st.(interface{ StreamInfo() *jetstream.StreamInfo }); ok && bs.StreamInfo() != nil {
		cfg := bs.StreamInfo().Config
		if cfg.Storage != want.Storage {
			d = append(d, difference{"storage", cfg.Storage.String(), want.Storage.String()})
		}
		if cfg.Replicas != want.Replicas {
			d = append(d, difference{"replicas", cfg.Replicas, want.Replicas})
		}
	}
	for _, x := range d {
		e.log.Warn("existing ledger bucket differs from what the service would create; leaving it unchanged",
			"bucket", want.Bucket, "setting", x.setting, "have", x.have, "want", x.want)
	}
	return nil
}
