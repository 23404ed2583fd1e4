package backoff

import (
	"math"
	"testing"
	"time"
)

func TestStep(t *testing.T) {
	p := Policy{Base: 100 * time.Millisecond, Max: time.Second}
	for _, c := range []struct {
		n    int
		want time.Duration
	}{
		{-3, 100 * time.Millisecond},
		{0, 100 * time.Millisecond},
		{1, 100 * time.Millisecond},
		{2, 200 * time.Millisecond},
		{4, 800 * time.Millisecond},
		{5, time.Second},
		{63, time.Second},
		{math.MaxInt, time.Second},
	} {
		if got := p.Step(c.n); got != c.want {
			t.Errorf("Step(%d) = %v, want %v", c.n, got, c.want)
		}
	}
	if got := (Policy{}).Step(3); got != 0 {
		t.Errorf("the zero policy's step = %v, want 0", got)
	}
	if got := (Policy{Base: time.Second, Max: time.Millisecond}).Step(1); got != time.Second {
		t.Errorf("a base above the cap = %v, want the base", got)
	}
}

func TestJitterStaysInItsRange(t *testing.T) {
	p := Policy{Base: 10 * time.Millisecond, Max: 80 * time.Millisecond}
	lowFull, lowEqual := false, false
	for range 2000 {
		for n := 1; n <= 6; n++ {
			step := p.Step(n)
			if d := p.Full(n); d < 0 || d > step {
				t.Fatalf("Full(%d) = %v, outside [0, %v]", n, d, step)
			} else if d < step/2 {
				lowFull = true
			}
			if d := p.Equal(n); d < step/2 || d > step {
				t.Fatalf("Equal(%d) = %v, outside [%v, %v]", n, d, step/2, step)
			} else if d < step*3/4 {
				lowEqual = true
			}
		}
	}
	if !lowFull || !lowEqual {
		t.Errorf("no jitter seen in 2000 draws: full %v, equal %v", lowFull, lowEqual)
	}
	if d := Halved(1); d != 1 {
		t.Errorf("Halved(1) = %v, want 1", d)
	}
}
