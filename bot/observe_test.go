package bot

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"
	"go.uber.org/zap"
)

func TestReadyFollowsTheConnection(t *testing.T) {
	t.Parallel()

	b := newTestBot(&fakeSocket{}, nil, &fakeFlows{}, Identity{UserID: "UBOT"}, zap.NewNop(), testCfg{Workers: 1})
	steps := []struct {
		event socketmode.EventType
		ready bool
	}{
		{socketmode.EventTypeConnecting, false},
		{socketmode.EventTypeConnected, true},
		{socketmode.EventTypeHello, true},
		{socketmode.EventTypeDisconnect, false},
		{socketmode.EventTypeConnected, true},
		{socketmode.EventTypeConnectionError, false},
	}
	if b.Ready() {
		t.Fatal("ready before any connection")
	}
	for i, s := range steps {
		deliver(b, socketmode.Event{Type: s.event})
		if b.Ready() != s.ready {
			t.Errorf("step %d, after %s: ready = %v, want %v", i, s.event, b.Ready(), s.ready)
		}
	}
}

func TestObserverSeesAcksAndJobs(t *testing.T) {
	t.Parallel()

	obs := &recordingObserver{}
	flows := &blockingFlows{started: make(chan struct{}, 4), release: make(chan struct{})}
	b := newTestBot(&fakeSocket{}, nil, flows, Identity{UserID: "UBOT"}, zap.NewNop(), testCfg{Workers: 1, Queue: 2, Deps: Deps{Observer: obs}})
	b.queue.Start(context.Background())
	for i, ts := range []string{"1.000001", "2.000002"} {
		ev := fixtureCallback(t, "socketmode/events_api_app_mention.slack-go.json", func(e map[string]any) { e["ts"] = ts })
		ev.Data.(*slackevents.EventsAPICallbackEvent).EventID = "Ev" + ts
		deliver(b, socketmode.Event{Type: socketmode.EventTypeEventsAPI, Data: ev,
			Request: &socketmode.Request{EnvelopeID: "env-" + ts}})
		if i == 0 {
			<-flows.started // the first holds the only worker
		}
	}
	running, queued := b.Jobs()
	close(flows.release)
	b.queue.Shutdown(context.Background())
	if running != 1 || queued != 1 {
		t.Errorf("jobs = %d running, %d queued; want 1 and 1", running, queued)
	}
	if running, queued := b.Jobs(); running != 0 || queued != 0 {
		t.Errorf("after the stop: %d running, %d queued", running, queued)
	}
	if obs.acks != 2 {
		t.Errorf("acks observed = %d, want 2", obs.acks)
	}
}

// recordingObserver keeps what the loop and admission report.
type recordingObserver struct {
	mu      sync.Mutex
	acks    int
	budgets []string
}

func (o *recordingObserver) AllowanceRefused(budget string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.budgets = append(o.budgets, budget)
}

func (o *recordingObserver) Acked(time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.acks++
}
