package handlers

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/visionbot/visionbot/internal/failure"
	"github.com/visionbot/visionbot/internal/testimage"
	"github.com/visionbot/visionbot/internal/vision"
)

// recordingSpending keeps what requests were charged.
type recordingSpending struct {
	mu    sync.Mutex
	spent []string // "user channel tokens"
}

func (r *recordingSpending) Spend(_ context.Context, o Origin, tokens int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.spent = append(r.spent, o.User+" "+o.Channel+" "+itoa(tokens))
}

// A request is charged, when it ends, the tokens Gemini reported (input,
// output and thinking together), whether its answer was shown or not; a
// request that never asked Gemini is charged nothing.
func TestRequestsAreChargedWhatGeminiReported(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name  string
		text  string
		files bool
		err   error
		want  []string
	}{
		{"an answer", "recipe", true, nil, []string{"U1 C1 18"}},
		{"a failure after Gemini counted the tokens", "recipe", true, failure.Errorf("ask", failure.Blocked, "SAFETY", errors.New("blocked")), []string{"U1 C1 18"}},
		{"help asks nothing of Gemini", "help", false, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			s := newFakeSlack()
			s.data[thumbURL("F1", 720)] = testimage.JPEG(t)
			m := &fakeModel{chunks: []string{"Pasta."}, err: tt.err}
			h := newTestFlows(t, s, m)
			spending := &recordingSpending{}
			h.deps.Spending = spending
			msg := Message{Channel: "C1", TS: "1700000000.000100", User: "U1", Text: tt.text}
			if tt.files {
				msg.Files = []File{photo("F1")}
			}
			h.Run(context.Background(), mention(msg))
			if len(spending.spent) != len(tt.want) || (len(tt.want) > 0 && spending.spent[0] != tt.want[0]) {
				t.Errorf("charged %q, want %q", spending.spent, tt.want)
			}
		})
	}
}

// A Stop near the end of a long answer is charged what the answer cost,
// the adapter's estimate of its output included, not its prompt alone;
// the log line and the figures say the output was estimated.
func TestAStoppedAnswerIsChargedItsEstimate(t *testing.T) {
	s := newFakeSlack()
	s.data[thumbURL("F1", 720)] = testimage.JPEG(t)
	m := &fakeModel{chunks: []string{"Most of a long answer"}, started: make(chan struct{}),
		usage: &vision.Usage{Model: "gemini-2.5-flash", InputTokens: 300, OutputTokens: 2164, Estimated: true}}
	stops := &fakeStops{}
	spending := &recordingSpending{}
	obs := &recordingObserver{}
	core, logs := observer.New(zap.InfoLevel)
	cfg := DefaultConfig()
	h := New(s.roles(), m, mustCatalog(t), zap.New(core), cfg, Deps{Stops: stops, Spending: spending, Observer: obs})
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.Run(context.Background(), mention(Message{Channel: "C1", TS: "1700000000.000100", User: "U1", Files: []File{photo("F1")}}))
	}()
	<-m.started
	if !stops.press("C1/1700000000.000100/U1") {
		t.Fatalf("no request watched the thread; watched %v", stops.watched)
	}
	<-done
	if want := []string{"U1 C1 2464"}; !slices.Equal(spending.spent, want) {
		t.Errorf("charged %q, want %q", spending.spent, want)
	}
	if len(obs.got) != 1 || !obs.got[0].TokensEstimated || obs.got[0].TokensOut != 2164 || obs.got[0].Outcome != "stopped" {
		t.Errorf("figures = %+v, want a stopped request with 2164 output tokens, estimated", obs.got)
	}
	lines := logs.FilterMessage("request").All()
	if len(lines) != 1 || lines[0].ContextMap()["tokens_estimated"] != true || lines[0].ContextMap()["tokens_out"] != int64(2164) {
		t.Errorf("log lines = %+v, want one request line with tokens_estimated", lines)
	}
}
