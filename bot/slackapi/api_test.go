package slackapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/visionbot/visionbot/internal/failure"
	"github.com/visionbot/visionbot/internal/slackemu"
)

const apiTestToken = "xoxb-api-test"

func newTestAPI(t *testing.T) (*API, *slackemu.Server) {
	t.Helper()
	emu := slackemu.New()
	t.Cleanup(emu.Close)
	emu.SetBotToken(apiTestToken)
	return apiOn(emu), emu
}

// apiOn is an API on emu, whose bot token is apiTestToken: one per
// replica when several share an emulator.
func apiOn(emu *slackemu.Server) *API {
	client := slack.New(apiTestToken, slack.OptionAPIURL(emu.APIURL()))
	u, _ := url.Parse(emu.URL())
	files := NewDownloader(&http.Client{Timeout: 10 * time.Second}, apiTestToken, []string{u.Scheme + "://" + u.Host})
	return New(client, files, &http.Client{Timeout: 10 * time.Second}, DefaultStreamConfig())
}

func TestPostReplySplitsLongAnswers(t *testing.T) {
	t.Parallel()

	api, emu := newTestAPI(t)
	answer := strings.Repeat("A paragraph of the answer that goes on.\n\n", 700) // ~29 KB
	if err := api.For(Unleased{}).PostReply(context.Background(), "C1", "1700000000.000100", answer); err != nil {
		t.Fatal(err)
	}
	posted := emu.Posted("C1")
	if len(posted) < 3 {
		t.Fatalf("posted %d messages, want the answer split in at least 3", len(posted))
	}
	for _, p := range posted {
		if p.ThreadTS != "1700000000.000100" {
			t.Errorf("part posted in thread %q", p.ThreadTS)
		}
		if !strings.Contains(string(p.Blocks), `"type":"markdown"`) {
			t.Errorf("part is not a markdown block: %s", p.Blocks)
		}
	}
}

// A reply posted whole (a notice, an answer without a reply) gets
// through a rate limit longer than the transport waits out, as an
// answer's final posts do: it is the same ending.
func TestPostReplyWaitsOutARateLimit(t *testing.T) {
	t.Parallel()

	api, emu := newTestAPI(t)
	emu.Fail("chat.postMessage", 1, http.StatusTooManyRequests, http.Header{"Retry-After": {"0"}}, `{"ok":false,"error":"ratelimited"}`)
	if err := api.For(Unleased{}).PostReply(context.Background(), "C1", "1700000000.000100", "the notice"); err != nil {
		t.Fatalf("PostReply = %v, want the post sent again after Retry-After", err)
	}
	if posted := emu.Posted("C1"); len(posted) != 1 || posted[0].Markdown() != "the notice" {
		t.Errorf("posted = %+v, want the notice once", posted)
	}
}

// The bot's posts ask Slack for no previews: the links in them are
// fetched by nobody and shown as they are.
func TestPostsUnfurlNothing(t *testing.T) {
	t.Parallel()

	api, emu := newTestAPI(t)
	ctx := context.Background()
	const text = "See https://example.com/page and https://example.com/photo.png"
	if err := api.For(Unleased{}).PostReply(ctx, "C1", "1700000000.000100", text); err != nil {
		t.Fatal(err)
	}
	if _, err := api.For(Unleased{}).PostMessage(ctx, "C2", text); err != nil {
		t.Fatal(err)
	}
	for _, ch := range []string{"C1", "C2"} {
		posted := emu.Posted(ch)
		if len(posted) != 1 {
			t.Fatalf("posted in %s: %+v", ch, posted)
		}
		if p := posted[0]; p.UnfurlLinks || p.UnfurlMedia {
			t.Errorf("%s: unfurl links %v, media %v; want both off", ch, p.UnfurlLinks, p.UnfurlMedia)
		}
	}
}

func TestSlackErrorsBecomeKinds(t *testing.T) {
	t.Parallel()

	api, emu := newTestAPI(t)
	ctx := context.Background()

	_, err := api.History(ctx, "nope", time.Now().Add(-time.Hour), 10)
	if failure.KindOf(err) != failure.NotInChannel {
		t.Errorf("unknown channel: %v (kind %v)", err, failure.KindOf(err))
	}

	emu.SetScopes("chat:write,reactions:write")
	_, err = api.History(ctx, "C1", time.Now().Add(-time.Hour), 10)
	if failure.KindOf(err) != failure.MissingScope || failure.DetailOf(err) != "channels:history" {
		t.Errorf("missing scope: %v (kind %v, detail %q)", err, failure.KindOf(err), failure.DetailOf(err))
	}
}

func TestHistoryAndFiles(t *testing.T) {
	t.Parallel()

	api, emu := newTestAPI(t)
	ctx := context.Background()
	file := emu.AddFile(slackemu.FileSpec{Name: "a.png", Data: slackemu.MakePNG(800, 600),
		Thumbs: map[int][]byte{720: slackemu.MakePNG(720, 540)}})
	now := time.Now()
	ts := emu.AddMessage("C1", map[string]any{"user": "U1", "text": "look", "files": []any{file},
		"ts": strconvTS(now.Add(-time.Minute))})

	msgs, err := api.History(ctx, "C1", now.Add(-time.Hour), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0].TS != ts || len(msgs[0].Files) != 1 {
		t.Fatalf("history = %+v", msgs)
	}
	f := msgs[0].Files[0]
	if len(f.Thumbs) != 1 || f.Thumbs[0].Width != 720 || f.URLDownload == "" {
		t.Errorf("file = %+v", f)
	}
	data, err := api.Download(ctx, f.Thumbs[0].URL, 1<<20)
	if err != nil || len(data) == 0 {
		t.Errorf("download thumb: %d bytes, %v", len(data), err)
	}

	stub := emu.AddFile(slackemu.FileSpec{Name: "b.png", Data: slackemu.MakePNG(10, 10), Access: "check_file_info"})
	info, err := api.FileInfo(ctx, stub["id"].(string))
	if err != nil || info.URLPrivate == "" {
		t.Errorf("files.info = %+v, %v", info, err)
	}

	// files.info says who uploaded a file and where Slack lists it as
	// shared: a public channel, a private one, a DM (and a thread reply in
	// one of them), each once.
	emu.AddMessage("G2", map[string]any{"user": "U1", "files": []any{file}})
	emu.AddMessage("G2", map[string]any{"user": "U1", "files": []any{file}, "thread_ts": ts})
	emu.AddMessage("D3", map[string]any{"user": "U1", "files": []any{file}})
	info, err = api.FileInfo(ctx, file["id"].(string))
	if err != nil || info.User != "U1" || !slices.Equal(info.SharedIn, []string{"C1", "D3", "G2"}) {
		t.Errorf("files.info = user %q, shared in %v, %v; want U1, in C1, D3 and G2", info.User, info.SharedIn, err)
	}
	if info, _ := api.FileInfo(ctx, stub["id"].(string)); len(info.SharedIn) != 0 {
		t.Errorf("a file in no message is shared in %v", info.SharedIn)
	}
	if err := api.For(Unleased{}).Respond(ctx, emu.ResponseURL(), "hello"); err != nil {
		t.Fatal(err)
	}
	if resps := emu.Responses(); len(resps) != 1 || resps[0].Body["text"] != "hello" || resps[0].Body["response_type"] != "ephemeral" {
		t.Errorf("responses = %+v", resps)
	}
	for _, reaction := range []func() error{
		func() error { return api.For(Unleased{}).AddReaction(ctx, "C1", ts, "eyes") },
		func() error { return api.For(Unleased{}).AddReaction(ctx, "C1", ts, "eyes") }, // already_reacted is fine
		func() error { return api.For(Unleased{}).RemoveReaction(ctx, "C1", ts, "eyes") },
		func() error { return api.For(Unleased{}).RemoveReaction(ctx, "C1", ts, "eyes") }, // no_reaction is fine
	} {
		if err := reaction(); err != nil {
			t.Errorf("reaction: %v", err)
		}
	}
}

func strconvTS(t time.Time) string { return fmt.Sprintf("%d.000100", t.Unix()) }

func TestSlackOkFalseErrorsAreSorted(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		code string
		want failure.Kind
	}{
		{"token_revoked", failure.SlackAuth},
		{"invalid_auth", failure.SlackAuth},
		{"account_inactive", failure.SlackAuth},
		{"is_archived", failure.Archived},
		{"not_in_channel", failure.NotInChannel},
		{"channel_not_found", failure.NotInChannel},
	} {
		t.Run(tc.code, func(t *testing.T) {
			t.Parallel()

			api, emu := newTestAPI(t)
			emu.Fail("chat.postMessage", 1, http.StatusOK, nil, `{"ok":false,"error":"`+tc.code+`"}`)
			err := api.For(Unleased{}).PostReply(context.Background(), "C1", "1700000000.000100", "hello")
			if failure.KindOf(err) != tc.want {
				t.Errorf("err = %v (kind %v), want %v", err, failure.KindOf(err), tc.want)
			}
			if tc.want == failure.SlackAuth && !strings.Contains(err.Error(), "SLACK_BOT_TOKEN") {
				t.Errorf("err = %v, want it to say what to fix", err)
			}
			if strings.Contains(err.Error(), apiTestToken) {
				t.Errorf("err = %v leaks the token", err)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "chat.postMessage: ") || strings.Count(msg, "chat.postMessage") != 1 ||
				strings.Count(msg, tc.code) != 1 {
				t.Errorf("err = %q, want the method and Slack's code named once each", msg)
			}
		})
	}
}

// Replies reads a thread's root and its newest messages before a given
// one, however long the thread and however its messages are spread in
// time, in a few reads of a few messages each.
func TestRepliesReadsTheRootAndTheNewest(t *testing.T) {
	const newest = 13
	root := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	even := func(n int, every time.Duration) []time.Time {
		out := make([]time.Time, n)
		for i := range out {
			out[i] = root.Add(time.Duration(i+1) * every)
		}
		return out
	}
	tests := []struct {
		name     string
		replies  []time.Time
		maxReads int
	}{
		{"a short thread", even(5, time.Minute), 1},
		{"a page and a little", even(20, time.Minute), 2},
		{"a thousand messages a second apart", even(1000, time.Second), 12},
		{"a year-old root and a day's talk", func() []time.Time {
			out := []time.Time{root.Add(time.Hour)}
			for i := range 400 {
				out = append(out, root.Add(365*24*time.Hour+time.Duration(i)*time.Minute))
			}
			return out
		}(), 12},
		{"a busy day, a quiet week, then five more", func() []time.Time {
			out := even(500, time.Second)
			for i := range 5 {
				out = append(out, root.Add(8*24*time.Hour+time.Duration(i)*time.Minute))
			}
			return out
		}(), maxThreadProbes + 2}, // the search's worst: the newest 13 end a busy stretch a week back
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api, emu := newTestAPI(t)
			rootTS := emu.AddMessage("C1", map[string]any{"user": "U1", "text": "root", "ts": apiTS(root)})
			var all []string
			for i, at := range tt.replies {
				all = append(all, emu.AddMessage("C1", map[string]any{"user": "U2", "text": fmt.Sprint("reply ", i),
					"ts": apiTS(at), "thread_ts": rootTS}))
			}
			// The message asking, and one after it, which is not wanted.
			last := tt.replies[len(tt.replies)-1]
			asking := emu.AddMessage("C1", map[string]any{"user": "U1", "text": "asking", "ts": apiTS(last.Add(time.Second)), "thread_ts": rootTS})
			emu.AddMessage("C1", map[string]any{"user": "U1", "text": "later", "ts": apiTS(last.Add(2 * time.Second)), "thread_ts": rootTS})

			calls := len(emu.Calls("conversations.replies"))
			got, err := api.Replies(context.Background(), "C1", rootTS, asking, newest)
			if err != nil {
				t.Fatal(err)
			}
			var ts []string
			for _, m := range got {
				ts = append(ts, m.TS)
			}
			want := append([]string{rootTS}, all[max(0, len(all)-newest):]...)
			if !slices.Equal(ts, want) {
				t.Errorf("read %d messages %v…, want the root and the newest %d: %v…", len(ts), ts[:min(3, len(ts))], newest, want[:min(3, len(want))])
			}
			reads := emu.Calls("conversations.replies")[calls:]
			if len(reads) > tt.maxReads {
				t.Errorf("%d reads, want at most %d", len(reads), tt.maxReads)
			}
			for _, c := range reads {
				if n, _ := strconv.Atoi(c.Params["limit"]); n < 1 || n > 2*newest+1 {
					t.Errorf("a read asked for %s messages", c.Params["limit"])
				}
			}

			// One reply of the thread, read by its ts (a reaction's
			// message): two small reads, whatever the thread's length.
			calls = len(emu.Calls("conversations.replies"))
			m, err := api.Message(context.Background(), "C1", all[len(all)/2])
			if err != nil || m.TS != all[len(all)/2] || m.Text != fmt.Sprint("reply ", len(all)/2) {
				t.Errorf("Message = %+v, %v", m, err)
			}
			if n := len(emu.Calls("conversations.replies")) - calls; n > 2 {
				t.Errorf("reading one reply took %d reads", n)
			}
		})
	}
}

func apiTS(t time.Time) string { return fmt.Sprintf("%d.%06d", t.Unix(), t.Nanosecond()/1000) }

// A file Slack no longer has is reported with the method and the file
// named once: the flows add nothing to it.
func TestFileInfoErrorNamesTheFileOnce(t *testing.T) {
	api, emu := newTestAPI(t)
	emu.Fail("files.info", 1, http.StatusOK, nil, `{"ok":false,"error":"file_not_found"}`)
	_, err := api.FileInfo(context.Background(), "F123")
	if failure.KindOf(err) != failure.FileUnavailable {
		t.Errorf("err = %v (kind %v), want %v", err, failure.KindOf(err), failure.FileUnavailable)
	}
	if err == nil || err.Error() != "files.info F123: file_not_found" {
		t.Errorf("err = %v, want files.info F123: file_not_found", err)
	}
}
