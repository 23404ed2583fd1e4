package main

import (
	"context"
	"io"
)

func cmdDLQ(ctx context.Context, args []string, getenv lookupEnv, stdout, stderr io.Writer) error {
	return usageError{"dlq: not built yet"}
}
