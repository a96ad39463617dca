package slackapi

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSplitMarkdown(t *testing.T) {
	long := strings.Repeat("word ", 50)
	code := "```go\n" + strings.Repeat("fmt.Println(\"x\")\n", 20) + "```"
	tests := []struct {
		name  string
		in    string
		limit int
		parts int
	}{
		{"short stays whole", "hello", 100, 1},
		{"paragraphs split on blank lines", strings.Repeat("para one two three\n\n", 20), 100, 0},
		{"no boundary cuts at the limit", strings.Repeat("x", 250), 100, 3},
		{"long text with spaces", long, 60, 0},
		{"a code fence cut in two is closed and reopened", "Intro\n\n" + code + "\n\nOutro", 120, 0},
		{"multibyte text is cut on rune boundaries", strings.Repeat("é", 200), 101, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parts := splitMarkdown(tt.in, tt.limit)
			if tt.parts > 0 && len(parts) != tt.parts {
				t.Errorf("parts = %d, want %d", len(parts), tt.parts)
			}
			var content strings.Builder
			for i, p := range parts {
				if len(p) > tt.limit {
					t.Errorf("part %d has %d bytes, over %d", i, len(p), tt.limit)
				}
				if !utf8.ValidString(p) {
					t.Errorf("part %d is not valid UTF-8", i)
				}
				if strings.Count(p, "```")%2 != 0 {
					t.Errorf("part %d has an unbalanced fence: %q", i, p)
				}
				content.WriteString(p)
			}
			// Nothing is lost: every non-space character survives, apart
			// from the fences added to close and reopen code blocks.
			strip := func(s string) string {
				s = strings.ReplaceAll(s, "```go", "")
				s = strings.ReplaceAll(s, "```", "")
				return strings.Join(strings.Fields(s), "")
			}
			if strip(content.String()) != strip(tt.in) {
				t.Errorf("content changed by splitting:\n got %q\nwant %q", strip(content.String()), strip(tt.in))
			}
		})
	}
}
