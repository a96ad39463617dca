package handlers

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/visionbot/visionbot/internal/testimage"
)

// viewedTS is the message with a photo, in C7, that the tests' person
// looks at with the Messages tab open.
const viewedTS = "1700000000.000500"

// viewingHandler is a handler whose clock the test moves, with the
// message viewedTS in C7.
func viewingHandler(t *testing.T, now *time.Time) (*Flows, *fakeSlack, *fakeModel) {
	t.Helper()
	s := newFakeSlack()
	s.data[thumbURL("F1", 720)] = testimage.JPEG(t)
	s.messages[viewedTS] = Message{Channel: "C7", TS: viewedTS, User: "U2", Files: []File{photo("F1")}}
	m := &fakeModel{chunks: []string{"Carbonara."}}
	cfg := DefaultConfig()
	cfg.RefKey = []byte("a test key")
	h := New(s.roles(), m, mustCatalog(t), testLogger(), cfg, Deps{Now: func() time.Time { return *now }})
	return h, s, m
}

// pickedPrompt is the recipe prompt offered to o's person, in o's DM,
// while they view viewedTS, as Slack sends its message back when it is
// picked: the link between angle brackets.
func pickedPrompt(t *testing.T, h *Flows, s *fakeSlack, o Origin) string {
	t.Helper()
	o.Trigger = TriggerMessages
	h.Run(context.Background(), Request{Origin: o, Ask: Viewing{Channel: "C7", TS: viewedTS}})
	prompts := s.prompts[o.Channel]
	i := slices.IndexFunc(prompts, func(p Prompt) bool { return strings.HasPrefix(p.Message, "recipe ") })
	if i < 0 {
		t.Fatalf("prompts = %+v, want one about the photo viewed", prompts)
	}
	picked := strings.Replace(prompts[i].Message, "https://", "<https://", 1)
	return strings.Replace(picked, " #", "> #", 1)
}

// A reference is made for one person in one DM: pasted anywhere else, by
// them or anyone, it is text like any other, and the message it names is
// not read. (Text rather than a refusal: a reference that does not verify
// here is indistinguishable from a forged one, and saying more would tell
// a forger which part was wrong.)
func TestViewedReferenceIsBoundToItsDM(t *testing.T) {
	t.Parallel()

	now := time.Unix(1700000000, 0)
	h, s, m := viewingHandler(t, &now)
	made := Origin{Channel: "D1", User: "U1", Workspace: "T1"}
	picked := pickedPrompt(t, h, s, made)
	expiry := picked[strings.LastIndexByte(picked, '#')+1 : strings.LastIndexByte(picked, '.')]
	later := strings.Replace(picked, "#"+expiry+".", "#"+expiry[:len(expiry)-1]+"9.", 1)
	if later == picked {
		later = strings.Replace(picked, "#"+expiry+".", "#"+expiry[:len(expiry)-1]+"8.", 1)
	}

	tests := []struct {
		name   string
		where  Origin
		text   string
		honour bool
	}{
		{"in the DM it was made for, by its person", Origin{Trigger: TriggerDM, Channel: "D1", User: "U1", Workspace: "T1"}, picked, true},
		{"pasted by its person in a public channel's mention", Origin{Trigger: TriggerMention, Channel: "C1", User: "U1", Workspace: "T1"}, picked, false},
		{"pasted by its person in another DM", Origin{Trigger: TriggerDM, Channel: "D2", User: "U1", Workspace: "T1"}, picked, false},
		{"in a DM of the same id in another workspace", Origin{Trigger: TriggerDM, Channel: "D1", User: "U1", Workspace: "T2"}, picked, false},
		{"sent by another person in the same DM", Origin{Trigger: TriggerDM, Channel: "D1", User: "U3", Workspace: "T1"}, picked, false},
		{"with its signature changed", Origin{Trigger: TriggerDM, Channel: "D1", User: "U1", Workspace: "T1"},
			flipLast(picked), false},
		{"with its expiry moved", Origin{Trigger: TriggerDM, Channel: "D1", User: "U1", Workspace: "T1"}, later, false},
	}
	for _, tt := range tests {
		// One after the other: the cases share the handler and its fakes.
		t.Run(tt.name, func(t *testing.T) {
			s.replies, s.read, m.got = nil, nil, nil
			o := tt.where
			o.Message, o.Thread = "1700000000.000900", "1700000000.000900"
			h.Run(context.Background(), Request{Origin: o, Ask: Said{Text: tt.text}})
			read := slices.Contains(s.read, viewedTS)
			if read != tt.honour || (len(m.got) == 1) != tt.honour {
				t.Fatalf("read the message viewed: %v, asked the model %d times; want %v; replies %+v",
					read, len(m.got), tt.honour, s.replies)
			}
			if len(s.replies) != 1 || s.replies[0].channel != o.Channel {
				t.Fatalf("replies = %+v, want one, in %s", s.replies, o.Channel)
			}
			if !tt.honour && strings.Contains(s.replies[0].text, "Carbonara") {
				t.Errorf("answered about the message viewed: %q", s.replies[0].text)
			}
		})
	}
}

// A reference lives a quarter of an hour: the prompts are picked right
// away. An older one is refused with what to do, and its message is not
// read.
func TestViewedReferenceExpires(t *testing.T) {
	t.Parallel()

	lifetime := DefaultConfig().RefLifetime
	if lifetime != 15*time.Minute {
		t.Fatalf("a reference lives %v by default, want 15 minutes", lifetime)
	}
	tests := []struct {
		name   string
		after  time.Duration
		honour bool
	}{
		{"picked at once", 0, true},
		{"picked within its lifetime", lifetime - time.Second, true},
		{"picked as it expires", lifetime, true},
		{"picked after its lifetime", lifetime + time.Second, false},
		{"picked a day later", 24 * time.Hour, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			now := time.Unix(1700000000, 0)
			h, s, m := viewingHandler(t, &now)
			dm := Origin{Trigger: TriggerDM, Channel: "D1", User: "U1", Workspace: "T1", Message: "1700000000.000900", Thread: "1700000000.000900"}
			picked := pickedPrompt(t, h, s, dm)
			s.read, now = nil, now.Add(tt.after)
			h.Run(context.Background(), Request{Origin: dm, Ask: Said{Text: picked}})
			if read := slices.Contains(s.read, viewedTS); read != tt.honour || (len(m.got) == 1) != tt.honour {
				t.Fatalf("read the message viewed: %v, asked the model %d times; want %v", read, len(m.got), tt.honour)
			}
			if len(s.replies) != 1 || s.replies[0].thread != dm.Thread {
				t.Fatalf("replies = %+v, want one in the prompt's thread", s.replies)
			}
			if !tt.honour && (!strings.Contains(s.replies[0].text, "open the message again") || !strings.Contains(s.replies[0].text, "15 minutes")) {
				t.Errorf("refusal %q does not say how long a prompt works and to open the message again", s.replies[0].text)
			}
		})
	}
}

// flipLast changes the last character of a reference's signature.
func flipLast(ref string) string {
	last := byte('0')
	if ref[len(ref)-1] == '0' {
		last = '1'
	}
	return ref[:len(ref)-1] + string(last)
}

// Files that did not come with the conversation's own messages (an
// answer's footer names them by id) are read again, for a rerun or a
// follow-up, only where they may be shown: Slack lists them as shared in
// that conversation, the person asking uploaded them, or the conversation
// is that person's DM with the bot. Otherwise the request is refused as a
// whole, saying why, and none of its files is downloaded.
func TestFilesFromElsewhereAreReadOnlyWhereShared(t *testing.T) {
	t.Parallel()

	const root = "1700000000.000100"
	inC1 := sharedIn(photo("F1"), "C1")
	onlyPrivate := uploadedBy(sharedIn(photo("F1"), "G9"), "U2")
	tests := []struct {
		name     string
		followUp bool // a mention in the thread, else "Try another use case"
		channel  string
		user     string
		files    []File
		answered bool
	}{
		{"a rerun about a photo shared here", false, "C1", "U1", []File{inC1}, true},
		{"a rerun about a photo shared only in a private channel", false, "C1", "U1", []File{onlyPrivate}, false},
		{"a rerun about a form's upload, by its uploader", false, "C1", "U1", []File{uploadedBy(photo("F1"), "U1")}, true},
		{"a rerun about a form's upload, by someone else", false, "C1", "U3", []File{uploadedBy(photo("F1"), "U1")}, false},
		{"a rerun in the person's DM about a photo from elsewhere", false, "D1", "U1", []File{sharedIn(photo("F1"), "C7")}, true},
		{"a rerun about two photos, one not shared here", false, "C1", "U1",
			[]File{inC1, uploadedBy(sharedIn(photo("F2"), "G9"), "U2")}, false},
		{"a follow-up about a photo shared here", true, "C1", "U1", []File{inC1}, true},
		{"a follow-up about a photo shared only in a private channel", true, "C1", "U3", []File{onlyPrivate}, false},
		{"a follow-up in the person's DM about a photo from elsewhere", true, "D1", "U1", []File{sharedIn(photo("F1"), "C7")}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			s := newFakeSlack()
			s.files = map[string]File{}
			for _, f := range tt.files {
				s.files[f.ID] = f
				s.data[thumbURL(f.ID, 720)] = testimage.JPEG(t)
			}
			ids := fileIDs(tt.files)
			s.thread = []Message{
				{TS: root, User: "U1", Text: "<@UBOT> recipe"},
				{TS: "1700000000.000200", User: "UBOT", BotID: "BBOT", Text: "A recipe.", Answer: &AnswerRef{UseCase: "recipe", Files: ids}},
			}
			m := &fakeModel{chunks: []string{"More."}}
			cfg := DefaultConfig()
			cfg.BotUserID = "UBOT"
			h := New(s.roles(), m, mustCatalog(t), testLogger(), cfg, Deps{})
			req := Request{Origin: Origin{Trigger: TriggerRerun, Channel: tt.channel, Thread: root, User: tt.user},
				Ask: Rerun{UseCase: "nutrition", Ref: AnswerRef{UseCase: "recipe", Files: ids, Thread: root}}}
			if tt.followUp {
				req = mention(Message{Channel: tt.channel, TS: "1700000000.000300", ThreadTS: root, User: tt.user, Text: "and the wine?"})
			}
			h.Run(context.Background(), req)

			if answered := len(m.got) == 1; answered != tt.answered {
				t.Fatalf("answered: %v, want %v; replies %+v", answered, tt.answered, s.replies)
			}
			if len(s.replies) != 1 || s.replies[0].thread != root {
				t.Fatalf("replies = %+v, want one in the thread", s.replies)
			}
			if tt.answered {
				return
			}
			if len(s.downloaded) != 0 {
				t.Errorf("downloaded %v for a conversation they are not shared in", s.downloaded)
			}
			if text := s.replies[0].text; !strings.Contains(text, "isn't shared in this conversation") || strings.Contains(text, "F2") {
				t.Errorf("refusal %q, want one that says the image isn't shared here, and names none", text)
			}
		})
	}
}
