package slackapi

import (
	"context"
	"fmt"
	"slices"

	"github.com/slack-go/slack"

	"github.com/visionbot/visionbot/handlers"
)

// maxSnippetFiles bounds the files one answer shares: an answer in HTML,
// CSS and JavaScript needs three, and each file costs a call of a Tier 4
// method besides the one that shares them all.
const maxSnippetFiles = 3

// snippetFile is code of one language, as one file to share.
type snippetFile struct {
	name      string // visionbot-code.tsx
	slackType string // snippet_type: the syntax Slack highlights it with
	code      string
}

// snippetKind is the extension and Slack's syntax type for code under a
// fence's language tag. The types are the file types of Slack's file
// object; it has none for TypeScript, Vue or Svelte, whose files keep
// their own extension and are highlighted as the language they build on.
// An unknown tag is plain text: its name is the model's word, not to be
// trusted in a file name.
func snippetKind(language string) (ext, slackType string) {
	switch language {
	case "html", "htm", "xhtml":
		return "html", "html"
	case "vue", "svelte":
		return language, "html"
	case "css":
		return "css", "css"
	case "scss", "sass":
		return language, "sass"
	case "js", "javascript", "mjs", "cjs":
		return "js", "javascript"
	case "jsx":
		return "jsx", "javascript"
	case "ts", "typescript":
		return "ts", "javascript"
	case "tsx":
		return "tsx", "javascript"
	case "swift", "swiftui":
		return "swift", "swift"
	case "kotlin", "kt":
		return "kt", "kotlin"
	case "dart", "flutter":
		return "dart", "dart"
	case "java":
		return "java", "java"
	case "python", "py":
		return "py", "python"
	case "go", "golang":
		return "go", "go"
	case "rust", "rs":
		return "rs", "rust"
	case "ruby", "rb":
		return "rb", "ruby"
	case "php":
		return "php", "php"
	case "c":
		return "c", "c"
	case "cpp", "c++", "cc":
		return "cpp", "cpp"
	case "csharp", "cs", "c#":
		return "cs", "csharp"
	case "objc", "objective-c", "objectivec":
		return "m", "objc"
	case "xml", "svg":
		return language, "xml"
	case "json":
		return "json", "json"
	case "yaml", "yml":
		return "yaml", "yaml"
	case "sql":
		return "sql", "sql"
	case "sh", "bash", "shell", "zsh", "console":
		return "sh", "shell"
	case "markdown", "md":
		return "md", "markdown"
	}
	return "txt", "text"
}

// snippetFiles gathers snippets into files, one per kind of code in the
// order each first appears, at most maxSnippetFiles: two blocks of one
// language (a component and its use) go into one file, as a developer
// would keep them.
func snippetFiles(snippets []handlers.Snippet) []snippetFile {
	var files []snippetFile
	for _, s := range snippets {
		ext, slackType := snippetKind(s.Language)
		name := "visionbot-code." + ext
		i := slices.IndexFunc(files, func(f snippetFile) bool { return f.name == name })
		switch {
		case i >= 0:
			files[i].code += "\n" + s.Code
		case len(files) < maxSnippetFiles:
			files = append(files, snippetFile{name: name, slackType: slackType, code: s.Code})
		}
	}
	return files
}

// shareSnippets puts snippets into the thread as files, shared in one
// message, and returns how many files it shared. The three steps are
// Slack's external upload (files.upload is retired): an upload URL per
// file, its bytes posted there without the bot token, and one
// files.completeUploadExternal. They are booked in Slack's tiers together,
// so that none starts without room for the rest; without room they are
// skipped (handlers.ErrNotShown).
func (a *API) shareSnippets(ctx context.Context, c *slack.Client, to handlers.Thread, snippets []handlers.Snippet) (int, error) {
	files := snippetFiles(snippets)
	if len(files) == 0 {
		return 0, nil
	}
	calls := append(slices.Repeat([]string{"files.getUploadURLExternal"}, len(files)), "files.completeUploadExternal")
	if !a.tiers.take(ctx, 0, calls...) {
		return 0, handlers.ErrNotShown
	}
	shared := make([]slack.FileSummary, 0, len(files))
	for _, f := range files {
		up, err := c.GetUploadURLExternalContext(ctx, slack.GetUploadURLExternalParameters{
			FileName: f.name, FileSize: len(f.code), SnippetType: f.slackType,
		})
		if err != nil {
			return 0, wrapSlackError("files.getUploadURLExternal", err)
		}
		if err := a.files.Upload(ctx, up.UploadURL, []byte(f.code)); err != nil {
			return 0, fmt.Errorf("upload %s: %w", f.name, err)
		}
		shared = append(shared, slack.FileSummary{ID: up.FileID, Title: f.name})
	}
	_, err := c.CompleteUploadExternalContext(ctx, slack.CompleteUploadExternalParameters{
		Files: shared, Channel: to.Channel, ThreadTimestamp: to.TS,
	})
	if err != nil {
		return 0, wrapSlackError("files.completeUploadExternal", err)
	}
	return len(shared), nil
}

// cutNoteFor is the note under an answer cut at MaxParts messages, which
// points to the files that hold its code when there are any.
func cutNoteFor(files int) string {
	switch files {
	case 0:
		return cutNote
	case 1:
		return cutLead + " Its code is in the file above._"
	}
	return cutLead + " Its code is in the files above._"
}
