package slackmd

import (
	"strings"
	"testing"
)

// A preview ends where the scanner allows a cut, and is settled once no
// more text can move that cut.
func TestPreview(t *testing.T) {
	const link = "[https://good.com](https://evil.com)"
	filler := strings.Repeat("word ", 10) // 50 bytes
	tests := []struct {
		name, md string
		max      int
		want     string
		settled  bool
	}{
		{"what fits", filler, 50, filler, false},
		{"a code span across the cut", filler + "`see " + link + "` more", 60, filler, true},
		{"a link across the cut", filler + "a ([evil.com](https://evil.com)) b", 60, filler + "a (", true},
		{"inside plain text", filler + filler, 62, (filler + filler)[:62], true},
		{"inside a code block", "```\n" + filler + filler, 60, ("```\n" + filler + filler)[:60], true},
		{"a character is not cut", strings.Repeat("é", 40), 61, strings.Repeat("é", 30), true},
		{"a code span not closed yet", filler + "`see " + link, 60, filler, false},
		{"a token not complete yet", filler + "[a", 51, filler, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, settled := Preview(tt.md, tt.max)
			if got != tt.want || settled != tt.settled {
				t.Errorf("Preview = %q, %v\nwant %q, %v", got, settled, tt.want, tt.settled)
			}
			if hidden := hiddenLinks(got); len(hidden) > 0 {
				t.Errorf("the preview hides where %q leads", hidden)
			}
		})
	}
}
