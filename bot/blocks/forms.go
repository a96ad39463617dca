package blocks

import (
	"fmt"
	"slices"
	"strings"

	"github.com/slack-go/slack"

	"github.com/visionbot/visionbot/handlers"
	"github.com/visionbot/visionbot/internal/slackmd"
)

// CallbackAnalyze names the modals the bot opens; CallbackShortcut is the
// message shortcut "Analyze image" declared in manifest.yaml.
const (
	CallbackAnalyze  = "analyze"
	CallbackShortcut = "analyze_image"
)

// Block and action ids of the modal's inputs, read back on submission.
const (
	InputUseCase  = "usecase"
	InputQuestion = "question"
	InputFile     = "file"
)

// uploadTypes are the file types the upload modal accepts: those the bot
// reads (HEIC is sent to Gemini as is; GIF becomes its first frame).
var uploadTypes = []string{"jpg", "jpeg", "png", "webp", "gif", "heic", "heif"}

// kindTypes are the file types the modal adds for each kind a form takes
// besides images (handlers.Form.Kinds): Slack's file_input filters by file
// extension. A voice clip recorded in Slack is m4a or webm; a screen
// recording mp4, mov or webm.
var kindTypes = map[string][]string{
	"pdf":   {"pdf"},
	"video": {"mp4", "mov", "webm"},
	"audio": {"mp3", "m4a", "wav", "ogg", "aac", "webm"},
}

// acceptedTypes are the file types a form's picker takes: images, and
// those of its other kinds, each once, in a fixed order. A kind the
// modal does not know adds nothing.
func acceptedTypes(kinds []string) []string {
	types := slices.Clone(uploadTypes)
	for _, kind := range []string{"pdf", "video", "audio"} {
		if slices.Contains(kinds, kind) {
			for _, t := range kindTypes[kind] {
				if !slices.Contains(types, t) {
					types = append(types, t)
				}
			}
		}
	}
	return types
}

func plain(text string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, text, false, false)
}

func Form(form handlers.Form) slack.ModalViewRequest {
	view := slack.ModalViewRequest{
		Type:            slack.VTModal,
		Title:           plain("Analyze image"),
		Close:           plain("Cancel"),
		CallbackID:      CallbackAnalyze,
		PrivateMetadata: form.Metadata,
	}
	var blocks []slack.Block
	if form.Notice != "" {
		blocks = append(blocks, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, form.Notice, false, false), nil, nil))
	}
	if form.Kind == handlers.FormNotice {
		view.Close = plain("OK")
		view.Blocks = slack.Blocks{BlockSet: blocks}
		return view
	}
	view.Submit = plain("Analyze")
	if form.Kind == handlers.FormUpload {
		types := acceptedTypes(form.Kinds)
		file := slack.NewFileInputBlockElement(InputFile).WithFileTypes(types...)
		file.MaxFiles = max(form.MaxFiles, 1)
		label := "Image"
		if len(types) > len(uploadTypes) {
			label = "File"
		}
		blocks = append(blocks, slack.NewInputBlock(InputFile, plain(label), nil, file))
	}
	var options []*slack.OptionBlockObject
	var initial *slack.OptionBlockObject
	for _, c := range form.Choices {
		if len(options) == maxSelectOptions {
			break
		}
		opt := slack.NewOptionBlockObject(c.Name, plain(slackmd.CutChars(c.Label, maxOptionText, "…")), nil)
		options = append(options, opt)
		if c.Name == form.UseCase {
			initial = opt
		}
	}
	menu := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Choose a use case"), InputUseCase, options...)
	menu.InitialOption = initial
	blocks = append(blocks, slack.NewInputBlock(InputUseCase, plain("Use case"), nil, menu))

	question := slack.NewPlainTextInputBlockElement(plain("e.g. vegetarian, for four people"), InputQuestion)
	question.Multiline = true
	// Slack takes at most 3000 for a plain_text_input.
	question.MaxLength = 3000
	if form.MaxQuestion > 0 {
		question.MaxLength = min(form.MaxQuestion, 3000)
	}
	question.InitialValue = form.Question
	q := slack.NewInputBlock(InputQuestion, plain("Question (optional)"), nil, question)
	q.Optional = true
	blocks = append(blocks, q)
	view.Blocks = slack.Blocks{BlockSet: blocks}
	return view
}

// ReadSubmission reads the inputs of a submitted analyze modal.
func ReadSubmission(cb slack.InteractionCallback, target handlers.FormTarget) handlers.Submission {
	sub := handlers.Submission{Files: target.Files}
	if cb.View.State == nil {
		return sub
	}
	values := cb.View.State.Values
	sub.UseCase = values[InputUseCase][InputUseCase].SelectedOption.Value
	sub.Question = values[InputQuestion][InputQuestion].Value
	sub.Uploads = Files(values[InputFile][InputFile].Files)
	return sub
}

func mrkdwn(text string) *slack.SectionBlock {
	return slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, text, false, false), nil, nil)
}

func Home(home handlers.Home) slack.HomeTabViewRequest {
	blocks := []slack.Block{
		slack.NewHeaderBlock(plain("visionbot")),
		mrkdwn(home.Intro),
		slack.NewDividerBlock(),
		slack.NewHeaderBlock(plain("Use cases")),
	}
	for _, uc := range home.UseCases {
		var b strings.Builder
		fmt.Fprintf(&b, "*%s*", uc.Name)
		if len(uc.Aliases) > 0 {
			fmt.Fprintf(&b, " (or %s)", strings.Join(uc.Aliases, ", "))
		}
		if uc.Default {
			b.WriteString(" · the default")
		}
		fmt.Fprintf(&b, "\n%s", uc.Description)
		if uc.Example != "" {
			fmt.Fprintf(&b, "\n_Example:_ `%s`", strings.ReplaceAll(uc.Example, "`", "'"))
		}
		blocks = append(blocks, mrkdwn(b.String()))
	}
	blocks = append(blocks, slack.NewDividerBlock(), slack.NewHeaderBlock(plain("How to ask")))
	var how strings.Builder
	for _, line := range home.HowTo {
		how.WriteString("• " + line + "\n")
	}
	blocks = append(blocks, mrkdwn(how.String()))
	if home.Privacy != "" {
		blocks = append(blocks, slack.NewDividerBlock(), slack.NewHeaderBlock(plain("Your photos")), mrkdwn(home.Privacy))
	}
	return slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: blocks}}
}
