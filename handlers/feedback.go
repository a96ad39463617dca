package handlers

import (
	"context"
	"strings"
	"sync"
	"unicode"

	"github.com/visionbot/visionbot/internal/slackmd"
	"go.uber.org/zap"
)

// vote counts and logs a vote. A 👍 is thanked privately; a 👎 gets a
// private follow-up that offers the other use cases on the same images and
// a line to say what was wrong. The log line names the use case, the vote
// and the channel, never the person.
func (h *Flows) vote(ctx context.Context, j *job, v Vote) {
	uc := v.Ref.UseCase
	counted := h.votes.add(voteKeyOf(j.where, v.Ref), uc, v.Up)
	vote := "down"
	if v.Up {
		vote = "up"
	}
	h.log.Info("feedback", zap.String("use_case", uc), zap.String("vote", vote),
		zap.String("channel", j.where.Channel), zap.String("counted", counted))
	j.notARequest()
	if j.where.ResponseURL == "" {
		return
	}
	if v.Up {
		j.respond(ctx, "Thanks for the feedback!")
		return
	}
	var others []Choice
	for _, c := range h.choicesOf(j.channel.offered) {
		if c.Name != uc {
			others = append(others, c)
		}
	}
	ref := v.Ref
	if ref.Thread == "" {
		ref.Thread = j.where.Thread
	}
	d := Downvoted{Ref: ref, Choices: others,
		Text: "Sorry that missed. Try another use case on the same image, or tell me in one line what was wrong."}
	err := j.timed(func() error { return h.slack.Poster.RespondDownvoted(ctx, j.where.ResponseURL, d) })
	if err != nil {
		h.log.Warn("respond privately to a 👎", zap.String("channel", j.where.Channel), zap.Error(err))
	}
}

// maxWhatWasWrong bounds the line logged after a 👎, in characters: enough
// to say what was wrong, too little to paste a document into the logs.
const maxWhatWasWrong = 300

// whatWasWrong logs the line a person wrote after a 👎, with the use case
// (never the image, never who wrote it), scrubbed and cut short
// (scrubLine), and thanks them privately. The privacy text says so.
func (h *Flows) whatWasWrong(ctx context.Context, j *job, w WhatWasWrong) {
	line := scrubLine(w.Text, maxWhatWasWrong)
	h.log.Info("feedback: what was wrong", zap.String("use_case", w.Ref.UseCase), zap.String("what", line),
		zap.String("channel", j.where.Channel))
	j.notARequest()
	if j.where.ResponseURL != "" && line != "" {
		j.respond(ctx, "Thanks, noted: that helps make the "+w.Ref.UseCase+" answers better.")
	}
}

// scrubLine is a person's line made fit for the logs: on one line, with
// Slack's mentions, channel names and links, bare links, email addresses
// and long numbers (phones, cards, ids: six digits or more) put as
// "@someone", "#channel", "[link]", "[email]" and "[number]", and cut at
// max characters. What is left says what was wrong, not who or where.
func scrubLine(text string, max int) string {
	words := strings.Fields(scrubEntities(text))
	for i, w := range words {
		core := strings.TrimRightFunc(w, isTrailingPunct)
		switch {
		case strings.Contains(core, "://") || strings.HasPrefix(strings.ToLower(core), "www."):
			words[i] = "[link]" + w[len(core):]
		case looksLikeEmail(core):
			words[i] = "[email]" + w[len(core):]
		}
	}
	line := scrubNumbers(strings.Join(words, " "))
	return slackmd.CutChars(line, max, "…")
}

// scrubEntities replaces Slack's <…> entities: <@U…> and <!here> by
// "@someone", <#C…|name> by "#channel", <mailto:…> by "[email]", and any
// other (a link, with or without its label) by "[link]".
func scrubEntities(text string) string {
	var b strings.Builder
	for {
		open := strings.IndexByte(text, '<')
		if open < 0 {
			break
		}
		end := strings.IndexByte(text[open:], '>')
		if end < 0 {
			break
		}
		b.WriteString(text[:open])
		entity := text[open+1 : open+end]
		switch {
		case strings.HasPrefix(entity, "@"), strings.HasPrefix(entity, "!"):
			b.WriteString("@someone")
		case strings.HasPrefix(entity, "#"):
			b.WriteString("#channel")
		case strings.HasPrefix(entity, "mailto:"):
			b.WriteString("[email]")
		default:
			b.WriteString("[link]")
		}
		text = text[open+end+1:]
	}
	b.WriteString(text)
	return b.String()
}

func isTrailingPunct(r rune) bool { return strings.ContainsRune(`.,;:!?)"'`, r) }

// looksLikeEmail reports whether w is name@domain.tld.
func looksLikeEmail(w string) bool {
	at := strings.IndexByte(w, '@')
	return at > 0 && strings.Contains(w[at+1:], ".") && !strings.HasSuffix(w, ".")
}

// scrubNumbers replaces each stretch of digits, spaces and + ( ) - . that
// holds six digits or more ("+1 (415) 555-0134", "4111 1111 1111 1111")
// by "[number]", keeping what surrounds it.
func scrubNumbers(line string) string {
	inNumber := func(r rune) bool { return unicode.IsDigit(r) || strings.ContainsRune(" +()-.", r) }
	var b strings.Builder
	runes := []rune(line)
	for i := 0; i < len(runes); {
		if !inNumber(runes[i]) {
			b.WriteRune(runes[i])
			i++
			continue
		}
		j, digits := i, 0
		for j < len(runes) && inNumber(runes[j]) {
			if unicode.IsDigit(runes[j]) {
				digits++
			}
			j++
		}
		run := string(runes[i:j])
		if digits < 6 {
			b.WriteString(run)
		} else {
			// Keep the spaces and stops around the number itself.
			start := strings.IndexFunc(run, func(r rune) bool { return unicode.IsDigit(r) || r == '+' || r == '(' })
			end := strings.LastIndexFunc(run, func(r rune) bool { return unicode.IsDigit(r) || r == ')' }) + 1
			b.WriteString(run[:start] + "[number]" + run[end:])
		}
		i = j
	}
	return b.String()
}

// Votes returns the feedback counted so far, by use case: each person's
// latest vote on each answer.
func (h *Flows) Votes() map[string]VoteCount { return h.votes.snapshot() }

// VoteCount is the feedback one use case got.
type VoteCount struct{ Up, Down int }

// maxVotesRemembered bounds the votes remembered, to tell a person's second
// vote on an answer from a first: about a hundred bytes each.
const maxVotesRemembered = 100_000

// voteKey is one person's vote on one answer.
type voteKey struct{ channel, answer, user string }

// voteKeyOf names the answer a vote is on: the message its buttons are
// under (the click's Message), or, where the click did not say it, the
// answer's thread and what it was about.
func voteKeyOf(o Origin, ref AnswerRef) voteKey {
	answer := o.Message
	if answer == "" {
		answer = firstNonEmpty(ref.Thread, o.Thread) + "/" + ref.UseCase + "/" + strings.Join(ref.Files, ",")
	}
	return voteKey{channel: o.Channel, answer: answer, user: o.User}
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// votes counts each person's latest vote on each answer, by use case.
//
// Slack's feedback buttons (feedback_buttons) send a click each time a
// button is pressed, the one already selected included, and no event when
// a person takes their vote back (slackapi/bolt-python#1435): so a vote
// counts once per person and answer, and a later one of the same person on
// the same answer replaces it (👍 then 👎 is one 👎). The memory is this
// process's and bounded: past maxVotesRemembered the oldest are forgotten,
// their votes still counted, and a replica does not know the others'.
type votes struct {
	mu     sync.Mutex
	by     map[string]VoteCount
	latest map[voteKey]bool // up
	order  []voteKey        // oldest first, to forget the oldest
	max    int
}

func newVotes(max int) *votes {
	return &votes{by: map[string]VoteCount{}, latest: map[voteKey]bool{}, max: max}
}

// add counts a vote and says how: "new", "changed" (it replaced the
// person's other vote on the answer) or "again" (the same vote, not
// counted twice).
func (v *votes) add(key voteKey, useCase string, up bool) string {
	v.mu.Lock()
	defer v.mu.Unlock()
	c := v.by[useCase]
	was, voted := v.latest[key]
	switch {
	case voted && was == up:
		return "again"
	case voted && was:
		c.Up--
	case voted:
		c.Down--
	}
	if up {
		c.Up++
	} else {
		c.Down++
	}
	v.by[useCase] = c
	v.latest[key] = up
	if voted {
		return "changed"
	}
	v.order = append(v.order, key)
	if len(v.order) > v.max {
		delete(v.latest, v.order[0])
		v.order = v.order[1:]
	}
	return "new"
}

func (v *votes) snapshot() map[string]VoteCount {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make(map[string]VoteCount, len(v.by))
	for k, c := range v.by {
		out[k] = c
	}
	return out
}
