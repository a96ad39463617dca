package handlers

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/visionbot/visionbot/internal/failure"
	"github.com/visionbot/visionbot/internal/testimage"
)

func TestMessageFlows(t *testing.T) {
	t.Parallel()

	jpegData := testimage.JPEG(t)
	pngData := testimage.PNG(t, 4, 4)

	tests := []struct {
		name    string
		trigger Trigger
		msg     Message
		setup   func(t *testing.T, s *fakeSlack, m *fakeModel)
		// want
		replyThread   string
		replyContains []string
		replyLacks    []string
		modelCalls    int
		downloads     []string
		finalReaction string // "" = no reactions expected
		check         func(t *testing.T, s *fakeSlack, m *fakeModel)
	}{
		{
			name:    "mention with a photo answers in its thread from the 720 thumbnail",
			trigger: TriggerMention,
			msg:     Message{Channel: "C1", TS: "1700000000.000100", User: "U1", Text: "recipe vegan please", Files: []File{photo("F1")}},
			setup: func(t *testing.T, s *fakeSlack, m *fakeModel) {
				s.data[thumbURL("F1", 720)] = jpegData
				m.chunks = []string{"## Pasta\n", "Boil water."}
			},
			replyThread:   "1700000000.000100",
			replyContains: []string{"## Pasta\nBoil water."},
			modelCalls:    1,
			downloads:     []string{thumbURL("F1", 720)},
			finalReaction: "+white_check_mark",
			check: func(t *testing.T, s *fakeSlack, m *fakeModel) {
				req := m.got[0]
				if !strings.Contains(strings.ToLower(req.System), "recipe") && !strings.Contains(strings.ToLower(req.Turns[0].Text), "recipe") {
					t.Errorf("the request does not carry the recipe use case: system %q", req.System)
				}
				if !strings.Contains(req.Turns[0].Text, "vegan please") {
					t.Errorf("the question is missing from the prompt: %q", req.Turns[0].Text)
				}
				if imgs := req.Turns[0].Images; len(imgs) != 1 || imgs[0].MIMEType != "image/jpeg" {
					t.Errorf("images = %+v, want one image/jpeg", imgs)
				}
			},
		},
		{
			name:    "mention in a thread uses the newest earlier photo of the thread",
			trigger: TriggerMention,
			msg:     Message{Channel: "C1", TS: "1700000000.000300", ThreadTS: "1700000000.000100", User: "U1", Text: "is this healthy?"},
			setup: func(t *testing.T, s *fakeSlack, m *fakeModel) {
				old, newer := photo("F1"), photo("F2")
				s.thread = []Message{
					{TS: "1700000000.000100", User: "U1", Files: []File{old}},
					{TS: "1700000000.000200", User: "U2", Files: []File{newer}},
					{TS: "1700000000.000300", User: "U1", Text: "is this healthy?"},
					{TS: "1700000000.000400", User: "U3", Files: []File{photo("F3")}},
				}
				s.data[thumbURL("F2", 720)] = jpegData
				m.chunks = []string{"Mostly."}
			},
			replyThread:   "1700000000.000100",
			replyContains: []string{"Mostly."},
			modelCalls:    1,
			downloads:     []string{thumbURL("F2", 720)},
			finalReaction: "+white_check_mark",
			check: func(t *testing.T, s *fakeSlack, m *fakeModel) {
				if !strings.Contains(m.got[0].Turns[0].Text, "is this healthy?") {
					t.Errorf("question lost: %q", m.got[0].Turns[0].Text)
				}
			},
		},
		{
			name:          "mention without an image outside a thread says how to attach one",
			trigger:       TriggerMention,
			msg:           Message{Channel: "C1", TS: "1700000000.000100", User: "U1", Text: "recipe"},
			replyThread:   "1700000000.000100",
			replyContains: []string{"couldn't find an image", "JPEG"},
			finalReaction: "+warning",
		},
		{
			name:          "a bare mention outside a thread lists the use cases",
			trigger:       TriggerMention,
			msg:           Message{Channel: "C1", TS: "1700000000.000100", User: "U1", Text: ""},
			replyThread:   "1700000000.000100",
			replyContains: []string{"`recipe`", "`nutrition`", "`healthy`", "`code`", "`guide`", "`doodle`", "`describe`", "/analyze"},
		},
		{
			name:          "mention with help lists the use cases",
			trigger:       TriggerMention,
			msg:           Message{Channel: "C1", TS: "1700000000.000100", User: "U1", Text: "help"},
			replyThread:   "1700000000.000100",
			replyContains: []string{"`recipe`", "`describe`"},
		},
		{
			name:    "a PDF is refused before download, naming what is supported",
			trigger: TriggerMention,
			msg: Message{Channel: "C1", TS: "1700000000.000100", User: "U1", Files: []File{
				{ID: "F9", Name: "menu.pdf", Mimetype: "application/pdf", Filetype: "pdf", URLPrivate: "https://files.slack.com/x.pdf"},
			}},
			replyThread:   "1700000000.000100",
			replyContains: []string{"a PDF", "JPEG, PNG, WebP, HEIC or GIF"},
			finalReaction: "+warning",
		},
		{
			name:    "an SVG is refused",
			trigger: TriggerMention,
			msg: Message{Channel: "C1", TS: "1700000000.000100", User: "U1", Files: []File{
				{ID: "F9", Name: "logo.svg", Mimetype: "image/svg+xml", Filetype: "svg", URLPrivate: "https://files.slack.com/x.svg"},
			}},
			replyThread:   "1700000000.000100",
			replyContains: []string{"SVG", "PNG"},
			finalReaction: "+warning",
		},
		{
			name:    "Slack's sign-in page instead of the image asks for files:read",
			trigger: TriggerMention,
			msg:     Message{Channel: "C1", TS: "1700000000.000100", User: "U1", Files: []File{photo("F1")}},
			setup: func(t *testing.T, s *fakeSlack, m *fakeModel) {
				s.data[thumbURL("F1", 720)] = []byte("<!DOCTYPE html><html><head><title>Slack</title></head><body>Sign in</body></html>")
			},
			replyThread:   "1700000000.000100",
			replyContains: []string{"files:read", "reinstall"},
			downloads:     []string{thumbURL("F1", 720)},
			finalReaction: "+warning",
		},
		{
			name:    "a file declared as JPEG that is a PDF is refused by its bytes",
			trigger: TriggerMention,
			msg:     Message{Channel: "C1", TS: "1700000000.000100", User: "U1", Files: []File{photo("F1")}},
			setup: func(t *testing.T, s *fakeSlack, m *fakeModel) {
				s.data[thumbURL("F1", 720)] = []byte("%PDF-1.7\n1 0 obj\n<<>>\nendobj\n")
			},
			replyThread:   "1700000000.000100",
			replyContains: []string{"a PDF"},
			finalReaction: "+warning",
		},
		{
			name:    "a corrupt JPEG gets a clear message",
			trigger: TriggerMention,
			msg:     Message{Channel: "C1", TS: "1700000000.000100", User: "U1", Files: []File{photo("F1")}},
			setup: func(t *testing.T, s *fakeSlack, m *fakeModel) {
				s.data[thumbURL("F1", 720)] = append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, make([]byte, 40)...)
			},
			replyThread:   "1700000000.000100",
			replyContains: []string{"damaged"},
			finalReaction: "+warning",
		},
		{
			name:    "a file on a foreign host is not fetched with the token",
			trigger: TriggerMention,
			msg:     Message{Channel: "C1", TS: "1700000000.000100", User: "U1", Files: []File{photo("F1")}},
			setup: func(t *testing.T, s *fakeSlack, m *fakeModel) {
				s.downloadErr = map[string]error{thumbURL("F1", 720): failure.Errorf("download", failure.ForeignHost, "evil.example", nil)}
			},
			replyThread:   "1700000000.000100",
			replyContains: []string{"outside Slack"},
			finalReaction: "+warning",
		},
		{
			name:    "a download over the cap says so",
			trigger: TriggerMention,
			msg:     Message{Channel: "C1", TS: "1700000000.000100", User: "U1", Files: []File{photo("F1")}},
			setup: func(t *testing.T, s *fakeSlack, m *fakeModel) {
				s.downloadErr = map[string]error{thumbURL("F1", 720): failure.Errorf("download", failure.TooLarge, "", nil)}
			},
			replyThread:   "1700000000.000100",
			replyContains: []string{"20 MB"},
			finalReaction: "+warning",
		},
		{
			name:    "a blocked answer is a notice, and the partial text is not shown",
			trigger: TriggerMention,
			msg:     Message{Channel: "C1", TS: "1700000000.000100", User: "U1", Files: []File{photo("F1")}},
			setup: func(t *testing.T, s *fakeSlack, m *fakeModel) {
				s.data[thumbURL("F1", 720)] = jpegData
				m.chunks = []string{"partial secret text"}
				m.err = failure.Errorf("gemini stream", failure.Blocked, "SAFETY", nil)
			},
			replyThread:   "1700000000.000100",
			replyContains: []string{"declined", "safety"},
			replyLacks:    []string{"partial secret text"},
			modelCalls:    1,
			finalReaction: "+warning",
		},
		{
			name:    "an empty answer is never posted empty",
			trigger: TriggerMention,
			msg:     Message{Channel: "C1", TS: "1700000000.000100", User: "U1", Files: []File{photo("F1")}},
			setup: func(t *testing.T, s *fakeSlack, m *fakeModel) {
				s.data[thumbURL("F1", 720)] = jpegData
				m.chunks = []string{"  ", "\n"}
			},
			replyThread:   "1700000000.000100",
			replyContains: []string{"without an answer"},
			modelCalls:    1,
			finalReaction: "+warning",
		},
		{
			name:    "Gemini overloaded says to retry",
			trigger: TriggerMention,
			msg:     Message{Channel: "C1", TS: "1700000000.000100", User: "U1", Files: []File{photo("F1")}},
			setup: func(t *testing.T, s *fakeSlack, m *fakeModel) {
				s.data[thumbURL("F1", 720)] = jpegData
				m.err = failure.Errorf("gemini stream", failure.Unavailable, "503", nil)
			},
			replyThread:   "1700000000.000100",
			replyContains: []string{"overloaded"},
			modelCalls:    1,
			finalReaction: "+warning",
		},
		{
			name:    "Gemini quota says to wait",
			trigger: TriggerMention,
			msg:     Message{Channel: "C1", TS: "1700000000.000100", User: "U1", Files: []File{photo("F1")}},
			setup: func(t *testing.T, s *fakeSlack, m *fakeModel) {
				s.data[thumbURL("F1", 720)] = jpegData
				m.err = failure.Errorf("gemini stream", failure.Quota, "", nil)
			},
			replyThread:   "1700000000.000100",
			replyContains: []string{"quota"},
			modelCalls:    1,
			finalReaction: "+warning",
		},
		{
			name:    "a bad key tells the user an admin must act",
			trigger: TriggerMention,
			msg:     Message{Channel: "C1", TS: "1700000000.000100", User: "U1", Files: []File{photo("F1")}},
			setup: func(t *testing.T, s *fakeSlack, m *fakeModel) {
				s.data[thumbURL("F1", 720)] = jpegData
				m.err = failure.Errorf("gemini stream", failure.ModelAuth, "", nil)
			},
			replyThread:   "1700000000.000100",
			replyContains: []string{"GEMINI_API_KEY"},
			modelCalls:    1,
			finalReaction: "+warning",
		},
		{
			name:    "mentions the model writes are defused",
			trigger: TriggerMention,
			msg:     Message{Channel: "C1", TS: "1700000000.000100", User: "U1", Files: []File{photo("F1")}},
			setup: func(t *testing.T, s *fakeSlack, m *fakeModel) {
				s.data[thumbURL("F1", 720)] = jpegData
				m.chunks = []string{"Hey <!channel> and <@U999> and @here: a cat."}
			},
			replyThread:   "1700000000.000100",
			replyContains: []string{"a cat."},
			replyLacks:    []string{"<!channel>", "<@U999>", "@here"},
			modelCalls:    1,
			finalReaction: "+white_check_mark",
		},
		{
			name:    "links the model writes show their real host",
			trigger: TriggerMention,
			msg:     Message{Channel: "C1", TS: "1700000000.000100", User: "U1", Files: []File{photo("F1")}},
			setup: func(t *testing.T, s *fakeSlack, m *fakeModel) {
				s.data[thumbURL("F1", 720)] = jpegData
				m.chunks = []string{"[Sign in to Slack](https://evil.example/login) or <https://evil.example|https://slack.com>, ",
					"not [this](javascript:alert(1)). `[code](https://x.example)` stays."}
			},
			replyThread: "1700000000.000100",
			replyContains: []string{"Sign in to Slack ([evil.example](https://evil.example/login)) or " +
				"https://slack.com ([evil.example](https://evil.example)), not [this\\](javascript:alert(1)). `[code](https://x.example)` stays."},
			replyLacks:    []string{"[Sign in to Slack](", "|https://slack.com>"},
			modelCalls:    1,
			finalReaction: "+white_check_mark",
		},
		{
			name:    "several images go in one request, bounded, and the answer says which it is about",
			trigger: TriggerMention,
			msg: Message{Channel: "C1", TS: "1700000000.000100", User: "U1", Files: []File{
				photo("F1"), photo("F2"), photo("F3"), {ID: "F9", Name: "menu.pdf", Mimetype: "application/pdf"},
				photo("F4"), photo("F5"), {ID: "F6", Access: "check_file_info"},
			}},
			setup: func(t *testing.T, s *fakeSlack, m *fakeModel) {
				for _, id := range []string{"F1", "F2", "F3", "F4", "F5"} {
					s.data[thumbURL(id, 720)] = jpegData
				}
				m.chunks = []string{"Five dishes."}
			},
			replyThread: "1700000000.000100",
			replyContains: []string{"Five dishes.\n\n_I looked at the first 4 of your 6 images (`F1.jpg`, `F2.jpg`, `F3.jpg`, `F4.jpg`): " +
				"I take up to 4 at a time. Ask about the others in another message._"},
			modelCalls:    1,
			finalReaction: "+white_check_mark",
			check: func(t *testing.T, s *fakeSlack, m *fakeModel) {
				if n := len(m.got[0].Turns[0].Images); n != 4 {
					t.Errorf("images sent = %d, want the bound 4", n)
				}
				if len(s.fileInfos) != 0 {
					t.Errorf("files.info %v: the images beyond the bound are counted, not fetched", s.fileInfos)
				}
			},
		},
		{
			name:    "as many images as the bound need no note",
			trigger: TriggerMention,
			msg: Message{Channel: "C1", TS: "1700000000.000100", User: "U1", Files: []File{
				photo("F1"), photo("F2"), photo("F3"), photo("F4"), {ID: "F9", Name: "menu.pdf", Mimetype: "application/pdf"},
			}},
			setup: func(t *testing.T, s *fakeSlack, m *fakeModel) {
				for _, id := range []string{"F1", "F2", "F3", "F4"} {
					s.data[thumbURL(id, 720)] = jpegData
				}
				m.chunks = []string{"Four dishes."}
			},
			replyThread:   "1700000000.000100",
			replyContains: []string{"Four dishes."},
			replyLacks:    []string{"I looked at"},
			modelCalls:    1,
			finalReaction: "+white_check_mark",
		},
		{
			name:          "a question over the bound is refused, naming both lengths, without asking Gemini",
			trigger:       TriggerMention,
			msg:           Message{Channel: "C1", TS: "1700000000.000100", User: "U1", Text: "recipe " + strings.Repeat("x", 3412), Files: []File{photo("F1")}},
			replyThread:   "1700000000.000100",
			replyContains: []string{"Your question is 3,412 characters; I take up to 2,000. Shorten it and ask again."},
			modelCalls:    0,
			downloads:     []string{},
			finalReaction: "+warning",
		},
		{
			name:    "a question at the bound is asked: characters count, not bytes",
			trigger: TriggerDM,
			msg:     Message{Channel: "D1", TS: "1700000000.000100", User: "U1", Text: strings.Repeat("é", 2000), Files: []File{photo("F1")}},
			setup: func(t *testing.T, s *fakeSlack, m *fakeModel) {
				s.data[thumbURL("F1", 720)] = jpegData
				m.chunks = []string{"Fine."}
			},
			replyThread:   "1700000000.000100",
			replyContains: []string{"Fine."},
			modelCalls:    1,
			finalReaction: "+white_check_mark",
			check: func(t *testing.T, s *fakeSlack, m *fakeModel) {
				if !strings.Contains(m.got[0].Turns[0].Text, strings.Repeat("é", 2000)) {
					t.Error("the question was cut")
				}
			},
		},
		{
			name:    "a Slack Connect stub is completed with files.info",
			trigger: TriggerMention,
			msg: Message{Channel: "C1", TS: "1700000000.000100", User: "U1", Files: []File{
				{ID: "F7", Access: "check_file_info"},
			}},
			setup: func(t *testing.T, s *fakeSlack, m *fakeModel) {
				s.files = map[string]File{"F7": photo("F7")}
				s.data[thumbURL("F7", 720)] = jpegData
				m.chunks = []string{"Shared photo."}
			},
			replyThread:   "1700000000.000100",
			replyContains: []string{"Shared photo."},
			modelCalls:    1,
			downloads:     []string{thumbURL("F7", 720)},
			finalReaction: "+white_check_mark",
			check: func(t *testing.T, s *fakeSlack, m *fakeModel) {
				if !slices.Equal(s.fileInfos, []string{"F7"}) {
					t.Errorf("files.info calls = %v", s.fileInfos)
				}
			},
		},
		{
			name:    "a GIF goes to the model as the PNG of its first frame",
			trigger: TriggerMention,
			msg: Message{Channel: "C1", TS: "1700000000.000100", User: "U1", Files: []File{
				{ID: "F8", Name: "dance.gif", Mimetype: "image/gif", Filetype: "gif", Size: 1000, URLDownload: "https://files.slack.com/dance.gif"},
			}},
			setup: func(t *testing.T, s *fakeSlack, m *fakeModel) {
				s.data["https://files.slack.com/dance.gif"] = testimage.GIF(t)
				m.chunks = []string{"A dance."}
			},
			replyThread:   "1700000000.000100",
			replyContains: []string{"A dance."},
			modelCalls:    1,
			finalReaction: "+white_check_mark",
			check: func(t *testing.T, s *fakeSlack, m *fakeModel) {
				if img := m.got[0].Turns[0].Images[0]; img.MIMEType != "image/png" {
					t.Errorf("GIF sent as %s, want image/png", img.MIMEType)
				}
			},
		},
		{
			name:    "the code use case asks for the original for legible text",
			trigger: TriggerMention,
			msg:     Message{Channel: "C1", TS: "1700000000.000100", User: "U1", Text: "code react", Files: []File{photo("F1")}},
			setup: func(t *testing.T, s *fakeSlack, m *fakeModel) {
				s.data[photo("F1").URLDownload] = pngData
				m.chunks = []string{"```jsx\n<App/>\n```"}
			},
			replyThread:   "1700000000.000100",
			replyContains: []string{"<App/>"},
			modelCalls:    1,
			downloads:     []string{photo("F1").URLDownload},
			finalReaction: "+white_check_mark",
		},
		{
			name:    "DM with a photo answers in the DM thread",
			trigger: TriggerDM,
			msg:     Message{Channel: "D1", TS: "1700000000.000500", User: "U1", Text: "guide", Files: []File{photo("F1")}},
			setup: func(t *testing.T, s *fakeSlack, m *fakeModel) {
				s.data[thumbURL("F1", 720)] = jpegData
				m.chunks = []string{"The Eiffel Tower."}
			},
			replyThread:   "1700000000.000500",
			replyContains: []string{"Eiffel"},
			modelCalls:    1,
			finalReaction: "+white_check_mark",
		},
		{
			name:          "DM without a photo says how to send one",
			trigger:       TriggerDM,
			msg:           Message{Channel: "D1", TS: "1700000000.000500", User: "U1", Text: "what can you do with food?"},
			replyThread:   "1700000000.000500",
			replyContains: []string{"couldn't find an image"},
			finalReaction: "+warning",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			s := newFakeSlack()
			m := &fakeModel{}
			if tt.setup != nil {
				tt.setup(t, s, m)
			}
			h := newTestFlows(t, s, m)
			if tt.trigger == TriggerDM {
				h.Run(context.Background(), dm(tt.msg))
			} else {
				h.Run(context.Background(), mention(tt.msg))
			}

			if len(s.replies) != 1 {
				t.Fatalf("replies = %+v, want exactly one", s.replies)
			}
			got := s.replies[0]
			if got.channel != tt.msg.Channel || got.thread != tt.replyThread {
				t.Errorf("reply went to %s/%s, want %s/%s", got.channel, got.thread, tt.msg.Channel, tt.replyThread)
			}
			for _, want := range tt.replyContains {
				if !strings.Contains(got.text, want) {
					t.Errorf("reply %q lacks %q", got.text, want)
				}
			}
			for _, bad := range tt.replyLacks {
				if strings.Contains(got.text, bad) {
					t.Errorf("reply %q contains %q", got.text, bad)
				}
			}
			if len(m.got) != tt.modelCalls {
				t.Errorf("model calls = %d, want %d", len(m.got), tt.modelCalls)
			}
			if tt.downloads != nil && !slices.Equal(s.downloaded, tt.downloads) {
				t.Errorf("downloads = %v, want %v", s.downloaded, tt.downloads)
			}
			if tt.finalReaction == "" {
				if len(s.reactions) != 0 {
					t.Errorf("reactions = %v, want none", s.reactions)
				}
			} else {
				want := []string{"+eyes " + tt.msg.TS, "-eyes " + tt.msg.TS, tt.finalReaction + " " + tt.msg.TS}
				if !slices.Equal(s.reactions, want) {
					t.Errorf("reactions = %v, want %v", s.reactions, want)
				}
			}
			if tt.check != nil {
				tt.check(t, s, m)
			}
		})
	}
}

func TestSlash(t *testing.T) {
	t.Parallel()

	jpegData := testimage.JPEG(t)
	photoMsg := Message{Channel: "C1", TS: "1699990000.000100", User: "U1", Files: []File{photo("F1")}}
	tests := []struct {
		name          string
		text          string
		setup         func(s *fakeSlack, m *fakeModel)
		wantResponses []string // substrings, one per response, in order
		wantReply     string   // substring of the one thread reply; "" = no reply
		replyThread   string
	}{
		{
			name:          "no text lists the use cases",
			text:          "",
			wantResponses: []string{"`recipe`"},
		},
		{
			name:          "help lists the use cases",
			text:          "help",
			wantResponses: []string{"`nutrition`"},
		},
		{
			name: "recipe answers in the thread of the user's newest photo",
			text: "recipe for two",
			setup: func(s *fakeSlack, m *fakeModel) {
				s.history = []Message{
					{TS: "1699999000.000100", User: "U2", Files: []File{photo("F2")}}, // someone else's
					{TS: "1699998000.000100", User: "U1", Text: "no photo here"},
					photoMsg,
					{TS: "1699980000.000100", User: "U1", Files: []File{photo("F3")}}, // older
				}
				s.data[thumbURL("F1", 720)] = jpegData
				m.chunks = []string{"Serves two."}
			},
			wantResponses: []string{"*recipe*"},
			wantReply:     "Serves two.",
			replyThread:   photoMsg.TS,
		},
		{
			name: "no recent photo of the user says how to use it",
			text: "recipe",
			setup: func(s *fakeSlack, m *fakeModel) {
				s.history = []Message{{TS: "1699999000.000100", User: "U2", Files: []File{photo("F2")}}}
			},
			wantResponses: []string{"couldn't find a photo you posted"},
		},
		{
			name: "not in the channel says to invite the bot",
			text: "recipe",
			setup: func(s *fakeSlack, m *fakeModel) {
				s.historyErr = failure.Errorf("conversations.history", failure.NotInChannel, "", errors.New("not_in_channel"))
			},
			wantResponses: []string{"/invite @visionbot"},
		},
		{
			name:          "a question over the bound is refused privately, before looking for the photo",
			text:          "recipe " + strings.Repeat("y", 2001),
			setup:         func(s *fakeSlack, m *fakeModel) { s.historyErr = errors.New("history must not be read") },
			wantResponses: []string{"Your question is 2,001 characters; I take up to 2,000."},
		},
		{
			name: "a missing scope names it",
			text: "recipe",
			setup: func(s *fakeSlack, m *fakeModel) {
				s.historyErr = failure.Errorf("conversations.history", failure.MissingScope, "groups:history", errors.New("missing_scope"))
			},
			wantResponses: []string{"`groups:history`"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			s := newFakeSlack()
			m := &fakeModel{}
			if tt.setup != nil {
				tt.setup(s, m)
			}
			h := newTestFlows(t, s, m)
			h.Run(context.Background(), slash(tt.text, ""))

			if len(s.responses) != len(tt.wantResponses) {
				t.Fatalf("responses = %q, want %d", s.responses, len(tt.wantResponses))
			}
			for i, want := range tt.wantResponses {
				if !strings.Contains(s.responses[i], want) {
					t.Errorf("response %d = %q, lacks %q", i, s.responses[i], want)
				}
			}
			if tt.wantReply == "" {
				if len(s.replies) != 0 {
					t.Errorf("replies = %+v, want none", s.replies)
				}
				return
			}
			if len(s.replies) != 1 || !strings.Contains(s.replies[0].text, tt.wantReply) || s.replies[0].thread != tt.replyThread {
				t.Errorf("replies = %+v, want one in %s with %q", s.replies, tt.replyThread, tt.wantReply)
			}
			if want := []string{"+eyes " + tt.replyThread, "-eyes " + tt.replyThread, "+white_check_mark " + tt.replyThread}; !slices.Equal(s.reactions, want) {
				t.Errorf("reactions = %v, want %v", s.reactions, want)
			}
		})
	}
}

// TestModelFailuresTellTheUser checks the notice each model failure leaves
// in the thread, and that a partial answer is shown only when it is
// marked as cut off.
func TestModelFailuresTellTheUser(t *testing.T) {
	t.Parallel()

	jpegData := testimage.JPEG(t)
	tests := []struct {
		name     string
		chunks   []string
		err      error
		contains []string
		lacks    []string
	}{
		{"a recitation stop says why", []string{"copied text"},
			failure.Errorf("gemini stream", failure.Blocked, "RECITATION", nil), []string{"repeated existing text"}, []string{"copied text"}},
		{"a prohibited-content block says why", nil,
			failure.Errorf("gemini stream", failure.Blocked, "PROHIBITED_CONTENT", nil), []string{"usage policy"}, nil},
		{"a prompt blocked for safety says why", nil,
			failure.Errorf("gemini stream", failure.Blocked, "SAFETY", nil), []string{"safety filters"}, nil},
		{"an error mid stream replaces the partial text", []string{"The first half"},
			failure.Errorf("gemini stream", failure.Unavailable, "499 CANCELLED", nil), []string{"overloaded"}, []string{"The first half"}},
		{"a stall says Gemini took too long", []string{"The first"},
			failure.Errorf("gemini stream", failure.Timeout, "no answer within 1m30s", nil), []string{"took too long"}, []string{"The first"}},
		{"a cut-off answer keeps its text and says it is cut off", []string{"The first half"},
			failure.Errorf("gemini stream", failure.CutOff, "", nil), []string{"The first half", "cut off"}, nil},
		{"an answer at the length limit says so", []string{"A long answer"},
			failure.Errorf("gemini stream", failure.CutOff, "MAX_TOKENS", nil), []string{"A long answer", "length limit"}, nil},
		{"an answer still unfinished after its continuation says so", []string{"A long answer"},
			failure.Errorf("gemini stream", failure.CutOff, "CONTINUATION", nil), []string{"A long answer", "length limit"}, nil},
		{"a request too large says what to do, not 'something went wrong'", nil,
			failure.Errorf("gemini stream", failure.RequestTooLarge, "413", nil),
			[]string{"too large", "smaller image", "fewer", "MAX_REQUEST_MB"}, []string{"Something went wrong"}},
		{"a quota with a retry delay says when to retry", nil,
			failure.Errorf("gemini stream", failure.Quota, "retry in 48.805646254s", nil), []string{"busy", "49s"}, nil},
		{"a rejected key says an admin must fix it", nil,
			failure.Errorf("gemini stream", failure.ModelAuth, "API key not valid", nil), []string{"admin must fix", "GEMINI_API_KEY"}, nil},
		{"a model Gemini doesn't offer says whom to tell, and what", nil,
			failure.Errorf("gemini stream", failure.UnknownModel, "404", nil), []string{"Tell the app's admin", "GEMINI_MODEL"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			s := newFakeSlack()
			s.data[thumbURL("F1", 720)] = jpegData
			m := &fakeModel{chunks: tt.chunks, err: tt.err}
			h := newTestFlows(t, s, m)
			h.Run(context.Background(), mention(Message{Channel: "C1", TS: "1700000000.000100", User: "U1", Files: []File{photo("F1")}}))
			if len(s.replies) != 1 {
				t.Fatalf("replies = %+v, want exactly one", s.replies)
			}
			got := s.replies[0].text
			for _, want := range tt.contains {
				if !strings.Contains(got, want) {
					t.Errorf("reply %q lacks %q", got, want)
				}
			}
			for _, bad := range tt.lacks {
				if strings.Contains(got, bad) {
					t.Errorf("reply %q shows %q", got, bad)
				}
			}
			if last := s.reactions[len(s.reactions)-1]; !strings.HasPrefix(last, "+warning") {
				t.Errorf("reactions = %v, want the answer marked as failed", s.reactions)
			}
		})
	}
}

// While an answer streams, what is shown never holds a link with a
// disguised text or a mention that pings, however the model's pieces cut
// them, and is always the start of the final answer.
func TestStreamedAnswerIsSafeAtEveryStep(t *testing.T) {
	t.Parallel()

	label := strings.Repeat("all of you ", 30) // 330 bytes
	tests := []struct {
		name   string
		chunks []string
		want   string // in the final answer
	}{
		{"a labelled mention longer than 256 bytes",
			[]string{"Hi <!channel|", label[:100], label[100:200], label[200:300], label[300:] + "> bye"},
			"Hi @\u2060" + label + " bye"},
		{"a link cut into pieces",
			[]string{"Go [Sign in to", " Slack](https://ev", "il.example/login) now"},
			"Go Sign in to Slack ([evil.example](https://evil.example/login)) now"},
		{"Slack's link cut into pieces",
			[]string{"Go <https://evil.example|", "https://slack.com", "> now"},
			"Go https://slack.com ([evil.example](https://evil.example)) now"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			s := newFakeSlack()
			s.data[thumbURL("F1", 720)] = testimage.JPEG(t)
			newTestFlows(t, s, &fakeModel{chunks: tt.chunks}).Run(context.Background(),
				mention(Message{Channel: "C1", TS: "1.1", User: "U1", Files: []File{photo("F1")}}))
			if len(s.replies) != 1 || !strings.Contains(s.replies[0].text, tt.want) {
				t.Fatalf("replies %+v, want one with %q", s.replies, tt.want)
			}
			final := s.replies[0].text
			var shown strings.Builder
			for _, a := range s.opened[0].appended {
				shown.WriteString(a)
				for _, bad := range []string{"<!channel", "Slack](https:", "|https://slack.com>"} {
					if strings.Contains(shown.String(), bad) {
						t.Errorf("shown while streaming: %q, with %q", shown.String(), bad)
					}
				}
			}
			if shown.Len() == 0 || !strings.HasPrefix(final, shown.String()) {
				t.Errorf("streamed %q is not the start of the final %q", shown.String(), final)
			}
		})
	}
}
