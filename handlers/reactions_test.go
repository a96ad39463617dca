package handlers

import (
	"context"
	"slices"
	"testing"

	"github.com/visionbot/visionbot/internal/testimage"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// Under load Slack's tier budget skips progress reactions: a skipped
// :eyes: is not taken off again (that would be a wasted call), and no
// skip is logged as a failure.
func TestReactionsSkippedUnderLoad(t *testing.T) {
	t.Parallel()

	const ts = "1700000000.000100"
	tests := []struct {
		name    string
		skipped []string
		want    []string
	}{
		{"nothing skipped", nil, []string{"+eyes " + ts, "-eyes " + ts, "+white_check_mark " + ts}},
		{":eyes: skipped, so not removed", []string{"eyes"}, []string{"+white_check_mark " + ts}},
		{"the outcome skipped", []string{"white_check_mark"}, []string{"+eyes " + ts, "-eyes " + ts}},
		{"both skipped", []string{"eyes", "white_check_mark"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			s := newFakeSlack()
			s.skipped = map[string]bool{}
			for _, e := range tt.skipped {
				s.skipped[e] = true
			}
			s.data[thumbURL("F1", 720)] = testimage.JPEG(t)
			h := newTestFlows(t, s, &fakeModel{chunks: []string{"A fine photo."}})
			core, logs := observer.New(zap.WarnLevel)
			h.log = zap.New(core)

			h.Run(context.Background(), mention(Message{Channel: "C1", TS: ts, User: "U1", Files: []File{photo("F1")}}))

			if !slices.Equal(s.reactions, tt.want) {
				t.Errorf("reactions = %v, want %v", s.reactions, tt.want)
			}
			if len(s.replies) != 1 {
				t.Errorf("replies = %+v, want the answer", s.replies)
			}
			for _, e := range logs.All() {
				t.Errorf("logged %q %v: a skipped reaction is no failure", e.Message, e.ContextMap())
			}
		})
	}
}
