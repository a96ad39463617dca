package bot

import (
	"context"

	"github.com/slack-go/slack"

	"github.com/visionbot/visionbot/bot/blocks"
	"github.com/visionbot/visionbot/handlers"
)

// OpenForm opens a modal.
func (a *API) OpenForm(ctx context.Context, triggerID string, form handlers.Form) error {
	c := claimOf(ctx)
	ctx, release, err := c.fenced(ctx)
	if err != nil {
		return err
	}
	defer release()
	_, err = a.client.OpenViewContext(ctx, triggerID, blocks.Form(form))
	return c.cause(wrapSlackError("views.open", err))
}

// PublishHome shows the Home tab. The markdown block is for messages
// only, so the tab is written in sections of mrkdwn.
func (a *API) PublishHome(ctx context.Context, user string, home handlers.Home) error {
	_, err := a.client.PublishViewContext(ctx, slack.PublishViewContextRequest{
		UserID: user, View: blocks.Home(home),
	})
	return wrapSlackError("views.publish", err)
}
