package ratelimit

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Limit is a request budget: at most Requests requests in any window of
// length Per. The zero Limit (Requests == 0) means no client-side limit.
//
// A Limit is normally built by ParseLimit; a hand-built one with
// Requests < 0, or Requests > 0 and Per <= 0, is invalid and makes every
// Limiter.Wait fail.
type Limit struct {
	Requests int
	Per      time.Duration
}

// ParseLimit parses the AMPLIENCE_RATE_LIMIT syntax: "N/s" or "N/m" with N a
// positive decimal integer ("60/m", "5/s"), or "0" for no limit. Surrounding
// spaces are ignored; anything else is an error naming the value and the
// accepted forms.
func ParseLimit(s string) (Limit, error) {
	v := strings.TrimSpace(s)
	if v == "0" {
		return Limit{}, nil
	}
	bad := fmt.Errorf("AMPLIENCE_RATE_LIMIT %q: want N/s or N/m with N a positive integer (60/m, 5/s), or 0 for no limit", s)
	num, unit, ok := strings.Cut(v, "/")
	if !ok || num == "" || strings.TrimLeft(num, "0123456789") != "" {
		return Limit{}, bad
	}
	n, err := strconv.Atoi(num)
	if err != nil || n <= 0 {
		return Limit{}, bad
	}
	switch unit {
	case "s":
		return Limit{Requests: n, Per: time.Second}, nil
	case "m":
		return Limit{Requests: n, Per: time.Minute}, nil
	default:
		return Limit{}, bad
	}
}

// Unlimited reports whether l sets no client-side limit.
func (l Limit) Unlimited() bool { return l.Requests == 0 }

// String formats l the way ParseLimit reads it: "60/m", "5/s", "0". A Per
// other than a second or a minute is written as a Go duration ("10/1h0m0s").
func (l Limit) String() string {
	switch {
	case l.Unlimited():
		return "0"
	case l.Per == time.Second:
		return strconv.Itoa(l.Requests) + "/s"
	case l.Per == time.Minute:
		return strconv.Itoa(l.Requests) + "/m"
	default:
		return strconv.Itoa(l.Requests) + "/" + l.Per.String()
	}
}

// Interval is the shortest spacing between two requests that l allows:
// Per / Requests rounded up to the nanosecond (never down, so that Requests
// intervals always span at least Per), and at least 1ns. It is 0 for an
// unlimited or invalid Limit. A Limiter adds Headroom to it.
func (l Limit) Interval() time.Duration {
	if l.Requests <= 0 || l.Per <= 0 {
		return 0
	}
	n := time.Duration(l.Requests)
	iv := l.Per / n
	if l.Per%n != 0 {
		iv++
	}
	return max(iv, time.Nanosecond)
}

// validate reports why l cannot be enforced, or nil.
func (l Limit) validate() error {
	if l.Requests < 0 || (l.Requests > 0 && l.Per <= 0) {
		return fmt.Errorf("invalid rate limit {Requests: %d, Per: %v}: want Requests >= 0 and, when Requests > 0, Per > 0", l.Requests, l.Per)
	}
	return nil
}
