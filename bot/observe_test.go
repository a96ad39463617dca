package bot

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"
	"go.uber.org/zap"
)

// recordingObserver keeps what the bot reports.
type recordingObserver struct {
	mu      sync.Mutex
	acks    int
	errors  []string // "method code"
	budgets []string
}

func (o *recordingObserver) BudgetRefused(budget string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.budgets = append(o.budgets, budget)
}

func (o *recordingObserver) Acked(time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.acks++
}

func (o *recordingObserver) SlackError(method, code string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.errors = append(o.errors, method+" "+code)
}

func TestObserveErrors(t *testing.T) {
	long := `{"channel":"C1","messages":[{"text":"` + strings.Repeat("x", 3000) + `"}],"ok":true}`
	tests := []struct {
		name   string
		status int
		body   string
		want   []string
	}{
		{name: "a success is not reported", status: 200, body: `{"ok":true,"ts":"1.2"}`},
		{name: "a long success is passed on whole", status: 200, body: long},
		{name: "Slack's error code", status: 200, body: `{"ok":false,"error":"not_in_channel"}`,
			want: []string{"chat.postMessage not_in_channel"}},
		{name: "keys in another order, spaced", status: 200, body: "{\"error\": \"missing_scope\",\n \"needed\": \"files:read\", \"ok\" : false}",
			want: []string{"chat.postMessage missing_scope"}},
		{name: "a rate limit", status: 429, body: `{"ok":false,"error":"ratelimited"}`,
			want: []string{"chat.postMessage ratelimited"}},
		{name: "a server error", status: 503, body: "unavailable",
			want: []string{"chat.postMessage http_503"}},
		{name: "text that quotes an error is no error", status: 200, body: `{"ok":true,"text":"{\"ok\":false}"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			obs := &recordingObserver{}
			client := &http.Client{Transport: ObserveErrors(nil, obs)}
			resp, err := client.Post(srv.URL+"/api/chat.postMessage", "application/json", strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if err != nil || string(got) != tt.body {
				t.Errorf("the client read %q (%v), want the body as sent", got, err)
			}
			if !slices.Equal(obs.errors, tt.want) {
				t.Errorf("reported %v, want %v", obs.errors, tt.want)
			}
		})
	}

	t.Run("no answer at all", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		obs := &recordingObserver{}
		client := &http.Client{Transport: ObserveErrors(nil, obs)}
		if _, err := client.Get(url + "/api/auth.test"); err == nil {
			t.Fatal("a closed server answered")
		}
		if !slices.Equal(obs.errors, []string{"auth.test transport"}) {
			t.Errorf("reported %v", obs.errors)
		}
	})
	t.Run("a nil observer leaves the transport alone", func(t *testing.T) {
		if rt := ObserveErrors(http.DefaultTransport, nil); rt != http.DefaultTransport {
			t.Errorf("got %T", rt)
		}
	})
}

func TestReadyFollowsTheConnection(t *testing.T) {
	b := New(&fakeSocket{}, nil, &fakeFlows{}, Identity{UserID: "UBOT"}, zap.NewNop(), Config{Workers: 1})
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
	obs := &recordingObserver{}
	flows := &blockingFlows{started: make(chan struct{}, 4), release: make(chan struct{})}
	b := New(&fakeSocket{}, nil, flows, Identity{UserID: "UBOT"}, zap.NewNop(), Config{Workers: 1, Queue: 2, Observer: obs})
	b.pool.start(context.Background(), time.Minute)
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
	b.pool.stop(5 * time.Second)
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
