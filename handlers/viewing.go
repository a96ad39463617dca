package handlers

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/visionbot/visionbot/internal/failure"
)

// The Messages tab: suggested prompts from the catalog, and, where Slack
// says what the person is looking at, prompts about that message's photo.

// maxPrompts is how many suggested prompts Slack shows.
const maxPrompts = 4

// suggestionsTitle heads the suggested prompts.
const suggestionsTitle = "Send me a photo, or try one of these"

// messagesOpened offers the catalog's suggestions as prompts in the DM.
func (h *Flows) messagesOpened(ctx context.Context, j *job) {
	err := j.timed(func() error {
		return h.slack.Agent.SuggestPrompts(ctx, j.where.Channel, suggestionsTitle, h.suggestions())
	})
	j.end(failed(err), "prompts")
}

// suggestions are the use cases that have one, as prompts whose message
// names the use case: picked, it asks for the photo.
func (h *Flows) suggestions() []Prompt {
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
func (h *Flows) viewing(ctx context.Context, j *job, v Viewing) {
	prompts, outcome := h.suggestions(), "prompts"
	if v.Channel != "" && v.TS != "" {
		var msg Message
		err := j.timed(func() error {
			var err error
			msg, err = h.slack.Reader.Message(ctx, v.Channel, v.TS)
			return err
		})
		if err == nil && msg.BotID == "" && !h.ours(msg) && hasImageCandidate(msg.Files) {
			prompts, outcome = h.aboutMessage(v, j.where), "prompts_for_photo"
		}
	}
	err := j.timed(func() error {
		return h.slack.Agent.SuggestPrompts(ctx, j.where.Channel, suggestionsTitle, prompts)
	})
	j.end(failed(err), outcome)
}

// aboutMessage are the prompts about the message v, for the person and
// the DM of o: each names a use case and carries a signed reference to the
// message, which said reads back.
func (h *Flows) aboutMessage(v Viewing, o Origin) []Prompt {
	ref := h.messageRef(o, viewed{channel: v.Channel, ts: v.TS, expires: h.now().Add(h.cfg.RefLifetime)})
	out := h.suggestions()
	for i, p := range out {
		out[i] = Prompt{Title: p.Title + " (the photo you're viewing)", Message: p.Message + " " + ref}
	}
	return out
}

// refVersion names what a reference's signature covers; a reference of
// another version does not verify.
const refVersion = "v2"

// refSigLen is how many hex digits of the signature a reference carries
// (64 bits: a forger gets one try per message sent, each seen by the bot).
const refSigLen = 16

// messageRef is a link to the message v, then, after "#", the reference's
// expiry (Unix seconds) and a signature that binds it to the DM it is made
// for, dm: a prompt's message arrives as text the person could have typed
// or pasted anywhere, and a reference must make the bot read that message
// only in that DM (its channel, its workspace), for that person, for a
// short while.
func (h *Flows) messageRef(dm Origin, v viewed) string {
	expiry := strconv.FormatInt(v.expires.Unix(), 10)
	return fmt.Sprintf("https://slack.com/archives/%s/p%s #%s.%s", v.channel, strings.Replace(v.ts, ".", "", 1),
		expiry, h.refSignature(dm, v.channel, v.ts, expiry))
}

// refSignature signs a reference to channel/ts, made for dm's person in
// dm's channel and workspace, that expires at expiry.
func (h *Flows) refSignature(dm Origin, channel, ts, expiry string) string {
	mac := hmac.New(sha256.New, h.cfg.RefKey)
	for _, field := range []string{refVersion, dm.Channel, dm.Workspace, dm.User, channel, ts, expiry} {
		mac.Write([]byte(field))
		mac.Write([]byte{0})
	}
	return hex.EncodeToString(mac.Sum(nil))[:refSigLen]
}

// viewed is a message a suggested prompt referred to, and when the
// reference stops being honoured.
type viewed struct {
	channel, ts string
	expires     time.Time
}

// viewedRef finds a signed reference to a message in text (written by
// messageRef, and sent back by Slack as "<link> #expiry.signature"), checks,
// in constant time, that it was made for the DM, the workspace and the
// person of here, and returns text without it. A reference whose signature
// does not match is left in the text, unread: pasted elsewhere, it is text
// like any other. Whether it has expired is the caller's to check.
func (h *Flows) viewedRef(text string, here Origin) (rest string, v viewed, ok bool) {
	start := strings.Index(text, "https://")
	if start < 0 || len(h.cfg.RefKey) == 0 {
		return text, viewed{}, false
	}
	link, after, _ := strings.Cut(text[start:], " ")
	link = strings.TrimSuffix(strings.SplitN(link, "|", 2)[0], ">")
	channel, ts, isLink := slackMessageLink(link)
	signed, tail, _ := strings.Cut(strings.TrimLeft(after, " "), " ")
	signed, hasHash := strings.CutPrefix(signed, "#")
	expiry, sig, hasSig := strings.Cut(signed, ".")
	if !isLink || !hasHash || !hasSig ||
		!hmac.Equal([]byte(sig), []byte(h.refSignature(here, channel, ts, expiry))) {
		return text, viewed{}, false
	}
	unix, err := strconv.ParseInt(expiry, 10, 64)
	if err != nil {
		return text, viewed{}, false
	}
	before := strings.TrimSuffix(text[:start], "<")
	return strings.TrimSpace(before + " " + tail), viewed{channel: channel, ts: ts, expires: time.Unix(unix, 0)}, true
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
// in the DM thread of the prompt, unless the reference has expired.
func (h *Flows) answerViewed(ctx context.Context, j *job, v viewed) {
	if h.now().After(v.expires) {
		j.fail(ctx, failure.Errorf("read the message viewed", failure.ExpiredRef, "", nil))
		return
	}
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
	// The message is in another conversation than the DM answered in.
	h.answer(ctx, j, conversation{files: msg.Files, elsewhere: true})
}
