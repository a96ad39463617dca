package main

import (
	"fmt"
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
	answer := proseOf(300 << 10)
	for _, mode := range []string{"native", "update", "off"} {
		t.Run(mode, func(t *testing.T) {
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
