// Package blocks is what the bot writes into Block Kit and reads back, as
// pure functions: the footer under each answer and the reference its
// block ids carry, the modals and their submissions, the Home tab, the
// private follow-up to a 👎, and slack-go's files and messages read into
// the flows' values. The adapter (bot/slackapi) sends what it renders; the
// decoder (bot) reads what it parses.
package blocks

import (
	"crypto/rand"
	"strings"

	"github.com/slack-go/slack"

	"github.com/visionbot/visionbot/handlers"
	"github.com/visionbot/visionbot/internal/slackmd"
)

// Under each answer: an actions block with the "Try another use case"
// menu, and a context_actions block with Slack's native feedback buttons.
// Each block's block_id carries what the answer was about (its thread, use
// case and file IDs), so that a click, or a follow-up that reads the
// thread, needs no state on the bot's side. Slack asks for new block ids
// for every version of a message, so each rendering draws a nonce.
const (
	footerPrefix = "vb2|"
	// legacyPrefix is the block_id of the footers before the native
	// feedback buttons (vb1|use case|files), still under older answers.
	legacyPrefix = "vb1|"

	ActionRerun    = "rerun"
	ActionFeedback = "feedback"
	// ActionFeedbackUp and ActionFeedbackDown are the home-made buttons of
	// older answers, still counted when clicked.
	ActionFeedbackUp   = "feedback_up"
	ActionFeedbackDown = "feedback_down"
	// ActionWhatWasWrong is the one-line input of the follow-up to a 👎.
	ActionWhatWasWrong = "what_was_wrong"

	FeedbackUp   = "up"
	FeedbackDown = "down"
)

// Slack's limits on what the footer holds.
const (
	maxBlockID       = 255
	maxOptionText    = 75
	maxSelectOptions = 100
)

// Footer renders a footer; nil renders nothing. request names the
// request the answer is of ("" for none): a run of the shared queue that
// takes the request over finds by it an answer already given
// (RequestOf).
func Footer(f *handlers.Footer, request string) []slack.Block {
	if f == nil {
		return nil
	}
	var blocks []slack.Block
	if menu := rerunMenu(f.Ref, f.Choices); menu != nil {
		blocks = append(blocks, slack.NewActionBlock(encodeRef(f.Ref, request), menu))
	}
	feedback := slack.NewFeedbackButtonsBlockElement(ActionFeedback,
		slack.NewFeedbackButton(plain("👍"), FeedbackUp).WithAccessibilityLabel("This answer helped"),
		slack.NewFeedbackButton(plain("👎"), FeedbackDown).WithAccessibilityLabel("This answer missed"))
	return append(blocks, slack.NewContextActionsBlock(encodeRef(f.Ref, request), feedback))
}

// rerunMenu is the "Try another use case" menu: every choice but the
// answer's own use case; nil when there is no other.
func rerunMenu(ref handlers.AnswerRef, choices []handlers.Choice) *slack.SelectBlockElement {
	var options []*slack.OptionBlockObject
	for _, c := range choices {
		if c.Name == ref.UseCase || len(options) == maxSelectOptions {
			continue
		}
		options = append(options, slack.NewOptionBlockObject(c.Name, plain(slackmd.CutChars(c.Label, maxOptionText, "…")), nil))
	}
	if len(options) == 0 {
		return nil
	}
	return slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Try another use case"), ActionRerun, options...)
}

// Downvoted are the private follow-up to a 👎: what to do, the menu
// of the other use cases, and a line to say what was wrong, sent on Enter.
func Downvoted(d handlers.Downvoted) []slack.Block {
	blocks := []slack.Block{mrkdwn(d.Text)}
	if menu := rerunMenu(d.Ref, d.Choices); menu != nil {
		blocks = append(blocks, slack.NewActionBlock(EncodeRef(d.Ref), menu))
	}
	line := slack.NewPlainTextInputBlockElement(plain("What was wrong? One line, then Enter"), ActionWhatWasWrong).
		WithMaxLength(500).
		WithDispatchActionConfig(&slack.DispatchActionConfig{TriggerActionsOn: []string{"on_enter_pressed"}})
	input := slack.NewInputBlock(EncodeRef(d.Ref), plain("What was wrong?"), nil, line).WithDispatchAction(true)
	input.Optional = true
	return append(blocks, input)
}

// EncodeRef writes a reference as a new block_id:
// vb2|nonce|thread|use case|files, dropping files that do not fit in
// Slack's 255 characters.
func EncodeRef(ref handlers.AnswerRef) string { return encodeRef(ref, "") }

// encodeRef is EncodeRef with the request the answer is of after its
// nonce (vb2|nonce.request|…), where DecodeRef, and the versions before
// it, read nothing.
func encodeRef(ref handlers.AnswerRef, request string) string {
	nonce := rand.Text()[:8]
	if request != "" && !strings.ContainsAny(request, "|.") {
		nonce += "." + request
	}
	id := footerPrefix + nonce + "|" + ref.Thread + "|" + ref.UseCase + "|"
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

// DecodeRef reads a block_id written by EncodeRef, or by the footer of
// older answers.
func DecodeRef(blockID string) (handlers.AnswerRef, bool) {
	var ref handlers.AnswerRef
	var files string
	if rest, ok := strings.CutPrefix(blockID, footerPrefix); ok {
		parts := strings.SplitN(rest, "|", 4)
		if len(parts) != 4 {
			return handlers.AnswerRef{}, false
		}
		ref.Thread, ref.UseCase, files = parts[1], parts[2], parts[3]
	} else if rest, ok := strings.CutPrefix(blockID, legacyPrefix); ok {
		var cut bool
		if ref.UseCase, files, cut = strings.Cut(rest, "|"); !cut {
			return handlers.AnswerRef{}, false
		}
	} else {
		return handlers.AnswerRef{}, false
	}
	if ref.UseCase == "" {
		return handlers.AnswerRef{}, false
	}
	if files != "" {
		ref.Files = strings.Split(files, ",")
	}
	return ref, true
}

// RefOf finds the footer among a message's blocks.
func RefOf(blocks slack.Blocks) *handlers.AnswerRef {
	for _, b := range blocks.BlockSet {
		switch b.(type) {
		case *slack.ActionBlock, *slack.ContextActionsBlock:
			if ref, ok := DecodeRef(b.ID()); ok {
				return &ref
			}
		}
	}
	return nil
}

// RequestOf is the request a message's footer names ("" for none): the
// answer of that request is in the thread.
func RequestOf(blocks slack.Blocks) string {
	for _, b := range blocks.BlockSet {
		switch b.(type) {
		case *slack.ActionBlock, *slack.ContextActionsBlock:
			rest, ok := strings.CutPrefix(b.ID(), footerPrefix)
			if !ok {
				continue
			}
			nonce, _, _ := strings.Cut(rest, "|")
			if _, request, ok := strings.Cut(nonce, "."); ok && request != "" {
				return request
			}
		}
	}
	return ""
}
