package bot

import (
	"strings"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/visionbot/visionbot/handlers"
)

// The footer under each answer is one actions block. Its block_id carries
// what the answer was about (use case and file IDs), so a click, or a
// follow-up that reads the thread, needs no state on the bot's side.
const (
	footerPrefix = "vb1|"

	ActionRerun        = "rerun"
	ActionFeedbackUp   = "feedback_up"
	ActionFeedbackDown = "feedback_down"
)

// Slack's limits on what the footer holds.
const (
	maxBlockID       = 255
	maxOptionText    = 75
	maxSelectOptions = 100
)

// footerBlocks renders a footer; nil renders nothing.
func footerBlocks(f *handlers.Footer) []slack.Block {
	if f == nil {
		return nil
	}
	var elements []slack.BlockElement
	var options []*slack.OptionBlockObject
	for _, c := range f.Choices {
		if c.Name == f.Ref.UseCase || len(options) == maxSelectOptions {
			continue
		}
		options = append(options, slack.NewOptionBlockObject(c.Name,
			slack.NewTextBlockObject(slack.PlainTextType, truncate(c.Label, maxOptionText), false, false), nil))
	}
	if len(options) > 0 {
		elements = append(elements, slack.NewOptionsSelectBlockElement(slack.OptTypeStatic,
			slack.NewTextBlockObject(slack.PlainTextType, "Try another use case", false, false),
			ActionRerun, options...))
	}
	elements = append(elements,
		slack.NewButtonBlockElement(ActionFeedbackUp, "up", slack.NewTextBlockObject(slack.PlainTextType, "👍", true, false)),
		slack.NewButtonBlockElement(ActionFeedbackDown, "down", slack.NewTextBlockObject(slack.PlainTextType, "👎", true, false)),
	)
	return []slack.Block{slack.NewActionBlock(encodeRef(f.Ref), elements...)}
}

// encodeRef writes a reference as a block_id, dropping files that do not
// fit in Slack's 255 characters.
func encodeRef(ref handlers.AnswerRef) string {
	id := footerPrefix + ref.UseCase + "|"
	for i, f := range ref.Files {
		part := f
		if i > 0 {
			part = "," + f
		}
		if len(id)+len(part) > maxBlockID {
			break
		}
		id += part
	}
	return id
}

// decodeRef reads a block_id written by encodeRef.
func decodeRef(blockID string) (handlers.AnswerRef, bool) {
	rest, ok := strings.CutPrefix(blockID, footerPrefix)
	if !ok {
		return handlers.AnswerRef{}, false
	}
	useCase, files, ok := strings.Cut(rest, "|")
	if !ok || useCase == "" {
		return handlers.AnswerRef{}, false
	}
	ref := handlers.AnswerRef{UseCase: useCase}
	if files != "" {
		ref.Files = strings.Split(files, ",")
	}
	return ref, true
}

// refFromBlocks finds the footer among a message's blocks.
func refFromBlocks(blocks slack.Blocks) *handlers.AnswerRef {
	for _, b := range blocks.BlockSet {
		if ab, ok := b.(*slack.ActionBlock); ok {
			if ref, ok := decodeRef(ab.BlockID); ok {
				return &ref
			}
		}
	}
	return nil
}

// truncate cuts s to at most n runes, marking the cut with an ellipsis.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
