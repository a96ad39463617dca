package handlers

import (
	"context"
	"fmt"
	"runtime/debug"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/visionbot/visionbot/internal/failure"
)

// Run answers one admitted request: it is the job the queue runs. Every
// flow ends here with one answer or one notice to the person who asked; a
// panic in a flow ends the request with a notice too, not the bot.
func (h *Flows) Run(ctx context.Context, r Request) {
	j := h.start(r.Origin)
	defer j.recover(ctx)
	j.useChannel(ctx)
	switch ask := r.Ask.(type) {
	case Said:
		h.said(ctx, j, ask)
	case Command:
		h.command(ctx, j, ask)
	case ShortcutOn:
		h.shortcut(ctx, j, ask)
	case Submission:
		h.submission(ctx, j, ask)
	case Rerun:
		h.rerun(ctx, j, ask)
	case Vote:
		h.vote(ctx, j, ask)
	case WhatWasWrong:
		h.whatWasWrong(ctx, j, ask)
	case MessagesOpened:
		h.messagesOpened(ctx, j)
	case Viewing:
		h.viewing(ctx, j, ask)
	case Reacted:
		h.reacted(ctx, j, ask)
	case HomeOpened:
		h.homeOpened(ctx, j)
	case SettingsAsked:
		h.settingsAsked(ctx, j)
	case SettingsSaved:
		h.settingsSaved(ctx, j, ask)
	default:
		j.end(fmt.Errorf("run a request: nothing handles %T", r.Ask), "")
	}
}

// recover ends a job whose flow panicked: its user is told, and whatever
// its reply showed is replaced by the notice.
func (j *job) recover(ctx context.Context) {
	v := recover()
	if v == nil {
		return
	}
	j.h.log.Error("request panicked", zap.String("panic", fmt.Sprint(v)), zap.ByteString("stack", debug.Stack()))
	if !j.ended {
		j.fail(ctx, failure.Errorf("run the request", failure.Internal, "panicked", nil))
	}
}

// Decline tells the person who asked that the bot turned their request
// away before starting it, why, and when to ask again: privately where
// the trigger gave a way (a command, a click, a form), else in the thread.
func (h *Flows) Decline(ctx context.Context, o Origin, why Refusal) {
	h.tell(ctx, o, why.error(), h.refusalMessage(why), true)
}

// Precheck is what the flows refuse of a request before it is queued: a
// question longer than MaxQuestion, which the flow would refuse once it
// ran, so that it takes no room in the queue meanwhile (a DM of 40,000
// characters was 240 KB in Redis). The flow checks again as it runs: a
// follow-up's question is found in its thread.
func (h *Flows) Precheck(r Request) (Refusal, bool) {
	var question string
	switch ask := r.Ask.(type) {
	case Said:
		text, _, _ := h.viewedRef(ask.Text, r.Origin)
		_, question = h.catalog.Choose(text)
	case Command:
		_, question = h.catalog.Choose(ask.Text)
	case Submission:
		question = ask.Question
	default:
		return Refusal{}, false
	}
	if n := utf8.RuneCountInString(question); n > h.cfg.MaxQuestion {
		return Refusal{Reason: RefusedQuestionTooLong, Size: int64(n), Limit: int64(h.cfg.MaxQuestion)}, true
	}
	return Refusal{}, false
}

// Interrupted tells the person who asked that their request ended without
// its answer, with cause (a failure.ShuttingDown or failure.Internal error): in
// the thread the answer was to go to, else privately. It is for requests
// the queue could not run; a running request tells its user itself.
func (h *Flows) Interrupted(ctx context.Context, o Origin, cause error) {
	h.tell(ctx, o, cause, "", false)
}

// tell is the one way to reach the person behind a request that is not
// running: a notice, on a context of its own, with no progress reaction.
// notice is what to say, "" for err's words (userMessage).
func (h *Flows) tell(ctx context.Context, o Origin, err error, notice string, privately bool) {
	j := h.start(o)
	if notice == "" {
		notice = h.userMessage(err)
	}
	if privately && o.ResponseURL != "" {
		ctx, cancel := finishing(ctx)
		defer cancel()
		j.respond(ctx, notice)
		j.end(err, "")
		return
	}
	j.failWith(ctx, cutShort(ctx, err), notice)
}
