package slackapi

import (
	"context"

	"github.com/slack-go/slack"

	"github.com/visionbot/visionbot/bot/blocks"
	"github.com/visionbot/visionbot/handlers"
)

// OpenForm opens a modal.
func (w *Writer) OpenForm(ctx context.Context, triggerID string, form handlers.Form) error {
	ctx, client, release, err := w.final(ctx)
	if err != nil {
		return err
	}
	defer release()
	_, err = client.OpenViewContext(ctx, triggerID, blocks.Form(form))
	return w.lease.Cause(wrapSlackError("views.open", err))
}

// PublishHome shows the Home tab. The markdown block is for messages
// only, so the tab is written in sections of mrkdwn.
func (w *Writer) PublishHome(ctx context.Context, user string, home handlers.Home) error {
	ctx, client, release := w.write(ctx)
	defer release()
	_, err := client.PublishViewContext(ctx, slack.PublishViewContextRequest{
		UserID: user, View: blocks.Home(home),
	})
	return wrapSlackError("views.publish", err)
}
