package handlers

import (
	"context"
	"strings"
	"testing"
	"time"
)

// Each refusal has its own words, in the thread for a message and
// privately for a command or a form.
func TestDecline(t *testing.T) {
	t.Parallel()

	const responseURL = "https://hooks.slack.com/actions/T1/1/x"
	tests := []struct {
		name string
		why  Refusal
		want []string
	}{
		{"the queue is full", Refusal{Reason: RefusedBusy},
			[]string{"answering a lot of requests", "Try again shortly"}},
		{"the user's rate", Refusal{Reason: RefusedUserRate, Limit: 10, Window: time.Minute, RetryIn: 39200 * time.Millisecond},
			[]string{"You're sending requests faster than I can take them", "up to 10 requests a minute", "try again in 40s."}},
		{"the channel's rate", Refusal{Reason: RefusedChannelRate, Limit: 30, Window: time.Hour, RetryIn: 150 * time.Second},
			[]string{"This channel is sending requests faster", "up to 30 requests an hour", "try again in 3 min."}},
		{"a rate of one per odd window", Refusal{Reason: RefusedUserRate, Limit: 1, Window: 90 * time.Second, RetryIn: 2 * time.Hour},
			[]string{"up to 1 request per 1m30s", "try again in 2 hours."}},
		{"the thread's cap", Refusal{Reason: RefusedThreadCap, Limit: 20},
			[]string{"This thread already has 20 of my answers: start a new thread", "@visionbot"}},
		{"outside the allow-lists", Refusal{Reason: RefusedNotEnabled},
			[]string{"isn't enabled here", "admin"}},
		{"a question too long, before the queue", Refusal{Reason: RefusedQuestionTooLong, Size: 3412, Limit: 2000},
			[]string{"Your question is 3,412 characters; I take up to 2,000. Shorten it and ask again."}},
		{"a request larger than the queue takes", Refusal{Reason: RefusedOversized, Size: 40017, Limit: 16 << 10},
			[]string{"more than I can take in one request (I take up to 16 KB", "Send fewer files at once, or a shorter message."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			s := newFakeSlack()
			h := newTestFlows(t, s, &fakeModel{})
			ctx := context.Background()
			h.Decline(ctx, mention(Message{Channel: "C1", TS: "1.000200", ThreadTS: "1.000100", User: "U1"}).Origin, tt.why)
			h.Decline(ctx, Origin{Trigger: TriggerSlash, Channel: "C1", User: "U1", ResponseURL: responseURL}, tt.why)
			h.Decline(ctx, Origin{Trigger: TriggerForm, Channel: "C1", Thread: "1.000100", User: "U1", ResponseURL: responseURL}, tt.why)

			if len(s.replies) != 1 || s.replies[0].thread != "1.000100" {
				t.Fatalf("replies = %+v, want one in the thread 1.000100", s.replies)
			}
			if len(s.responses) != 2 {
				t.Fatalf("private responses = %q, want one for the command and one for the form", s.responses)
			}
			for _, text := range []string{s.replies[0].text, s.responses[0], s.responses[1]} {
				for _, w := range tt.want {
					if !strings.Contains(text, w) {
						t.Errorf("%q lacks %q", text, w)
					}
				}
			}
			if len(s.reactions) != 0 {
				t.Errorf("reactions = %v: a refused request was never started", s.reactions)
			}
		})
	}
}

func TestWaitText(t *testing.T) {
	t.Parallel()

	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "a moment"},
		{time.Millisecond, "1s"},
		{40 * time.Second, "40s"},
		{59*time.Second + time.Millisecond, "1 min"},
		{61 * time.Second, "2 min"},
		{time.Hour, "an hour"},
		{23*time.Hour + time.Second, "24 hours"},
	}
	for _, tt := range tests {
		if got := waitText(tt.d); got != tt.want {
			t.Errorf("waitText(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

// Before a request is queued, the flows refuse the question they would
// refuse once it ran, counted as they count it: without the use case's
// word, in characters; a request that carries no question passes.
func TestPrecheckRefusesWhatTheFlowWould(t *testing.T) {
	t.Parallel()

	h := newTestFlows(t, newFakeSlack(), &fakeModel{})
	at, over := strings.Repeat("é", h.cfg.MaxQuestion), strings.Repeat("é", h.cfg.MaxQuestion+1)
	here := Origin{Trigger: TriggerMention, Channel: "C1", Thread: "1.1", Message: "1.1", User: "U1"}
	tests := []struct {
		name string
		ask  Ask
		size int64 // 0: not refused
	}{
		{"a mention at the bound, after its use case", Said{Text: "recipe " + at}, 0},
		{"a mention over it, after its use case", Said{Text: "recipe " + over}, int64(h.cfg.MaxQuestion + 1)},
		{"a mention over it, with no use case", Said{Text: over}, int64(h.cfg.MaxQuestion + 1)},
		{"/analyze over it", Command{Text: "code " + over}, int64(h.cfg.MaxQuestion + 1)},
		{"a form over it", Submission{UseCase: "recipe", Question: over}, int64(h.cfg.MaxQuestion + 1)},
		{"a rerun, which asks no question", Rerun{UseCase: "recipe", Ref: AnswerRef{UseCase: "describe"}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			why, refused := h.Precheck(Request{Origin: here, Ask: tt.ask})
			switch {
			case refused != (tt.size > 0):
				t.Errorf("refused = %v, want %v", refused, tt.size > 0)
			case refused && (why.Reason != RefusedQuestionTooLong || why.Size != tt.size || why.Limit != int64(h.cfg.MaxQuestion)):
				t.Errorf("refusal %+v, want a question of %d characters over %d", why, tt.size, h.cfg.MaxQuestion)
			}
		})
	}
}
