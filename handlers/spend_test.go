package handlers

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/visionbot/visionbot/internal/failure"
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
			s := newFakeSlack()
			s.data[thumbURL("F1", 720)] = testJPEG(t)
			m := &fakeModel{chunks: []string{"Pasta."}, err: tt.err}
			h := newTestHandler(t, s, m)
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
