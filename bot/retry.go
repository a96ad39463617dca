package bot

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"path"
	"strconv"
	"time"
)

// retryDelays are the waits before each new attempt of a Slack call that
// failed on Slack's side: two more tries within about a second, short
// enough for a user who is watching.
var retryDelays = []time.Duration{200 * time.Millisecond, 800 * time.Millisecond}

// idempotent are the Web API methods that may be sent again after a failure
// whose outcome is unknown (a 5xx, a timeout, a connection cut mid-call):
// doing them twice leaves Slack as doing them once. reactions.add and
// reactions.remove qualify because the bot reads already_reacted and
// no_reaction as success; chat.update because it sets the whole message.
// chat.postMessage, the stream calls and views.open are missing on purpose:
// a second post would show the answer twice, a second append would repeat
// text, and a trigger_id works once.
var idempotent = map[string]bool{
	"auth.test": true, "conversations.history": true, "conversations.replies": true,
	"conversations.info": true, "files.info": true, "users.info": true, "bots.info": true,
	"reactions.add": true, "reactions.remove": true, "chat.update": true, "views.publish": true,
}

// maxRateWait is the longest Retry-After a call waits out in the
// transport; a longer one reaches the caller, which tells the user.
const maxRateWait = 10 * time.Second

// RetrySlack makes the Slack Web API calls that failed on Slack's side
// again: any call that never reached Slack (the connection was refused) or
// that Slack rate-limited (a 429 did nothing) once the Retry-After it asks
// for has passed, if that is at most maxRateWait, and an idempotent call
// that got a 5xx or lost its connection. Other calls are not sent twice:
// their failure reaches the caller, which tells the user.
func RetrySlack(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return slackRetrier{next: next, delays: retryDelays, maxRateWait: maxRateWait}
}

type slackRetrier struct {
	next        http.RoundTripper
	delays      []time.Duration
	maxRateWait time.Duration
}

func (s slackRetrier) RoundTrip(req *http.Request) (*http.Response, error) {
	again := idempotent[path.Base(req.URL.Path)]
	attemptReq := req
	for attempt := 0; ; attempt++ {
		resp, err := s.next.RoundTrip(attemptReq)
		if attempt >= len(s.delays) {
			return resp, err
		}
		delay := s.delays[attempt]
		if wait, limited := retryAfter(resp); limited {
			if wait > s.maxRateWait {
				return resp, err
			}
			delay = wait
		} else if !retryable(resp, err, again) {
			return resp, err
		}
		next, ok := rewound(req)
		if !ok {
			return resp, err
		}
		if resp != nil {
			// Drained so that the connection can serve the next attempt.
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
		}
		if err := sleepContext(req.Context(), delay); err != nil {
			return nil, err
		}
		attemptReq = next
	}
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

// rewound is a copy of req to send again, with a fresh body (a
// RoundTripper must not change the request it was given); false when the
// body can't be read again.
func rewound(req *http.Request) (*http.Request, bool) {
	again := req.Clone(req.Context())
	if req.Body == nil || req.Body == http.NoBody {
		return again, true
	}
	if req.GetBody == nil {
		return nil, false
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, false
	}
	again.Body = body
	return again, true
}
