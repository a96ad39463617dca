package slackapi

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/visionbot/visionbot/bot/blocks"
	"github.com/visionbot/visionbot/handlers"
	"github.com/visionbot/visionbot/internal/slackemu"
	"github.com/visionbot/visionbot/internal/slackmd"
)

// replyWait bounds every wait for the emulator; it is a deadline for a
// stuck test, never a measure of how fast the writer is.
const replyWait = 10 * time.Second

var streamMethods = []string{"chat.startStream", "chat.appendStream", "chat.stopStream"}

// newReplyAPI is an API streaming with cfg; a short interval keeps the
// tests quick without any of them depending on it.
func newReplyAPI(t *testing.T, cfg StreamConfig) (*API, *slackemu.Server) {
	t.Helper()
	api, emu := newTestAPI(t)
	if cfg.Interval == 0 {
		cfg.Interval = 10 * time.Millisecond
	}
	api.stream = filled(cfg)
	return api, emu
}

// filled is cfg with DefaultStreamConfig's values where it has none.
func filled(cfg StreamConfig) StreamConfig {
	def := DefaultStreamConfig()
	if cfg.Mode == "" {
		cfg.Mode = def.Mode
	}
	if cfg.Interval == 0 {
		cfg.Interval = def.Interval
	}
	if cfg.MaxAge == 0 {
		cfg.MaxAge = def.MaxAge
	}
	if cfg.MaxParts == 0 {
		cfg.MaxParts = def.MaxParts
	}
	return cfg
}

// replyThread adds a user's photo message to channel and returns its thread.
func replyThread(emu *slackemu.Server, channel string) handlers.Thread {
	root := emu.AddMessage(channel, map[string]any{"user": "U1", "text": "photo"})
	return handlers.Thread{Channel: channel, TS: root, User: "U1", Team: slackemu.TeamID}
}

func replyFooter() *handlers.Footer {
	return &handlers.Footer{
		Ref:     handlers.AnswerRef{UseCase: "food", Files: []string{"F1"}},
		Choices: []handlers.Choice{{Name: "food", Label: "food: meals"}, {Name: "plants", Label: "plants: leaves"}},
	}
}

func waitCalls(t *testing.T, emu *slackemu.Server, method string, n int) {
	t.Helper()
	if _, err := emu.WaitCalls(method, n, replyWait); err != nil {
		t.Fatal(err)
	}
}

// streamedText is what the stream calls carried, in order.
func streamedText(emu *slackemu.Server) string {
	var b strings.Builder
	for _, c := range emu.Calls("") {
		for _, m := range streamMethods {
			if c.Method == m {
				b.WriteString(c.Params["markdown_text"])
			}
		}
	}
	return b.String()
}

// hasFooter reports whether a message carries replyFooter's reference in
// its blocks.
func hasFooter(p slackemu.Posted) bool {
	var set slack.Blocks
	if p.Blocks == nil || json.Unmarshal(p.Blocks, &set) != nil {
		return false
	}
	ref, want := blocks.RefOf(set), replyFooter().Ref
	return ref != nil && ref.UseCase == want.UseCase && slices.Equal(ref.Files, want.Files)
}

// checkThread checks that the bot's messages in channel show exactly parts,
// in the thread, with the footer under the last one only when wantFooter.
func checkThread(t *testing.T, emu *slackemu.Server, th handlers.Thread, parts []string, wantFooter bool) []slackemu.Posted {
	t.Helper()
	posted := emu.Posted(th.Channel)
	if len(posted) != len(parts) {
		for _, p := range posted {
			t.Logf("posted %s: %q", p.TS, p.Markdown())
		}
		t.Fatalf("%d messages, want %d", len(posted), len(parts))
	}
	for i, p := range posted {
		if p.ThreadTS != th.TS {
			t.Errorf("message %d is in thread %q, want %q", i, p.ThreadTS, th.TS)
		}
		if got := p.Markdown(); got != parts[i] {
			t.Errorf("message %d shows %q, want %q", i, got, parts[i])
		}
		if last := i == len(parts)-1; hasFooter(p) != (last && wantFooter) {
			t.Errorf("message %d: footer %v, want %v: %s", i, hasFooter(p), last && wantFooter, p.Blocks)
		}
	}
	return posted
}

func TestReplyNativeStream(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		name, channel string
		footer        *handlers.Footer
		recipient     bool
	}{
		{"channel", "C1", replyFooter(), true},
		{"DM", "D1", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			api, emu := newReplyAPI(t, StreamConfig{Mode: StreamNative})
			th := replyThread(emu, tc.channel)
			ctx := context.Background()
			r := api.For(Unleased{}).OpenReply(ctx, th)
			waitCalls(t, emu, "chat.startStream", 1)
			r.Append("Hello ")
			waitCalls(t, emu, "chat.appendStream", 1) // the first text goes out at once
			r.Append("world.\n\n")
			waitCalls(t, emu, "chat.appendStream", 2) // and later text once the interval passed
			r.Append("A second paragraph.")
			answer := "Hello world.\n\nA second paragraph."
			if err := r.Finish(ctx, answer, tc.footer); err != nil {
				t.Fatal(err)
			}

			var order []string
			for _, c := range emu.Calls("") {
				if strings.HasPrefix(c.Method, "chat.") {
					order = append(order, c.Method)
				}
			}
			if len(order) < 3 || order[0] != "chat.startStream" || order[len(order)-1] != "chat.stopStream" {
				t.Fatalf("calls = %v, want startStream, appendStream…, stopStream", order)
			}
			for _, m := range order[1 : len(order)-1] {
				if m != "chat.appendStream" {
					t.Fatalf("calls = %v, want only appends between start and stop", order)
				}
			}
			start := emu.Calls("chat.startStream")[0].Params
			if start["thread_ts"] != th.TS {
				t.Errorf("startStream thread_ts = %q, want %q", start["thread_ts"], th.TS)
			}
			user, team := start["recipient_user_id"], start["recipient_team_id"]
			if tc.recipient && (user != th.User || team != th.Team) {
				t.Errorf("startStream in a channel: recipient %q/%q, want %q/%q", user, team, th.User, th.Team)
			}
			if !tc.recipient && (user != "" || team != "") {
				t.Errorf("startStream in a DM: recipient %q/%q, want none", user, team)
			}
			if got := streamedText(emu); got != answer {
				t.Errorf("streamed %q, want %q", got, answer)
			}
			posted := checkThread(t, emu, th, []string{answer}, tc.footer != nil)
			if !posted[0].Streamed || posted[0].Text != answer {
				t.Errorf("message = %+v, want the streamed answer", posted[0])
			}
		})
	}
}

func TestReplyStreamCoalescesAppends(t *testing.T) {
	t.Parallel()

	// After the first flush, nothing goes out for an hour: every later
	// Append must wait for Finish and arrive with it in one call.
	api, emu := newReplyAPI(t, StreamConfig{Mode: StreamNative, Interval: time.Hour})
	th := replyThread(emu, "C1")
	ctx := context.Background()
	r := api.For(Unleased{}).OpenReply(ctx, th)
	waitCalls(t, emu, "chat.startStream", 1)
	var answer strings.Builder
	const appends = 100
	for i := range appends {
		piece := strings.Repeat("word ", i%7+1)
		answer.WriteString(piece)
		r.Append(piece)
	}
	if err := r.Finish(ctx, answer.String(), nil); err != nil {
		t.Fatal(err)
	}
	if n := len(emu.Calls("chat.appendStream")); n >= appends || n > 1 {
		t.Errorf("%d appendStream calls for %d appends", n, appends)
	}
	if got := streamedText(emu); got != answer.String() {
		t.Errorf("streamed %q, want %q", got, answer.String())
	}
	checkThread(t, emu, th, []string{answer.String()}, false)
}

func TestReplyFallsBackToUpdates(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		name   string
		thread func(handlers.Thread) handlers.Thread
		fail   bool // chat.startStream fails
	}{
		{"startStream fails", nil, true},
		// A channel stream without its recipient would vanish on stop.
		{"no recipient", func(th handlers.Thread) handlers.Thread { th.User, th.Team = "", ""; return th }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			api, emu := newReplyAPI(t, StreamConfig{Mode: StreamNative})
			if tc.fail {
				emu.Fail("chat.startStream", 1, http.StatusOK, nil, `{"ok":false,"error":"not_allowed_token_type"}`)
			}
			th := replyThread(emu, "C1")
			if tc.thread != nil {
				th = tc.thread(th)
			}
			ctx := context.Background()
			r := api.For(Unleased{}).OpenReply(ctx, th)
			waitCalls(t, emu, "chat.postMessage", 1)
			checkThread(t, emu, th, []string{placeholder}, false)
			r.Append("Hello")
			waitCalls(t, emu, "chat.update", 1)
			r.Append(", world")
			answer := "Hello, world."
			if err := r.Finish(ctx, answer, replyFooter()); err != nil {
				t.Fatal(err)
			}
			checkThread(t, emu, th, []string{answer}, true)
			wantStarts := 0
			if tc.fail {
				wantStarts = 1
			}
			if n := len(emu.Calls("chat.startStream")); n != wantStarts {
				t.Errorf("%d startStream calls, want %d", n, wantStarts)
			}
			if n := len(emu.Calls("chat.appendStream")) + len(emu.Calls("chat.stopStream")); n != 0 {
				t.Errorf("%d stream calls after the fallback", n)
			}
		})
	}
}

// steppingClock advances a second at each reading, so any stream is past
// a MaxAge of a nanosecond by its first flush.
type steppingClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *steppingClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Second)
	return c.now
}

func TestReplyStreamEndsMidway(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		name  string
		setup func(*API, *slackemu.Server)
		// brk makes the stream unusable after its first append.
		brk func(*slackemu.Server)
	}{
		{"stream expired", nil, func(emu *slackemu.Server) { emu.SetStreamTTL(time.Nanosecond) }},
		{"append refused", nil, func(emu *slackemu.Server) {
			emu.Fail("chat.appendStream", 1, http.StatusOK, nil, `{"ok":false,"error":"internal_error"}`)
		}},
		{"append ambiguous", nil, func(emu *slackemu.Server) {
			emu.Fail("chat.appendStream", 1, http.StatusBadGateway, nil, "bad gateway")
		}},
		{"older than MaxAge", func(api *API, _ *slackemu.Server) {
			api.stream.MaxAge = time.Nanosecond
			api.now = (&steppingClock{now: time.Unix(1700000000, 0)}).Now
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			api, emu := newReplyAPI(t, StreamConfig{Mode: StreamNative})
			if tc.setup != nil {
				tc.setup(api, emu)
			}
			th := replyThread(emu, "C1")
			ctx := context.Background()
			r := api.For(Unleased{}).OpenReply(ctx, th)
			r.Append("Hello ")
			if tc.brk != nil {
				waitCalls(t, emu, "chat.appendStream", 1)
				tc.brk(emu)
				r.Append("world")
			}
			waitCalls(t, emu, "chat.update", 1)
			r.Append(", and more.")
			answer := "Hello world, and more."
			if err := r.Finish(ctx, answer, replyFooter()); err != nil {
				t.Fatal(err)
			}
			posted := checkThread(t, emu, th, []string{answer}, true)
			if !posted[0].Streamed {
				t.Errorf("the answer is not the streamed message: %+v", posted[0])
			}
			if n := len(emu.Calls("chat.postMessage")); n != 0 {
				t.Errorf("%d messages posted, want the stream's message updated", n)
			}
		})
	}
}

func TestReplyStreamRateLimited(t *testing.T) {
	t.Parallel()

	api, emu := newReplyAPI(t, StreamConfig{Mode: StreamNative})
	// Slack asks for 30s: the test finishes long before, so a second append
	// could only come from ignoring Retry-After.
	emu.Fail("chat.appendStream", 1, http.StatusTooManyRequests, http.Header{"Retry-After": {"30"}},
		`{"ok":false,"error":"ratelimited"}`)
	th := replyThread(emu, "C1")
	ctx := context.Background()
	r := api.For(Unleased{}).OpenReply(ctx, th)
	r.Append("Hello ")
	waitCalls(t, emu, "chat.appendStream", 1)
	r.Append("world.")
	answer := "Hello world."
	if err := r.Finish(ctx, answer, nil); err != nil {
		t.Fatal(err)
	}
	if n := len(emu.Calls("chat.appendStream")); n != 1 {
		t.Errorf("%d appendStream calls, want none after the 429", n)
	}
	if got := emu.Calls("chat.stopStream"); len(got) != 1 || got[0].Params["markdown_text"] != answer {
		t.Errorf("stopStream calls = %+v, want one carrying the whole answer", got)
	}
	if n := len(emu.Calls("chat.update")); n != 0 {
		t.Errorf("%d updates: a rate limit is no reason to leave the stream", n)
	}
	checkThread(t, emu, th, []string{answer}, false)
}

func TestReplyUpdateAndOffModes(t *testing.T) {
	t.Parallel()

	for _, mode := range []StreamMode{StreamUpdate, StreamOff} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()

			api, emu := newReplyAPI(t, StreamConfig{Mode: mode})
			th := replyThread(emu, "C1")
			ctx := context.Background()
			r := api.For(Unleased{}).OpenReply(ctx, th)
			r.Append("Some ")
			r.Append("text.")
			if mode == StreamUpdate {
				waitCalls(t, emu, "chat.update", 1)
			}
			answer := "Some text."
			if err := r.Finish(ctx, answer, replyFooter()); err != nil {
				t.Fatal(err)
			}
			checkThread(t, emu, th, []string{answer}, true)
			for _, m := range streamMethods {
				if n := len(emu.Calls(m)); n != 0 {
					t.Errorf("%d %s calls", n, m)
				}
			}
			if mode == StreamOff {
				if n := len(emu.Calls("chat.update")); n != 0 {
					t.Errorf("%d chat.update calls with streaming off", n)
				}
				if n := len(emu.Calls("chat.postMessage")); n != 1 {
					t.Errorf("%d chat.postMessage calls, want the answer posted once", n)
				}
			}
		})
	}
}

// longAnswer is an answer of several messages at a limit of 1500 bytes,
// with accents and a code fence cut between two of them.
func longAnswer() string {
	var b strings.Builder
	for i := range 16 {
		b.WriteString(strings.Repeat("Une phrase accentuée, é à ü. ", 8))
		b.WriteString("\n\n")
		if i == 4 {
			b.WriteString("```go\n" + strings.Repeat("fmt.Println(\"ligne\")\n", 40) + "```\n\n")
		}
	}
	return b.String()
}

// streamedReply opens a reply in a thread of C1, writing with cfg into
// messages of at most limit bytes, and appends answer to it in pieces, as
// a model streams it.
func streamedReply(t *testing.T, cfg StreamConfig, limit int, answer string) (handlers.Reply, *slackemu.Server, handlers.Thread) {
	t.Helper()
	api, emu := newReplyAPI(t, cfg)
	api.replyLimit = limit
	th := replyThread(emu, "C1")
	r := api.For(Unleased{}).OpenReply(context.Background(), th)
	for chunk := range slicesOf(answer, 97) {
		r.Append(chunk)
	}
	return r, emu, th
}

func TestReplyLongAnswer(t *testing.T) {
	t.Parallel()

	answer := longAnswer()
	const limit = 1500
	parts := slackmd.Split(answer, limit, slackmd.AllParts)
	reopened := false
	for _, p := range parts[1:] {
		reopened = reopened || strings.HasPrefix(p, "```go\n")
	}
	if len(parts) < 3 || !reopened {
		t.Fatalf("test answer splits in %d parts, reopening a fence: %v; want at least 3 and a fence cut", len(parts), reopened)
	}
	for _, mode := range []StreamMode{StreamNative, StreamUpdate, StreamOff} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()

			r, emu, th := streamedReply(t, StreamConfig{Mode: mode, MaxParts: len(parts)}, limit, answer)
			ctx := context.Background()
			var live string // what the stream showed before Finish
			switch mode {
			case StreamNative:
				waitCalls(t, emu, "chat.appendStream", 1)
				for _, c := range emu.Calls("chat.appendStream") {
					live += c.Params["markdown_text"]
				}
			case StreamUpdate:
				calls, err := emu.WaitCalls("chat.update", 1, replyWait)
				if err != nil {
					t.Fatal(err)
				}
				live = (slackemu.Posted{Blocks: []byte(calls[len(calls)-1].Params["blocks"])}).Markdown()
			}
			if len(live) > r.(*reply).limit || !utf8.ValidString(live) || !strings.HasPrefix(answer, live) {
				t.Errorf("shown while streaming: %d bytes (limit %d), valid UTF-8 %v, a prefix %v",
					len(live), r.(*reply).limit, utf8.ValidString(live), strings.HasPrefix(answer, live))
			}
			if err := r.Finish(ctx, answer, replyFooter()); err != nil {
				t.Fatal(err)
			}
			checkThread(t, emu, th, parts, true)
		})
	}
}

// An answer longer than MaxParts messages fills that many, whichever way
// it reached Slack, and a note under them says it stops there; the footer
// goes under the note, the thread's last message.
func TestReplyCapsItsParts(t *testing.T) {
	t.Parallel()

	answer := longAnswer()
	const limit = 1500
	parts := slackmd.Split(answer, limit, slackmd.AllParts)
	if len(parts) < 4 {
		t.Fatalf("test answer splits in %d parts, want at least 4", len(parts))
	}
	cut := func(n int) []string { return append(slices.Clone(parts[:n]), cutNote) }
	tests := []struct {
		name     string
		mode     StreamMode
		maxParts int
		want     []string
	}{
		{"native", StreamNative, 2, cut(2)},
		{"update", StreamUpdate, 2, cut(2)},
		{"off", StreamOff, 2, cut(2)},
		{"native, one part", StreamNative, 1, cut(1)},
		{"update, one part", StreamUpdate, 1, cut(1)},
		{"exactly the cap", StreamNative, len(parts), parts},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			r, emu, th := streamedReply(t, StreamConfig{Mode: tt.mode, MaxParts: tt.maxParts}, limit, answer)
			ctx := context.Background()
			switch tt.mode {
			case StreamNative:
				waitCalls(t, emu, "chat.appendStream", 1)
			case StreamUpdate:
				waitCalls(t, emu, "chat.update", 1)
			}
			if err := r.Finish(ctx, answer, replyFooter()); err != nil {
				t.Fatal(err)
			}
			checkThread(t, emu, th, tt.want, true)
		})
	}
}

// slicesOf yields s in pieces of n bytes, even inside a character.
func slicesOf(s string, n int) func(func(string) bool) {
	return func(yield func(string) bool) {
		for len(s) > 0 {
			k := min(n, len(s))
			if !yield(s[:k]) {
				return
			}
			s = s[k:]
		}
	}
}

func TestReplyFail(t *testing.T) {
	t.Parallel()

	const notice = ":warning: I couldn't read that photo."
	for _, tc := range []struct {
		name string
		mode StreamMode
		// shown is text appended (and waited for) before Fail.
		shown string
		wait  string // the call that shows it
	}{
		{"native, text shown", StreamNative, "The photo shows", "chat.appendStream"},
		{"native, nothing shown", StreamNative, "", "chat.startStream"},
		{"update, text shown", StreamUpdate, "The photo shows", "chat.update"},
		{"update, nothing shown", StreamUpdate, "", "chat.postMessage"},
		{"off", StreamOff, "The photo shows", ""},
		{"at once", StreamNative, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			api, emu := newReplyAPI(t, StreamConfig{Mode: tc.mode})
			th := replyThread(emu, "C1")
			ctx := context.Background()
			r := api.For(Unleased{}).OpenReply(ctx, th)
			r.Append(tc.shown)
			if tc.wait != "" {
				waitCalls(t, emu, tc.wait, 1)
			}
			if err := r.Fail(ctx, notice); err != nil {
				t.Fatal(err)
			}
			checkThread(t, emu, th, []string{notice}, false)
			if tc.name == "native, nothing shown" {
				if got := emu.Calls("chat.stopStream"); len(got) != 1 || got[0].Params["markdown_text"] != notice {
					t.Errorf("stopStream calls = %+v, want the notice streamed", got)
				}
			}
		})
	}
}

func TestReplyUpdateFailsAtFinish(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		name   string
		status int
		header http.Header
		body   string
		n      int // how many chat.update calls fail
		// want is what the thread shows: "answer" (the placeholder
		// updated), "reposted" (the answer posted under the placeholder)
		// or "error" (Finish fails and nothing more is posted).
		want    string
		updates int
	}{
		{"message_not_found", http.StatusOK, nil, `{"ok":false,"error":"message_not_found"}`, 0, "reposted", 1},
		{"cant_update_message", http.StatusOK, nil, `{"ok":false,"error":"cant_update_message"}`, 0, "reposted", 1},
		{"server error", http.StatusInternalServerError, nil, "oops", 0, "error", 1},
		{"rate limited once", http.StatusTooManyRequests, http.Header{"Retry-After": {"0"}},
			`{"ok":false,"error":"ratelimited"}`, 1, "answer", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			api, emu := newReplyAPI(t, StreamConfig{Mode: StreamUpdate})
			th := replyThread(emu, "C1")
			ctx := context.Background()
			r := api.For(Unleased{}).OpenReply(ctx, th)
			waitCalls(t, emu, "chat.postMessage", 1)
			emu.Fail("chat.update", tc.n, tc.status, tc.header, tc.body)
			answer := "The answer."
			err := r.Finish(ctx, answer, replyFooter())
			if n := len(emu.Calls("chat.update")); n != tc.updates {
				t.Errorf("%d chat.update calls, want %d", n, tc.updates)
			}
			switch tc.want {
			case "error":
				if err == nil || !strings.Contains(err.Error(), "chat.update") {
					t.Errorf("Finish = %v, want the chat.update error", err)
				}
				checkThread(t, emu, th, []string{placeholder}, false)
			case "reposted":
				if err != nil {
					t.Fatal(err)
				}
				posted := emu.Posted(th.Channel)
				if len(posted) != 2 || posted[1].Markdown() != answer || !hasFooter(posted[1]) {
					t.Errorf("posted = %+v, want the placeholder then the answer with its footer", posted)
				}
			case "answer":
				if err != nil {
					t.Fatal(err)
				}
				checkThread(t, emu, th, []string{answer}, true)
			}
		})
	}
}

// Audit #8: while an answer streams, Slack shows what was appended as
// Markdown. A preview cut inside a code span leaves its backtick unpaired,
// and what the span held shows as prose, its links live, until the answer
// ends. The preview ends where the safety scanner allows a cut.
func TestReplyPreviewCutsWhereSafe(t *testing.T) {
	const link = "[https://good.com](https://evil.com)"
	api, emu := newReplyAPI(t, StreamConfig{Mode: StreamNative})
	api.replyLimit = 1500 // a preview of 750 bytes
	filler := strings.Repeat("word ", 148)
	tests := []struct{ name, text, want string }{
		{"a code span across the limit", filler + "`see " + link + "` and more", filler},
		{"a link across the limit", filler + "see ([evil.com](https://evil.com/" + strings.Repeat("a", 40) + "))", filler + "see ("},
		{"code in a block across the limit", "```\n" + strings.Repeat("x := 1 // "+link+"\n", 30), ("```\n" + strings.Repeat("x := 1 // "+link+"\n", 30))[:750]},
		{"what fits is shown whole", filler + "`code`", filler + "`code`"},
		{"a character is not cut in two", strings.Repeat("é", 400), strings.Repeat("é", 375)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := api.For(Unleased{}).newReply(replyThread(emu, "C1"))
			r.text.WriteString(tt.text)
			if got := r.visible(); got != tt.want {
				t.Errorf("visible() = %q\nwant %q", got, tt.want)
			}
		})
	}
}

// What a preview showed stays shown as the answer grows past the limit,
// though a token it ended with is undecided again in the longer text.
func TestReplyPreviewNeverShrinks(t *testing.T) {
	api, emu := newReplyAPI(t, StreamConfig{Mode: StreamNative})
	api.replyLimit = 1500 // a preview of 750 bytes
	r := api.For(Unleased{}).newReply(replyThread(emu, "C1"))
	fits := strings.Repeat("word ", 148) + `[1\]:`
	r.text.WriteString(fits)
	if got := r.visible(); got != fits {
		t.Fatalf("visible() = %q, want all of it", got)
	}
	r.text.WriteString(" https://evil.example/" + strings.Repeat("a", 20))
	if got := r.visible(); got != fits {
		t.Errorf("visible() = %q, want %q still", got, fits)
	}
}

func TestReplyEndsOnce(t *testing.T) {
	t.Parallel()

	for _, mode := range []StreamMode{StreamNative, StreamUpdate, StreamOff} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()

			api, emu := newReplyAPI(t, StreamConfig{Mode: mode})
			th := replyThread(emu, "D1")
			ctx := context.Background()
			r := api.For(Unleased{}).OpenReply(ctx, th)
			r.Append("The answer.")
			if err := r.Finish(ctx, "The answer.", nil); err != nil {
				t.Fatal(err)
			}
			before := len(emu.Calls(""))
			r.Append(" More.")
			if err := r.Finish(ctx, "Another answer.", nil); err != nil {
				t.Errorf("second Finish: %v", err)
			}
			if err := r.Fail(ctx, "A notice."); err != nil {
				t.Errorf("Fail after Finish: %v", err)
			}
			if calls := emu.Calls(""); len(calls) != before {
				t.Errorf("calls after the first Finish: %+v", calls[before:])
			}
			checkThread(t, emu, th, []string{"The answer."}, false)
		})
	}
}

func TestReplyStopsWithItsContext(t *testing.T) {
	t.Parallel()

	api, emu := newReplyAPI(t, StreamConfig{Mode: StreamNative})
	th := replyThread(emu, "C1")
	ctx, cancel := context.WithCancel(context.Background())
	r := api.For(Unleased{}).OpenReply(ctx, th)
	r.Append("Hello ")
	waitCalls(t, emu, "chat.appendStream", 1)
	cancel()
	select {
	case <-r.(*reply).done:
	case <-time.After(replyWait):
		t.Fatal("the reply's goroutine still runs after its context ended")
	}
	r.Append("world.")
	// Finish makes its last calls with the context it is given.
	answer := "Hello world."
	if err := r.Finish(context.Background(), answer, nil); err != nil {
		t.Fatal(err)
	}
	checkThread(t, emu, th, []string{answer}, false)
}

// A reply ended on a context that is already over (a stop past its grace,
// a job past its deadline) still leaves the thread finished: the stream is
// stopped, or the placeholder edited, to show the notice, on the reply's
// own short context.
func TestReplyFinishesOnItsOwnContext(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		mode  StreamMode
		shown string // the call that shows the first words
	}{
		{StreamNative, "chat.appendStream"},
		{StreamUpdate, "chat.update"},
	} {
		t.Run(string(tc.mode), func(t *testing.T) {
			t.Parallel()

			api, emu := newReplyAPI(t, StreamConfig{Mode: tc.mode})
			th := replyThread(emu, "C1")
			ctx, cancel := context.WithCancel(context.Background())
			r := api.For(Unleased{}).OpenReply(ctx, th)
			r.Append("Half an answ")
			waitCalls(t, emu, tc.shown, 1)
			cancel()
			notice := "I'm restarting and couldn't finish this one. Ask me again in a minute."
			if err := r.Fail(ctx, notice); err != nil {
				t.Fatal(err)
			}
			checkThread(t, emu, th, []string{notice}, false)
		})
	}
}

// After a person's Stop, the thread keeps what the answer showed and says
// it was stopped: a stream Slack stopped is never written to again, and a
// message being edited keeps its text with the note under it.
func TestReplyStopped(t *testing.T) {
	t.Parallel()

	const note = "_Stopped._"
	tests := []struct {
		name string
		mode StreamMode
		want []string // the thread's messages
	}{
		{"native stream, stopped by Slack", StreamNative, []string{"The first words", note}},
		{"edited message", StreamUpdate, []string{"The first words\n\n" + note}},
		{"nothing shown yet", StreamOff, []string{note}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			api, emu := newReplyAPI(t, StreamConfig{Mode: tt.mode})
			th := replyThread(emu, "C1")
			ctx := context.Background()
			r := api.For(Unleased{}).OpenReply(ctx, th)
			r.Append("The first words")
			switch tt.mode {
			case StreamNative:
				waitCalls(t, emu, "chat.appendStream", 1)
				if stopped := emu.StopStreams(th.Channel, th.TS); len(stopped) != 1 {
					t.Fatalf("Slack stopped %v, want the answer's stream", stopped)
				}
			case StreamUpdate:
				waitCalls(t, emu, "chat.update", 1)
			}
			before := len(emu.Calls("chat.appendStream")) + len(emu.Calls("chat.stopStream"))
			if err := r.Stopped(ctx, note); err != nil {
				t.Fatal(err)
			}
			if tt.mode == StreamNative {
				if after := len(emu.Calls("chat.appendStream")) + len(emu.Calls("chat.stopStream")); after != before {
					t.Errorf("the bot wrote %d more times to a stream Slack stopped", after-before)
				}
			}
			checkThread(t, emu, th, tt.want, false)
		})
	}
}

// rerun is the lease of a run of request id; again says an earlier run
// of it may have answered.
type rerun struct {
	Unleased
	id    string
	again bool
}

func (l rerun) Request() (string, bool) { return l.id, l.again }

// A run that follows another of its request reads the thread before it
// writes: the answer an earlier run finished, known by the request its
// footer names, stays the only one. Another request's answer, a thread
// that can't be read, or a first run, writes the answer.
func TestReplyAfterAnEarlierRunLooksForItsAnswer(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name      string
		earlier   string // the request the thread's answer is of
		run       rerun
		failRead  bool
		wantParts []string
		wantReads int
	}{
		{"its answer is there", "REQ1", rerun{id: "REQ1", again: true}, false, []string{"earlier answer"}, 1},
		{"another request's answer", "REQ0", rerun{id: "REQ1", again: true}, false, []string{"earlier answer", "new answer"}, 1},
		{"the thread can't be read", "REQ1", rerun{id: "REQ1", again: true}, true, []string{"earlier answer", "new answer"}, 1},
		{"a first run does not look", "REQ1", rerun{id: "REQ1"}, false, []string{"earlier answer", "new answer"}, 0},
	}
	for _, mode := range []StreamMode{StreamOff, StreamNative, StreamUpdate} {
		for _, tt := range tests {
			t.Run(string(mode)+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				api, emu := newReplyAPI(t, StreamConfig{Mode: mode})
				th := replyThread(emu, "C1")
				ctx := context.Background()
				first := api.For(rerun{id: tt.earlier}).OpenReply(ctx, th)
				if err := first.Finish(ctx, "earlier answer", replyFooter()); err != nil {
					t.Fatal(err)
				}
				before := len(emu.Calls("conversations.replies"))
				if tt.failRead {
					emu.Fail("conversations.replies", 1, http.StatusOK, nil, `{"ok":false,"error":"ratelimited"}`)
				}
				r := api.For(tt.run).OpenReply(ctx, th)
				r.Append("new ")
				if err := r.Finish(ctx, "new answer", replyFooter()); err != nil {
					t.Fatalf("Finish: %v", err)
				}
				posted := emu.Posted("C1")
				if len(posted) != len(tt.wantParts) {
					for _, p := range posted {
						t.Logf("posted %s: %q", p.TS, p.Markdown())
					}
					t.Fatalf("%d messages, want %d", len(posted), len(tt.wantParts))
				}
				for i, p := range posted {
					if got := p.Markdown(); got != tt.wantParts[i] {
						t.Errorf("message %d shows %q, want %q", i, got, tt.wantParts[i])
					}
				}
				if n := len(emu.Calls("conversations.replies")) - before; n != tt.wantReads {
					t.Errorf("%d reads of the thread, want %d", n, tt.wantReads)
				}
			})
		}
	}
}
