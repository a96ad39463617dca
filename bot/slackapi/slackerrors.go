package slackapi

import (
	"errors"
	"fmt"

	"github.com/slack-go/slack"

	"github.com/visionbot/visionbot/internal/failure"
)

// The one table of Slack's answers that mean it no longer takes a token
// itself: no call succeeds until an admin acts. The loop stops the bot on
// them, the checks refuse to start on them, and the flows tell users so.
func IsTokenRefusal(code string) bool {
	switch code {
	case "invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive":
		return true
	}
	return false
}

// TokenRefused reports whether err is Slack refusing the token itself,
// and returns Slack's answer (its Err is the code): a
// slack.SlackErrorResponse, which slack-go returns for every answer with
// "ok": false (SlackResponse.Err), the Socket Mode client's
// apps.connections.open included, of a code IsTokenRefusal names.
func TokenRefused(err error) (slack.SlackErrorResponse, bool) {
	resp, ok := errors.AsType[slack.SlackErrorResponse](err)
	return resp, ok && IsTokenRefusal(resp.Err)
}

// The fixes for a refused token, in every message that reports one.
const (
	BotTokenFix = "copy the Bot User OAuth Token again from OAuth & Permissions in your app's settings at api.slack.com/apps " +
		"into SLACK_BOT_TOKEN, and reinstall the app if it was revoked"
	AppTokenFix = "create an App-Level Token with the connections:write scope under Basic Information → App-Level Tokens " +
		"into SLACK_APP_TOKEN, and check that Socket Mode is on"
)

// slackErrorCode is Slack's error string ("not_in_channel"), or "".
func slackErrorCode(err error) string {
	var resp slack.SlackErrorResponse
	if errors.As(err, &resp) {
		return resp.Err
	}
	return ""
}

// wrapSlackError names the method (and what it was called on, when the
// caller's own words would not: "files.info F123") and sorts Slack's
// error codes into the kinds the user is told about. Slack's code is said
// once, by slack-go's error itself.
func wrapSlackError(method string, err error) error {
	if err == nil {
		return nil
	}
	var resp slack.SlackErrorResponse
	if errors.As(err, &resp) {
		switch code := resp.Err; {
		case code == "not_in_channel" || code == "channel_not_found":
			return failure.Errorf(method, failure.NotInChannel, "", err)
		case code == "missing_scope":
			return failure.Errorf(method, failure.MissingScope, resp.Needed, err)
		case code == "file_not_found" || code == "file_deleted":
			return failure.Errorf(method, failure.FileUnavailable, "", err)
		case code == "is_archived":
			return failure.Errorf(method, failure.Archived, "", err)
		case IsTokenRefusal(code):
			// The token itself is refused: every call fails until an admin
			// acts, so the log says what to fix.
			return failure.Errorf(method, failure.SlackAuth, "", fmt.Errorf("%w (fix: %s)", err, BotTokenFix))
		}
	}
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		return failure.Errorf(method, failure.Busy, "", err)
	}
	return fmt.Errorf("%s: %w", method, err)
}
