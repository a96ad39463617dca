package slackemu

import (
	"context"
	"testing"

	"github.com/slack-go/slack"
)

// conversations.info and users.info as Slack answers the bot: is_member
// for a channel it can see, channel_not_found for one that does not exist
// or a private one it is not in, the read scope of each kind of
// conversation, and who is an admin or an owner.
func TestConversationInfoAndAdmins(t *testing.T) {
	s, api := newEmu(t)
	ctx := context.Background()
	info := func(channel string) (*slack.Channel, error) {
		return api.GetConversationInfoContext(ctx, &slack.GetConversationInfoInput{ChannelID: channel})
	}
	if c, err := info("C1"); err != nil || !c.IsMember || c.IsPrivate || !c.IsChannel {
		t.Errorf("a channel the bot is in: %+v, %v", c, err)
	}
	s.LeaveChannel("C2")
	if c, err := info("C2"); err != nil || c.IsMember {
		t.Errorf("a public channel the bot left: %+v, %v", c, err)
	}
	s.LeaveChannel("G3")
	if _, err := info("G3"); err == nil || err.Error() != "channel_not_found" {
		t.Errorf("a private channel the bot is not in: %v", err)
	}
	s.DeleteChannel("C4")
	if _, err := info("C4"); err == nil || err.Error() != "channel_not_found" {
		t.Errorf("a channel that does not exist: %v", err)
	}
	if _, err := info("#general"); err == nil || err.Error() != "channel_not_found" {
		t.Errorf("a channel's name: %v", err)
	}
	s.SetScopes("chat:write,users:read")
	if _, err := info("C1"); err == nil || err.Error() != "missing_scope" {
		t.Errorf("without channels:read: %v", err)
	}
	s.SetScopes(DefaultScopes)

	s.SetAdmin("U2", false)
	s.SetAdmin("U3", true)
	for user, want := range map[string][2]bool{"U1": {false, false}, "U2": {true, false}, "U3": {true, true}} {
		u, err := api.GetUserInfoContext(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		if u.IsAdmin != want[0] || u.IsOwner != want[1] {
			t.Errorf("users.info %s: admin %v owner %v; want %v", user, u.IsAdmin, u.IsOwner, want)
		}
	}
}
