package slackapi

import (
	"context"

	"github.com/slack-go/slack"

	"github.com/visionbot/visionbot/bot/blocks"
	"github.com/visionbot/visionbot/handlers"
	"github.com/visionbot/visionbot/internal/failure"
)

var _ handlers.Directory = (*API)(nil)

// OpenSettings opens a channel's settings modal.
func (w *Writer) OpenSettings(ctx context.Context, triggerID string, form handlers.SettingsForm) error {
	ctx, client, release, err := w.final(ctx)
	if err != nil {
		return err
	}
	defer release()
	_, err = client.OpenViewContext(ctx, triggerID, blocks.Settings(form))
	return w.lease.Cause(wrapSlackError("views.open", err))
}

// InChannel asks conversations.info whether the bot is a member of
// channel (its is_member). Slack answers channel_not_found for a channel
// that does not exist and for a private one the bot is not in: for the
// bot, both are channels it is not in.
func (a *API) InChannel(ctx context.Context, channel string) (bool, error) {
	c, err := a.read.GetConversationInfoContext(ctx, &slack.GetConversationInfoInput{ChannelID: channel})
	if slackErrorCode(err) == "channel_not_found" {
		return false, nil
	}
	if err != nil {
		return false, wrapSlackError("conversations.info", err)
	}
	return c.IsMember, nil
}

// IsAdmin asks users.info whether a person is an admin or an owner of the
// workspace (is_admin, is_owner, is_primary_owner).
func (a *API) IsAdmin(ctx context.Context, user string) (bool, error) {
	u, err := a.read.GetUserInfoContext(ctx, user)
	if err != nil {
		return false, wrapSlackError("users.info", err)
	}
	if u == nil {
		return false, failure.Errorf("users.info", failure.Internal, "no user in the answer", nil)
	}
	return u.IsAdmin || u.IsOwner || u.IsPrimaryOwner, nil
}
