package handlers

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/visionbot/visionbot/internal/testimage"
	"github.com/visionbot/visionbot/internal/vision"
)

// A follow-up sends Gemini only what its asker and the bot said in the
// thread, and the photos the bot answered about or the asker posted:
// other people's messages and photos, and the question another person
// asked with the first photo, stay in Slack.
func TestFollowUpSendsOnlyTheAskersAndTheBotsTurns(t *testing.T) {
	s := newFakeSlack()
	for i, id := range []string{"F1", "F2", "F4"} {
		s.data[thumbURL(id, 720)] = testimage.PNG(t, 8+i, 8)
	}
	s.thread = []Message{
		{TS: "1700000000.000100", User: "U2", Text: "recipe with less salt, I'm allergic", Files: []File{photo("F1")}},
		{TS: "1700000000.000200", User: "UBOT", BotID: "BBOT", Text: "A recipe.", Answer: &AnswerRef{UseCase: "recipe", Files: []string{"F1"}}},
		{TS: "1700000000.000300", User: "U3", Text: "call me on 555 0134 about the party"},
		{TS: "1700000000.000400", User: "U3", Text: "my fridge", Files: []File{photo("F4")}},
		{TS: "1700000000.000500", User: "U1", Text: "<@UBOT> make it vegan"},
		{TS: "1700000000.000550", User: "U1", Text: "my own plate", Files: []File{photo("F2")}},
		{TS: "1700000000.000600", User: "UBOT", BotID: "BBOT", Text: "Vegan version.", Answer: &AnswerRef{UseCase: "recipe", Files: []string{"F1"}}},
	}
	m := &fakeModel{chunks: []string{"Gluten-free too."}}
	cfg := DefaultConfig()
	cfg.BotUserID = "UBOT"
	h := New(s.roles(), m, mustCatalog(t), testLogger(), cfg, Deps{})
	h.Run(context.Background(), mention(Message{Channel: "C1", TS: "1700000000.000700", ThreadTS: "1700000000.000100", User: "U1",
		Text: "and gluten-free?"}))
	if len(m.got) != 1 {
		t.Fatalf("model calls = %d, replies %+v", len(m.got), s.replies)
	}
	if got, want := slices.Sorted(slices.Values(s.downloaded)), []string{thumbURL("F1", 720), thumbURL("F2", 720)}; !slices.Equal(got, want) {
		t.Errorf("downloaded %v, want %v: the photo answered about and the asker's own", got, want)
	}
	var said []string
	for _, turn := range m.got[0].Turns {
		said = append(said, string(turn.Role)+": "+turn.Text)
	}
	all := strings.Join(said, "\n")
	for _, other := range []string{"less salt", "allergic", "555", "party", "fridge"} {
		if strings.Contains(all, other) {
			t.Errorf("the follow-up sends %q, which someone else wrote:\n%s", other, all)
		}
	}
	for _, want := range []string{"A recipe.", "make it vegan", "my own plate", "Vegan version.", "and gluten-free?"} {
		if !strings.Contains(all, want) {
			t.Errorf("the follow-up lacks %q:\n%s", want, all)
		}
	}
	if last := m.got[0].Turns[len(m.got[0].Turns)-1]; last.Role != vision.RoleUser || last.Text != "and gluten-free?" {
		t.Errorf("last turn = %+v, want the new question", last)
	}
}
