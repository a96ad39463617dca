package slackapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/visionbot/visionbot/internal/slackemu"
)

// refuseFirst fails its first call as a refused connection would: the
// request never left the machine.
type refuseFirst struct {
	next    http.RoundTripper
	refused bool
}

func (r *refuseFirst) RoundTrip(req *http.Request) (*http.Response, error) {
	if !r.refused {
		r.refused = true
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	}
	return r.next.RoundTrip(req)
}

// A Slack call that failed on Slack's side is made again only when doing it
// twice is harmless: reads, reactions and edits on a 5xx, anything whose
// connection was refused; never a post or a stream append whose fate is
// unknown, so that no answer shows twice.
func TestSlackCallsRetriedOnlyWhenSafe(t *testing.T) {
	t.Parallel()

	const channel = "C1"
	tests := []struct {
		name    string
		method  string
		fault   func(emu *slackemu.Server)
		refuse  bool
		call    func(ctx context.Context, c *slack.Client, ts string) error
		wantErr bool
		calls   int // how many times Slack saw the method
		posted  int // messages in the channel afterwards (-1: not checked)
	}{
		{
			name: "a read after a 503 is retried", method: "conversations.replies",
			fault: func(emu *slackemu.Server) { emu.Fail("conversations.replies", 1, 503, nil, "busy") },
			call: func(ctx context.Context, c *slack.Client, ts string) error {
				_, _, _, err := c.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{ChannelID: channel, Timestamp: ts})
				return err
			},
			calls: 2, posted: -1,
		},
		{
			name: "an edit after a 500 is retried", method: "chat.update",
			fault: func(emu *slackemu.Server) { emu.FailAfterApplying("chat.update", 1, 500, "oops") },
			call: func(ctx context.Context, c *slack.Client, ts string) error {
				_, _, _, err := c.UpdateMessageContext(ctx, channel, ts, slack.MsgOptionText("edited", false))
				return err
			},
			calls: 2, posted: -1,
		},
		{
			name: "a reaction gives up after three 503s", method: "reactions.add",
			fault: func(emu *slackemu.Server) { emu.Fail("reactions.add", 3, 503, nil, "busy") },
			call: func(ctx context.Context, c *slack.Client, ts string) error {
				return c.AddReactionContext(ctx, "eyes", slack.NewRefToMessage(channel, ts))
			},
			wantErr: true, calls: 3, posted: -1,
		},
		{
			name: "a post Slack applied but answered 500 is not sent again", method: "chat.postMessage",
			fault: func(emu *slackemu.Server) { emu.FailAfterApplying("chat.postMessage", 1, 500, "oops") },
			call: func(ctx context.Context, c *slack.Client, ts string) error {
				_, _, err := c.PostMessageContext(ctx, channel, slack.MsgOptionText("the answer", false), slack.MsgOptionTS(ts))
				return err
			},
			wantErr: true, calls: 1, posted: 2, // the first answer and this one
		},
		{
			name: "a stream append after a 502 is not sent again", method: "chat.appendStream",
			fault: func(emu *slackemu.Server) { emu.Fail("chat.appendStream", 1, 502, nil, "bad gateway") },
			call: func(ctx context.Context, c *slack.Client, ts string) error {
				_, _, err := c.AppendStreamContext(ctx, channel, ts, slack.MsgOptionMarkdownText("more"))
				return err
			},
			wantErr: true, calls: 1, posted: -1,
		},
		{
			name: "a post Slack rate-limited is sent again after Retry-After", method: "chat.postMessage",
			fault: func(emu *slackemu.Server) {
				emu.Fail("chat.postMessage", 1, 429, http.Header{"Retry-After": {"1"}}, `{"ok":false,"error":"ratelimited"}`)
			},
			call: func(ctx context.Context, c *slack.Client, ts string) error {
				_, _, err := c.PostMessageContext(ctx, channel, slack.MsgOptionText("the answer", false), slack.MsgOptionTS(ts))
				return err
			},
			calls: 2, posted: 2,
		},
		{
			name: "a Retry-After longer than the bot waits reaches the caller", method: "conversations.replies",
			fault: func(emu *slackemu.Server) {
				emu.Fail("conversations.replies", 1, 429, http.Header{"Retry-After": {"60"}}, `{"ok":false,"error":"ratelimited"}`)
			},
			call: func(ctx context.Context, c *slack.Client, ts string) error {
				_, _, _, err := c.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{ChannelID: channel, Timestamp: ts})
				// What this test wants is Slack's rate limit, seen by the caller.
				if limited := (*slack.RateLimitedError)(nil); errors.As(err, &limited) {
					return nil
				}
				return fmt.Errorf("want the caller to see Slack's rate limit, got %v", err)
			},
			calls: 1, posted: -1,
		},
		{
			name: "a post whose connection was refused is sent again", method: "chat.postMessage",
			refuse: true,
			call: func(ctx context.Context, c *slack.Client, ts string) error {
				_, _, err := c.PostMessageContext(ctx, channel, slack.MsgOptionText("the answer", false), slack.MsgOptionTS(ts))
				return err
			},
			calls: 1, posted: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			emu := slackemu.New()
			t.Cleanup(emu.Close)
			emu.SetBotToken(apiTestToken)
			// A message of the bot's own, so that it may edit it.
			_, root, err := slack.New(apiTestToken, slack.OptionAPIURL(emu.APIURL())).
				PostMessage(channel, slack.MsgOptionText("a first answer", false))
			if err != nil {
				t.Fatal(err)
			}
			before := len(emu.Calls(tt.method))
			if tt.fault != nil {
				tt.fault(emu)
			}
			var next http.RoundTripper = http.DefaultTransport
			if tt.refuse {
				next = &refuseFirst{next: next}
			}
			client := slack.New(apiTestToken, slack.OptionAPIURL(emu.APIURL()),
				slack.OptionHTTPClient(&http.Client{Transport: next, Timeout: 10 * time.Second}),
				slack.OptionRetryConfig(slackRetries([]time.Duration{time.Millisecond, time.Millisecond}, 2*time.Second)))

			err = tt.call(context.Background(), client, root)

			if (err != nil) != tt.wantErr {
				t.Errorf("err = %v, want an error: %v", err, tt.wantErr)
			}
			if n := len(emu.Calls(tt.method)) - before; n != tt.calls {
				t.Errorf("Slack saw %d %s calls, want %d", n, tt.method, tt.calls)
			}
			if tt.posted >= 0 {
				if n := len(emu.Posted(channel)); n != tt.posted {
					t.Errorf("channel holds %d messages, want %d", n, tt.posted)
				}
			}
		})
	}
}
