package broker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// consumerConfig is the durable pull consumer the service needs: explicit
// ack, deliver all, no BackOff (retry delays come from NakWithDelay), the
// whole stream.
func consumerConfig(r Resources) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       r.Durable,
		Description:   "asset ingest consumer: asset.published events to Amplience createAsset",
		AckPolicy:     jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		ReplayPolicy:  jetstream.ReplayInstantPolicy,
		AckWait:       r.AckWait,
		MaxDeliver:    r.MaxDeliver,
		MaxAckPending: r.MaxAckPending,
	}
}

// consumerMismatch is one setting of an existing consumer that differs from
// what the service needs; fixable ones can be updated in place.
type consumerMismatch struct {
	difference
	fixable bool
}

// consumerMismatches compares an existing consumer's configuration with want.
func consumerMismatches(want, have jetstream.ConsumerConfig) []consumerMismatch {
	var m []consumerMismatch
	add := func(fixable bool, setting string, h, w any) {
		m = append(m, consumerMismatch{difference{setting, h, w}, fixable})
	}
	if have.DeliverSubject != "" {
		add(false, "type", "push (deliver subject "+have.DeliverSubject+")", "pull")
	}
	if have.AckPolicy != want.AckPolicy {
		add(false, "ack policy", have.AckPolicy.String(), want.AckPolicy.String())
	}
	if have.DeliverPolicy != want.DeliverPolicy {
		add(false, "deliver policy", have.DeliverPolicy.String(), want.DeliverPolicy.String())
	}
	if !slices.Equal(have.BackOff, want.BackOff) {
		add(true, "BackOff", fmt.Sprint(have.BackOff), "none")
	}
	if have.AckWait != want.AckWait {
		add(true, "AckWait", have.AckWait.String(), want.AckWait.String())
	}
	if have.MaxDeliver != want.MaxDeliver {
		add(true, "MaxDeliver", have.MaxDeliver, want.MaxDeliver)
	}
	if have.MaxAckPending != want.MaxAckPending {
		add(true, "MaxAckPending", have.MaxAckPending, want.MaxAckPending)
	}
	return m
}

// ensureConsumer looks the durable consumer up on s, creates it when missing
// and allowed, and updates its fixable settings when allowed. It returns the
// consumer, or the problems that keep it from being used, or an error when
// JetStream fails.
func (e *ensurer) ensureConsumer(ctx context.Context, s jetstream.Stream, r Resources) (jetstream.Consumer, []string, error) {
	want := consumerConfig(r)
	stream := r.InboundStream
	// The stream may have been created a moment ago.
	c, err := retryNotFound(ctx, e, jetstream.ErrStreamNotFound, func() (jetstream.Consumer, error) {
		return s.Consumer(ctx, want.Durable)
	})
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound) && !e.create:
		return nil, []string{fmt.Sprintf("durable consumer %s on stream %s does not exist (INGEST_CREATE_RESOURCES=false): create it or let the service create it", want.Durable, stream)}, nil
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		c, err = e.createConsumer(ctx, s, want)
		if err != nil {
			return nil, nil, err
		}
		if c != nil {
			e.log.Info("created consumer", "stream", stream, "consumer", want.Durable,
				"ack_wait", want.AckWait, "max_deliver", want.MaxDeliver, "max_ack_pending", want.MaxAckPending)
			return c, nil, nil
		}
		// Another process created it with other settings: check them below.
		c, err = s.Consumer(ctx, want.Durable)
	}
	if errors.Is(err, jetstream.ErrNotPullConsumer) {
		return nil, []string{pushConsumerProblem(want.Durable, stream)}, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("looking up consumer %s on stream %s: %w", want.Durable, stream, err)
	}
	return e.reconcileConsumer(ctx, s, c, want, stream)
}

// createConsumer creates the consumer, retrying while its stream, just
// created, is not visible yet. It returns nil and no error when the consumer
// already exists with a different configuration.
func (e *ensurer) createConsumer(ctx context.Context, s jetstream.Stream, want jetstream.ConsumerConfig) (jetstream.Consumer, error) {
	c, err := retryNotFound(ctx, e, jetstream.ErrStreamNotFound, func() (jetstream.Consumer, error) {
		return s.CreateConsumer(ctx, want)
	})
	if errors.Is(err, jetstream.ErrConsumerExists) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("creating consumer %s on stream %s: %w", want.Durable, s.CachedInfo().Config.Name, err)
	}
	return c, nil
}

// pushConsumerProblem is the problem sentence for a push consumer under the
// durable's name.
func pushConsumerProblem(durable, stream string) string {
	return fmt.Sprintf("consumer %s on stream %s is a push consumer and the service needs a pull consumer; this cannot be changed in place: delete the consumer or choose another name", durable, stream)
}

// reconcileConsumer compares an existing consumer with want, updates what may
// be updated when allowed, and reports the rest.
func (e *ensurer) reconcileConsumer(ctx context.Context, s jetstream.Stream, c jetstream.Consumer, want jetstream.ConsumerConfig, stream string) (jetstream.Consumer, []string, error) {
	have := c.CachedInfo().Config
	if have.FilterSubject != "" || len(have.FilterSubjects) > 0 {
		e.log.Warn("existing consumer only receives part of its stream; leaving its filter unchanged",
			"stream", stream, "consumer", want.Durable, "filter_subject", have.FilterSubject, "filter_subjects", have.FilterSubjects)
	}
	mismatches := consumerMismatches(want, have)
	if len(mismatches) == 0 {
		return c, nil, nil
	}
	var problems []string
	fixable := 0
	for _, m := range mismatches {
		switch {
		case !m.fixable:
			problems = append(problems, fmt.Sprintf("consumer %s on stream %s has %s %v but the service needs %v; this cannot be changed in place: delete the consumer or choose another name",
				want.Durable, stream, m.setting, m.have, m.want))
		case !e.create:
			problems = append(problems, fmt.Sprintf("consumer %s on stream %s has %s %v but the service needs %v (INGEST_CREATE_RESOURCES=false: update it or let the service update it)",
				want.Durable, stream, m.setting, m.have, m.want))
		default:
			fixable++
		}
	}
	if len(problems) > 0 {
		return nil, problems, nil
	}

	upd := have
	upd.BackOff = nil
	upd.AckWait = want.AckWait
	upd.MaxDeliver = want.MaxDeliver
	upd.MaxAckPending = want.MaxAckPending
	for _, m := range mismatches {
		e.log.Warn("updating consumer setting in place", "stream", stream, "consumer", want.Durable,
			"setting", m.setting, "have", m.have, "want", m.want, "action", driftAction(m.setting, want.Durable))
	}
	c, err := s.UpdateConsumer(ctx, upd)
	if err != nil {
		return nil, nil, fmt.Errorf("updating %d setting(s) of consumer %s on stream %s: %w", fixable, want.Durable, stream, err)
	}
	return c, nil, nil
}

// settingVariables names the variable behind each consumer setting the
// service updates in place.
var settingVariables = map[string]string{
	"AckWait": "INGEST_ACK_WAIT", "MaxDeliver": "INGEST_MAX_DELIVER (or INGEST_MAX_ATTEMPTS)", "MaxAckPending": "INGEST_MAX_ACK_PENDING",
}

// driftAction tells the operator what an in-place update of setting means:
// the consumer is shared, so replicas with different values flip it back and
// forth.
func driftAction(setting, durable string) string {
	v, ok := settingVariables[setting]
	if !ok {
		return "nothing: the service schedules its own retries and needs no " + setting
	}
	return fmt.Sprintf("if other replicas share consumer %s, give them all the same %s: a replica started with the old value sets it back (see README, Scaling out)", durable, v)
}

// AdvisoryDurable is the name of the advisory stream's durable consumer.
func AdvisoryDurable(durable string) string { return durable + "-advisories" }

// ensureAdvisoryConsumer looks up, or creates when allowed, the durable pull consumer that
// reads the advisory stream. Its settings are the service's own business, so an existing one
// is used as it is.
func (e *ensurer) ensureAdvisoryConsumer(ctx context.Context, s jetstream.Stream, r Resources) (jetstream.Consumer, string, error) {
	want := jetstream.ConsumerConfig{
		Durable: AdvisoryDurable(r.Durable), AckPolicy: jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy, AckWait: time.Minute, MaxDeliver: -1,
		Description: "asset-ingest-consumer: dead-letters the events JetStream stopped delivering",
	}
	c, err := retryNotFound(ctx, e, jetstream.ErrStreamNotFound, func() (jetstream.Consumer, error) {
		return s.Consumer(ctx, want.Durable)
	})
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound) && !e.create:
		return nil, fmt.Sprintf("consumer %s on stream %s does not exist (INGEST_CREATE_RESOURCES=false): create it or let the service create it", want.Durable, r.AdvisoryStream), nil
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		if c, err = e.createConsumer(ctx, s, want); err != nil {
			return nil, "", err
		}
		if c != nil {
			e.log.Info("created consumer", "stream", r.AdvisoryStream, "consumer", want.Durable)
			return c, "", nil
		}
		c, err = retryTimeout(ctx, e, func() (jetstream.Consumer, error) { return s.Consumer(ctx, want.Durable) })
	}
	if err != nil {
		return nil, "", fmt.Errorf("looking up consumer %s on stream %s: %w", want.Durable, r.AdvisoryStream, err)
	}
	return c, "", nil
}
