package slackapi

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/visionbot/visionbot/handlers"
	"github.com/visionbot/visionbot/internal/failure"
	"github.com/visionbot/visionbot/internal/slackemu"
	"github.com/visionbot/visionbot/internal/slackmd"
)

func TestSnippetFiles(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name     string
		snippets []handlers.Snippet
		want     []snippetFile
	}{
		{"named for its language", []handlers.Snippet{{Language: "tsx", Code: "export {}\n"}},
			[]snippetFile{{"visionbot-code.tsx", "javascript", "export {}\n"}}},
		{"HTML", []handlers.Snippet{{Language: "html", Code: "<p>\n"}}, []snippetFile{{"visionbot-code.html", "html", "<p>\n"}}},
		{"SwiftUI", []handlers.Snippet{{Language: "swift", Code: "Text(\"Hi\")\n"}},
			[]snippetFile{{"visionbot-code.swift", "swift", "Text(\"Hi\")\n"}}},
		{"no language, or one Slack does not know, is text", []handlers.Snippet{{Code: "a\n"}, {Language: "../../etc", Code: "b\n"}},
			[]snippetFile{{"visionbot-code.txt", "text", "a\n\nb\n"}}},
		{"one language, one file, in order", []handlers.Snippet{
			{Language: "css", Code: "p{}\n"}, {Language: "html", Code: "<p>\n"}, {Language: "css", Code: "a{}\n"}},
			[]snippetFile{{"visionbot-code.css", "css", "p{}\n\na{}\n"}, {"visionbot-code.html", "html", "<p>\n"}}},
		{"two tags of one language", []handlers.Snippet{{Language: "js", Code: "a\n"}, {Language: "javascript", Code: "b\n"}},
			[]snippetFile{{"visionbot-code.js", "javascript", "a\n\nb\n"}}},
		{"at most three files", []handlers.Snippet{
			{Language: "html", Code: "1\n"}, {Language: "css", Code: "2\n"}, {Language: "js", Code: "3\n"}, {Language: "json", Code: "4\n"}},
			[]snippetFile{{"visionbot-code.html", "html", "1\n"}, {"visionbot-code.css", "css", "2\n"}, {"visionbot-code.js", "javascript", "3\n"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			if got := snippetFiles(tt.snippets); !slices.Equal(got, tt.want) {
				t.Errorf("snippetFiles = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// codeAnswer is an answer of more than two messages at a limit of 1500
// bytes, its code in a tsx block cut between messages and a css block.
func codeAnswer() (string, []handlers.Snippet) {
	component := strings.Repeat("  return <button className=\"primary\">Save</button>;\n", 60)
	styles := ".primary { color: #fff; }\n"
	answer := "A React component.\n\n```tsx\n" + component + "```\n\n```css\n" + styles + "```\n\n- Uses Tailwind colours."
	return answer, []handlers.Snippet{{Language: "tsx", Code: component}, {Language: "css", Code: styles}}
}

// A code answer cut at MaxParts messages has its code shared in its
// thread, as files named for their language, between the parts and the
// note that points to them; in every mode, and with no token on the bytes.
func TestReplySharesCodeWhenCut(t *testing.T) {
	t.Parallel()

	answer, snippets := codeAnswer()
	const limit = 1500
	parts := slackmd.Split(answer, limit, slackmd.AllParts)
	if len(parts) < 3 {
		t.Fatalf("test answer splits in %d parts, want at least 3", len(parts))
	}
	for _, mode := range []StreamMode{StreamNative, StreamUpdate, StreamOff} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()

			r, emu, th := streamedReply(t, StreamConfig{Mode: mode, MaxParts: 2}, limit, answer)
			if err := r.Finish(context.Background(), answer, replyFooter(), snippets...); err != nil {
				t.Fatal(err)
			}
			files := emu.Uploads()
			if len(files) != 2 {
				t.Fatalf("%d files shared, want the tsx and the css", len(files))
			}
			for i, want := range []struct{ name, kind, code string }{
				{"visionbot-code.tsx", "javascript", snippets[0].Code},
				{"visionbot-code.css", "css", snippets[1].Code},
			} {
				f := files[i]
				if f.Name != want.name || f.SnippetType != want.kind || string(f.Content) != want.code ||
					f.Channel != th.Channel || f.ThreadTS != th.TS || f.TS != files[0].TS {
					t.Errorf("file %d: %s (%s) in %s/%s, %d bytes; want %s (%s) in %s/%s, %d bytes, in one message",
						i, f.Name, f.SnippetType, f.Channel, f.ThreadTS, len(f.Content), want.name, want.kind, th.Channel, th.TS, len(want.code))
				}
				if f.Auth != "" {
					t.Errorf("the bytes of %s went with %q: Slack's upload URL needs no token", f.Name, f.Auth)
				}
			}
			posted := emu.Posted(th.Channel)
			if len(posted) != 4 || len(posted[2].Files) != 2 {
				t.Fatalf("%d messages, want two parts, the files' message, and the note", len(posted))
			}
			for i, want := range []string{parts[0], parts[1], "", cutNoteFor(2)} {
				if got := posted[i].Markdown(); got != want {
					t.Errorf("message %d shows %q, want %q", i, got, want)
				}
				if hasFooter(posted[i]) != (i == 3) {
					t.Errorf("message %d: footer %v", i, hasFooter(posted[i]))
				}
			}
		})
	}
}

// An answer the thread takes whole keeps its code in its messages: no
// file, no Slack call for one.
func TestReplySharesNoCodeWhenWhole(t *testing.T) {
	t.Parallel()

	answer, snippets := codeAnswer()
	const limit = 1500
	r, emu, th := streamedReply(t, StreamConfig{Mode: StreamOff, MaxParts: 5}, limit, answer)
	if err := r.Finish(context.Background(), answer, replyFooter(), snippets...); err != nil {
		t.Fatal(err)
	}
	checkThread(t, emu, th, slackmd.Split(answer, limit, slackmd.AllParts), true)
	if n := len(emu.Calls("files.getUploadURLExternal")) + len(emu.Calls("files.completeUploadExternal")); n != 0 {
		t.Errorf("%d upload calls for an answer shown whole", n)
	}
}

// Sharing the code can fail at each of its steps, or find no room in
// Slack's tiers: the thread keeps the answer's parts and the note, with
// the footer under it, and Finish says which step failed.
func TestReplyKeepsTheAnswerWhenCodeIsNotShared(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	tests := []struct {
		name  string
		setup func(api *API, emu *slackemu.Server)
		want  string // in the error
		kind  error
	}{
		{"getUploadURLExternal refused", func(_ *API, emu *slackemu.Server) {
			emu.Fail("files.getUploadURLExternal", 1, http.StatusOK, nil, `{"ok":false,"error":"file_uploads_disabled"}`)
		}, "files.getUploadURLExternal", nil},
		{"files:write missing", func(_ *API, emu *slackemu.Server) {
			emu.SetScopes(strings.ReplaceAll(slackemu.DefaultScopes, ",files:write", ""))
		}, "files.getUploadURLExternal", nil},
		{"the upload URL on another host", func(_ *API, emu *slackemu.Server) {
			emu.Handle("files.getUploadURLExternal", func(slackemu.Call) any {
				return map[string]any{"ok": true, "upload_url": "https://uploads.example.com/x", "file_id": "F1"}
			})
		}, "upload visionbot-code.tsx", nil},
		{"the upload refused", func(_ *API, emu *slackemu.Server) {
			emu.Handle("files.getUploadURLExternal", func(slackemu.Call) any {
				return map[string]any{"ok": true, "upload_url": emu.URL() + "upload/v1/gone", "file_id": "F1"}
			})
		}, "upload visionbot-code.tsx: 404", nil},
		{"completeUploadExternal fails", func(_ *API, emu *slackemu.Server) {
			emu.Fail("files.completeUploadExternal", 1, http.StatusInternalServerError, nil, "oops")
		}, "files.completeUploadExternal", nil},
		{"no room in the tier", func(api *API, _ *slackemu.Server) {
			for api.tiers.take(ctx, 0, "files.completeUploadExternal") {
			}
		}, "skipped", handlers.ErrNotShown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			answer, snippets := codeAnswer()
			const limit = 1500
			api, emu := newReplyAPI(t, StreamConfig{Mode: StreamUpdate, MaxParts: 1})
			api.replyLimit = limit
			tt.setup(api, emu)
			th := replyThread(emu, "C1")
			r := api.For(Unleased{}).OpenReply(context.Background(), th)
			r.Append(answer)
			waitCalls(t, emu, "chat.update", 1)
			err := r.Finish(context.Background(), answer, replyFooter(), snippets...)
			var notShared *handlers.SnippetsNotShared
			if !errors.As(err, &notShared) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Finish = %v, want the code not shared, naming %q", err, tt.want)
			}
			if tt.kind != nil && !errors.Is(err, tt.kind) {
				t.Errorf("Finish = %v, want %v", err, tt.kind)
			}
			checkThread(t, emu, th, []string{slackmd.Split(answer, limit, slackmd.AllParts)[0], cutNote}, true)
			if got := emu.Uploads(); len(got) != 0 {
				t.Errorf("shared %+v", got)
			}
		})
	}
}

// The code goes to Slack's hosts only, and without the token.
func TestUploadStaysWithSlack(t *testing.T) {
	t.Parallel()

	foreign := slackemu.NewForeign()
	defer foreign.Close()
	files := NewDownloader(http.DefaultClient, "xoxb-secret", []string{"files.slack.com"})
	err := files.Upload(context.Background(), foreign.URL()+"upload/v1/x", []byte("code"))
	if failure.KindOf(err) != failure.ForeignHost || len(foreign.Requests()) != 0 {
		t.Errorf("Upload to another host = %v, with %d requests; want it refused unmade", err, len(foreign.Requests()))
	}
}
