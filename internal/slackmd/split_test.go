package slackmd

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSplit(t *testing.T) {
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
			parts := Split(tt.in, tt.limit, AllParts)
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

// An answer's fence line can be longer than a message: a prompt hidden in
// a photo can ask the model for one. The split must still make parts
// Slack takes, few of them, each taking its share of the answer, however
// the fence line is made.
func TestSplitLongFenceLine(t *testing.T) {
	code := strings.Repeat("fmt.Println(\"x\")\n", 700) // about 12 KB
	letters := strings.Repeat("abcdefghij", 2000)       // 20,000 bytes
	tests := []struct {
		name string
		in   string
	}{
		{"a language longer than a message", "```" + letters + "\n" + code + "```\n\nDone."},
		{"a fence line that is the whole answer", "```" + strings.Repeat(letters, 2)[:32<<10]},
		{"an info string of many words", "```" + strings.Repeat("go ", 7000) + "\n" + code + "```"},
		{"a backtick run longer than a message", strings.Repeat("`", 20000) + "\n" + code},
		{"a fence line of multibyte letters", "```" + strings.Repeat("é", 10000) + "\n" + code + "```"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parts := Split(tt.in, BlockLimit, AllParts)
			// Every part takes at least a third of a message of the
			// answer: a 32 KB answer is a handful of parts.
			if bound := 3*len(tt.in)/BlockLimit + 1; len(parts) > bound {
				t.Fatalf("%d parts for %d bytes, want at most %d", len(parts), len(tt.in), bound)
			}
			for i, p := range parts {
				if len(p) > BlockLimit {
					t.Errorf("part %d has %d bytes, over Slack's %d", i, len(p), BlockLimit)
				}
				if !utf8.ValidString(p) {
					t.Errorf("part %d is not valid UTF-8", i)
				}
				if i < len(parts)-1 && !closed(p, BlockLimit) {
					t.Errorf("part %d ends inside a code block", i)
				}
			}
		})
	}
}

// A code block cut in two reopens with its fence's character, as many of
// them up to maxFenceRun, and its language, as long as it is a
// language's: never with more of the model's line than that.
func TestReopenFence(t *testing.T) {
	tests := []struct {
		name, text, line string
	}{
		{"a language", "Intro\n```go\nx := 1", "```go"},
		{"a closed block", "```go\nx := 1\n```\nOutro", ""},
		{"no language", "```\nx", "```"},
		{"an indented fence", "1. Step\n   ```sh\n   ls", "```sh"},
		{"words after the language", "````python title=main.py\nx", "````python"},
		{"a language of signs", "```c++\nint x;", "```c++"},
		{"a long language", "```" + strings.Repeat("a", 21) + "\nx", "```"},
		{"a language longer than a message", "```" + strings.Repeat("abcdefghij", 2000), "```"},
		{"markup for a language", "```<b>go</b>\nx", "```"},
		{"a long backtick run", strings.Repeat("`", 50) + "go\nx", "``````````go"},
		{"a tilde fence", "~~~ruby\nputs 1", "~~~ruby"},
		{"four backticks around three", "````md\n```\nx", "````md"},
		{"a tilde fence around backticks", "~~~\n```\n```\nx", "~~~"},
		{"an indented inner fence", "```\n    ```\nx", "```"},
		{"a closing fence too short", "````\n```\nx", "````"},
		{"a closing fence with words", "```\n``` x\nx", "```"},
		{"a tilde fence closed", "~~~\nx\n~~~~\ny", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := reading{text: tt.text}
			c := r.at(len(tt.text))
			line := ""
			if c.fence.n > 0 {
				line = reopenLine(c.fence, c.tag)
			}
			if line != tt.line {
				t.Errorf("reopened with %q, want %q", line, tt.line)
			}
		})
	}
}

// closed reports whether p, read as a message of its own, ends outside a
// code block, or in one whose fence line is too long to close within
// limit.
func closed(p string, limit int) bool {
	var s scanner
	s.scan(p, true)
	return s.fence.n == 0 || s.fence.n > maxFenceRun || len(p)+1+s.fence.n > limit
}

// An answer is cut at MAX_ANSWER_PARTS messages: the split stops at the
// parts asked for, the same parts a whole split starts with, however long
// the answer.
func TestSplitStopsAtMost(t *testing.T) {
	huge := strings.Repeat("Some prose, then code.\n\n```go\n"+strings.Repeat("x := 1\n", 500)+"```\n\n", 300) // about 1 MB
	tests := []struct {
		name  string
		in    string
		most  int
		parts int
	}{
		{"a huge answer, the default cap", huge, 3 + 1, 4},
		{"a huge answer, one part", huge, 1, 1},
		{"no cap below one part", huge, 0, 1},
		{"an answer under the cap", strings.Repeat("word ", 5000), 4, 3},
		{"a long fence line", "```" + strings.Repeat("abcdefghij", 100000), 2, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parts := Split(tt.in, BlockLimit, tt.most)
			if len(parts) != tt.parts {
				t.Fatalf("%d parts, want %d", len(parts), tt.parts)
			}
			all := Split(tt.in, BlockLimit, AllParts)
			if !slices.Equal(parts, all[:len(parts)]) {
				t.Error("the parts are not the first parts of the whole split")
			}
		})
	}
}

// Audit #3: a part is a message of its own, read from its start. What
// the whole answer showed as code must stay code in every part, or its
// links go live: the split never cuts a code span, reopens the exact
// fence it cut, and each part is read again by the safety pass.
func TestSplitKeepsCodeCode(t *testing.T) {
	const link = "[https://good.com](https://evil.com)"
	filler := strings.Repeat("words and words ", 8) // 128 bytes
	lines := func(prefix string) string { return strings.Repeat(prefix+link+"\n", 12) }
	tests := []struct {
		name  string
		said  string
		limit int
	}{
		{"a code span cut at a space", filler + "`see " + link + " and " + link + "`", 200},
		{"a tilde fence", "Intro\n\n~~~\n" + lines("") + "~~~\n\nDone.", 200},
		{"a fence of four backticks around one of three", "````md\n```\n" + lines("") + "```\n" + lines("x ") + "````", 200},
		{"an indented inner fence", "```\n    ```\n" + lines("") + "```", 200},
		{"a tilde fence around backticks", "~~~\n```\n" + lines("") + "```\n" + lines("y ") + "~~~", 200},
		{"a long fence line", "````" + strings.Repeat("x", 300) + "\n" + lines(""), 200},
		{"a code span longer than a part", "`" + strings.Repeat(link+" ", 20) + "`", 200},
		{"a table row", "| a | b |\n|---|---|\n" + strings.Repeat("| `x | "+link+"` | y |\n", 12), 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			safe := Safe(tt.said)
			if hidden := hiddenLinks(safe); len(hidden) > 0 {
				t.Fatalf("the whole answer hides where %q leads", hidden)
			}
			parts := Split(safe, tt.limit, AllParts)
			if len(parts) < 2 {
				t.Fatalf("%d part, want the answer split", len(parts))
			}
			for i, p := range parts {
				if len(p) > tt.limit {
					t.Errorf("part %d has %d bytes, over %d", i, len(p), tt.limit)
				}
				if hidden := hiddenLinks(p); len(hidden) > 0 {
					t.Errorf("part %d hides where %q leads:\n%s", i, hidden, p)
				}
			}
		})
	}
}
