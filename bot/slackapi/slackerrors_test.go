package slackapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/visionbot/visionbot/internal/slackemu"
)

// Slack refusing a token is told by slack-go's own error types, as it
// returns them from the emulator: the Web API's, the Socket Mode
// client's when it gives up, wrapped or not; never by an error that only
// reads like Slack's code.
func TestTokenRefused(t *testing.T) {
	emu := slackemu.New()
	t.Cleanup(emu.Close)
	emu.SetBotToken(apiTestToken)
	emu.SetAppToken("xapp-the-right-one")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	wrongBot := slack.New("xoxb-wrong", slack.OptionAPIURL(emu.APIURL()))
	_, authTest := wrongBot.AuthTestContext(ctx)
	wrongApp := slack.New(apiTestToken, slack.OptionAPIURL(emu.APIURL()), slack.OptionAppLevelToken("xapp-wrong"))
	_, _, open := wrongApp.StartSocketModeContext(ctx)
	socket := socketmode.New(wrongApp)
	go func() { // its events are sent and waited for
		for {
			select {
			case <-socket.Events:
			case <-ctx.Done():
				return
			}
		}
	}()
	socketRun := socket.RunContext(ctx)
	emu.Fail("auth.test", 1, http.StatusOK, nil, `{"ok":false,"error":"fatal_error"}`)
	_, otherCode := slack.New(apiTestToken, slack.OptionAPIURL(emu.APIURL())).AuthTestContext(ctx)
	emu.Fail("auth.test", 1, http.StatusTooManyRequests, http.Header{"Retry-After": {"30"}}, `{"ok":false,"error":"ratelimited"}`)
	_, limited := slack.New(apiTestToken, slack.OptionAPIURL(emu.APIURL())).AuthTestContext(ctx)

	tests := []struct {
		name     string
		err      error
		wantCode string // "" for not a refused token
	}{
		{"auth.test with a wrong bot token", authTest, "invalid_auth"},
		{"apps.connections.open with a wrong app token", open, "invalid_auth"},
		{"the Socket Mode client giving up on it", socketRun, "invalid_auth"},
		{"wrapped", fmt.Errorf("socket mode: %w", socketRun), "invalid_auth"},
		{"another code of Slack's", otherCode, ""},
		{"Slack's rate limit", limited, ""},
		{"an error that only reads like the code", errors.New("invalid_auth"), ""},
		{"no error", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			answer, refused := TokenRefused(tt.err)
			if refused != (tt.wantCode != "") || (refused && answer.Err != tt.wantCode) {
				t.Errorf("TokenRefused(%v) = %q, %v; want %q", tt.err, answer.Err, refused, tt.wantCode)
			}
		})
	}
}
