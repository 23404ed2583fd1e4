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
// UNAUTHENTICATED error) is answered by one token refresh and one repeat. Every error it
// returns is an *Error, except when ctx ends: then it wraps ctx.Err().
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
	for repeated := false; ; repeated = true {
		data, gen, err := c.send(ctx, op.name, body)
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

// send waits for the request budget, then, within the per-call timeout, gets a token and
// posts body. It returns the answer's data and the generation of the token used.
func (c *caller) send(ctx context.Context, op string, body []byte) (json.RawMessage, uint64, error) {
	if c.limiter != nil && !budgetTaken(ctx) {
		if err := c.limiter.Wait(ctx); err != nil {
			if ctx.Err() != nil {
				return nil, 0, fmt.Errorf("%w: %w", ErrNotSent, canceled(op, ctx))
			}
			return nil, 0, budgetError(op, err)
		}
	}
	start := time.Now()
	data, gen, err := c.post(ctx, op, body)
	c.metrics.record(ctx, op, time.Since(start), err)
	return data, gen, err
}

func (c *caller) post(ctx context.Context, op string, body []byte) (json.RawMessage, uint64, error) {
	callCtx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

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
		return nil, gen, &Error{Kind: KindTransient, Op: op, Message: redact(err.Error()), Err: err}
	}
	defer res.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(res.Body, maxAnswerSize+1))
	if err != nil {
		if err := c.interrupted(ctx, callCtx, op); err != nil {
			return nil, gen, err
		}
		return nil, gen, &Error{Kind: KindTransient, Op: op, Status: res.StatusCode,
			Message: "reading the answer: " + redact(err.Error()), Err: err}
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
