package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/visionbot/visionbot/internal/geminiemu"
	"github.com/visionbot/visionbot/internal/slackemu"
)

// End-to-end tests of how much of a thread one answer may fill, with the
// real slack-go and genai clients against the emulators.

// proseOf is an answer of about n bytes in paragraphs, each numbered so
// that a message shows which part of the answer it holds.
func proseOf(n int) string {
	var b strings.Builder
	for i := 1; b.Len() < n; i++ {
		fmt.Fprintf(&b, "Paragraph %d. %s\n\n", i, strings.Repeat("The tower rises over the river in iron lace. ", 6))
	}
	return strings.TrimSpace(b.String())
}

// A 300 KB answer (a stream gone wrong; before MAX_ANSWER_PARTS it made 26
// messages) fills three messages of its thread with its beginning, then a
// note that it stops there, with the answer's buttons under the note: in
// every STREAM_MODE.
func TestLongAnswerFillsAtMostMaxAnswerParts(t *testing.T) {
	t.Parallel()

	answer := proseOf(300 << 10)
	for _, mode := range []string{"native", "update", "off"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()

			h := startBot(t, map[string]string{"STREAM_MODE": mode})
			// Gemini's limits would cut the answer long before 300 KB: the
			// emulator sends it as it is, as a misbehaving stream did.
			h.gemini.ReadRequests(false)
			h.gemini.Script(geminiemu.Reply{Text: answer})
			mentionWithPhoto(t, h, "1700000000.000100", "<@"+slackemu.BotUserID+"> what is it?")
			h.waitLog(t, 1, `"msg":"request"`, `"outcome":"ok"`)

			posted := h.slack.Posted("C1")
			if len(posted) != 4 {
				t.Fatalf("%d messages in the thread, want 3 parts of the answer and the note", len(posted))
			}
			var shown strings.Builder
			for i, p := range posted[:3] {
				text := answerText(t, p)
				if text == "" || !strings.HasPrefix(answer, shown.String()+text) {
					t.Fatalf("message %d does not go on with the answer: %.80q", i, text)
				}
				shown.WriteString(text + "\n\n")
			}
			if shown.Len() < 30000 {
				t.Errorf("the three messages show %d bytes of the answer: want them full", shown.Len())
			}
			note := answerText(t, posted[3])
			if !strings.Contains(note, "longer than this thread takes") || strings.Contains(note, "Paragraph") {
				t.Errorf("the last message is %.120q, want the note alone", note)
			}
			if got := footerAbout(t, posted[3]); !strings.HasPrefix(got, "describe|") {
				t.Errorf("the note's footer is about %q", got)
			}
			for _, p := range posted {
				if p.ThreadTS != "1700000000.000100" {
					t.Errorf("message %s is in thread %q", p.TS, p.ThreadTS)
				}
			}
		})
	}
}

// MAX_ANSWER_PARTS sets the cap.
func TestMaxAnswerPartsSetsTheCap(t *testing.T) {
	t.Parallel()

	h := startBot(t, map[string]string{"MAX_ANSWER_PARTS": "1", "STREAM_MODE": "off"})
	h.gemini.ReadRequests(false)
	h.gemini.Script(geminiemu.Reply{Text: proseOf(30 << 10)})
	mentionWithPhoto(t, h, "1700000000.000100", "<@"+slackemu.BotUserID+"> what is it?")
	h.waitLog(t, 1, `"msg":"request"`, `"outcome":"ok"`)
	posted := h.slack.Posted("C1")
	if len(posted) != 2 || !strings.Contains(answerText(t, posted[1]), "longer than this thread takes") {
		t.Fatalf("%d messages, want one part of the answer and the note", len(posted))
	}
}

// A `code` answer too long for its thread has its code shared in the
// thread as a snippet file named for its language, between the answer's
// parts and the note that points to it; the upload carries no token. When
// Slack refuses the file, the thread keeps the parts and the note, and the
// log says which step failed.
func TestLongCodeAnswerSharesItsCode(t *testing.T) {
	t.Parallel()

	code := strings.Repeat("export const Row = () => <li className=\"row\">Item</li>;\n", 1200) // ~66 KB
	answer := "A list in React.\n\n```tsx\n" + code + "```\n\n- Rows are placeholders."
	tests := []struct {
		name  string
		setup func(h *harness)
		files int
	}{
		{"shared", nil, 1},
		{"Slack refuses it", func(h *harness) {
			h.slack.Fail("files.completeUploadExternal", 1, http.StatusOK, nil, `{"ok":false,"error":"file_uploads_disabled"}`)
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			h := startBot(t, nil)
			if tt.setup != nil {
				tt.setup(h)
			}
			h.gemini.ReadRequests(false)
			h.gemini.Script(geminiemu.Reply{Text: answer})
			mentionWithPhoto(t, h, "1700000000.000100", "<@"+slackemu.BotUserID+"> code in React")
			h.waitLog(t, 1, `"msg":"request"`, `"use_case":"code"`, `"outcome":"ok"`)

			posted := h.slack.Posted("C1")
			if len(posted) != 4+tt.files {
				t.Fatalf("%d messages, want 3 parts of the answer, %d with the file, and the note", len(posted), tt.files)
			}
			note := posted[len(posted)-1]
			if got := footerAbout(t, note); !strings.HasPrefix(got, "code|") {
				t.Errorf("the note's footer is about %q", got)
			}
			files := h.slack.Uploads()
			if tt.files == 0 {
				if len(files) != 0 || strings.Contains(answerText(t, note), "file above") {
					t.Errorf("files %+v, note %q: want neither a file nor a note pointing to one", files, answerText(t, note))
				}
				h.waitLog(t, 1, `"level":"warn"`, "share the answer's code as files", "files.completeUploadExternal", "file_uploads_disabled")
				return
			}
			if !strings.Contains(answerText(t, note), "Its code is in the file above") {
				t.Errorf("the note is %q, want it to point to the file", answerText(t, note))
			}
			if len(files) != 1 || len(posted[3].Files) != 1 || posted[3].Files[0] != files[0].ID {
				t.Fatalf("files %+v, the 4th message shares %v: want the one file there", files, posted[3].Files)
			}
			f := files[0]
			if f.Name != "visionbot-code.tsx" || f.Filetype != "javascript" || string(f.Content) != code ||
				f.Channel != "C1" || f.ThreadTS != "1700000000.000100" || f.Auth != "" {
				t.Errorf("shared %s (%s) in %s/%s with %q, %d bytes; want visionbot-code.tsx, the whole code, in the thread, no token",
					f.Name, f.Filetype, f.Channel, f.ThreadTS, f.Auth, len(f.Content))
			}
		})
	}
}
