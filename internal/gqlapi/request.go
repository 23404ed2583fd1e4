package gqlapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/Khan/genqlient/graphql"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/redact"
)

// maxAnswerSize bounds the body read from the API; a page of 100 assets is far smaller.
const maxAnswerSize = 8 << 20

// caller implements graphql.Client for the generated operations: it sends each request as a
// JSON POST with the bearer token, the User-Agent and a timeout, and classifies the answer.
type caller struct {
	endpoint  string
	userAgent string
	timeout   time.Duration
	http      *http.Client // traced; never follows redirects
	creds     credentials
	limiter   Limiter // nil: no client-side limit
	now       func() time.Time
	metrics   *metrics
}

var _ graphql.Client = (*caller)(nil)

// MakeRequest sends req and decodes a successful answer's data into resp.Data. A 401 (or an
// UNAUTHENTICATED error) is answered by one token refresh and one repeat. The call, once its
// first wait for the request budget is over, is bounded by the timeout as a whole: token
// fetches, the repeat and the repeat's own wait for the budget included. Every error it
// returns is an *Error, except when ctx ends or the request is not sent: then it wraps
// ctx.Err() or ErrNotSent.
func (c *caller) MakeRequest(ctx context.Context, req *graphql.Request, resp *graphql.Response) error {
	op := operation{name: req.OpName, kind: "query"}
	if strings.HasPrefix(strings.TrimSpace(req.Query), "mutation") {
		op.kind = "mutation"
	}
	ctx = withOperation(ctx, op)
	body, err := json.Marshal(req)
	if err != nil {
		return &Error{Kind: KindRejected, Op: op.name, Message: "encoding the request", Err: err}
	}
	if !budgetTaken(ctx) { // a Batcher took the slot for the request it sends
		if err := c.wait(ctx, op.name); err != nil {
			return err
		}
	}
	if err := CheckStart(ctx); err != nil {
		return fmt.Errorf("%s: %w", op.name, err)
	}
	callCtx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	for repeated := false; ; repeated = true {
		if repeated {
			if err := c.wait(callCtx, op.name); err != nil {
				if ctx.Err() == nil && callCtx.Err() != nil {
					// The timeout ran out while the repeat waited for the budget.
					return c.interrupted(ctx, callCtx, op.name)
				}
				return err
			}
		}
		data, gen, err := c.send(ctx, callCtx, op.name, body)
		if err == nil {
			if err := json.Unmarshal(data, resp.Data); err != nil {
				return &Error{Kind: KindTransient, Op: op.name, Status: http.StatusOK,
					Message: "decoding the answer's data", Err: err}
			}
			return nil
		}
		var e *Error
		if errors.As(err, &e) && e.Op == op.name && e.Kind == KindUnauthorized {
			if !repeated && c.creds.invalidate(gen) {
				continue
			}
			if repeated {
				e.Message += " (after one token refresh)"
			}
		}
		return err
	}
}

// startCheckKey is the context key of WithStartCheck.
type startCheckKey struct{}

// WithStartCheck returns a context whose API requests run check once their wait for the
// request budget is over, right before the call starts (its token fetch and send). An error
// from check keeps the request from being sent: the call returns an error wrapping both
// ErrNotSent and check's error. A caller uses it to start a call only while what the call
// depends on still holds for the call's whole timeout.
func WithStartCheck(ctx context.Context, check func() error) context.Context {
	return context.WithValue(ctx, startCheckKey{}, check)
}

// CheckStart runs the check WithStartCheck put in ctx, if any, and returns its error wrapped
// with ErrNotSent. A request that carries several calls (a batch) checks each member's
// context before it is sent.
func CheckStart(ctx context.Context) error {
	check, ok := ctx.Value(startCheckKey{}).(func() error)
	if !ok {
		return nil
	}
	if err := check(); err != nil {
		return fmt.Errorf("%w: %w", ErrNotSent, err)
	}
	return nil
}

// wait waits for the request budget. ctx bounds the wait.
func (c *caller) wait(ctx context.Context, op string) error {
	if c.limiter == nil {
		return nil
	}
	err := c.limiter.Wait(ctx)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("%w: %w", ErrNotSent, canceled(op, ctx))
	default:
		return budgetError(op, err)
	}
}

// send gets a token and posts body within callCtx, the call's timeout (ctx is the caller's
// own). It returns the answer's data and the generation of the token used.
func (c *caller) send(ctx, callCtx context.Context, op string, body []byte) (json.RawMessage, uint64, error) {
	start := time.Now()
	data, gen, err := c.post(ctx, callCtx, op, body)
	c.metrics.record(ctx, op, time.Since(start), err)
	return data, gen, err
}

func (c *caller) post(ctx, callCtx context.Context, op string, body []byte) (json.RawMessage, uint64, error) {
	token, gen, err := c.creds.token(callCtx)
	if err != nil {
		if err := c.interrupted(ctx, callCtx, op+" token"); err != nil {
			return nil, 0, err
		}
		return nil, 0, classifyTokenError(op, err, c.now())
	}

	req, err := http.NewRequestWithContext(callCtx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, gen, &Error{Kind: KindTransient, Op: op, Message: "building the request", Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("User-Agent", c.userAgent)

	res, err := c.http.Do(req)
	if err != nil {
		if err := c.interrupted(ctx, callCtx, op); err != nil {
			return nil, gen, err
		}
		return nil, gen, &Error{Kind: KindTransient, Op: op, Message: redact.Text(err.Error()), Err: err}
	}
	defer res.Body.Close()
	answer, err := readAnswer(io.LimitReader(res.Body, maxAnswerSize+1), res.ContentLength)
	if err != nil {
		if err := c.interrupted(ctx, callCtx, op); err != nil {
			return nil, gen, err
		}
		return nil, gen, &Error{Kind: KindTransient, Op: op, Status: res.StatusCode,
			Message: "reading the answer: " + redact.Text(err.Error()), Err: err}
	}
	if len(answer) > maxAnswerSize {
		return nil, gen, &Error{Kind: KindTransient, Op: op, Status: res.StatusCode,
			Message: fmt.Sprintf("the answer is larger than %d bytes", maxAnswerSize)}
	}

	data, e := classifierFrom(ctx)(op, res.StatusCode, res.Header, answer, c.now())
	if e != nil {
		if e.Kind == KindRateLimited && c.limiter != nil {
			c.limiter.Report429(e.RetryAfter)
		}
		return nil, gen, e
	}
	return data, gen, nil
}

// readAnswer reads r to its end as io.ReadAll does, into one buffer when the answer's length
// is known (size, from Content-Length; -1 when unknown) and within maxAnswerSize.
func readAnswer(r io.Reader, size int64) ([]byte, error) {
	if size <= 0 || size > maxAnswerSize {
		return io.ReadAll(r)
	}
	b := make([]byte, 0, size+1) // one byte more: reading EOF needs room
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) { // longer than announced
			b = append(b, 0)[:len(b)]
		}
	}
}

// interrupted returns the error for a request whose context ended, nil when neither did: the
// caller's own context (wrapping its error, not an *Error: the caller knows why) or the
// per-call timeout (transient).
func (c *caller) interrupted(ctx, callCtx context.Context, op string) error {
	switch {
	case ctx.Err() != nil:
		return canceled(op, ctx)
	case callCtx.Err() != nil:
		return &Error{Kind: KindTransient, Op: op,
			Message: fmt.Sprintf("no answer within %s", c.timeout), Err: callCtx.Err()}
	default:
		return nil
	}
}

func canceled(op string, ctx context.Context) error {
	return fmt.Errorf("amplience %s: %w", op, ctx.Err())
}
