package slackapi

import (
	"context"
	"encoding/json"

	"github.com/slack-go/slack"
)

// Lease is what a request may write to Slack, and until when: the queue
// hands one to every request it runs (queue.Lease), and every write of
// the request goes through it. For a request of this process's own queue
// it bounds nothing; for one of the shared queue it is the replica's
// time-bounded right to write the request's answer, which ends before
// another replica may take the request over.
type Lease interface {
	// Bound is ctx for one write, cut when the lease ends (a write never
	// starts past it).
	Bound(ctx context.Context) (context.Context, context.CancelFunc)
	// Fenced is ctx for a write that ends the request (its final text, a
	// notice): it fails when the request is no longer this run's.
	Fenced(ctx context.Context) (context.Context, context.CancelFunc, error)
	// Cause is err led by why the lease ended, when it has.
	Cause(err error) error
	// Record keeps what the request's reply shows, for a run that takes
	// the request over; TakeLeft returns, once, what an earlier run
	// recorded, when match says it is this reply's.
	Record(ctx context.Context, shown []byte)
	TakeLeft(match func(shown []byte) bool) []byte
	// Request names the request the lease is for, which its answer's
	// footer carries (blocks.Footer), and says whether an earlier run of
	// it may have written that answer already (the request was taken
	// over, or handed back): "" and false for what no request of the
	// shared queue holds.
	Request() (id string, again bool)
}

// Writer is the API as one request may use it to write: every call that
// writes to Slack takes its client from the request's lease (write, or
// final for a write that ends the request), so a write that does not ask
// the lease has no client to call.
type Writer struct {
	api   *API
	lease Lease
}

// For is the API writing for a request held by lease.
func (a *API) For(lease Lease) *Writer { return &Writer{api: a, lease: lease} }

// write is ctx bounded by the lease, and the client to write with.
func (w *Writer) write(ctx context.Context) (context.Context, *slack.Client, context.CancelFunc) {
	ctx, release := w.lease.Bound(ctx)
	return ctx, w.api.web.client, release
}

// final is write for a write that ends the request: fenced by the lease.
func (w *Writer) final(ctx context.Context) (context.Context, *slack.Client, context.CancelFunc, error) {
	ctx, release, err := w.lease.Fenced(ctx)
	if err != nil {
		return ctx, nil, func() {}, err
	}
	return ctx, w.api.web.client, release, nil
}

// webClient holds the Web API client for writes: only a Writer's write
// and final read it.
type webClient struct{ client *slack.Client }

// reads are the Web API calls that write nothing, which need no lease.
type reads interface {
	GetConversationRepliesContext(ctx context.Context, params *slack.GetConversationRepliesParameters) ([]slack.Message, bool, string, error)
	GetConversationHistoryContext(ctx context.Context, params *slack.GetConversationHistoryParameters) (*slack.GetConversationHistoryResponse, error)
	GetFileInfoContext(ctx context.Context, fileID string, count, page int) (*slack.File, []slack.Comment, *slack.Paging, error)
	GetUserInfoContext(ctx context.Context, user string, options ...slack.GetUserInfoOption) (*slack.User, error)
	GetConversationInfoContext(ctx context.Context, input *slack.GetConversationInfoInput) (*slack.Channel, error)
}

// shownMessage is what a request's reply shows in Slack, recorded in the
// lease (the queue keeps it in Redis) so that a run that takes the
// request over replaces it, instead of leaving it beside a second answer.
type shownMessage struct {
	Channel string `json:"channel"`
	Thread  string `json:"thread"`
	// TS is the message; "" for a placeholder whose post may or may not
	// have reached Slack, to be found by its block id.
	TS string `json:"ts,omitempty"`
	// Stream is a native stream, which may still be open.
	Stream bool `json:"stream,omitempty"`
	// Block is a placeholder's block id.
	Block string `json:"block,omitempty"`
}

// record keeps m in the lease.
func (w *Writer) record(ctx context.Context, m shownMessage) {
	raw, err := json.Marshal(m)
	if err != nil {
		return // five strings and a bool always marshal
	}
	w.lease.Record(ctx, raw)
}

// takeLeft is what an earlier run of the request showed in the thread,
// once; nil when there is nothing to replace.
func (w *Writer) takeLeft(channel, thread string) *shownMessage {
	var left shownMessage
	raw := w.lease.TakeLeft(func(shown []byte) bool {
		return json.Unmarshal(shown, &left) == nil && left.Channel == channel && left.Thread == thread
	})
	if raw == nil {
		return nil
	}
	return &left
}

// peekLeft is takeLeft without taking: what an earlier run showed stays
// for the reply that takes it over.
func (w *Writer) peekLeft(channel, thread string) *shownMessage {
	var left *shownMessage
	w.lease.TakeLeft(func(shown []byte) bool {
		var m shownMessage
		if json.Unmarshal(shown, &m) == nil && m.Channel == channel && m.Thread == thread {
			left = &m
		}
		return false // taken by nobody
	})
	return left
}

// request is the id of the request the writer writes for, for its
// answer's footer; "" for none.
func (w *Writer) request() string {
	id, _ := w.lease.Request()
	return id
}

// Unleased is the lease of a request of this process's own queue, and of
// what no request holds (a refusal, a notice): it bounds nothing, and has
// nothing to record.
type Unleased struct{}

func (Unleased) Bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return ctx, func() {}
}

func (Unleased) Fenced(ctx context.Context) (context.Context, context.CancelFunc, error) {
	return ctx, func() {}, nil
}

func (Unleased) Cause(err error) error                   { return err }
func (Unleased) Record(context.Context, []byte)          {}
func (Unleased) TakeLeft(func(shown []byte) bool) []byte { return nil }
func (Unleased) Request() (string, bool)                 { return "", false }
