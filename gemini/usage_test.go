package gemini_test

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/visionbot/visionbot/gemini"
	"github.com/visionbot/visionbot/internal/failure"
	"github.com/visionbot/visionbot/internal/geminiemu"
)

// A stream cut before its last chunk never gets Gemini's count of its
// answer: that chunk alone carries it (the recorded streams, and the
// emulator since it counts as they do). What the person was shown was
// generated and billed all the same, so the adapter estimates it from the
// text, at Google's documented four characters a token, rounded up, and
// says the count is an estimate; a stream that ended whole keeps Gemini's
// own count.
func TestCutStreamUsage(t *testing.T) {
	const (
		ok      = failure.Kind(-1) // success
		anyKind = failure.Kind(-2) // whatever the adapter calls a caller's cancel
	)
	const recorded = "googleai/streaming-success-basic-reply-long.txt" // 36 events; 1996 tokens on the last
	long := strings.Repeat("A long answer about the photo, sentence after sentence. ", 60)
	tests := []struct {
		name string
		// reply is what the emulator sends; stopAt, when set, is the text
		// after which the caller cancels (a person's Stop).
		reply     func(*testing.T) geminiemu.Reply
		stopAt    func(*testing.T) string
		timeout   time.Duration
		wantKind  failure.Kind
		wantIn    int
		wantOut   func(shown string) int
		estimated bool
	}{
		{name: "Stop before the last chunk of a recorded answer",
			reply: func(t *testing.T) geminiemu.Reply {
				r := geminiemu.FixtureReply(t, recorded)
				r.HangAfter = 35
				return r
			},
			stopAt:   func(t *testing.T) string { return fixtureTextBefore(t, recorded, 35) },
			wantKind: anyKind, wantIn: 10, wantOut: estimate, estimated: true},
		{name: "timeout before the last chunk",
			reply:    func(*testing.T) geminiemu.Reply { return geminiemu.Reply{Text: long, Chunks: 30, HangAfter: 29} },
			timeout:  3 * time.Second,
			wantKind: failure.Timeout, wantIn: -1, wantOut: estimate, estimated: true},
		{name: "stream closed without its end",
			reply:    func(*testing.T) geminiemu.Reply { return sseReply("half an ans", "") },
			wantKind: failure.CutOff, wantIn: 0, wantOut: estimate, estimated: true},
		{name: "error mid stream", reply: func(t *testing.T) geminiemu.Reply {
			return geminiemu.FixtureReply(t, "vertexai/streaming-failure-error-mid-stream.txt")
		}, wantKind: failure.Unavailable, wantIn: 0, wantOut: estimate, estimated: true},
		{name: "a whole answer keeps Gemini's count",
			reply:    func(t *testing.T) geminiemu.Reply { return geminiemu.FixtureReply(t, recorded) },
			wantKind: ok, wantIn: 10, wantOut: func(string) int { return 1996 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			emu := geminiemu.New()
			defer emu.Close()
			emu.Script(tt.reply(t))
			c := newClient(t, emu, func(c *gemini.Config) {
				if tt.timeout > 0 {
					c.Timeout = tt.timeout
				}
			})
			ctx, stop := context.WithCancelCause(context.Background())
			defer stop(nil)
			var stopAt string
			if tt.stopAt != nil {
				stopAt = tt.stopAt(t)
			}
			var shown strings.Builder
			usage, err := c.Stream(ctx, photoRequest(), func(s string) {
				shown.WriteString(s)
				if stopAt != "" && shown.String() == stopAt {
					stop(failure.Errorf("stop", failure.Stopped, "", nil))
				}
			})
			switch {
			case tt.wantKind == ok && err != nil, tt.wantKind == anyKind && err == nil,
				tt.wantKind != ok && tt.wantKind != anyKind && failure.KindOf(err) != tt.wantKind:
				t.Fatalf("err = %v (kind %v), want kind %v", err, failure.KindOf(err), tt.wantKind)
			}
			if usage.Estimated != tt.estimated {
				t.Errorf("estimated = %v, want %v", usage.Estimated, tt.estimated)
			}
			if tt.wantIn >= 0 && usage.InputTokens != tt.wantIn {
				t.Errorf("input tokens %d, want %d", usage.InputTokens, tt.wantIn)
			}
			if want := tt.wantOut(shown.String()); usage.OutputTokens != want {
				t.Errorf("output tokens %d, want %d for the %d characters shown", usage.OutputTokens, want, utf8.RuneCountInString(shown.String()))
			}
			// About what Gemini counted for the whole answer: the 35 events
			// shown are nearly all of it, and four characters a token
			// overcounts this English answer by a tenth.
			if tt.stopAt != nil && (usage.OutputTokens < 1996*9/10 || usage.OutputTokens > 1996*12/10) {
				t.Errorf("output tokens %d, want about the 1996 Gemini counted for the whole answer", usage.OutputTokens)
			}
		})
	}
}

// estimate is Google's rule of thumb: a token is about four characters.
func estimate(text string) int { return (utf8.RuneCountInString(text) + 3) / 4 }
