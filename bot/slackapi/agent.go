package slackapi

import (
	"context"
	"errors"
	"net/url"
	"strings"

	"github.com/slack-go/slack"

	"github.com/visionbot/visionbot/bot/blocks"
	"github.com/visionbot/visionbot/handlers"
)

// Slack's surface for AI apps, on slack-go v0.36's own methods
// (assistant.threads.setStatus, agents.sessions.setStatus,
// assistant.threads.setSuggestedPrompts). Each call is a courtesy: when
// the minute's tier has no room, it is skipped with handlers.ErrNotShown,
// and the answer goes on without it.

// SetStatus shows a thread's loading status, or clears it (status ""). A
// status set reserves its clearing in the tier, as a reaction reserves its
// removal, so that no status is left up for want of room.
func (w *Writer) SetStatus(ctx context.Context, channel, thread, status string, loading []string) error {
	ctx, client, release := w.write(ctx)
	defer release()
	a := w.api
	key := "status/" + channel + "/" + thread
	if status == "" {
		if !a.takeRemoval(key) && !a.tiers.take(ctx, 0, "assistant.threads.setStatus") {
			return handlers.ErrNotShown
		}
	} else {
		if !a.tiers.takeTwice(ctx, "assistant.threads.setStatus") {
			return handlers.ErrNotShown
		}
		a.reserveRemoval(key)
	}
	err := client.SetAssistantThreadsStatusContext(ctx, slack.AssistantThreadsSetStatusParameters{
		ChannelID: channel, ThreadTS: thread, Status: status, LoadingMessages: loading,
	})
	return wrapSlackError("assistant.threads.setStatus", err)
}

// SetSession sets a thread's agent session status: "processing" gives the
// person Slack's Stop button; the end takes the session out of it. As
// with the status, "processing" reserves the call that ends it.
func (w *Writer) SetSession(ctx context.Context, channel, thread, status string) error {
	ctx, client, release := w.write(ctx)
	defer release()
	a := w.api
	key := "session/" + channel + "/" + thread
	if status == slack.AgentSessionStatusProcessing {
		if !a.tiers.takeTwice(ctx, "agents.sessions.setStatus") {
			return handlers.ErrNotShown
		}
		a.reserveRemoval(key)
	} else if !a.takeRemoval(key) && !a.tiers.take(ctx, 0, "agents.sessions.setStatus") {
		return handlers.ErrNotShown
	}
	_, err := client.SetAgentSessionStatusContext(ctx, slack.AgentSessionSetStatusParameters{
		Status: status, ChannelID: channel, ThreadTS: thread,
	})
	return wrapSlackError("agents.sessions.setStatus", err)
}

// SuggestPrompts sets the suggested prompts of a conversation. An agent
// app gives no thread_ts: Slack's docs say such a call fails silently.
func (w *Writer) SuggestPrompts(ctx context.Context, channel, title string, prompts []handlers.Prompt) error {
	ctx, client, release := w.write(ctx)
	defer release()
	a := w.api
	if !a.tiers.take(ctx, 0, "assistant.threads.setSuggestedPrompts") {
		return handlers.ErrNotShown
	}
	params := slack.AssistantThreadsSetSuggestedPromptsParameters{ChannelID: channel, Title: title}
	for _, p := range prompts {
		params.AddPrompt(p.Title, p.Message)
	}
	err := client.SetAssistantThreadsSuggestedPromptsContext(ctx, params)
	return wrapSlackError("assistant.threads.setSuggestedPrompts", err)
}

// RespondDownvoted sends the private follow-up to a 👎 through the click's
// response_url.
func (w *Writer) RespondDownvoted(ctx context.Context, responseURL string, d handlers.Downvoted) error {
	ctx, _, release, err := w.final(ctx)
	if err != nil {
		return err
	}
	defer release()
	return w.api.respond(ctx, responseURL, &slack.WebhookMessage{
		ResponseType: slack.ResponseTypeEphemeral,
		Text:         d.Text,
		Blocks:       &slack.Blocks{BlockSet: blocks.Downvoted(d)},
	})
}

// respond posts to a response_url. Its error never holds the URL: a
// response_url posts as the app for half an hour, and net/http's
// *url.Error quotes the URL it failed on ("Post \"https://hooks…\": …").
// The error is the cause under that *url.Error (slack-go wraps it in
// "failed to post webhook: %w"), or slack-go's StatusCodeError or
// RateLimitedError for an answer that is no 200: matched by type
// (errors.Is(err, context.DeadlineExceeded) holds), with the URL taken out
// of its text too, in case a cause repeats it.
func (a *API) respond(ctx context.Context, responseURL string, msg *slack.WebhookMessage) error {
	err := slack.PostWebhookCustomHTTPContext(ctx, responseURL, a.hooks, msg)
	if err == nil {
		return nil
	}
	if ue, ok := errors.AsType[*url.Error](err); ok {
		err = ue.Err
	}
	return &withoutURL{msg: "post to response_url: " + strings.ReplaceAll(err.Error(), responseURL, "[response_url]"), err: err}
}

// withoutURL is an error whose text has a secret URL taken out, and whose
// chain is its cause's.
type withoutURL struct {
	msg string
	err error
}

func (e *withoutURL) Error() string { return e.msg }
func (e *withoutURL) Unwrap() error { return e.err }
