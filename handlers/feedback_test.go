package handlers

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// voteOn is user's click on 👍 or 👎 under the answer posted at answer.
func voteOn(user, answer string, up bool) Request {
	r := voteBy(user, "", up, AnswerRef{UseCase: "recipe", Files: []string{"F1"}, Thread: "1700000000.000100"})
	r.Message = answer
	return r
}

// A person's vote on one answer counts once: Slack's feedback buttons send
// a click each time one is pressed, the one already selected included, and
// a later vote of the same person on the same answer replaces the earlier.
func TestAPersonsVoteOnAnAnswerCountsOnce(t *testing.T) {
	const a, b = "1700000000.000200", "1700000000.000300"
	steps := []struct {
		vote Request
		want VoteCount
	}{
		{voteOn("U1", a, true), VoteCount{Up: 1}},
		{voteOn("U1", a, true), VoteCount{Up: 1}}, // pressed again
		{voteOn("U1", a, false), VoteCount{Down: 1}},
		{voteOn("U2", a, true), VoteCount{Up: 1, Down: 1}},
		{voteOn("U1", b, true), VoteCount{Up: 2, Down: 1}}, // another answer
		{voteOn("U1", a, true), VoteCount{Up: 3}},
	}
	h := New(newFakeSlack().roles(), &fakeModel{}, mustCatalog(t), testLogger(), DefaultConfig(), Deps{})
	for i, st := range steps {
		h.Run(context.Background(), st.vote)
		if got := h.Votes()["recipe"]; got != st.want {
			t.Errorf("after vote %d (%s up=%v on %s): %+v, want %+v", i, st.vote.User, st.vote.Ask.(Vote).Up, st.vote.Message, got, st.want)
		}
	}
}

// The memory of who voted on what is bounded: beyond it the oldest voters
// are forgotten (their votes stay counted), never the process's memory.
func TestVotesRememberedAreBounded(t *testing.T) {
	v := newVotes(3)
	for _, user := range []string{"U1", "U2", "U3", "U4"} {
		v.add(voteKey{channel: "C1", answer: "1.000200", user: user}, "recipe", true)
	}
	if len(v.latest) != 3 || len(v.order) != 3 {
		t.Errorf("remembers %d votes (%d in order), want 3", len(v.latest), len(v.order))
	}
	if got := v.snapshot()["recipe"]; got != (VoteCount{Up: 4}) {
		t.Errorf("votes = %+v, want the 4 counted", got)
	}
	v.add(voteKey{channel: "C1", answer: "1.000200", user: "U4"}, "recipe", false)
	if got := v.snapshot()["recipe"]; got != (VoteCount{Up: 3, Down: 1}) {
		t.Errorf("U4's change: votes = %+v, want 3 up and 1 down", got)
	}
}

// The line a person writes after a 👎 is logged for the team that runs the
// bot, as the privacy text says: with the use case, without the person's
// id, cut short, with mentions, links, email addresses and long numbers
// taken out. The vote's own line names no one either.
func TestWhatWasWrongIsLoggedScrubbed(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	h := New(newFakeSlack().roles(), &fakeModel{}, mustCatalog(t), zap.New(core), DefaultConfig(), Deps{})
	ref := AnswerRef{UseCase: "recipe", Files: []string{"F1"}, Thread: "1700000000.000100"}
	h.Run(context.Background(), voteBy("U123SECRET", "https://hooks.slack.com/r", false, ref))
	said := "ask <@U999PEER> or mail jane.doe@example.com, call +1 (415) 555-0134, card 4111 1111 1111 1111, " +
		"see <https://evil.example/x?token=abc|this> and https://example.org/private/page " + strings.Repeat("soup ", 200)
	h.Run(context.Background(), Request{Origin: Origin{Trigger: TriggerFeedback, Channel: "C1", User: "U123SECRET",
		ResponseURL: "https://hooks.slack.com/r2"}, Ask: WhatWasWrong{Text: said, Ref: ref}})

	for _, e := range logs.All() {
		for k, v := range e.ContextMap() {
			if s, ok := v.(string); ok && strings.Contains(s, "U123SECRET") {
				t.Errorf("%q logs the person's id in %s", e.Message, k)
			}
		}
	}
	entries := logs.FilterMessage("feedback: what was wrong").All()
	if len(entries) != 1 {
		t.Fatalf("logged %d lines of what was wrong, want 1", len(entries))
	}
	what, _ := entries[0].ContextMap()["what"].(string)
	if n := utf8.RuneCountInString(what); n > maxWhatWasWrong+1 {
		t.Errorf("logged %d characters, want at most %d and the ellipsis", n, maxWhatWasWrong)
	}
	for _, secret := range []string{"U999PEER", "jane.doe", "example.com", "555", "4111", "evil.example", "token", "example.org", "private"} {
		if strings.Contains(what, secret) {
			t.Errorf("logged %q, which keeps %q", what, secret)
		}
	}
	if !strings.HasPrefix(what, "ask @someone or mail [email], call [number], card [number], see [link] and [link] soup soup") {
		t.Errorf("logged %q", what)
	}
	if entries[0].ContextMap()["use_case"] != "recipe" {
		t.Errorf("logged %v, want the use case", entries[0].ContextMap())
	}
}
