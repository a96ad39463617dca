package blocks

import (
	"encoding/json"
	"flag"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/visionbot/visionbot/handlers"
	"github.com/visionbot/visionbot/internal/golden"
)

var update = flag.Bool("update", false, "rewrite golden files")

// nonce is the random part of a block_id EncodeRef writes (rand.Text is
// base32: A-Z and 2-7); the golden files show it as a placeholder.
var nonce = regexp.MustCompile(`"vb2\|[A-Z2-7]{8}\|`)

// goldenJSON is v as the files keep it: indented, block ids' nonces
// replaced, so that the same payload renders the same file.
func goldenJSON(t *testing.T, v any) []byte {
	t.Helper()
	raw, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(nonce.ReplaceAll(raw, []byte(`"vb2|NONCE___|`)), '\n')
}

// The payloads the bot sends Slack, whole: a change to any of them shows
// as a diff of its file under testdata (go test -update rewrites them).
func TestPayloadsGolden(t *testing.T) {
	t.Parallel()
	ref := handlers.AnswerRef{Thread: "1700000000.000100", UseCase: "recipe", Files: []string{"F1", "F2"}}
	choices := []handlers.Choice{
		{Name: "describe", Label: "describe: what is in the image"},
		{Name: "recipe", Label: "recipe: a recipe for the dish"},
		{Name: "code", Label: "code: " + strings.Repeat("the UI as code, ", 8)}, // cut at 75 characters
	}
	home := handlers.Home{
		Intro: "I look at the photos you post and answer in the thread.",
		UseCases: []handlers.HomeUseCase{
			{Name: "describe", Aliases: []string{"what"}, Description: "What is in the image.", Example: "@visionbot describe", Default: true},
			{Name: "code", Description: "The UI as code.", Example: "@visionbot code `in Go`"}, // backticks become quotes
			{Name: "plain", Description: "No aliases, no example."},
		},
		HowTo:   []string{"Mention me in a message with a photo", "Send me a photo in a direct message"},
		Privacy: "Your photos go to Google Gemini, only to answer you.",
	}
	tests := []struct {
		name    string
		payload any
	}{
		{"footer", Footer(&handlers.Footer{Ref: ref, Choices: choices}, "")},
		{"footer-no-other-use-case", Footer(&handlers.Footer{Ref: ref, Choices: choices[1:2]}, "")},
		{"downvoted", Downvoted(handlers.Downvoted{Text: "Sorry it missed. Try another use case, or say what was wrong.", Ref: ref, Choices: choices})},
		{"form-analyze", Form(handlers.Form{Kind: handlers.FormAnalyze, Choices: choices, UseCase: "code", Question: "in Go", MaxQuestion: 500, Metadata: `{"c":"C1"}`})},
		{"form-upload", Form(handlers.Form{Kind: handlers.FormUpload, Notice: "No photo of yours in the last day: attach one.", Choices: choices, UseCase: "describe", MaxFiles: 4, Metadata: `{"c":"C1"}`})},
		{"form-upload-media", Form(handlers.Form{Kind: handlers.FormUpload, Choices: choices, UseCase: "describe", MaxFiles: 1, Kinds: []string{"audio", "pdf", "video", "3d"}, Metadata: `{"c":"C1"}`})},
		{"form-notice", Form(handlers.Form{Kind: handlers.FormNotice, Notice: "That message holds no image."})},
		{"home", Home(home)},
		{"home-without-privacy", Home(handlers.Home{Intro: home.Intro, UseCases: home.UseCases[:1], HowTo: home.HowTo[:1]})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			golden.Check(t, filepath.Join("testdata", tt.name+".golden.json"), goldenJSON(t, tt.payload), *update)
		})
	}
}

// The placeholder of the golden files stands for EncodeRef's nonce and
// nothing else: the rest of the block id shows as it is.
func TestGoldenNonceIsTheRefsOwn(t *testing.T) {
	t.Parallel()
	id := EncodeRef(handlers.AnswerRef{Thread: "1.2", UseCase: "recipe"})
	if got := nonce.ReplaceAllString(`"`+id, `"vb2|NONCE___|`); got != `"vb2|NONCE___|1.2|recipe|` {
		t.Errorf("block id %q reads as %q in a golden file", id, got)
	}
}
