package gqlapi

import (
	"errors"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReadAnswerIsReadAll(t *testing.T) {
	t.Parallel()
	body := strings.Repeat("answer ", 100)
	for _, size := range []int64{-1, 0, 1, 100, int64(len(body)), int64(len(body)) + 5, maxAnswerSize + 1} {
		got, err := readAnswer(iotest.HalfReader(strings.NewReader(body)), size)
		if err != nil || string(got) != body {
			t.Errorf("size %d: %d bytes, %v; want the %d bytes of the body", size, len(got), err, len(body))
		}
	}
	fail := errors.New("cut")
	if _, err := readAnswer(iotest.ErrReader(fail), 10); !errors.Is(err, fail) {
		t.Errorf("a failing read: %v, want %v", err, fail)
	}
}
