package handlers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/visionbot/visionbot/internal/testimage"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestCodeSnippets(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name     string
		markdown string
		want     []Snippet
	}{
		{"none", "A plain answer.", nil},
		{"one block with its language", "Here:\n\n```tsx\nexport default App;\n```\n\n- a note",
			[]Snippet{{Language: "tsx", Code: "export default App;\n"}}},
		{"the language is the fence's first word, lowercased", "```HTML title=index.html\n<p>\n```",
			[]Snippet{{Language: "html", Code: "<p>\n"}}},
		{"no language", "```\nplain\n```", []Snippet{{Code: "plain\n"}}},
		{"blocks in order, indentation kept", "```html\n<div>\n  <p>\n</div>\n```\ntext\n  ```css\n  p {}\n  ```",
			[]Snippet{{Language: "html", Code: "<div>\n  <p>\n</div>\n"}, {Language: "css", Code: "  p {}\n"}}},
		{"a block the answer ends inside runs to the end", "```swift\nText(\"Hi\")\n.padding()",
			[]Snippet{{Language: "swift", Code: "Text(\"Hi\")\n.padding()\n"}}},
		{"an empty block is none", "```js\n\n```\n```go\nfunc main() {}\n```",
			[]Snippet{{Language: "go", Code: "func main() {}\n"}}},
		{"a tilde fence, holding a backtick one", "~~~md\n```go\nx := 1\n```\n~~~",
			[]Snippet{{Language: "md", Code: "```go\nx := 1\n```\n"}}},
		{"a longer fence, holding a shorter one", "````\n```\nx\n```\n````",
			[]Snippet{{Code: "```\nx\n```\n"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			if got := codeSnippets(tt.markdown); !slices.Equal(got, tt.want) {
				t.Errorf("codeSnippets(%q) = %+v, want %+v", tt.markdown, got, tt.want)
			}
		})
	}
}

// A use case whose file says code_files (the built-in code) gives the
// reply writer its answer's code, as the model wrote it, to share should
// the thread not take the answer whole; others give none.
func TestCodeAnswersCarryTheirCode(t *testing.T) {
	t.Parallel()

	const component = "export const Hi = () => <p>{\"<!here>\"}</p>;\n"
	answer := "A component.\n\n```tsx\n" + component + "```"
	tests := []struct {
		name string
		text string
		want []Snippet
	}{
		{"code", "code in React", []Snippet{{Language: "tsx", Code: component}}},
		{"describe", "what is this?", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			s := newFakeSlack()
			s.data[photo("F1").URLDownload] = testimage.PNG(t, 4, 4)
			s.data[thumbURL("F1", 720)] = testimage.JPEG(t)
			m := &fakeModel{chunks: []string{answer}}
			h := newTestFlows(t, s, m)
			h.Run(context.Background(), mention(Message{Channel: "C1", TS: "1700000000.000100", User: "U1", Text: tt.text, Files: []File{photo("F1")}}))
			if len(s.opened) != 1 || len(s.replies) != 1 {
				t.Fatalf("%d replies opened, %d finished; want one", len(s.opened), len(s.replies))
			}
			if got := s.opened[0].snippets; !slices.Equal(got, tt.want) {
				t.Errorf("Finish got snippets %+v, want %+v", got, tt.want)
			}
			if strings.Contains(s.replies[0].text, "<!here>") {
				t.Errorf("the answer in the thread still pings: %q", s.replies[0].text)
			}
		})
	}
}

// Code that could not go into the thread as files is worth a warning that
// names the step, not a failed request: the answer and its note are there.
func TestCodeNotSharedIsAWarning(t *testing.T) {
	t.Parallel()

	s := newFakeSlack()
	s.data[photo("F1").URLDownload] = testimage.PNG(t, 4, 4)
	s.snippetsErr = &SnippetsNotShared{Err: fmt.Errorf("files.completeUploadExternal: %w", errors.New("internal_error"))}
	m := &fakeModel{chunks: []string{"```html\n<p>\n```"}}
	core, logs := observer.New(zap.InfoLevel)
	cfg := DefaultConfig()
	cfg.ProgressReactions = true
	h := New(s.roles(), m, mustCatalog(t), zap.New(core), cfg, Deps{Now: func() time.Time { return time.Unix(1700000000, 0) }})
	h.Run(context.Background(), mention(Message{Channel: "C1", TS: "1700000000.000100", User: "U1", Text: "code", Files: []File{photo("F1")}}))

	warned := logs.FilterMessage("share the answer's code as files").All()
	if len(warned) != 1 || warned[0].Level != zap.WarnLevel || !strings.Contains(fmt.Sprint(warned[0].ContextMap()["error"]), "files.completeUploadExternal") {
		t.Errorf("warnings %+v, want one naming files.completeUploadExternal", warned)
	}
	if req := logs.FilterMessage("request").All(); len(req) != 1 || req[0].ContextMap()["outcome"] != "ok" {
		t.Errorf("request log %+v, want the request ok", req)
	}
	if want := "+white_check_mark 1700000000.000100"; !slices.Contains(s.reactions, want) {
		t.Errorf("reactions %v, want %s: the answer is there", s.reactions, want)
	}
	if len(s.responses) != 0 {
		t.Errorf("told privately %v", s.responses)
	}
}
