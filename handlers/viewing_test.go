package handlers

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

// viewedTS is the message with a photo, in C7, that the tests' person
// looks at with the Messages tab open.
const viewedTS = "1700000000.000500"

// viewingHandler is a handler whose clock the test moves, with the
// message viewedTS in C7.
func viewingHandler(t *testing.T, now *time.Time) (*Handler, *fakeSlack, *fakeModel) {
	t.Helper()
	s := newFakeSlack()
	s.data[thumbURL("F1", 720)] = testJPEG(t)
	s.messages[viewedTS] = Message{Channel: "C7", TS: viewedTS, User: "U2", Files: []File{photo("F1")}}
	m := &fakeModel{chunks: []string{"Carbonara."}}
	cfg := DefaultConfig()
	cfg.RefKey = []byte("a test key")
	h := New(s.roles(), m, mustCatalog(t), testLogger(), cfg, func() time.Time { return *now })
	return h, s, m
}

// pickedPrompt is the recipe prompt offered to o's person, in o's DM,
// while they view viewedTS, as Slack sends its message back when it is
// picked: the link between angle brackets.
func pickedPrompt(t *testing.T, h *Handler, s *fakeSlack, o Origin) string {
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
