package soak_test

import (
	"math/rand/v2"
	"testing"
)

// The huge-headers hostile message's header block, encoded, is exactly as long as asked, so that
// -soak.header-bytes can aim just under JetStream's limit of 65535 bytes.
func TestHugeHeadersLength(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		bytes int
	}{
		{name: "the default", bytes: 16 << 10},
		{name: "near the limit", bytes: 65000},
		{name: "the limit", bytes: 65535},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := hostileMsg(rand.New(rand.NewPCG(1, 2)), hostileHuge, 1, tt.bytes)
			if got := headerLen(m.Header); got != tt.bytes {
				t.Errorf("header block of %d bytes, want %d", got, tt.bytes)
			}
			if m.Header.Get(hostileHeader) != hostileHuge {
				t.Errorf("the message is not marked %s: %q", hostileHeader, m.Header.Get(hostileHeader))
			}
		})
	}
}
