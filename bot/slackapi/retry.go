package slackapi

import (
	"context"
	"errors"
	"net"
	"net/http"
	"path"
	"strconv"
	"time"

	"github.com/slack-go/slack"
)

// The project's rules for Slack Web API calls that failed on Slack's side,
// in slack-go's own retry configuration (its RetryHandler): a call that
// never reached Slack (the connection was refused) is made again, and so
// is one Slack rate-limited (a 429 did nothing) once the Retry-After it
// asks for has passed, if that is at most maxRateWait; a 5xx or a cut
// connection is retried only for calls that are safe to repeat. slack-go's
// built-in handlers can't say the last: its 5xx handler retries every
// method, a post included, and its connection handler any cut connection.
// Other failures reach the caller, which tells the user.

// retryDelays are the waits before each new attempt of a call that failed
// on Slack's side: two more tries within about a second, short enough for
// a user who is watching.
func retryDelays() []time.Duration {
	return []time.Duration{200 * time.Millisecond, 800 * time.Millisecond}
}

// maxRateWait is the longest Retry-After a call waits out before it is
// made again; a longer one reaches the caller, which tells the user.
const maxRateWait = 10 * time.Second

// idempotent says whether a Web API method may be sent again after a
// failure whose outcome is unknown (a 5xx, a timeout, a connection cut
// mid-call): doing it twice leaves Slack as doing it once. reactions.add
// and reactions.remove qualify because the bot reads already_reacted and
// no_reaction as success; chat.update because it sets the whole message.
// chat.postMessage, the stream calls and views.open are missing on purpose:
// a second post would show the answer twice, a second append would repeat
// text, and a trigger_id works once.
func idempotent(method string) bool {
	switch method {
	case "auth.test", "conversations.history", "conversations.replies", "conversations.info", "files.info",
		"users.info", "bots.info", "reactions.add", "reactions.remove", "chat.update", "views.publish":
		return true
	}
	return false
}

// SlackRetries is the retry configuration of the bot's Slack client
// (slack.OptionRetryConfig, given after slack.OptionHTTPClient).
func SlackRetries() slack.RetryConfig {
	return slackRetries(retryDelays(), maxRateWait)
}

func slackRetries(delays []time.Duration, maxRateWait time.Duration) slack.RetryConfig {
	return slack.RetryConfig{
		MaxRetries: len(delays),
		Handlers:   []slack.RetryHandler{retryRules{delays: delays, maxRateWait: maxRateWait}},
	}
}

// retryRules is the project's slack.RetryHandler.
type retryRules struct {
	delays      []time.Duration
	maxRateWait time.Duration
}

func (r retryRules) ShouldRetry(state *slack.RetryState, req *http.Request, resp *http.Response, err error) (bool, time.Duration) {
	if state.Attempt >= len(r.delays) {
		return false, 0
	}
	if wait, limited := retryAfter(resp); limited {
		return wait <= r.maxRateWait, wait
	}
	if !retryable(resp, err, idempotent(path.Base(req.URL.Path))) {
		return false, 0
	}
	return true, r.delays[state.Attempt]
}

// retryAfter reports whether resp is Slack's 429, and how long it asks to
// wait (a second when it does not say).
func retryAfter(resp *http.Response) (time.Duration, bool) {
	if resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		return 0, false
	}
	secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if err != nil || secs < 1 {
		secs = 1
	}
	return time.Duration(secs) * time.Second, true
}

// retryable reports whether a call's outcome allows another attempt.
func retryable(resp *http.Response, err error, idempotent bool) bool {
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return true // nothing was sent
		}
		return idempotent && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
	}
	switch resp.StatusCode {
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return idempotent
	}
	return false
}
