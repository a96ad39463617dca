package handlers

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/visionbot/visionbot/internal/failure"
	"github.com/visionbot/visionbot/internal/testimage"
)

// A request cut short by a shutdown or by its deadline ends through its own
// reply, on a context of its own: whatever was shown is replaced by a
// notice that says why, and the message is marked as failed.
func TestARequestCutShortTellsItsUserThroughItsReply(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		// job is the context the pool gives the request, and how the pool
		// ends it once the model is under way.
		job    func(t *testing.T) (context.Context, func())
		notice string
	}{
		{
			name: "the bot is stopping",
			job: func(t *testing.T) (context.Context, func()) {
				ctx, cancel := context.WithCancelCause(context.Background())
				t.Cleanup(func() { cancel(nil) })
				return ctx, func() { cancel(failure.Errorf("stop", failure.ShuttingDown, "", nil)) }
			},
			notice: "I'm restarting",
		},
		{
			name: "the job ran past its deadline",
			job: func(t *testing.T) (context.Context, func()) {
				ctx, cancel := context.WithTimeoutCause(context.Background(), time.Millisecond,
					failure.Errorf("run the request", failure.JobTimeout, "1ms", nil))
				t.Cleanup(cancel)
				return ctx, func() {} // the deadline ends it
			},
			notice: "took longer than I allow",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			s := newFakeSlack()
			s.data[thumbURL("F1", 720)] = testimage.JPEG(t)
			m := &fakeModel{chunks: []string{"Half an ans"}, started: make(chan struct{})}
			h := newTestFlows(t, s, m)
			ctx, cut := tt.job(t)
			done := make(chan struct{})
			go func() {
				defer close(done)
				h.Run(ctx, mention(Message{Channel: "C1", TS: "1700000000.000100", User: "U1", Files: []File{photo("F1")}}))
			}()
			<-m.started
			cut()
			<-done

			if len(s.opened) != 1 || s.opened[0].done != 1 {
				t.Fatalf("replies opened %d, want one, ended once", len(s.opened))
			}
			if err := s.opened[0].endedOn; err != nil {
				t.Errorf("the reply was ended on a dead context (%v): nothing could reach Slack", err)
			}
			if len(s.replies) != 1 || !strings.Contains(s.replies[0].text, tt.notice) {
				t.Errorf("replies = %+v, want the notice %q", s.replies, tt.notice)
			}
			if last := s.reactions[len(s.reactions)-1]; last != "+warning 1700000000.000100" {
				t.Errorf("reactions = %v, want the message marked as failed", s.reactions)
			}
		})
	}
}

// A flow that panics ends its request with a notice through its open
// reply, once; the bot goes on.
func TestAPanickingFlowTellsItsUser(t *testing.T) {
	t.Parallel()

	s := newFakeSlack()
	s.data[thumbURL("F1", 720)] = testimage.JPEG(t)
	h := newTestFlows(t, s, &fakeModel{chunks: []string{"Some text"}, panics: true})
	h.Run(context.Background(), mention(Message{Channel: "C1", TS: "1700000000.000100", User: "U1", Files: []File{photo("F1")}}))
	if len(s.opened) != 1 || s.opened[0].done != 1 {
		t.Fatalf("replies opened %d, want one, ended once", len(s.opened))
	}
	if len(s.replies) != 1 || !strings.Contains(s.replies[0].text, "Something went wrong on my side") {
		t.Errorf("replies = %+v, want the notice of a fault", s.replies)
	}
}

// Interrupted reaches the user of a request that never ran: in the thread
// its answer was to go to, else privately; Decline prefers the private
// route, as a refusal is the user's own business.
func TestInterruptedAndDeclineReachTheUser(t *testing.T) {
	t.Parallel()

	stopping := failure.Errorf("stop", failure.ShuttingDown, "", nil)
	const hook = "https://hooks.slack.com/r"
	tests := []struct {
		name        string
		o           Origin
		decline     bool
		wantThread  string
		wantPrivate bool
	}{
		{"a mention, in its thread", mention(Message{Channel: "C1", TS: "1.000200", ThreadTS: "1.000100", User: "U1"}).Origin, false, "1.000100", false},
		{"a rerun, in its thread", Origin{Trigger: TriggerRerun, Channel: "C1", Thread: "1.000100", User: "U1", ResponseURL: hook}, false, "1.000100", false},
		{"a command, privately: it has no thread yet", Origin{Trigger: TriggerSlash, Channel: "C1", User: "U1", ResponseURL: hook}, false, "", true},
		{"a refused rerun, privately", Origin{Trigger: TriggerRerun, Channel: "C1", Thread: "1.000100", User: "U1", ResponseURL: hook}, true, "", true},
		{"a refused mention, in its thread", mention(Message{Channel: "C1", TS: "1.000100", User: "U1"}).Origin, true, "1.000100", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			s := newFakeSlack()
			h := newTestFlows(t, s, &fakeModel{})
			if tt.decline {
				h.Decline(context.Background(), tt.o, Refusal{Reason: RefusedBusy})
			} else {
				h.Interrupted(context.Background(), tt.o, stopping)
			}
			if tt.wantThread != "" && (len(s.replies) != 1 || s.replies[0].thread != tt.wantThread) {
				t.Errorf("replies = %+v, want one in %s", s.replies, tt.wantThread)
			}
			if tt.wantPrivate != (len(s.responses) == 1) || len(s.replies)+len(s.responses) != 1 {
				t.Errorf("replies %+v, private %q: want exactly one notice, privately: %v", s.replies, s.responses, tt.wantPrivate)
			}
			if len(s.reactions) != 0 {
				t.Errorf("reactions = %v: a request that never ran shows none", s.reactions)
			}
		})
	}
}

// A question the bot refused for its length never reaches the model, not
// even as part of a follow-up in the same thread ("go on").
func TestAFollowUpHoldsTheThreadToTheQuestionBound(t *testing.T) {
	t.Parallel()

	long := "recipe " + strings.Repeat("é", 2500)
	thread := []Message{
		{TS: "1700000000.000100", User: "U1", Text: "<@UBOT> " + long, Files: []File{photo("F1")}},
		{TS: "1700000000.000200", User: "UBOT", BotID: "BBOT", Text: "Your question is 2,500 characters; I take up to 2,000."},
		{TS: "1700000000.000300", User: "U1", Text: strings.Repeat("and more ", 300)},
	}
	s := newFakeSlack()
	s.thread = thread
	s.data[thumbURL("F1", 720)] = testimage.JPEG(t)
	m := &fakeModel{chunks: []string{"Sure."}}
	cfg := DefaultConfig()
	cfg.BotUserID = "UBOT"
	h := New(s.roles(), m, mustCatalog(t), testLogger(), cfg, Deps{})
	h.Run(context.Background(), mention(Message{Channel: "C1", TS: "1700000000.000400", ThreadTS: "1700000000.000100", User: "U1", Text: "go on"}))
	if len(m.got) != 1 {
		t.Fatalf("model calls = %d, replies = %+v", len(m.got), s.replies)
	}
	for i, turn := range m.got[0].Turns {
		if strings.Contains(turn.Text, "éééé") || strings.Contains(turn.Text, "and more and more") {
			t.Errorf("turn %d sends a text the bot refused for its length (%d bytes)", i, len(turn.Text))
		}
	}
	if last := m.got[0].Turns[len(m.got[0].Turns)-1].Text; last != "go on" {
		t.Errorf("last turn = %q, want the new question", last)
	}
}

// The queue's own notices say what happened and what to do, in the
// request's thread: a request Redis lost before it ran, and one that
// waited past MAX_QUEUED_AGE.
func TestQueueNoticesSayWhatHappened(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name  string
		cause error
		want  string
	}{
		{"lost by the queue", failure.Errorf("queue the request", failure.QueueLost, "", nil),
			"I lost this request before I could answer it: my queue was restarted and forgot what it held. Ask me again."},
		{"queued too long", failure.Errorf("run the request", failure.TooOld, (10 * time.Minute).String(), nil),
			"This request waited more than 10 min for its turn, so I'm not answering it this late. Ask me again if you still need it."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			s := newFakeSlack()
			h := newTestFlows(t, s, &fakeModel{})
			h.Interrupted(context.Background(), mention(Message{Channel: "C1", TS: "1.000100", User: "U1"}).Origin, tt.cause)
			if len(s.replies) != 1 || s.replies[0].text != tt.want {
				t.Errorf("replies = %+v, want %q", s.replies, tt.want)
			}
		})
	}
}
