package slackapi

import (
	"context"
	"testing"
	"time"

	"github.com/visionbot/visionbot/handlers"
	"github.com/visionbot/visionbot/internal/slackemu"
)

// When posting the placeholder answers 500, the reply can't know whether
// Slack posted it. At the end it looks in the thread: a placeholder that
// is there becomes the answer, so the thread shows the answer once and no
// "Looking at your photo…" is left above it; one that isn't is no bother.
func TestLostPlaceholder(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name        string
		other       bool // another answer's placeholder waits in the thread
		fault       func(emu *slackemu.Server)
		wantUpdates int // the placeholder edited into the answer
	}{
		{"Slack posted it, then answered 500", false, func(emu *slackemu.Server) {
			emu.FailAfterApplying("chat.postMessage", 1, 500, "internal error")
		}, 1},
		{"Slack answered 500 and posted nothing", false, func(emu *slackemu.Server) {
			emu.Fail("chat.postMessage", 1, 500, nil, "internal error")
		}, 0},
		{"another answer's placeholder is not taken", true, func(emu *slackemu.Server) {
			emu.Fail("chat.postMessage", 1, 500, nil, "internal error")
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			api, emu := newTestAPI(t)
			api.stream = filled(StreamConfig{Mode: StreamUpdate, Interval: 10 * time.Millisecond})
			ctx := context.Background()
			const channel = "C1"
			root := emu.AddMessage(channel, map[string]any{"text": "a photo", "user": "U1"})
			var others int
			if tt.other {
				other := api.For(Unleased{}).OpenReply(ctx, handlers.Thread{Channel: channel, TS: root, User: "U2", Team: "T1"})
				if _, err := emu.WaitCalls("chat.postMessage", 1, 10*time.Second); err != nil {
					t.Fatal(err)
				}
				defer other.Fail(ctx, "done")
				others = 1
			}
			tt.fault(emu)
			r := api.For(Unleased{}).OpenReply(ctx, handlers.Thread{Channel: channel, TS: root, User: "U1", Team: "T1"})
			if _, err := emu.WaitCalls("chat.postMessage", 1+others, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			if err := r.Finish(ctx, "The whole answer.", nil); err != nil {
				t.Fatal(err)
			}
			posted := emu.Posted(channel)[others:] // after the other answer's placeholder
			if len(posted) != 1 || posted[0].Markdown() != "The whole answer." {
				for _, p := range posted {
					t.Logf("posted %s: %q", p.TS, p.Markdown())
				}
				t.Fatalf("the thread shows %d messages, want only the answer", len(posted))
			}
			if n := len(emu.Calls("chat.update")); n != tt.wantUpdates {
				t.Errorf("chat.update called %d times, want %d", n, tt.wantUpdates)
			}
		})
	}
}
