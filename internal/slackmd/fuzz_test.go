package slackmd

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzSplit splits arbitrary answers at arbitrary limits: every
// part fits, none ends inside a code block but the last, the split stops
// at the parts asked for, and every part takes its share of the answer
// (what a part reopens a code block with is bounded, whatever the model
// wrote), so an answer of n bytes is a few n/limit parts at most. And
// what the safety pass made of the answer stays safe in every part, read
// as a message of its own.
func FuzzSplit(f *testing.F) {
	long := strings.Repeat("abcdefghij", 300)
	for _, seed := range []string{
		"hello",
		strings.Repeat("para one two three\n\n", 20),
		"Intro\n\n```go\n" + strings.Repeat("fmt.Println(\"x\")\n", 20) + "```\n\nOutro",
		"```" + long + "\ncode\n```",
		"```" + strings.Repeat("go ", 500) + "\nx\n```",
		strings.Repeat("`", 2000) + "\nx",
		"````python title=x\n" + strings.Repeat("é", 500) + "\n````",
		"   ```c++\n" + strings.Repeat("int x;\n", 100),
		strings.Repeat("```\n", 300),
		"~~~\n```\n" + strings.Repeat("[https://good.com](https://evil.com)\n", 30) + "~~~",
		"````md\n```\n" + strings.Repeat("[a](https://evil.com) `b`\n", 30) + "````",
		strings.Repeat("x `[https://good.com](https://evil.com) y` ", 30),
		"| a |\n|-|\n" + strings.Repeat("| `a | [x](https://evil.com)` |\n", 30),
	} {
		f.Add(seed, uint16(100), uint8(0))
		f.Add(seed, uint16(1000), uint8(2))
	}
	f.Fuzz(func(t *testing.T, s string, limitSeed uint16, mostSeed uint8) {
		// From the least limit that keeps fences (see Split) up.
		limit := 64 + int(limitSeed)%4096
		most := AllParts
		if mostSeed > 0 {
			most = int(mostSeed) % 8
		}
		checkSplit(t, s, limit, most)
		if !utf8.ValidString(s) {
			return // the model's text is always UTF-8
		}
		// What Split is for: the answer made safe.
		safe := Safe(s)
		for i, p := range checkSplit(t, safe, limit, most) {
			if hidden := hiddenLinks(p); len(hidden) > 0 {
				t.Fatalf("part %d of Safe(%q) hides where %q leads: %q", i, s, hidden, p)
			}
		}
	})
}

// checkSplit holds the split of s to its bounds, and returns its parts.
func checkSplit(t *testing.T, s string, limit, most int) []string {
	t.Helper()
	all := Split(s, limit, AllParts)
	// Each part but the last takes more than half of what is left of its
	// room once a fence is reopened and kept room to close, or, where a
	// token longer than that is cut, two parts together take more than
	// that room.
	share := (limit - (maxFenceRun + maxFenceTag + 1) - (1 + maxFenceRun)) / 2
	if bound := len(s)/share + 1; len(all) > bound {
		t.Fatalf("%d parts for %d bytes at %d, want at most %d", len(all), len(s), limit, bound)
	}
	for i, p := range all {
		if len(p) > limit {
			t.Errorf("part %d has %d bytes, over %d", i, len(p), limit)
		}
		if utf8.ValidString(s) && !utf8.ValidString(p) {
			t.Errorf("part %d is not valid UTF-8", i)
		}
		if i < len(all)-1 && !closed(p, limit) {
			t.Errorf("part %d ends inside a code block: %q", i, p)
		}
	}
	parts := Split(s, limit, most)
	if want := min(len(all), max(most, 1)); len(parts) != want {
		t.Fatalf("%d parts at most %d, want %d", len(parts), most, want)
	}
	if !slices.Equal(parts, all[:len(parts)]) {
		t.Error("the parts are not the first parts of the whole split")
	}
	return all
}

// FuzzSafe holds what is posted of any model text to what no parser
// may find in it: a mention that pings, a link whose text is not its host
// (Slack's, or Markdown's with tables or without), broken UTF-8; the
// stream, cut anywhere, to a prefix of it; and a preview of the stream to
// the same, and to the start of the whole answer's preview.
func FuzzSafe(f *testing.F) {
	for _, c := range safeCases() {
		f.Add(c.said, uint16(len(c.said)/2))
	}
	pings := regexp.MustCompile(`<(?:![Hh][Ee][Rr][Ee]|![Cc][Hh][Aa][Nn][Nn][Ee][Ll]|![Ee][Vv][Ee][Rr][Yy][Oo][Nn][Ee]|!subteam\^[^>\n]*|@[UW][A-Z0-9]+)[|>]`)
	slackLink := regexp.MustCompile(`<https?://[^>\n]*\|[^>\n]*>`)
	f.Fuzz(func(t *testing.T, said string, cut uint16) {
		if !utf8.ValidString(said) {
			t.Skip() // the model's text is always UTF-8
		}
		got := Safe(said)
		if pings.MatchString(got) || slackLink.MatchString(got) {
			t.Fatalf("Safe(%q) = %q", said, got)
		}
		if hidden := hiddenLinks(got); len(hidden) > 0 {
			t.Fatalf("Safe(%q) = %q hides where %q leads", said, got, hidden)
		}
		if !utf8.ValidString(got) {
			t.Fatalf("Safe(%q) = %q: broken UTF-8", said, got)
		}
		at := int(cut) % (len(said) + 1)
		for at > 0 && !utf8.RuneStart(said[at%len(said)]) {
			at-- // the model's pieces are whole characters
		}
		var s Stream
		first := s.Write(said[:at])
		shown := first + s.Write(said[at:])
		if !strings.HasPrefix(got, shown) || s.End() != got {
			t.Fatalf("streaming %q cut at %d: shown %q, ended %q, want %q", said, at, shown, s.End(), got)
		}
		// A preview of what streamed so far hides nothing, and a cut one
		// only grows as the answer does.
		most := len(got) / 2
		early, settled := Preview(first, most)
		late, _ := Preview(got, most)
		if hidden := hiddenLinks(early); len(hidden) > 0 {
			t.Fatalf("Preview(%q, %d) = %q hides where %q leads", first, most, early, hidden)
		}
		if (len(first) > most && !strings.HasPrefix(late, early)) || (settled && late != early) {
			t.Fatalf("Preview(%q, %d) = %q (settled %v), then %q for the whole answer", first, most, early, settled, late)
		}
	})
}
