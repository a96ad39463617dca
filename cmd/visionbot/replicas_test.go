package main

import (
	"context"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/visionbot/visionbot/internal/geminiemu"
	"github.com/visionbot/visionbot/internal/redistest"
	"github.com/visionbot/visionbot/internal/slackemu"
)

// Two replicas that both get every event (the emulator delivers each
// envelope to every connection) answer a mention once when they share
// REDIS_URL, and Slack's retry of it too; without Redis each answers it,
// which shows the test can tell.
func TestReplicasAnswerOnce(t *testing.T) {
	t.Parallel()

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
			t.Parallel()

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
	t.Parallel()

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

// A deploy with two replicas sharing Redis: SIGTERM reaches the one
// answering a request, with SHUTDOWN_GRACE=0 and Gemini still writing. It
// hands the request back instead of telling its user to ask again; the
// other replica takes it at once, well before JOB_CLAIM_AFTER, and answers
// in the message the first one was streaming. The thread ends with one
// answer and no "ask me again".
func TestDeployHandsTheRequestToAnotherReplica(t *testing.T) {
	t.Parallel()

	env := map[string]string{
		"REDIS_URL": redistest.Start(t).URL(), "SHUTDOWN_GRACE": "0", "JOB_CLAIM_AFTER": "1m", "STREAM_MODE": "native",
	}
	s, g := newEmulators(t)
	// Each replica's start asks Gemini too: the answer that never ends is
	// scripted once the first is up, and every other call gets the whole
	// answer.
	g.SetDefault(geminiemu.Reply{Text: "The whole answer, from the other replica."})
	leaving := launchBot(t, s, g, env)
	g.Script(geminiemu.Reply{Text: "The first words of an answer that never ends.", Chunks: 3, ChunkDelay: time.Hour})
	inner := mentionEvent(t, "C1", "U1", "1700000000.000100", "recipe", photoFile(leaving, slackemu.MakePNG(32, 24)))
	if _, err := s.SendEvent(inner, ""); err != nil {
		t.Fatal(err)
	}
	waitAsked(t, leaving, 1)
	waitFor(t, func() bool { return len(s.Calls("chat.appendStream")) > 0 }, "the first words on screen")
	staying := launchBot(t, s, g, env)

	if err := leaving.stop(t); err != nil {
		t.Fatalf("run returned %v, want nil (exit 0)", err)
	}
	// The stream the first replica left shows its first words until the
	// other one's answer replaces it: its request's log line says when.
	waitFor(t, func() bool { return strings.Contains(staying.logs.String(), `"outcome":"ok"`) }, "the other replica's answer")
	posted := staying.waitPosted(t, "C1", 1)
	if len(posted) != 1 {
		for _, p := range posted {
			t.Logf("posted: %q", answerText(t, p))
		}
		t.Fatalf("%d messages in the thread, want the one answer", len(posted))
	}
	if got := answerText(t, posted[0]); got != "The whole answer, from the other replica." {
		t.Errorf("the thread shows %q\nleaving:\n%s\nstaying:\n%s", got, leaving.logs, staying.logs)
	}
	if !strings.Contains(leaving.logs.String(), "handed back to the other replicas") {
		t.Errorf("the replica that stopped does not say it handed its request back:\n%s", leaving.logs)
	}
	if !strings.Contains(staying.logs.String(), "took over a request") {
		t.Errorf("the other replica does not say it took the request over:\n%s", staying.logs)
	}
	for _, r := range []*harness{leaving, staying} {
		if strings.Contains(r.logs.String(), `"outcome":"shutting_down"`) {
			t.Errorf("a user was told the bot is restarting:\n%s", r.logs)
		}
	}
}

// visionbot check asks REDIS_URL's Redis whether replicas can share it,
// and says what to fix; a Redis that refuses the password stops the start
// too, while one that does not answer does not (TestRedisDownAtStart).
func TestCheckRedis(t *testing.T) {
	t.Parallel()

	srv := redistest.Start(t)
	down := redistest.Start(t)
	down.Stop()
	wrongPassword := strings.Replace(srv.URL(), redistest.Password, "not-the-password", 1)
	tests := []struct {
		name, url string
		want      []string
	}{
		{"it answers", srv.URL(), []string{"ok    Redis: Redis ", "answers and takes the password", "All checks passed."}},
		{"a wrong password", wrongPassword, []string{"FAIL  Redis: ask Redis at " + srv.Addr() + " for its version: it refused the password", "fix: put Redis's password (its requirepass) in REDIS_URL"}},
		{"it does not answer", down.URL(), []string{"FAIL  Redis: ask Redis at " + down.Addr() + " for its version", "fix: check the host and port in REDIS_URL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			_, _, env := emulators(t)
			env["REDIS_URL"] = tt.url
			var out syncBuffer
			err := run(context.Background(), []string{"visionbot", "check"}, func(k string) string { return env[k] }, &out, &syncBuffer{})
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			if strings.Contains(out.String(), "not-the-password") || strings.Contains(out.String(), redistest.Password) {
				t.Errorf("the output shows a password:\n%s", out.String())
			}
			if (err == nil) != (tt.url == srv.URL()) {
				t.Errorf("check returned %v", err)
			}
		})
	}

	t.Run("the start is refused on a wrong password", func(t *testing.T) {
		t.Parallel()

		_, _, env := emulators(t)
		env["REDIS_URL"] = wrongPassword
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		err := run(ctx, []string{"visionbot"}, func(k string) string { return env[k] }, &syncBuffer{}, &syncBuffer{})
		if err == nil || !strings.Contains(err.Error(), "it refused the password") || strings.Contains(err.Error(), "not-the-password") {
			t.Fatalf("run = %v, want the start refused, without the password", err)
		}
	})
}

// visionbot version prints the version and the commit.
func TestVersion(t *testing.T) {
	t.Parallel()

	var out syncBuffer
	if err := run(context.Background(), []string{"visionbot", "version"}, func(string) string { return "" }, &out, &syncBuffer{}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "visionbot ") || !strings.Contains(out.String(), "commit ") {
		t.Errorf("version printed %q", out.String())
	}
	b := buildOf(&debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}, GoVersion: "go1.26.8", Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.time", Value: "2026-12-01T10:00:00Z"}, {Key: "vcs.modified", Value: "true"},
	}})
	if got, want := b.String(), "visionbot v1.2.3, commit 0123abcd (modified), 2026-12-01T10:00:00Z, go1.26.8"; got != want {
		t.Errorf("build = %q, want %q", got, want)
	}
}
