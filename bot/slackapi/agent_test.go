package slackapi

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
)

// A post to a response_url that fails says what failed once, never
// holds the URL (it posts as the app for half an hour), and keeps the
// cause slack-go and net/http gave, for errors.Is and errors.As.
func TestRespondErrorKeepsItsCauseWithoutTheURL(t *testing.T) {
	const secret = "/commands/T1/12345/hookSecretPath"
	answering := func(status int, header http.Header) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for k, v := range header {
				w.Header()[k] = v
			}
			w.WriteHeader(status)
		}))
		t.Cleanup(srv.Close)
		return srv.URL + secret
	}
	hanging := func() string {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}))
		t.Cleanup(func() { close(release); srv.Close() })
		return srv.URL + secret
	}
	closed := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return "http://" + ln.Addr().String() + secret
	}
	tests := []struct {
		name  string
		url   string
		cause func(error) bool
	}{
		{"nothing listening", closed(), func(err error) bool {
			_, ok := errors.AsType[*net.OpError](err)
			return ok
		}},
		{"a 404", answering(http.StatusNotFound, nil), func(err error) bool {
			sc, ok := errors.AsType[slack.StatusCodeError](err)
			return ok && sc.Code == http.StatusNotFound
		}},
		{"a 429", answering(http.StatusTooManyRequests, http.Header{"Retry-After": {"7"}}), func(err error) bool {
			rl, ok := errors.AsType[*slack.RateLimitedError](err)
			return ok && rl.RetryAfter == 7*time.Second
		}},
		{"no answer in time", hanging(), func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }},
	}
	api, _ := newTestAPI(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			err := api.For(Unleased{}).Respond(ctx, tt.url, "hello")
			if err == nil {
				t.Fatal("Respond succeeded")
			}
			msg := err.Error()
			if strings.Contains(msg, "hookSecretPath") {
				t.Errorf("the error holds the response_url: %v", err)
			}
			if !strings.HasPrefix(msg, "post to response_url: ") || strings.Count(strings.ToLower(msg), "post") != 1 {
				t.Errorf("the error %q does not name the post once", msg)
			}
			if !tt.cause(err) {
				t.Errorf("the error %q (%T) lost its cause", msg, err)
			}
		})
	}
}
