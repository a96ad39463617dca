package slackapi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"path"
	"strconv"
)

// Observer is what the Web API client reports, for metrics. It must be
// safe for concurrent use. A nil Observer reports nothing.
type Observer interface {
	// SlackError is one Web API call that did not succeed: Slack's error
	// code ("not_in_channel", "ratelimited", …), "http_NNN" for another
	// HTTP status, or "transport" when no answer came.
	SlackError(method, code string)
}

// ObserveErrors wraps next, the transport of the Slack Web API client, so
// that every call Slack refuses is reported to obs by method and error
// code: the adapter itself ignores some refusals on purpose (a stream that
// falls back to updates, a reaction already there), and those belong in
// the counts too. It returns next itself when obs is nil.
func ObserveErrors(next http.RoundTripper, obs Observer) http.RoundTripper {
	if obs == nil {
		return next
	}
	if next == nil {
		next = http.DefaultTransport
	}
	return errorObserver{next: next, obs: obs}
}

type errorObserver struct {
	next http.RoundTripper
	obs  Observer
}

func (e errorObserver) RoundTrip(req *http.Request) (*http.Response, error) {
	method := path.Base(req.URL.Path)
	resp, err := e.next.RoundTrip(req)
	switch {
	case err != nil:
		// A call cut short by its caller (a shutdown) is no Slack failure.
		if req.Context().Err() == nil {
			e.obs.SlackError(method, "transport")
		}
	case resp.StatusCode == http.StatusTooManyRequests:
		e.obs.SlackError(method, "ratelimited")
	case resp.StatusCode != http.StatusOK:
		e.obs.SlackError(method, "http_"+strconv.Itoa(resp.StatusCode))
	default:
		if code := peekErrorCode(resp); code != "" {
			e.obs.SlackError(method, code)
		}
	}
	return resp, err
}

// WatchToken calls refused with Slack's error code each time Slack answers
// that it no longer takes the token, so that the bot can stop and say so
// rather than fail every request one by one.
func WatchToken(next http.RoundTripper, refused func(code string)) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return tokenWatcher{next: next, refused: refused}
}

type tokenWatcher struct {
	next    http.RoundTripper
	refused func(code string)
}

func (w tokenWatcher) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := w.next.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusOK {
		if code := peekErrorCode(resp); IsTokenRefusal(code) {
			w.refused(code)
		}
	}
	return resp, err
}

// peekLimit is how much of an answer is looked at: Slack's error answers
// are a few dozen bytes, and successful ones are passed on unread.
const peekLimit = 1024

// peekErrorCode returns the error code of a Slack answer that says
// "ok": false, leaving resp.Body to be read by the client as if untouched.
func peekErrorCode(resp *http.Response) string {
	body := resp.Body
	buffered := bufio.NewReaderSize(body, peekLimit)
	head, _ := buffered.Peek(peekLimit) // fewer bytes at the end of a short body
	resp.Body = readCloser{Reader: buffered, Closer: body}
	if !saysNotOK(head) {
		return ""
	}
	data, err := io.ReadAll(io.LimitReader(buffered, 1<<20))
	resp.Body = readCloser{Reader: io.MultiReader(bytes.NewReader(data), buffered), Closer: body}
	if err != nil {
		return ""
	}
	var answer struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	if json.Unmarshal(data, &answer) != nil || answer.OK {
		return ""
	}
	if answer.Error == "" {
		return "unknown"
	}
	return answer.Error
}

// saysNotOK is a cheap look for `"ok": false` in the head of an answer.
func saysNotOK(head []byte) bool {
	i := bytes.Index(head, []byte(`"ok"`))
	if i < 0 {
		return false
	}
	return bytes.HasPrefix(bytes.TrimLeft(head[i+len(`"ok"`):], " \t\r\n:"), []byte("false"))
}

type readCloser struct {
	io.Reader
	io.Closer
}
