package ratelimit

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    Limit
		wantErr bool
	}{
		{in: "60/m", want: Limit{Requests: 60, Per: time.Minute}},
		{in: "5/s", want: Limit{Requests: 5, Per: time.Second}},
		{in: " 120/m ", want: Limit{Requests: 120, Per: time.Minute}},
		{in: "0", want: Limit{}},
		{in: "007/s", want: Limit{Requests: 7, Per: time.Second}},
		{in: "", wantErr: true},
		{in: "abc", wantErr: true},
		{in: "60", wantErr: true},
		{in: "60/h", wantErr: true},
		{in: "60/M", wantErr: true},
		{in: "60/min", wantErr: true},
		{in: "0/s", wantErr: true},
		{in: "-5/s", wantErr: true},
		{in: "+5/s", wantErr: true},
		{in: "5.5/s", wantErr: true},
		{in: "/s", wantErr: true},
		{in: "5/", wantErr: true},
		{in: "5 /s", wantErr: true},
		{in: "99999999999999999999/s", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseLimit(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseLimit(%q) = %v, want an error", tt.in, got)
				}
				for _, part := range []string{"AMPLIENCE_RATE_LIMIT", "N/s", "N/m", "0"} {
					if !strings.Contains(err.Error(), part) {
						t.Errorf("error %q does not mention %q", err, part)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseLimit(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseLimit(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestLimitString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		lim  Limit
		want string
	}{
		{name: "per minute", lim: Limit{Requests: 60, Per: time.Minute}, want: "60/m"},
		{name: "per second", lim: Limit{Requests: 5, Per: time.Second}, want: "5/s"},
		{name: "unlimited", lim: Limit{}, want: "0"},
		{name: "other period", lim: Limit{Requests: 10, Per: time.Hour}, want: "10/1h0m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := tt.lim.String()
			if got != tt.want {
				t.Fatalf("String() = %q, want %q", got, tt.want)
			}
			if tt.lim.Per == time.Hour {
				return
			}
			back, err := ParseLimit(got)
			if err != nil {
				t.Fatalf("ParseLimit(String()): %v", err)
			}
			if diff := cmp.Diff(tt.lim, back); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLimitInterval(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		lim  Limit
		want time.Duration
	}{
		{name: "exact", lim: Limit{Requests: 60, Per: time.Minute}, want: time.Second},
		// 1s/7 = 142857142.86ns: rounding down would fit 8 requests in 1s.
		{name: "rounded up", lim: Limit{Requests: 7, Per: time.Second}, want: 142857143},
		{name: "at least 1ns", lim: Limit{Requests: 2_000_000_000, Per: time.Second}, want: 1},
		{name: "unlimited", lim: Limit{}, want: 0},
		{name: "invalid", lim: Limit{Requests: 3}, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := tt.lim.Interval()
			if got != tt.want {
				t.Fatalf("Interval() = %d, want %d", got, tt.want)
			}
			if got > 0 && time.Duration(tt.lim.Requests)*got < tt.lim.Per {
				t.Errorf("%d intervals of %v span less than %v", tt.lim.Requests, got, tt.lim.Per)
			}
		})
	}
}
