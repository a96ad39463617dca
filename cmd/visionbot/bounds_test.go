package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/visionbot/visionbot/internal/geminiemu"
	"github.com/visionbot/visionbot/internal/slackemu"
)

// End-to-end tests of what the bot asks of Gemini and what it posts back,
// with the real slack-go and genai clients against the emulators.

// Each use case's budget and media resolution reach Gemini, and the
// request's log line says what the answer cost.
func TestUseCaseSettingsReachGemini(t *testing.T) {
	t.Parallel()

	h := startBot(t, nil)
	tests := []struct {
		ts, text   string
		wantTokens int
		wantMedia  string
	}{
		// GEMINI_THINKING's default, low, adds 1,024 for thinking.
		{"1700000001.000100", "code in React", 8192 + 1024, "MEDIA_RESOLUTION_HIGH"},
		{"1700000002.000100", "doodle", 1024 + 1024, "MEDIA_RESOLUTION_LOW"},
		{"1700000003.000100", "what is this?", 2048 + 1024, "MEDIA_RESOLUTION_MEDIUM"},
	}
	for i, tt := range tests {
		mentionWithPhoto(t, h, tt.ts, "<@"+slackemu.BotUserID+"> "+tt.text)
		h.waitLog(t, i+1, `"msg":"request"`, "tokens_thinking")
		got := streamRequests(t, h.gemini)[i].GenerationConfig
		if got.MaxOutputTokens != tt.wantTokens || got.MediaResolution != tt.wantMedia {
			t.Errorf("%q: maxOutputTokens %d, mediaResolution %q; want %d, %q", tt.text, got.MaxOutputTokens, got.MediaResolution, tt.wantTokens, tt.wantMedia)
		}
	}
	h.waitLog(t, 3, `"msg":"request"`, `"tokens_in":`, `"tokens_out":`, `"tokens_thinking":`)
}

// A custom use case's own budget bounds the answer: Gemini stops at it,
// the bot asks once to go on, and the thread shows what came with a note
// that it is cut off; never a third request.
func TestOneContinuationAtMost(t *testing.T) {
	t.Parallel()

	dir := t.TempDir()
	useCase := "name: terse\nsystem: Be brief.\nprompt: Describe it.\nmax_output_tokens: 20\n"
	if err := os.WriteFile(filepath.Join(dir, "terse.yaml"), []byte(useCase), 0o600); err != nil {
		t.Fatal(err)
	}
	h := startBot(t, map[string]string{"PROMPTS_DIR": dir, "GEMINI_MODEL": "gemini-2.5-flash", "GEMINI_THINKING": "off"})
	long := strings.Repeat("grains of rice ", 40)
	h.gemini.Script(geminiemu.Reply{Text: long}, geminiemu.Reply{Text: long}, geminiemu.Reply{Text: "never asked"})
	mentionWithPhoto(t, h, "1700000000.000100", "<@"+slackemu.BotUserID+"> terse")
	h.waitLog(t, 1, `"msg":"request failed"`, `"use_case":"terse"`, `"outcome":"cut_off"`)

	configs := streamRequests(t, h.gemini)
	if len(configs) != 2 || configs[0].GenerationConfig.MaxOutputTokens != 20 {
		t.Fatalf("%d answer requests (maxOutputTokens %+v), want 2 with 20", len(configs), configs)
	}
	posted := h.waitPosted(t, "C1", 1)
	got := answerText(t, posted[len(posted)-1])
	if !strings.HasPrefix(got, "grains of rice") || !strings.Contains(got, "length limit") || strings.Contains(got, "never asked") {
		t.Errorf("answer %q, want the text that came and the cut-off note", got)
	}
}

// A model that refuses GEMINI_THINKING's setting does not stop the bot:
// the start finds it, logs it once, and every answer goes without it.
func TestRefusedThinkingSettingAtStart(t *testing.T) {
	t.Parallel()

	s, g := newEmulators(t)
	g.AddModel("gemini-3.7-flash")
	g.RejectThinkingLevel("gemini-3.7-flash", "MINIMAL")
	h := launchBot(t, s, g, map[string]string{"GEMINI_MODEL": "gemini-3.7-flash", "GEMINI_THINKING": "off"})
	g.Script(geminiemu.Reply{Text: "A bowl of ramen."}, geminiemu.Reply{Text: "Still ramen."})
	mentionWithPhoto(t, h, "1700000000.000100", "<@"+slackemu.BotUserID+"> what is it?")
	mentionWithPhoto(t, h, "1700000002.000100", "<@"+slackemu.BotUserID+"> and now?")
	h.waitLog(t, 2, `"msg":"request"`, `"outcome":"ok"`)

	for _, c := range streamRequests(t, g) {
		if c.GenerationConfig.ThinkingConfig != nil {
			t.Errorf("an answer request carries the refused thinking setting: %+v", c.GenerationConfig.ThinkingConfig)
		}
	}
	if n := len(streamRequests(t, g)); n != 2 {
		t.Errorf("%d answer requests, want 2: the start's check spared the retries", n)
	}
	h.waitLog(t, 1, "refused a setting", "gemini-3.7-flash", "thinkingLevel MINIMAL")
	if n := strings.Count(h.logs.String(), "refused a setting"); n != 1 {
		t.Errorf("%d warnings, want one", n)
	}
}

// A request over Gemini's size limit tells the user what to do.
func TestRequestTooLargeTellsTheUser(t *testing.T) {
	t.Parallel()

	h := startBot(t, nil)
	h.gemini.SetRequestLimit(2000) // the photo alone is more
	mentionWithPhoto(t, h, "1700000000.000100", "<@"+slackemu.BotUserID+"> what is it?")
	h.waitLog(t, 1, `"msg":"request failed"`, `"outcome":"request_too_large"`)
	posted := h.waitPosted(t, "C1", 1)
	got := answerText(t, posted[len(posted)-1])
	for _, want := range []string{"too large", "smaller image", "MAX_REQUEST_MB"} {
		if !strings.Contains(got, want) {
			t.Errorf("the thread says %q, lacking %q", got, want)
		}
	}
	if n := len(streamRequests(t, h.gemini)); n != 1 {
		t.Errorf("%d answer requests, want 1: a 413 is not retried", n)
	}
}

// With GROUNDING=on the guide searches, and its answer ends with its
// sources; other use cases never search.
func TestGroundedGuide(t *testing.T) {
	t.Parallel()

	h := startBot(t, map[string]string{"GROUNDING": "on"})
	sources := []geminiemu.Source{
		{URI: "https://vertexaisearch.cloud.google.com/grounding-api-redirect/AbF9", Title: "toureiffel.paris"},
		{URI: "https://en.wikipedia.org/wiki/Eiffel_Tower", Title: "Eiffel Tower - Wikipedia"},
	}
	h.gemini.Script(geminiemu.Reply{Text: "**Eiffel Tower, Paris**", Sources: sources},
		geminiemu.Reply{Text: "A tower.", Sources: sources})
	mentionWithPhoto(t, h, "1700000000.000100", "<@"+slackemu.BotUserID+"> guide")
	h.waitLog(t, 1, `"msg":"request"`, `"use_case":"guide"`)
	mentionWithPhoto(t, h, "1700000002.000100", "<@"+slackemu.BotUserID+"> describe")
	h.waitLog(t, 1, `"msg":"request"`, `"use_case":"describe"`)

	configs := streamRequests(t, h.gemini)
	if len(configs) != 2 || len(configs[0].Tools) != 1 || configs[0].Tools[0]["googleSearch"] == nil || len(configs[1].Tools) != 0 {
		t.Errorf("tools %+v: want Google Search for the guide only", configs)
	}
	var guide, describe string
	for _, p := range h.waitPosted(t, "C1", 2) {
		switch p.ThreadTS {
		case "1700000000.000100":
			guide = answerText(t, p)
		case "1700000002.000100":
			describe = answerText(t, p)
		}
	}
	want := "Sources: [toureiffel.paris](https://vertexaisearch.cloud.google.com/grounding-api-redirect/AbF9), " +
		"[en.wikipedia.org](https://en.wikipedia.org/wiki/Eiffel_Tower)"
	if !strings.HasSuffix(guide, want) {
		t.Errorf("the guide's answer %q does not end with %q", guide, want)
	}
	if strings.Contains(describe, "Sources:") {
		t.Errorf("an answer that did not search lists sources: %q", describe)
	}
}

// A code request with two 9 MB screenshots stays within MAX_REQUEST_MB:
// as many originals as must move are sent as Slack's largest thumbnails
// (never downloaded whole), the body Gemini gets is under its 20 MB, and
// the answer says which image was sent smaller.
func TestRequestWithinMaxRequestMB(t *testing.T) {
	t.Parallel()

	h := startBot(t, nil)
	screenshot := func(name string, extra int) map[string]any {
		data := append(slackemu.MakePNG(40, 30), make([]byte, 9<<20+extra)...) // a valid PNG, padded
		return h.slack.AddFile(slackemu.FileSpec{Name: name, Data: data, OriginalW: 2880, OriginalH: 1800,
			Thumbs: map[int][]byte{1024: slackemu.MakePNG(64, 40), 720: slackemu.MakePNG(48, 30)}})
	}
	shotA, shotB := screenshot("checkout.png", 1), screenshot("cart.png", 0)
	h.gemini.Script(geminiemu.Reply{Text: "```html\n<form></form>\n```"})
	const ts = "1700000000.000100"
	h.slack.AddMessage("C1", map[string]any{"user": "U1", "text": "code", "files": []any{shotA, shotB}, "ts": ts})
	if _, err := h.slack.SendEvent(mentionEvent(t, "C1", "U1", ts, "code", shotA, shotB), ""); err != nil {
		t.Fatal(err)
	}
	h.waitLog(t, 1, `"msg":"request"`, `"outcome":"ok"`)

	reqs := h.gemini.Requests()
	last := reqs[len(reqs)-1]
	if last.Size > 13<<20*4/3+1<<20 {
		t.Errorf("Gemini got a body of %d bytes, over MAX_REQUEST_MB once base64-encoded", last.Size)
	}
	var wholeA, wholeB bool
	for _, d := range h.slack.Downloads() {
		wholeA = wholeA || strings.Contains(d.Path, "checkout.png") && !strings.Contains(d.Path, "_1024")
		wholeB = wholeB || strings.Contains(d.Path, "cart.png") && !strings.Contains(d.Path, "_1024")
	}
	if wholeA || !wholeB {
		t.Errorf("downloads %+v: want the larger original never fetched, the other fetched whole", h.slack.Downloads())
	}
	answer := answerText(t, h.waitPosted(t, "C1", 1)[0])
	if !strings.Contains(answer, "smaller copies of `checkout.png`") || strings.Contains(answer, "`cart.png`") {
		t.Errorf("answer %q does not say which image was sent smaller", answer)
	}
}
