package queue

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/visionbot/visionbot/handlers"
)

// heldFlows runs each request until it is released or its context ends,
// and says which.
type heldFlows struct {
	started chan handlers.Request
	ended   chan error // nil: released; else the context's error
	release chan struct{}
}

func (f *heldFlows) Run(ctx context.Context, r handlers.Request, _ *Lease) {
	f.started <- r
	select {
	case <-f.release:
		f.ended <- nil
	case <-ctx.Done():
		f.ended <- ctx.Err()
	}
}

func (f *heldFlows) Interrupted(context.Context, handlers.Origin, error, *Lease) {}

// Short requests run beside the workers, as many at once as the bound,
// from the moment the queue starts: the one beyond is dropped and
// logged, and a slot let go takes the next. They run on the queue's
// context: its end ends them.
func TestBesideIsBounded(t *testing.T) {
	flows := &heldFlows{started: make(chan handlers.Request, maxBeside+1), ended: make(chan error, maxBeside+1), release: make(chan struct{})}
	core, logs := observer.New(zapcore.ErrorLevel)
	cfg := DefaultConfig()
	cfg.Workers, cfg.Queue = 1, 1
	q := New(flows, nil, zap.New(core), cfg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	q.Start(ctx)
	for i := range maxBeside {
		q.Beside("modal", handlers.Request{Origin: handlers.Origin{Channel: "C1", Thread: string(rune('a' + i))}})
	}
	for range maxBeside {
		receive(t, flows.started, "a short request within the bound never ran")
	}
	q.Beside("modal", handlers.Request{})
	if n := logs.FilterMessageSnippet("too many short jobs").Len(); n != 1 {
		t.Errorf("%d drops logged for one request beyond the bound, want 1", n)
	}
	flows.release <- struct{}{}
	if err := receive(t, flows.ended, "the released request never ended"); err != nil {
		t.Fatalf("the released request ended with %v", err)
	}
	// Its slot is free once its goroutine let it go: the next one runs.
	deadline := time.Now().Add(sharedWait)
	for len(q.pool.besideSlots) == maxBeside {
		if time.Now().After(deadline) {
			t.Fatal("the slot was never let go")
		}
		time.Sleep(time.Millisecond)
	}
	q.Beside("modal", handlers.Request{})
	receive(t, flows.started, "a short request after a slot was let go never ran")
	cancel()
	for range maxBeside {
		if err := receive(t, flows.ended, "a short request outlived the queue's context"); err != context.Canceled {
			t.Errorf("a short request ended with %v, want the queue's context cancelled", err)
		}
	}
	q.Shutdown(context.Background())
}
