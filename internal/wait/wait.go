// Package wait is a pause that a context can cut short: the one way the
// bot waits out a delay (a backoff, a connection pace, a Retry-After).
package wait

import (
	"context"
	"time"
)

// For waits d, or less when ctx ends first, and reports ctx's error then.
// A d of zero or less waits nothing.
func For(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
