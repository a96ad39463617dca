package main

import (
	"strings"
	"testing"

	"github.com/visionbot/visionbot/internal/geminiemu"
	"github.com/visionbot/visionbot/internal/redistest"
	"github.com/visionbot/visionbot/internal/slackemu"
)

// Two replicas that both get every event (the emulator delivers each
// envelope to every connection) answer a mention once when they share
// REDIS_URL, and Slack's retry of it too; without Redis each answers it,
// which shows the test can tell.
func TestReplicasAnswerOnce(t *testing.T) {
	tests := []struct {
		name        string
		redis       bool
		wantAnswers int
		wantSkips   int // "skipped a duplicate delivery" in both logs
	}{
		{"sharing Redis", true, 1, 3},
		{"each on its own memory", false, 2, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			if tt.redis {
				env["REDIS_URL"] = redistest.Start(t).URL()
			}
			s, g := newEmulators(t)
			s.SetDeliverToAll(true)
			g.SetDefault(geminiemu.Reply{Text: "Once."})
			replicas := []*harness{launchBot(t, s, g, env), launchBot(t, s, g, env)}
			if err := s.WaitConnects(2, wait); err != nil {
				t.Fatal(err)
			}
			for _, r := range replicas {
				if shared := strings.Contains(r.logs.String(), "shared through Redis"); shared != tt.redis {
					t.Fatalf("a replica shares through Redis: %v\nlogs:\n%s", shared, r.logs)
				}
			}
			skips := func() int {
				n := 0
				for _, r := range replicas {
					n += strings.Count(r.logs.String(), "skipped a duplicate delivery")
				}
				return n
			}

			inner := mentionEvent(t, "C1", "U1", "1700000000.000100", "recipe", photoFile(replicas[0], slackemu.MakePNG(32, 24)))
			first, err := s.SendEvent(inner, "EvREPLICAS")
			if err != nil {
				t.Fatal(err)
			}
			if err := s.WaitAcks(first, 2, wait); err != nil {
				t.Fatalf("not both replicas got the event: %v", err)
			}
			replicas[0].waitPosted(t, "C1", tt.wantAnswers)
			retry, err := s.RetryEvent(inner, "EvREPLICAS", 1)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.WaitAcks(retry, 2, wait); err != nil {
				t.Fatalf("not both replicas got the retry: %v", err)
			}
			// Every delivery not answered leaves its log line: once they
			// are all there, nothing more is coming.
			waitFor(t, func() bool { return skips() >= tt.wantSkips }, "the replicas skipped the duplicates")
			posted := replicas[0].waitPosted(t, "C1", tt.wantAnswers)
			if len(posted) != tt.wantAnswers || skips() != tt.wantSkips {
				t.Errorf("answers = %d, skipped deliveries = %d; want %d and %d", len(posted), skips(), tt.wantAnswers, tt.wantSkips)
			}
			for _, p := range posted {
				if got := answerText(t, p); got != "Once." {
					t.Errorf("answer = %q", got)
				}
			}
		})
	}
}

// A replica whose Redis does not answer at start still starts and
// answers, on its own memory, and says so.
func TestRedisDownAtStart(t *testing.T) {
	srv := redistest.Start(t)
	srv.Stop()
	h := startBot(t, map[string]string{"REDIS_URL": srv.URL()})
	if !strings.Contains(h.logs.String(), "REDIS_URL does not answer") {
		t.Errorf("no warning about Redis:\n%s", h.logs)
	}
	h.gemini.SetDefault(geminiemu.Reply{Text: "Still here."})
	if _, err := h.slack.SendEvent(mentionEvent(t, "C1", "U1", "1700000000.000100", "recipe",
		photoFile(h, slackemu.MakePNG(32, 24))), ""); err != nil {
		t.Fatal(err)
	}
	if got := answerText(t, h.waitPosted(t, "C1", 1)[0]); got != "Still here." {
		t.Errorf("answer = %q", got)
	}
}
