package bot

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/visionbot/visionbot/handlers"
	"github.com/visionbot/visionbot/internal/failure"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// mentionEvent is a Socket Mode app_mention envelope in channel C1 at ts.
func mentionEvent(t *testing.T, envelopeID, ts string) socketmode.Event {
	t.Helper()
	ev := fixtureCallback(t, "socketmode/events_api_app_mention.slack-go.json", func(e map[string]any) {
		e["ts"], e["channel"] = ts, "C1"
	})
	ev.Data.(*slackevents.EventsAPICallbackEvent).EventID = "Ev" + envelopeID
	return socketmode.Event{Type: socketmode.EventTypeEventsAPI, Data: ev, Request: &socketmode.Request{EnvelopeID: envelopeID}}
}

// scriptedFlows runs each mention by its ts: 1.000001 panics, 2.000002
// waits for its context to end and then, as the handlers do, tells its
// user why, when the pool gave a reason; 3.000003 waits for release;
// others answer at once.
type scriptedFlows struct {
	fakeFlows
	started chan string
	release chan struct{}
}

func (f *scriptedFlows) Run(ctx context.Context, r handlers.Request) {
	f.started <- r.Message
	switch r.Message {
	case "1.000001":
		panic(fmt.Sprintf("index out of range in %s", r.Message))
	case "2.000002": // stuck
		<-ctx.Done()
		if cause := context.Cause(ctx); failure.KindOf(cause) != failure.Internal {
			f.fakeFlows.Interrupted(ctx, r.Origin, cause)
		}
		return
	case "3.000003": // held
		<-f.release
	}
	f.fakeFlows.Run(ctx, r)
}

func TestPanickingJobTellsTheUserAndTheBotGoesOn(t *testing.T) {
	t.Parallel()

	core, logs := observer.New(zap.ErrorLevel)
	socket := &fakeSocket{}
	flows := &scriptedFlows{started: make(chan string, 4)}
	b := newTestBot(socket, nil, flows, Identity{UserID: "UBOT"}, zap.New(core), testConfig(1, 4))
	b.queue.Start(context.Background())
	deliver(b, mentionEvent(t, "env-1", "1.000001")) // panics
	deliver(b, mentionEvent(t, "env-2", "4.000004")) // the next event
	b.queue.Shutdown(context.Background())

	want := []string{"failed C1 1.000001", "mention C1 4.000004"}
	if got := flows.calls; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("flows = %v, want %v: the user of the panicked job told, the next one answered", got, want)
	}
	panics := logs.FilterMessage("request panicked").All()
	if len(panics) != 1 {
		t.Fatalf("logged %d panics, want 1", len(panics))
	}
	fields := panics[0].ContextMap()
	if stack, _ := fields["stack"].(string); !strings.Contains(stack, "scriptedFlows).Run") {
		t.Errorf("stack = %q, want the panicking flow in it", stack)
	}
	if !strings.Contains(fmt.Sprint(fields["panic"]), "index out of range") {
		t.Errorf("panic = %v", fields["panic"])
	}
}

// A stop lets running and queued jobs finish within the grace, tells the
// users of jobs still running at its end to ask again, and returns nil.
func TestStopLetsJobsFinishAndTellsTheRest(t *testing.T) {
	t.Parallel()

	events := make(chan socketmode.Event)
	socket := &fakeSocket{}
	flows := &scriptedFlows{started: make(chan string, 4), release: make(chan struct{})}
	cfg := testConfig(2, 4)
	cfg.ShutdownGrace = 2 * time.Second
	b := newTestBot(socket, events, flows, Identity{UserID: "UBOT"}, zap.NewNop(), cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()

	events <- mentionEvent(t, "env-held", "3.000003")   // running; finishes within the grace
	events <- mentionEvent(t, "env-stuck", "2.000002")  // running; never finishes by itself
	events <- mentionEvent(t, "env-queued", "5.000005") // waits for a worker, then answers
	for range 2 {
		<-flows.started
	}
	cancel()
	close(flows.release)

	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	case <-time.After(liveWait):
		t.Fatal("Run did not return")
	}
	want := map[string]int{
		"mention C1 3.000003": 1, // finished within the grace
		"stopped C1 3.000003": 0,
		"mention C1 5.000005": 1, // queued, and answered within the grace
		"stopped C1 5.000005": 0,
		"stopped C1 2.000002": 1, // still running when the grace ended
		"mention C1 2.000002": 0,
	}
	for call, n := range want {
		if got := flows.count(call); got != n {
			t.Errorf("%q happened %d times, want %d", call, got, n)
		}
	}
}
