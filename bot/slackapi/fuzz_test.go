package slackapi

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzSplitMarkdown splits arbitrary answers at arbitrary limits: every
// part fits, none ends inside a code block but the last, the split stops
// at the parts asked for, and every part takes its share of the answer
// (what a part reopens a code block with is bounded, whatever the model
// wrote), so an answer of n bytes is a few n/limit parts at most.
func FuzzSplitMarkdown(f *testing.F) {
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
	} {
		f.Add(seed, uint16(100), uint8(0))
		f.Add(seed, uint16(1000), uint8(2))
	}
	f.Fuzz(func(t *testing.T, s string, limitSeed uint16, mostSeed uint8) {
		// From the least limit that keeps fences (see splitMarkdown) up.
		limit := 64 + int(limitSeed)%4096
		most := allParts
		if mostSeed > 0 {
			most = int(mostSeed) % 8
		}
		all := splitMarkdown(s, limit, allParts)
		// Each part but the last takes more than half of what is left
		// of its room once a fence is reopened and kept room to close.
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
			if _, open := openFence(p); open && i < len(all)-1 {
				t.Errorf("part %d ends inside a code block: %q", i, p)
			}
		}
		parts := splitMarkdown(s, limit, most)
		if want := min(len(all), max(most, 1)); len(parts) != want {
			t.Fatalf("%d parts at most %d, want %d", len(parts), most, want)
		}
		if !slices.Equal(parts, all[:len(parts)]) {
			t.Error("the parts are not the first parts of the whole split")
		}
	})
}
