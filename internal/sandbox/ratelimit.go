package sandbox

import (
	"sync"
	"time"
)

// rateLimiter is a fixed-window limiter per API key: windows start at multiples of the window
// length, and the requests after the first limit in a window are refused.
type rateLimiter struct {
	limit  int // 0: no limit
	window time.Duration

	mu   sync.Mutex
	keys map[string]*windowCount
}

type windowCount struct {
	start time.Time
	n     int
}

func newRateLimiter(limit int, window time.Duration) *rateLimiter {
	return &rateLimiter{limit: limit, window: window, keys: map[string]*windowCount{}}
}

// allow counts one request of key at now. When the request is above the limit it returns false
// and how long until the window ends.
func (l *rateLimiter) allow(key string, now time.Time) (ok bool, retryAfter time.Duration) {
	if l.limit == 0 {
		return true, 0
	}
	start := now.Truncate(l.window)
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.keys[key]
	if c == nil || !c.start.Equal(start) {
		c = &windowCount{start: start}
		l.keys[key] = c
	}
	c.n++
	if c.n <= l.limit {
		return true, 0
	}
	return false, start.Add(l.window).Sub(now)
}

func (l *rateLimiter) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	clear(l.keys)
}

// retryAfterSeconds renders d as the whole seconds of a Retry-After header, rounded up, at
// least 1.
func retryAfterSeconds(d time.Duration) int {
	secs := int((d + time.Second - 1) / time.Second)
	return max(secs, 1)
}
