package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/visionbot/visionbot/internal/geminiemu"
	"github.com/visionbot/visionbot/internal/redistest"
	"github.com/visionbot/visionbot/internal/slackemu"
)

const (
	testBotToken = "xoxb-test-bot-token-123"
	testAppToken = "xapp-1-test-app-token-456"
	testAPIKey   = "AIza-test-gemini-key-789"
	wait         = 15 * time.Second
)

// syncBuffer collects the bot's log lines from its goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// harness is the bot, configured only through its environment, running
// against both emulators with the real slack-go and genai clients.
type harness struct {
	slack  *slackemu.Server
	gemini *geminiemu.Server
	logs   *syncBuffer

	cancel   context.CancelFunc
	done     chan error
	stopOnce sync.Once
	stopErr  error
}

// stop cancels run's context, as SIGTERM does, and returns run's result;
// it is the test's end too.
func (h *harness) stop(t *testing.T) error {
	t.Helper()
	h.stopOnce.Do(func() {
		h.cancel()
		select {
		case h.stopErr = <-h.done:
		case <-time.After(wait):
			h.stopErr = errors.New("the bot did not stop")
		}
	})
	return h.stopErr
}

func startBot(t *testing.T, extraEnv map[string]string) *harness {
	t.Helper()
	s, g := newEmulators(t)
	return launchBot(t, s, g, extraEnv)
}

// newEmulators starts the Slack and Gemini emulators with the tests'
// credentials; they close when the test ends, after its bots stopped.
func newEmulators(t *testing.T) (*slackemu.Server, *geminiemu.Server) {
	t.Helper()
	s, g := slackemu.New(), geminiemu.New()
	t.Cleanup(func() {
		s.Close()
		g.Close()
	})
	s.SetBotToken(testBotToken)
	s.SetAppToken(testAppToken)
	// These tests check the flows, not the machine's pace: under -race on a
	// busy CI machine a modal can take longer than Slack's 3 s to open
	// (the bot opens them beside the job queue for that reason).
	s.SetTriggerTTL(30 * time.Second)
	g.SetAPIKey(testAPIKey)
	return s, g
}

// launchBot runs the bot against the emulators, as one replica among any
// others launched on them, and waits until it is connected.
func launchBot(t *testing.T, s *slackemu.Server, g *geminiemu.Server, extraEnv map[string]string) *harness {
	t.Helper()
	h := &harness{slack: s, gemini: g, logs: &syncBuffer{}}
	env := map[string]string{
		"SLACK_BOT_TOKEN":        testBotToken,
		"SLACK_APP_TOKEN":        testAppToken,
		"GEMINI_API_KEY":         testAPIKey,
		"SLACK_API_URL":          s.APIURL(),
		"GOOGLE_GEMINI_BASE_URL": g.URL(),
		"LOG_LEVEL":              "debug",
		// Each replica its own embedded store, unless the test shares one.
		"SETTINGS_DB": filepath.Join(t.TempDir(), "settings.db"),
	}
	for k, v := range extraEnv {
		env[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	h.cancel, h.done = cancel, done
	go func() {
		done <- run(ctx, []string{"visionbot"}, func(k string) string { return env[k] }, &syncBuffer{}, h.logs)
	}()
	t.Cleanup(func() {
		if err := h.stop(t); err != nil {
			t.Errorf("run returned %v", err)
		}
		// No secret in any log line, at debug level: the tokens, the key,
		// the Socket Mode tickets, an Authorization header, a response_url
		// (it posts as the app for half an hour), Redis's password.
		secrets := append([]string{testBotToken, testAppToken, testAPIKey, "Bearer", "/response/", redistest.Password}, h.slack.Tickets()...)
		for _, secret := range secrets {
			if strings.Contains(h.logs.String(), secret) {
				t.Errorf("the logs contain %q", secret)
			}
		}
	})
	// This replica's own log line, not any connection to the emulator:
	// another replica may be connected already.
	deadline := time.Now().Add(wait)
	for !strings.Contains(h.logs.String(), "connected to Slack (Socket Mode)") {
		select {
		case err := <-done:
			t.Fatalf("the bot stopped: %v\nlogs:\n%s", err, h.logs)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no Socket Mode connection\nlogs:\n%s", h.logs)
		}
	}
	// The client may see its connection a moment before the emulator has
	// counted it.
	if err := s.WaitConnected(wait); err != nil {
		t.Fatal(err)
	}
	return h
}

// fixtureEvent reads a real Events API payload from the shared fixtures
// and returns its inner event, edited by edit.
func fixtureEvent(t *testing.T, rel string, edit func(ev map[string]any)) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "internal", "fixtures", "data", rel))
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal(data, &body); err != nil {
		t.Fatal(err)
	}
	ev, ok := body["event"].(map[string]any)
	if !ok {
		ev = body // a bare inner event
	}
	edit(ev)
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// waitPosted waits until the bot has posted n messages in channel, each
// showing its final text: no stream still open, no placeholder left.
func (h *harness) waitPosted(t *testing.T, channel string, n int) []slackemu.Posted {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		posted := h.slack.Posted(channel)
		settled := len(posted) >= n &&
			len(h.slack.Calls("chat.startStream")) == len(h.slack.Calls("chat.stopStream"))
		for _, p := range posted {
			text := answerText(t, p)
			settled = settled && text != "" && !strings.Contains(text, "Looking at your photo")
		}
		if settled {
			return posted
		}
		if time.Now().After(deadline) {
			t.Fatalf("posted in %s: %d messages, want %d settled\nlogs:\n%s", channel, len(posted), n, h.logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// photoFile registers a 12-megapixel phone photo with Slack's thumbnails.
// The bytes are small images (encoding big ones is slow under -race); the
// declared sizes are a phone's.
func photoFile(h *harness, thumb []byte) map[string]any {
	return h.slack.AddFile(slackemu.FileSpec{
		Name: "dinner.jpg", Data: slackemu.MakePNG(40, 30), OriginalW: 4032, OriginalH: 3024,
		Mimetype: "image/jpeg", Filetype: "jpg",
		Thumbs: map[int][]byte{720: thumb, 360: slackemu.MakePNG(24, 18)},
	})
}

func TestMentionWithPhoto(t *testing.T) {
	t.Parallel()

	h := startBot(t, nil)
	// A real 720-px thumbnail: Slack reports a thumbnail's own size.
	thumb := slackemu.MakePNG(720, 540)
	file := photoFile(h, thumb)
	h.gemini.Script(geminiemu.Reply{Text: "## Spaghetti\n1. Boil water.\n2. Cook pasta."})

	const ts = "1700000000.000100"
	// The message is in the channel, as in Slack: the thread's status and
	// session need it.
	h.slack.AddMessage("C1", map[string]any{"user": "U1", "text": "<@" + slackemu.BotUserID + "> recipe for two", "files": []any{file}, "ts": ts})
	inner := fixtureEvent(t, "slack/events/message_file_share_png.bolt-python.json", func(ev map[string]any) {
		ev["type"] = "app_mention"
		ev["text"] = "<@" + slackemu.BotUserID + "> recipe for two"
		ev["channel"] = "C1"
		ev["user"] = "U1"
		ev["ts"] = ts
		ev["files"] = []any{file}
		delete(ev, "subtype")
	})
	env, err := h.slack.SendEvent(inner, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.slack.WaitAck(env, wait); err != nil {
		t.Fatalf("no ack: %v", err)
	}
	posted := h.waitPosted(t, "C1", 1)
	if posted[0].ThreadTS != ts {
		t.Errorf("answer in thread %q, want %q", posted[0].ThreadTS, ts)
	}
	if got := answerText(t, posted[0]); got != "## Spaghetti\n1. Boil water.\n2. Cook pasta." {
		t.Errorf("answer = %q", got)
	}

	reqs := streamRequests(t, h.gemini)
	if len(reqs) != 1 {
		t.Fatalf("%d answers asked of Gemini, want 1", len(reqs))
	}
	req := reqs[0]
	if req.SystemInstruction == nil || len(req.SystemInstruction.Parts) == 0 || !strings.Contains(strings.ToLower(req.SystemInstruction.Parts[0].Text), "recipe") {
		t.Errorf("system instruction lacks the recipe use case: %+v", req.SystemInstruction)
	}
	var sawImage, sawQuestion bool
	for _, c := range req.Contents {
		for _, p := range c.Parts {
			if p.InlineData != nil {
				data, _ := base64.StdEncoding.DecodeString(p.InlineData.Data)
				sawImage = bytes.Equal(data, thumb) && p.InlineData.MIMEType == "image/png"
			}
			sawQuestion = sawQuestion || strings.Contains(p.Text, "for two")
		}
	}
	if !sawImage || !sawQuestion {
		t.Errorf("Gemini request: image from the 720 thumbnail %v, question %v; downloads %+v", sawImage, sawQuestion, h.slack.Downloads())
	}
	for _, d := range h.slack.Downloads() {
		if d.Auth != "Bearer "+testBotToken {
			t.Errorf("download %s with Authorization %q", d.Path, d.Auth)
		}
	}
	// The sign of work is the thread's loading status, in the use case's
	// words, and the agent session's "processing"; both are taken down.
	h.waitUntilSettled(t, "C1", ts)
	sets := h.slack.Calls("assistant.threads.setStatus")
	if len(sets) != 2 || sets[0].Params["status"] == "" || sets[1].Params["status"] != "" {
		t.Fatalf("setStatus calls %+v, want one set and one clear", sets)
	}
	if l := sets[0].Params["loading_messages"]; !strings.Contains(l, "Writing the recipe card") {
		t.Errorf("loading messages %q are not the recipe's", l)
	}
	// chat.stopStream leaves the session active by itself; the bot says so
	// too, since an answer may end without a stream.
	if got := h.slack.SessionStatuses("C1", ts); got[0] != "processing" || slices.Contains(got[1:], "processing") || got[len(got)-1] != "active" {
		t.Errorf("agent session statuses %v, want processing, then active", got)
	}
	// Reactions are off unless PROGRESS_REACTIONS asks for them.
	if r := h.slack.Reactions("C1", ts); len(r) != 0 {
		t.Errorf("reactions %v without PROGRESS_REACTIONS", r)
	}
}

// PROGRESS_REACTIONS=true keeps the reactions of older versions: :eyes:
// while the bot works, then the outcome.
func TestProgressReactions(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name, answer, want string
		fail               bool
	}{
		{"an answer ends in a check mark", "Pasta.", "white_check_mark", false},
		{"a failure ends in a warning", "", "warning", true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			h := startBot(t, map[string]string{"PROGRESS_REACTIONS": "true"})
			if tt.fail {
				h.gemini.Script(geminiemu.Reply{Status: 400})
			} else {
				h.gemini.Script(geminiemu.Reply{Text: tt.answer})
			}
			ts := fmt.Sprintf("17000001%02d.000100", i)
			mentionWithPhoto(t, h, ts, "<@"+slackemu.BotUserID+"> recipe")
			h.waitUntilSettled(t, "C1", ts)
			waitFor(t, func() bool {
				return slices.Equal(h.slack.Reactions("C1", ts), []string{tt.want})
			}, "reactions end as :"+tt.want+":")
			var eyes bool
			for _, c := range h.slack.Calls("reactions.add") {
				eyes = eyes || c.Params["name"] == "eyes"
			}
			if !eyes {
				t.Error("no :eyes: while the bot worked")
			}
		})
	}
}

func TestSlashAnalyzeRecipe(t *testing.T) {
	t.Parallel()

	h := startBot(t, nil)
	file := photoFile(h, slackemu.MakePNG(32, 24))
	// Posted a minute ago: /analyze looks back 24 hours.
	recent := fmt.Sprintf("%d.000100", time.Now().Add(-time.Minute).Unix())
	photoTS := h.slack.AddMessage("C1", map[string]any{"user": "U1", "text": "dinner", "files": []any{file}, "ts": recent})
	h.gemini.Script(geminiemu.Reply{Text: "A recipe."})

	env, err := h.slack.SendSlashCommand(map[string]string{
		"command": "/analyze", "text": "recipe", "channel_id": "C1", "user_id": "U1", "user_name": "alice",
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.slack.WaitAck(env, wait); err != nil {
		t.Fatalf("no ack: %v", err)
	}
	var answer *slackemu.Posted
	for _, p := range h.waitPosted(t, "C1", 1) {
		if p.ThreadTS == photoTS {
			answer = &p
		}
	}
	if answer == nil || answerText(t, *answer) != "A recipe." {
		t.Fatalf("no answer in the photo's thread %s: %+v", photoTS, h.slack.Posted("C1"))
	}
	resps, err := h.slack.WaitResponses(1, wait)
	if err != nil {
		t.Fatal(err)
	}
	if text, _ := resps[0].Body["text"].(string); !strings.Contains(text, "recipe") || resps[0].Body["response_type"] != "ephemeral" {
		t.Errorf("confirmation = %+v", resps[0].Body)
	}
}

func TestSlashHelp(t *testing.T) {
	t.Parallel()

	h := startBot(t, nil)
	if _, err := h.slack.SendSlashCommand(map[string]string{"text": "", "channel_id": "C1", "user_id": "U1"}); err != nil {
		t.Fatal(err)
	}
	resps, err := h.slack.WaitResponses(1, wait)
	if err != nil {
		t.Fatal(err)
	}
	text, _ := resps[0].Body["text"].(string)
	for _, uc := range []string{"describe", "healthy", "nutrition", "recipe", "code", "guide", "doodle"} {
		if !strings.Contains(text, "`"+uc+"`") {
			t.Errorf("help lacks %s: %q", uc, text)
		}
	}
}

func TestDirectMessage(t *testing.T) {
	t.Parallel()

	h := startBot(t, nil)
	file := photoFile(h, slackemu.MakePNG(32, 24))
	h.gemini.Script(geminiemu.Reply{Text: "Looks like a cat."})
	const ts = "1700000100.000200"
	inner := fixtureEvent(t, "slack/events/message_im.slack-web.json", func(ev map[string]any) {
		ev["channel"] = "D1"
		ev["user"] = "U1"
		// The sender's team, as in the fixture, is the workspace's own:
		// here the emulator's, or the bot would take them for an outsider.
		ev["team"] = slackemu.TeamID
		ev["ts"] = ts
		ev["subtype"] = "file_share"
		ev["files"] = []any{file}
		ev["text"] = ""
	})
	if _, err := h.slack.SendEvent(inner, ""); err != nil {
		t.Fatal(err)
	}
	posted := h.waitPosted(t, "D1", 1)
	if posted[0].ThreadTS != ts || answerText(t, posted[0]) != "Looks like a cat." {
		t.Errorf("posted = %+v", posted[0])
	}
}

func TestBadInputAndFaults(t *testing.T) {
	t.Parallel()

	h := startBot(t, nil)
	pdf := h.slack.AddFile(slackemu.FileSpec{Name: "menu.pdf", Data: []byte("%PDF-1.7\n%\xe2\xe3\n1 0 obj<<>>endobj\n")})

	mention := func(channel, ts string, files []any) {
		t.Helper()
		ev := map[string]any{
			"type": "app_mention", "user": "U1", "text": "<@" + slackemu.BotUserID + ">  describe",
			"ts": ts, "event_ts": ts, "channel": channel,
		}
		if files != nil {
			ev["files"] = files
		}
		inner, _ := json.Marshal(ev)
		if _, err := h.slack.SendEvent(inner, ""); err != nil {
			t.Fatal(err)
		}
	}

	// The cases run in order on one bot: one sets Gemini's default reply,
	// another counts on no other envelope being ignored.
	t.Run("no image", func(t *testing.T) {
		mention("C2", "1700000200.000100", nil)
		if got := answerText(t, h.waitPosted(t, "C2", 1)[0]); !strings.Contains(got, "couldn't find an image") {
			t.Errorf("answer = %q", got)
		}
	})
	t.Run("a PDF", func(t *testing.T) {
		mention("C3", "1700000300.000100", []any{pdf})
		if got := answerText(t, h.waitPosted(t, "C3", 1)[0]); !strings.Contains(got, "PDF") {
			t.Errorf("answer = %q", got)
		}
	})
	t.Run("Gemini 503, then the next request is served", func(t *testing.T) {
		overloaded := geminiemu.FixtureReply(t, "errors/503_UNAVAILABLE.model_overloaded.json")
		h.gemini.SetDefault(overloaded)
		mention("C4", "1700000400.000100", []any{photoFile(h, slackemu.MakePNG(32, 24))})
		if got := answerText(t, h.waitPosted(t, "C4", 1)[0]); !strings.Contains(got, "overloaded") {
			t.Errorf("answer = %q", got)
		}
		h.gemini.SetDefault(geminiemu.Reply{Text: "Back to normal."})
		mention("C4", "1700000401.000100", []any{photoFile(h, slackemu.MakePNG(32, 24))})
		if got := answerText(t, h.waitPosted(t, "C4", 2)[1]); got != "Back to normal." {
			t.Errorf("answer after recovery = %q", got)
		}
	})
	t.Run("a duplicate delivery and the bot's own message get no second answer", func(t *testing.T) {
		h.gemini.SetDefault(geminiemu.Reply{Text: "Once."})
		inner, _ := json.Marshal(map[string]any{
			"type": "app_mention", "user": "U1", "text": "<@" + slackemu.BotUserID + ">", "ts": "1700000500.000100",
			"channel": "C5", "files": []any{photoFile(h, slackemu.MakePNG(32, 24))},
		})
		for range 2 { // Slack's retry: the same event id again
			if _, err := h.slack.SendEvent(inner, "EvDUPLICATE"); err != nil {
				t.Fatal(err)
			}
		}
		own := fixtureEvent(t, "slack/events/message_from_own_bot_no_subtype.slack-web.json", func(ev map[string]any) {
			ev["channel"] = "C5"
			ev["channel_type"] = "im"
			ev["user"] = slackemu.BotUserID
		})
		envOwn, err := h.slack.SendEvent(own, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.slack.WaitAck(envOwn, wait); err != nil {
			t.Fatalf("the bot's own message was not acked: %v", err)
		}
		h.waitPosted(t, "C5", 1)
		// The bot is done with both events once its log says it skipped
		// the duplicate and ignored its own message: then no second answer
		// can be on its way. Should either become an answer instead, the
		// wait ends at that answer.
		second := func() bool { return len(h.slack.Posted("C5")) > 1 }
		waitFor(t, func() bool { return h.logged("skipped a duplicate delivery", "event:EvDUPLICATE") > 0 || second() },
			"the duplicate delivery is skipped")
		// (No other envelope of this bot is ignored: its other events are
		// answered, and the unparsable frame comes later and is "skipped".)
		waitFor(t, func() bool { return h.logged("ignored an envelope") > 0 || second() },
			"the bot's own message is ignored")
		if n := len(h.slack.Posted("C5")); n != 1 {
			t.Errorf("answers = %d, want 1", n)
		}
	})
	t.Run("an envelope that cannot be parsed is still acked", func(t *testing.T) {
		frame := `{"envelope_id":"bad-envelope-1","type":"events_api","accepts_response_payload":false,"payload":{"type":"event_callback","event":"not an object"}}`
		if err := h.slack.SendRaw([]byte(frame)); err != nil {
			t.Fatal(err)
		}
		if _, err := h.slack.WaitAck("bad-envelope-1", wait); err != nil {
			t.Errorf("not acked: %v", err)
		}
	})
}

// logged is how many of the bot's log lines hold every one of parts.
func (h *harness) logged(parts ...string) int {
	n := 0
	for _, line := range strings.Split(h.logs.String(), "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			n++
		}
	}
	return n
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStartupErrors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name     string
		env      map[string]string
		wantCode int
		want     []string
	}{
		{
			name:     "nothing set: every problem at once",
			env:      map[string]string{},
			wantCode: 2,
			want:     []string{"SLACK_BOT_TOKEN is not set", "SLACK_APP_TOKEN is not set", "GEMINI_API_KEY is not set"},
		},
		{
			name:     "swapped tokens",
			env:      map[string]string{"SLACK_BOT_TOKEN": "xapp-1", "SLACK_APP_TOKEN": "xoxb-1", "GEMINI_API_KEY": "k"},
			wantCode: 2,
			want:     []string{"swapped"},
		},
		{
			name:     "a user token where the bot token goes",
			env:      map[string]string{"SLACK_BOT_TOKEN": "xoxp-1", "SLACK_APP_TOKEN": "xapp-1", "GEMINI_API_KEY": "k"},
			wantCode: 2,
			want:     []string{"user token"},
		},
		{
			name:     "Vertex AI without project",
			env:      map[string]string{"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1", "GOOGLE_GENAI_USE_VERTEXAI": "true"},
			wantCode: 2,
			want:     []string{"GOOGLE_CLOUD_PROJECT"},
		},
		{
			name:     "bad numbers and durations",
			env:      map[string]string{"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1", "GEMINI_API_KEY": "k", "WORKERS": "many", "JOB_TIMEOUT": "soon"},
			wantCode: 2,
			want:     []string{"WORKERS", "JOB_TIMEOUT"},
		},
		{
			name:     "an unknown subcommand",
			env:      map[string]string{"ARGS": "frobnicate"},
			wantCode: 2,
			want:     []string{`unknown command "frobnicate"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			args := []string{"visionbot"}
			if a := tt.env["ARGS"]; a != "" {
				args = append(args, a)
			}
			var stderr syncBuffer
			err := run(context.Background(), args, func(k string) string { return tt.env[k] }, &syncBuffer{}, &stderr)
			if err == nil {
				t.Fatal("run succeeded")
			}
			if code := exitCode(err); code != tt.wantCode {
				t.Errorf("exit code %d, want %d", code, tt.wantCode)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			for _, v := range tt.env {
				if len(v) > 3 && strings.Contains(err.Error(), v) && strings.HasPrefix(v, "xox") {
					t.Errorf("the error shows a token: %v", err)
				}
			}
		})
	}
}

func TestStartupRefusedByServices(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		env  func(s *slackemu.Server, g *geminiemu.Server) map[string]string
		want string
	}{
		{
			name: "Slack refuses the bot token",
			env: func(s *slackemu.Server, g *geminiemu.Server) map[string]string {
				return map[string]string{"SLACK_BOT_TOKEN": "xoxb-wrong"}
			},
			want: "Slack refused SLACK_BOT_TOKEN",
		},
		{
			name: "Slack refuses the app token",
			env: func(s *slackemu.Server, g *geminiemu.Server) map[string]string {
				return map[string]string{"SLACK_APP_TOKEN": "xapp-wrong"}
			},
			want: "Slack refused SLACK_APP_TOKEN",
		},
		{
			name: "an unknown model",
			env: func(s *slackemu.Server, g *geminiemu.Server) map[string]string {
				return map[string]string{"GEMINI_MODEL": "gemini-0-nonexistent"}
			},
			want: `GEMINI_MODEL "gemini-0-nonexistent"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			s, g := slackemu.New(), geminiemu.New()
			defer s.Close()
			defer g.Close()
			s.SetBotToken(testBotToken)
			s.SetAppToken(testAppToken)
			env := map[string]string{
				"SLACK_BOT_TOKEN": testBotToken, "SLACK_APP_TOKEN": testAppToken, "GEMINI_API_KEY": testAPIKey,
				"SLACK_API_URL": s.APIURL(), "GOOGLE_GEMINI_BASE_URL": g.URL(),
			}
			for k, v := range tt.env(s, g) {
				env[k] = v
			}
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			err := run(ctx, []string{"visionbot"}, func(k string) string { return env[k] }, &syncBuffer{}, &syncBuffer{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("run = %v, want an error with %q", err, tt.want)
			}
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("run hung: %v", err)
			}
		})
	}
}
