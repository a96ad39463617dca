package handlers

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/visionbot/visionbot/internal/failure"
)

// The Messages tab: suggested prompts from the catalog, and, where Slack
// says what the person is looking at, prompts about that message's photo.

// maxPrompts is how many suggested prompts Slack shows.
const maxPrompts = 4

// suggestionsTitle heads the suggested prompts.
const suggestionsTitle = "Send me a photo, or try one of these"

// messagesOpened offers the catalog's suggestions as prompts in the DM.
func (h *Handler) messagesOpened(ctx context.Context, j *job) {
	err := j.timed(func() error {
		return h.slack.Agent.SuggestPrompts(ctx, j.where.Channel, suggestionsTitle, h.suggestions())
	})
	j.end(failed(err), "prompts")
}

// suggestions are the use cases that have one, as prompts whose message
// names the use case: picked, it asks for the photo.
func (h *Handler) suggestions() []Prompt {
	var out []Prompt
	for _, uc := range h.catalog.All() {
		if uc.Suggestion != "" && len(out) < maxPrompts {
			out = append(out, Prompt{Title: uc.Suggestion, Message: uc.Name})
		}
	}
	return out
}

// viewing offers, while the person looks at a message with a photo the bot
// can read, that photo's use cases as prompts; picked, one answers about
// that message in the DM. Anywhere else, the catalog's suggestions.
func (h *Handler) viewing(ctx context.Context, j *job, v Viewing) {
	prompts, outcome := h.suggestions(), "prompts"
	if v.Channel != "" && v.TS != "" {
		var msg Message
		err := j.timed(func() error {
			var err error
			msg, err = h.slack.Reader.Message(ctx, v.Channel, v.TS)
			return err
		})
		if err == nil && msg.BotID == "" && !h.ours(msg) && hasImageCandidate(msg.Files) {
			prompts, outcome = h.aboutMessage(v, j.where.User), "prompts_for_photo"
		}
	}
	err := j.timed(func() error {
		return h.slack.Agent.SuggestPrompts(ctx, j.where.Channel, suggestionsTitle, prompts)
	})
	j.end(failed(err), outcome)
}

// aboutMessage are the prompts about the message v: each names a use case
// and carries a signed reference to the message, which said reads back.
func (h *Handler) aboutMessage(v Viewing, user string) []Prompt {
	ref := h.messageRef(v.Channel, v.TS, user)
	out := h.suggestions()
	for i, p := range out {
		out[i] = Prompt{Title: p.Title + " (the photo you're viewing)", Message: p.Message + " " + ref}
	}
	return out
}

// messageRef is a link to the message and a signature that binds it to
// the person: a prompt's message arrives as text the person could have
// typed, and a reference they typed must not make the bot read a message
// they can't see.
func (h *Handler) messageRef(channel, ts, user string) string {
	return fmt.Sprintf("https://slack.com/archives/%s/p%s #%s", channel, strings.Replace(ts, ".", "", 1), h.refSignature(channel, ts, user))
}

func (h *Handler) refSignature(channel, ts, user string) string {
	mac := hmac.New(sha256.New, h.cfg.RefKey)
	mac.Write([]byte(channel + "\x00" + ts + "\x00" + user))
	return hex.EncodeToString(mac.Sum(nil))[:16]
}

// viewed is a message a suggested prompt referred to.
type viewed struct{ channel, ts string }

// viewedRef finds a signed reference to a message in text (written by
// messageRef, and sent back by Slack as "<link> #signature"), checks that
// it was made for this person, and returns text without it. A reference
// whose signature does not match is left in the text, unread.
func (h *Handler) viewedRef(text, user string) (rest string, v viewed, ok bool) {
	start := strings.Index(text, "https://")
	if start < 0 || len(h.cfg.RefKey) == 0 {
		return text, viewed{}, false
	}
	link, after, _ := strings.Cut(text[start:], " ")
	link = strings.TrimSuffix(strings.SplitN(link, "|", 2)[0], ">")
	channel, ts, isLink := slackMessageLink(link)
	sig, tail, _ := strings.Cut(strings.TrimLeft(after, " "), " ")
	sig, signed := strings.CutPrefix(sig, "#")
	if !isLink || !signed || !hmac.Equal([]byte(sig), []byte(h.refSignature(channel, ts, user))) {
		return text, viewed{}, false
	}
	before := strings.TrimSuffix(text[:start], "<")
	return strings.TrimSpace(before + " " + tail), viewed{channel, ts}, true
}

// slackMessageLink reads a Slack message link,
// https://<workspace>.slack.com/archives/<channel>/p<ts without its dot>.
func slackMessageLink(link string) (channel, ts string, ok bool) {
	link, _, _ = strings.Cut(link, "?")
	host, path, found := strings.Cut(strings.TrimPrefix(link, "https://"), "/")
	if !found || (host != "slack.com" && !strings.HasSuffix(host, ".slack.com")) {
		return "", "", false
	}
	parts := strings.Split(path, "/")
	if len(parts) != 3 || parts[0] != "archives" || !strings.HasPrefix(parts[2], "p") {
		return "", "", false
	}
	digits := parts[2][1:]
	if len(digits) != 16 || strings.Trim(digits, "0123456789") != "" || parts[1] == "" {
		return "", "", false
	}
	return parts[1], digits[:10] + "." + digits[10:], true
}

// answerViewed answers about the message a suggested prompt referred to,
// in the DM thread of the prompt.
func (h *Handler) answerViewed(ctx context.Context, j *job, v viewed) {
	var msg Message
	err := j.timed(func() error {
		var err error
		msg, err = h.slack.Reader.Message(ctx, v.channel, v.ts)
		return err
	})
	if err != nil {
		j.fail(ctx, fmt.Errorf("read the message viewed: %w", err))
		return
	}
	if msg.BotID != "" || h.ours(msg) || !hasImageCandidate(msg.Files) {
		j.fail(ctx, failure.Errorf("read the message viewed", failure.NoImage, "", nil))
		return
	}
	h.answer(ctx, j, conversation{files: msg.Files})
}
