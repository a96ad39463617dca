package handlers

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/visionbot/visionbot/internal/fixtures"
)

// FuzzMessageText runs a message's text through what a mention goes
// through: the bot's mention removed, then the use-case word and the
// question split off.
func FuzzMessageText(f *testing.F) {
	for _, text := range fixtures.SlackStrings(f, "text") {
		f.Add(text)
		f.Add("<@UBOT> " + text)
	}
	for _, text := range []string{"<@UBOT|visionbot> recipe for two", "<@UBOT", "<@UBOT|>", "<@U<@UBOT>BOT> x", "\u00a0recipe\u2003what?", "RECIPE"} {
		f.Add(text)
	}
	cat := mustCatalog(f)
	names := map[string]bool{}
	for _, uc := range cat.All() {
		names[uc.Name] = true
	}
	f.Fuzz(func(t *testing.T, text string) {
		stripped := WithoutMention(text, "UBOT")
		if len(stripped) > len(text) || stripped != strings.TrimSpace(stripped) {
			t.Fatalf("WithoutMention(%q) = %q: longer, or not trimmed", text, stripped)
		}
		if utf8.ValidString(text) && !utf8.ValidString(stripped) {
			t.Fatalf("WithoutMention(%q) = %q: broke UTF-8", text, stripped)
		}
		if !strings.Contains(text, "<@UBOT") && stripped != strings.TrimSpace(text) {
			t.Fatalf("WithoutMention(%q) = %q, without a mention to remove", text, stripped)
		}
		uc, question := cat.Choose(stripped)
		if !names[uc.Name] {
			t.Fatalf("Choose(%q) gave use case %q, not in the catalog", stripped, uc.Name)
		}
		if question != strings.TrimSpace(question) || !strings.HasSuffix(strings.TrimSpace(stripped), question) {
			t.Fatalf("Choose(%q) gave question %q: not the trimmed rest of the text", stripped, question)
		}
	})
}
