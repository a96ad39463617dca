package handlers

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/visionbot/visionbot/internal/failure"
	"github.com/visionbot/visionbot/internal/testimage"
	"github.com/visionbot/visionbot/internal/vision"
)

func TestAnswerStreamsIntoTheReplyAndEndsWithAFooter(t *testing.T) {
	t.Parallel()

	s := newFakeSlack()
	s.data[thumbURL("F1", 720)] = testimage.JPEG(t)
	m := &fakeModel{chunks: []string{"\n  Pasta for <@U", "123> and @he", "re. ", "Boil water.\n"}}
	h := newTestFlows(t, s, m)
	h.Run(context.Background(), mention(Message{Channel: "C1", TS: "1700000000.000100", User: "U1", Team: "T9",
		Text: "recipe", Files: []File{photo("F1")}}))

	if len(s.opened) != 1 {
		t.Fatalf("opened %d replies, want 1", len(s.opened))
	}
	r := s.opened[0]
	if want := (Thread{Channel: "C1", TS: "1700000000.000100", User: "U1", Team: "T9"}); r.to != want {
		t.Errorf("reply opened in %+v, want %+v", r.to, want)
	}
	final := "Pasta for @\u2060U123 and @\u2060here. Boil water."
	if len(s.replies) != 1 || s.replies[0].text != final {
		t.Fatalf("final = %+v, want %q", s.replies, final)
	}
	streamed := strings.Join(r.appended, "")
	if streamed == "" || !strings.HasPrefix(final, streamed) {
		t.Errorf("streamed %q is not a prefix of the final %q", streamed, final)
	}
	if len(r.appended) < 2 {
		t.Errorf("appends = %q, want the text streamed in pieces", r.appended)
	}
	footer := s.replies[0].footer
	if footer == nil || footer.Ref.UseCase != "recipe" || !slices.Equal(footer.Ref.Files, []string{"F1"}) {
		t.Fatalf("footer = %+v, want recipe about F1", footer)
	}
	if len(footer.Choices) != len(h.catalog.All()) {
		t.Errorf("footer offers %d use cases, want all %d", len(footer.Choices), len(h.catalog.All()))
	}
}

// followUpThread is a channel thread: a person's photo, the bot's answer,
// a teammate's remark.
func followUpThread() []Message {
	return []Message{
		{TS: "1700000000.000100", User: "U1", Text: "<@UBOT> recipe for two", Files: []File{photo("F1")}},
		{TS: "1700000000.000200", User: "UBOT", BotID: "BBOT", Text: "**Pasta** for two.",
			Answer: &AnswerRef{UseCase: "recipe", Files: []string{"F1"}}},
		{TS: "1700000000.000300", User: "U2", Text: "looks great"}, // someone else's: not sent
		{TS: "1700000000.000400", User: "UOTHER", BotID: "BOTHER", Text: "another bot"},
	}
}

func TestFollowUps(t *testing.T) {
	t.Parallel()

	jpegData := testimage.JPEG(t)
	tests := []struct {
		name     string
		dm       bool
		msg      Message
		thread   []Message
		files    map[string]File
		wantUC   string
		wantRole []vision.Role
		wantLast string
		check    func(t *testing.T, req vision.Request)
	}{
		{
			name:     "a mention after the bot's answer continues the conversation",
			msg:      Message{Channel: "C1", TS: "1700000000.000500", ThreadTS: "1700000000.000100", User: "U1", Text: "make it vegan"},
			thread:   followUpThread(),
			wantUC:   "recipe",
			wantRole: []vision.Role{vision.RoleUser, vision.RoleModel, vision.RoleUser},
			wantLast: "make it vegan",
			check: func(t *testing.T, req vision.Request) {
				if len(req.Turns[0].Images) != 1 || !strings.Contains(req.Turns[0].Text, "for two") {
					t.Errorf("first turn = %q with %d images, want the photo and its question", req.Turns[0].Text, len(req.Turns[0].Images))
				}
				if req.Turns[1].Text != "**Pasta** for two." {
					t.Errorf("model turn = %q", req.Turns[1].Text)
				}
			},
		},
		{
			name:     "a follow-up that names a use case switches to it",
			msg:      Message{Channel: "C1", TS: "1700000000.000500", ThreadTS: "1700000000.000100", User: "U1", Text: "nutrition per serving?"},
			thread:   followUpThread(),
			wantUC:   "nutrition",
			wantRole: []vision.Role{vision.RoleUser, vision.RoleModel, vision.RoleUser},
			wantLast: "nutrition per serving?",
		},
		{
			// The word and the question on two lines: the use case is the
			// first word, whatever space follows it.
			name:     "a use case named before a line break switches to it too",
			msg:      Message{Channel: "C1", TS: "1700000000.000500", ThreadTS: "1700000000.000100", User: "U1", Text: "describe\nwhat is this?"},
			thread:   followUpThread(),
			wantUC:   "describe",
			wantRole: []vision.Role{vision.RoleUser, vision.RoleModel, vision.RoleUser},
			wantLast: "describe\nwhat is this?",
		},
		{
			name: "a follow-up in an upload's thread finds the image through the answer",
			msg:  Message{Channel: "C1", TS: "1700000000.000500", ThreadTS: "1700000000.000100", User: "U1", Text: "in React please"},
			thread: []Message{
				{TS: "1700000000.000100", User: "UBOT", BotID: "BBOT", Text: "<@U1> asked me to look at `ui.png` with *code*."},
				{TS: "1700000000.000200", User: "UBOT", BotID: "BBOT", Text: "```html\n<div/>\n```",
					Answer: &AnswerRef{UseCase: "code", Files: []string{"F9"}}},
			},
			files:    map[string]File{"F9": uploadedBy(photo("F9"), "U1")}, // the form's upload, shared nowhere
			wantUC:   "code",
			wantRole: []vision.Role{vision.RoleUser, vision.RoleModel, vision.RoleUser},
			wantLast: "in React please",
		},
		{
			name: "a DM thread continues without a mention",
			dm:   true,
			msg:  Message{Channel: "D1", TS: "1700000000.000300", ThreadTS: "1700000000.000100", User: "U1", Text: "and the dessert?"},
			thread: []Message{
				{TS: "1700000000.000100", User: "U1", Text: "guide", Files: []File{photo("F1")}},
				{TS: "1700000000.000200", User: "UBOT", BotID: "BBOT", Text: "The Louvre.", Answer: &AnswerRef{UseCase: "guide", Files: []string{"F1"}}},
			},
			wantUC:   "guide",
			wantRole: []vision.Role{vision.RoleUser, vision.RoleModel, vision.RoleUser},
			wantLast: "and the dessert?",
		},
		{
			name: "before any answer, the thread's photo gets a single-turn answer",
			msg:  Message{Channel: "C1", TS: "1700000000.000300", ThreadTS: "1700000000.000100", User: "U2", Text: "healthy"},
			thread: []Message{
				{TS: "1700000000.000100", User: "U1", Text: "lunch", Files: []File{photo("F1")}},
			},
			wantUC:   "healthy",
			wantRole: []vision.Role{vision.RoleUser},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			s := newFakeSlack()
			s.thread = tt.thread
			s.files = tt.files
			s.data[thumbURL("F1", 720)] = jpegData
			s.data[thumbURL("F9", 720)] = jpegData
			s.data[photo("F9").URLDownload] = jpegData
			m := &fakeModel{chunks: []string{"Sure."}}
			cfg := DefaultConfig()
			cfg.BotUserID = "UBOT"
			h := New(s.roles(), m, mustCatalog(t), testLogger(), cfg, Deps{})
			if tt.dm {
				h.Run(context.Background(), dm(tt.msg))
			} else {
				h.Run(context.Background(), mention(tt.msg))
			}
			if len(m.got) != 1 {
				t.Fatalf("model calls = %d, replies = %+v", len(m.got), s.replies)
			}
			req := m.got[0]
			var roles []vision.Role
			for _, turn := range req.Turns {
				roles = append(roles, turn.Role)
			}
			if !slices.Equal(roles, tt.wantRole) {
				t.Fatalf("roles = %v, want %v", roles, tt.wantRole)
			}
			if tt.wantLast != "" && req.Turns[len(req.Turns)-1].Text != tt.wantLast {
				t.Errorf("last turn = %q, want %q", req.Turns[len(req.Turns)-1].Text, tt.wantLast)
			}
			uc, _ := h.catalog.Lookup(tt.wantUC)
			if req.System != uc.System {
				t.Errorf("system is not %s's", tt.wantUC)
			}
			if len(s.replies) != 1 || s.replies[0].thread != tt.msg.ThreadTS || s.replies[0].footer.Ref.UseCase != tt.wantUC {
				t.Errorf("replies = %+v", s.replies)
			}
			if tt.check != nil {
				tt.check(t, req)
			}
		})
	}
}

func TestFollowUpHistoryIsBounded(t *testing.T) {
	t.Parallel()

	thread := []Message{{TS: "1700000000.000001", User: "U1", Files: []File{photo("F1")}}}
	for i := range 40 {
		msg := Message{TS: tsAt(2 + i), User: "U1", Text: strings.Repeat("question ", 50)}
		if i%2 == 1 {
			msg = Message{TS: tsAt(2 + i), User: "UBOT", BotID: "BBOT", Text: strings.Repeat("answer ", 80),
				Answer: &AnswerRef{UseCase: "describe", Files: []string{"F1"}}}
		}
		thread = append(thread, msg)
	}
	s := newFakeSlack()
	s.thread = thread
	s.data[thumbURL("F1", 720)] = testimage.JPEG(t)
	m := &fakeModel{chunks: []string{"ok"}}
	cfg := DefaultConfig()
	cfg.BotUserID = "UBOT"
	cfg.MaxHistoryTurns = 6
	cfg.MaxHistoryChars = 2000
	h := New(s.roles(), m, mustCatalog(t), testLogger(), cfg, Deps{})
	h.Run(context.Background(), mention(Message{Channel: "C1", TS: tsAt(99), ThreadTS: thread[0].TS, User: "U1", Text: "last one"}))
	if len(m.got) != 1 {
		t.Fatalf("model calls = %d", len(m.got))
	}
	turns := m.got[0].Turns
	if len(turns[0].Images) != 1 {
		t.Errorf("the first turn lost the image")
	}
	chars := 0
	for _, turn := range turns[1:] {
		chars += len(turn.Text)
	}
	if len(turns) > 1+cfg.MaxHistoryTurns+1 || chars > cfg.MaxHistoryChars+len("last one")+100 {
		t.Errorf("sent %d turns, %d characters of history", len(turns), chars)
	}
	if !strings.HasSuffix(turns[len(turns)-1].Text, "last one") {
		t.Errorf("the new question is not last: %q", turns[len(turns)-1].Text)
	}
}

func tsAt(i int) string { return "1700000000." + strings.Repeat("0", 6-len(itoa(i))) + itoa(i) }

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func TestShortcut(t *testing.T) {
	t.Parallel()

	stub := File{ID: "F7", Access: "check_file_info"}
	pdf := File{ID: "F8", Name: "a.pdf", Mimetype: "application/pdf", Filetype: "pdf"}
	tests := []struct {
		name      string
		msg       Message
		wantKind  FormKind
		wantFiles []string
	}{
		{"a photo opens the analyze form", Message{TS: "1700000000.000100", User: "U2", Files: []File{photo("F1"), pdf}}, FormAnalyze, []string{"F1"}},
		{"more photos than the bound: the form says which it looks at", Message{TS: "1700000000.000100", Files: []File{
			photo("F1"), pdf, photo("F2"), photo("F3"), stub, photo("F4")}}, FormAnalyze, []string{"F1", "F2", "F3", "F7"}},
		{"a Slack Connect stub counts as a photo", Message{TS: "1700000000.000100", Files: []File{stub}}, FormAnalyze, []string{"F7"}},
		{"a PDF only says there is no image", Message{TS: "1700000000.000100", Files: []File{pdf}}, FormNotice, nil},
		{"text only says there is no image", Message{TS: "1700000000.000100", Text: "hi"}, FormNotice, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			s := newFakeSlack()
			h := newTestFlows(t, s, &fakeModel{})
			h.Run(context.Background(), shortcutOn(tt.msg))
			if len(s.forms) != 1 || s.forms[0].Kind != tt.wantKind {
				t.Fatalf("forms = %+v, want one of kind %d", s.forms, tt.wantKind)
			}
			form := s.forms[0]
			if tt.wantKind == FormNotice {
				if !strings.Contains(form.Notice, "no image") {
					t.Errorf("notice = %q", form.Notice)
				}
				return
			}
			meta, err := ReadFormTarget(form.Metadata)
			if err != nil {
				t.Fatal(err)
			}
			if meta.Channel != "C1" || meta.Thread != tt.msg.TS || !slices.Equal(meta.Files, tt.wantFiles) || meta.ResponseURL == "" {
				t.Errorf("metadata = %+v", meta)
			}
			if form.UseCase != "describe" || len(form.Choices) != len(h.catalog.All()) {
				t.Errorf("menu = %q of %d", form.UseCase, len(form.Choices))
			}
			if form.MaxQuestion != 2000 {
				t.Errorf("the question input takes %d characters, want MaxQuestion", form.MaxQuestion)
			}
			images := len(imageCandidates(tt.msg.Files, len(tt.msg.Files)))
			if want := "This message has 5 images; I'll look at the first 4."; (images > 4) != (form.Notice == want) {
				t.Errorf("notice = %q with %d images", form.Notice, images)
			}
		})
	}
}

func TestSubmit(t *testing.T) {
	t.Parallel()

	jpegData := testimage.JPEG(t)
	shortcutForm := FormTarget{Channel: "C1", Thread: "1700000000.000100", Message: "1700000000.000200", Files: []string{"F1"}, ResponseURL: "https://hooks.slack.com/r"}
	uploadForm := FormTarget{Channel: "C1", ResponseURL: "https://hooks.slack.com/r"}
	tests := []struct {
		name        string
		form        FormTarget
		sub         Submission
		postErr     error
		wantThread  string
		wantIntro   []string
		wantReply   string
		wantRespond string
		wantFileIDs []string
		// wantReactions are the reactions on the analyzed message: none
		// for a request that ended before it showed :eyes:.
		wantReactions []string
	}{
		{
			name:        "the shortcut's form answers in the message's thread",
			form:        shortcutForm,
			sub:         Submission{UseCase: "nutrition", Question: "per 100 g"},
			wantThread:  "1700000000.000100",
			wantReply:   "Answer.",
			wantFileIDs: []string{"F1"},
		},
		{
			name:       "an upload gets a message saying who asked, and the answer in its thread",
			form:       uploadForm,
			sub:        Submission{UseCase: "recipe", Uploads: []File{photo("F1")}},
			wantThread: "1700000999.000001",
			wantIntro:  []string{"<@U1>", "`F1.jpg`", "*recipe*"},
			wantReply:  "Answer.",
		},
		{
			name:        "an upload where the bot can't post is told privately how to fix it",
			form:        uploadForm,
			sub:         Submission{UseCase: "recipe", Uploads: []File{photo("F1")}},
			postErr:     failure.Errorf("chat.postMessage", failure.NotInChannel, "", errors.New("not_in_channel")),
			wantRespond: "/invite @visionbot",
		},
		{
			name:          "a form without an image is told so, with no outcome reaction where there was no :eyes:",
			form:          FormTarget{Channel: "C1", Thread: "1700000000.000100", Message: "1700000000.000200", ResponseURL: "https://hooks.slack.com/r"},
			sub:           Submission{UseCase: "recipe"},
			wantThread:    "1700000000.000100",
			wantReply:     "I couldn't find an image in that message or the form. Open *Analyze image* again and attach a photo (JPEG, PNG, WebP, HEIC or GIF).",
			wantReactions: []string{},
		},
		{
			name:        "a question over the bound is refused privately, and nothing is posted",
			form:        shortcutForm,
			sub:         Submission{UseCase: "recipe", Question: strings.Repeat("z", 2500)},
			wantRespond: "Your question is 2,500 characters; I take up to 2,000.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			s := newFakeSlack()
			s.files = map[string]File{"F1": photo("F1")}
			s.data[thumbURL("F1", 720)] = jpegData
			s.postErr = tt.postErr
			m := &fakeModel{chunks: []string{"Answer."}}
			h := newTestFlows(t, s, m)
			h.Run(context.Background(), submitted(tt.form, tt.sub))

			if tt.wantIntro != nil {
				if len(s.posted) != 1 {
					t.Fatalf("posted = %+v, want the intro", s.posted)
				}
				for _, want := range tt.wantIntro {
					if !strings.Contains(s.posted[0].text, want) {
						t.Errorf("intro %q lacks %q", s.posted[0].text, want)
					}
				}
			}
			if tt.wantReply == "" {
				if len(s.replies) != 0 {
					t.Errorf("replies = %+v, want none", s.replies)
				}
			} else if len(s.replies) != 1 || s.replies[0].thread != tt.wantThread || s.replies[0].text != tt.wantReply {
				t.Errorf("replies = %+v, want %q in %s", s.replies, tt.wantReply, tt.wantThread)
			} else if answered := tt.wantReply == "Answer."; answered && (s.replies[0].footer == nil || s.replies[0].footer.Ref.UseCase != tt.sub.UseCase) {
				t.Errorf("footer = %+v", s.replies[0].footer)
			}
			if tt.wantFileIDs != nil && !slices.Equal(s.fileInfos, tt.wantFileIDs) {
				t.Errorf("files.info = %v, want %v", s.fileInfos, tt.wantFileIDs)
			}
			if tt.wantRespond != "" && (len(s.responses) != 1 || !strings.Contains(s.responses[0], tt.wantRespond)) {
				t.Errorf("responses = %q, want %q", s.responses, tt.wantRespond)
			}
			if tt.wantRespond == "" && len(s.responses) != 0 {
				t.Errorf("responses = %q, want none", s.responses)
			}
			if tt.wantReactions != nil && !slices.Equal(s.reactions, tt.wantReactions) {
				t.Errorf("reactions = %q, want %q", s.reactions, tt.wantReactions)
			}
		})
	}
}

func TestSlashWithoutARecentPhotoOpensTheUploadForm(t *testing.T) {
	t.Parallel()

	for _, formErr := range []error{nil, errors.New("expired_trigger_id")} {
		s := newFakeSlack()
		s.formErr = formErr
		h := newTestFlows(t, s, &fakeModel{})
		h.Run(context.Background(), slash("code in Go", "1.2.x"))
		if formErr != nil {
			if len(s.responses) != 1 || !strings.Contains(s.responses[0], "couldn't find a photo") {
				t.Errorf("with the form refused, responses = %q", s.responses)
			}
			continue
		}
		if len(s.forms) != 1 {
			t.Fatalf("forms = %+v", s.forms)
		}
		f := s.forms[0]
		if f.Kind != FormUpload || f.UseCase != "code" || f.Question != "in Go" || f.MaxFiles != 4 {
			t.Errorf("form = %+v", f)
		}
		if meta, err := ReadFormTarget(f.Metadata); err != nil || meta.Channel != "C1" || meta.Thread != "" {
			t.Errorf("metadata = %+v, %v", meta, err)
		}
		if len(s.responses) != 0 {
			t.Errorf("responses = %q, want none", s.responses)
		}
	}
}

func TestRerunAndFeedback(t *testing.T) {
	t.Parallel()

	s := newFakeSlack()
	s.files = map[string]File{"F1": sharedIn(photo("F1"), "C1"), "F2": sharedIn(photo("F2"), "C1")}
	s.data[thumbURL("F1", 720)] = testimage.JPEG(t)
	s.data[thumbURL("F2", 720)] = testimage.JPEG(t)
	m := &fakeModel{chunks: []string{"Calories: 600."}}
	h := newTestFlows(t, s, m)
	ref := AnswerRef{UseCase: "recipe", Files: []string{"F1", "F2"}}
	h.Run(context.Background(), rerunOf("1700000000.000100", "nutrition", ref))

	if len(m.got) != 1 || len(m.got[0].Turns[0].Images) != 2 {
		t.Fatalf("model requests = %+v", m.got)
	}
	if uc, _ := h.catalog.Lookup("nutrition"); m.got[0].System != uc.System {
		t.Errorf("the rerun did not use nutrition")
	}
	if len(s.replies) != 1 || s.replies[0].thread != "1700000000.000100" || s.replies[0].footer.Ref.UseCase != "nutrition" {
		t.Errorf("replies = %+v", s.replies)
	}

	h.Run(context.Background(), voteBy("U1", "https://hooks.slack.com/r", true, ref))
	h.Run(context.Background(), voteBy("U2", "", false, ref))
	h.Run(context.Background(), voteBy("U3", "", true, ref))
	if got := h.Votes()["recipe"]; got != (VoteCount{Up: 2, Down: 1}) {
		t.Errorf("votes = %+v", got)
	}
	if len(s.responses) != 1 || !strings.Contains(s.responses[0], "Thanks") {
		t.Errorf("responses = %q", s.responses)
	}
}

func TestReactionTriggers(t *testing.T) {
	t.Parallel()

	jpegData := testimage.JPEG(t)
	tests := []struct {
		name    string
		useCase string
		msg     Message
		wantUC  string // "" = deliberate silence
	}{
		{"fork and knife on a photo gives a recipe", "recipe", Message{TS: "1700000000.000100", User: "U2", Files: []File{photo("F1")}}, "recipe"},
		{"a reply's answer goes to its thread", "describe", Message{TS: "1700000000.000200", ThreadTS: "1700000000.000100", User: "U2", Files: []File{photo("F1")}}, "describe"},
		{"a message without an image is ignored", "describe", Message{TS: "1700000000.000100", User: "U2", Text: "hi"}, ""},
		{"a bot's message is ignored", "describe", Message{TS: "1700000000.000100", User: "UB", BotID: "B1", Files: []File{photo("F1")}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			s := newFakeSlack()
			tt.msg.Channel = "C1"
			s.messages[tt.msg.TS] = tt.msg
			s.data[thumbURL("F1", 720)] = jpegData
			m := &fakeModel{chunks: []string{"Here."}}
			h := newTestFlows(t, s, m)
			h.Run(context.Background(), reactedTo(tt.msg.TS, tt.useCase))
			if tt.wantUC == "" {
				if len(s.replies)+len(m.got)+len(s.reactions) != 0 {
					t.Errorf("want silence, got replies %+v, reactions %v", s.replies, s.reactions)
				}
				return
			}
			thread := tt.msg.ThreadTS
			if thread == "" {
				thread = tt.msg.TS
			}
			if len(s.replies) != 1 || s.replies[0].thread != thread || s.replies[0].footer.Ref.UseCase != tt.wantUC {
				t.Errorf("replies = %+v, want a %s answer in %s", s.replies, tt.wantUC, thread)
			}
			if want := "+white_check_mark " + tt.msg.TS; !slices.Contains(s.reactions, want) {
				t.Errorf("reactions = %v, want %s", s.reactions, want)
			}
		})
	}
}

func TestHomeAndHelpComeFromTheCatalog(t *testing.T) {
	t.Parallel()

	s := newFakeSlack()
	h := newTestFlows(t, s, &fakeModel{})
	h.Run(context.Background(), homeOf("U1"))
	home, ok := s.homes["U1"]
	if !ok {
		t.Fatal("no Home tab published")
	}
	help := h.helpText()
	for _, uc := range h.catalog.All() {
		if !slices.ContainsFunc(home.UseCases, func(x HomeUseCase) bool { return x.Name == uc.Name && x.Example == uc.Example }) {
			t.Errorf("the Home tab lacks %s", uc.Name)
		}
		if !strings.Contains(help, "`"+uc.Name+"`") {
			t.Errorf("help lacks %s", uc.Name)
		}
	}
	for _, want := range []string{"Analyze image", "/analyze", ":fork_and_knife: recipe"} {
		if !strings.Contains(strings.Join(home.HowTo, "\n"), want) || !strings.Contains(help, want) {
			t.Errorf("Home tab or help lacks %q", want)
		}
	}
}
