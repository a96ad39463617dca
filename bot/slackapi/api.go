// Package slackapi is visionbot's Web API adapter: the one importer of
// slack-go's Web API client. It plays the roles the flows declare
// (handlers.Slack): reads on the API itself, and every write on the
// Writer of one request, through the request's Lease. It also holds the
// reply writer (stream.go), downloads with the bot token, snippets, and
// what every call shares: Slack's rate tiers, retries, error codes.
package slackapi

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/visionbot/visionbot/bot/blocks"
	"github.com/visionbot/visionbot/handlers"
	"github.com/visionbot/visionbot/internal/failure"
	"github.com/visionbot/visionbot/internal/slackmd"
)

// API implements handlers.Slack on slack-go.
type API struct {
	read       reads
	web        webClient
	files      *Downloader
	hooks      *http.Client // response_url posts: no token is sent there
	stream     StreamConfig
	tiers      *tiers // the workspace's rate tiers, shared by every answer
	replyLimit int
	now        func() time.Time

	mu sync.Mutex
	// removals are the reactions whose removal was counted in the tiers
	// when they were added, by when.
	removals map[string]time.Time
}

// New wraps client. files downloads with the bot token; hooks posts to
// response URLs; stream says how answers reach Slack as they are written.
func New(client *slack.Client, files *Downloader, hooks *http.Client, stream StreamConfig) *API {
	return &API{
		read: client, web: webClient{client}, files: files, hooks: hooks, stream: stream,
		tiers: newTiers(slackTiers(), time.Now), replyLimit: slackmd.BlockLimit, now: time.Now,
		removals: map[string]time.Time{},
	}
}

// ShareTiers counts this replica's Slack calls with the other replicas'
// against Slack's rate tiers, which are the workspace's: through Redis,
// and, when Redis fails, within this replica's share.
func (a *API) ShareTiers(t SharedTiers) { a.tiers.shared = t }

// The API reads, and a Writer writes, in the roles the flows declare.
var (
	_ handlers.Reader  = (*API)(nil)
	_ handlers.Files   = (*API)(nil)
	_ handlers.Poster  = (*Writer)(nil)
	_ handlers.Reactor = (*Writer)(nil)
	_ handlers.Views   = (*Writer)(nil)
	_ handlers.Agent   = (*Writer)(nil)
)

// Slack is the flows' Slack for a request held by lease: reads of the API,
// writes through the lease.
func (a *API) Slack(lease Lease) handlers.Slack {
	w := a.For(lease)
	return handlers.Slack{Reader: a, Files: a, Poster: w, Reactor: w, Views: w, Agent: w, Directory: a}
}

// AddReaction shows progress. Under load, when the minute's reactions.add
// tier is spent, it is skipped with handlers.ErrNotShown: the answer
// matters more. Any reaction the bot adds may be taken off again, so each
// add also reserves that removal; the removal itself then records nothing.
// With two adds to each answer (:eyes:, then the outcome) and one removal,
// reactions.add stays the tighter bound, so the reservation costs no answer
// its reactions.
func (w *Writer) AddReaction(ctx context.Context, channel, ts, emoji string) error {
	ctx, client, release := w.write(ctx)
	defer release()
	a := w.api
	if !a.tiers.take(ctx, 0, "reactions.add", "reactions.remove") {
		return handlers.ErrNotShown
	}
	a.reserveRemoval(reactionKey(channel, ts, emoji))
	err := client.AddReactionContext(ctx, emoji, slack.NewRefToMessage(channel, ts))
	if slackErrorCode(err) == "already_reacted" {
		return nil
	}
	return wrapSlackError("reactions.add", err)
}

// RemoveReaction takes a reaction off. One the bot added within the minute
// was paid for when it was added; any other must find room in the tier, or
// is left (handlers.ErrNotShown).
func (w *Writer) RemoveReaction(ctx context.Context, channel, ts, emoji string) error {
	ctx, client, release := w.write(ctx)
	defer release()
	a := w.api
	if !a.takeRemoval(reactionKey(channel, ts, emoji)) && !a.tiers.take(ctx, 0, "reactions.remove") {
		return handlers.ErrNotShown
	}
	err := client.RemoveReactionContext(ctx, emoji, slack.NewRefToMessage(channel, ts))
	if slackErrorCode(err) == "no_reaction" {
		return nil
	}
	return wrapSlackError("reactions.remove", err)
}

func reactionKey(channel, ts, emoji string) string { return channel + "/" + ts + "/" + emoji }

// reserveRemoval remembers that key's removal was counted now. A
// reservation lasts as long as the tiers' window: older ones are
// forgotten, which keeps the map as small as a minute of adds.
func (a *API) reserveRemoval(key string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	for k, at := range a.removals {
		if now.Sub(at) >= time.Minute {
			delete(a.removals, k)
		}
	}
	a.removals[key] = now
}

// takeRemoval reports whether key's removal was reserved within the last
// minute, and uses the reservation up.
func (a *API) takeRemoval(key string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	at, ok := a.removals[key]
	delete(a.removals, key)
	return ok && a.now().Sub(at) < time.Minute
}

// unfurlsOff keeps Slack from fetching a message's links and previewing
// them under it. An answer's links are the model's: a preview would fetch
// whatever URL it wrote, from Slack's servers, and show the page it chose
// in the thread. Only chat.postMessage takes these arguments (chat.update
// and the streaming methods document none): every post of the bot sends
// them.
func unfurlsOff() slack.MsgOption {
	return slack.MsgOptionCompose(slack.MsgOptionDisableLinkUnfurl(), slack.MsgOptionDisableMediaUnfurl())
}

// PostReply posts markdown in the thread as markdown blocks, which Slack
// renders itself, in as many messages as its block limit needs. For a
// request of the shared queue it is a final write: fenced, and made over
// the message an earlier run of the request left in the thread, if any.
// It is the ending of a reply that never opened: complete posts the
// parts, each retried once past a long rate limit as an answer's are, or
// makes the message an earlier run left show them.
func (w *Writer) PostReply(ctx context.Context, channel, threadTS, markdown string) error {
	ctx, client, release, err := w.final(ctx)
	if err != nil {
		return err
	}
	defer release()
	r := w.newReply(handlers.Thread{Channel: channel, TS: threadTS})
	return w.lease.Cause(r.complete(ctx, client, slackmd.Split(markdown, w.api.replyLimit, slackmd.AllParts), nil))
}

// PostMessage posts markdown at the top of a channel.
func (w *Writer) PostMessage(ctx context.Context, channel, markdown string) (string, error) {
	ctx, client, release, err := w.final(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	_, ts, err := client.PostMessageContext(ctx, channel,
		unfurlsOff(),
		slack.MsgOptionText(slackmd.Notification(markdown), false),
		slack.MsgOptionBlocks(slack.NewMarkdownBlock("", markdown)),
	)
	if err != nil {
		return "", w.lease.Cause(wrapSlackError("chat.postMessage", err))
	}
	return ts, nil
}

// Message reads one message. conversations.replies answers for a
// top-level message (itself first) and for a reply (its thread, which is
// searched), so one method covers both.
func (a *API) Message(ctx context.Context, channel, ts string) (handlers.Message, error) {
	first, _, _, err := a.read.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{
		ChannelID: channel, Timestamp: ts, Limit: 1, Inclusive: true,
	})
	if err != nil {
		return handlers.Message{}, wrapSlackError("conversations.replies", err)
	}
	if len(first) > 0 && first[0].Timestamp == ts {
		return blocks.Message(channel, first[0].Msg), nil
	}
	// A reply: the thread's messages from ts to ts, the root perhaps
	// first, rather than the whole thread.
	around, _, _, err := a.read.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{
		ChannelID: channel, Timestamp: ts, Oldest: ts, Latest: ts, Inclusive: true, Limit: 2,
	})
	if err != nil {
		return handlers.Message{}, wrapSlackError("conversations.replies", err)
	}
	for _, m := range around {
		if m.Timestamp == ts {
			return blocks.Message(channel, m.Msg), nil
		}
	}
	return handlers.Message{}, failure.Errorf("find message "+ts, failure.FileUnavailable, "", nil)
}

// Respond posts an ephemeral answer to a response_url (of a command, a
// click, a form), which works even where the bot is not a channel member.
func (w *Writer) Respond(ctx context.Context, responseURL, text string) error {
	ctx, _, release, err := w.final(ctx)
	if err != nil {
		return err
	}
	defer release()
	return w.lease.Cause(w.api.respond(ctx, responseURL, &slack.WebhookMessage{ResponseType: slack.ResponseTypeEphemeral, Text: text}))
}

// TeamOf looks up the team a user belongs to with users.info: in Slack
// Connect, a person in the bot's channel may be of another team.
func (a *API) TeamOf(ctx context.Context, user string) (string, error) {
	u, err := a.read.GetUserInfoContext(ctx, user)
	if err != nil {
		return "", wrapSlackError("users.info", err)
	}
	return u.TeamID, nil
}

func (a *API) History(ctx context.Context, channel string, oldest time.Time, limit int) ([]handlers.Message, error) {
	resp, err := a.read.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{
		ChannelID: channel,
		Oldest:    strconv.FormatInt(oldest.Unix(), 10) + ".000000",
		Limit:     limit,
	})
	if err != nil {
		return nil, wrapSlackError("conversations.history", err)
	}
	out := make([]handlers.Message, 0, len(resp.Messages))
	for _, m := range resp.Messages {
		out = append(out, blocks.Message(channel, m.Msg))
	}
	return out, nil
}

// Replies returns a thread's root, then at most newest of the messages
// before the one at before ("" for now), oldest first: the part a
// follow-up can send, read without reading the whole thread.
//
// conversations.replies pages a thread forward only, oldest first, and
// only its first page carries the root; latest ends the range read,
// oldest starts it, each excluded unless inclusive (Slack's reference:
// conversations.replies). So the first page is the root and the oldest
// replies, which for most threads is all of them. Of a longer thread, the
// newest are found by the time they were posted: a read from a time
// between that page's last reply and before holds, when complete (no more
// pages), the newest replies; the time is halved towards before while the
// read holds too many, and moved back while it holds too few, until it
// holds between newest and twice as many. Each read asks for at most
// 2·newest+1 messages, and at most maxThreadProbes are made: should the
// search end first, the newest complete read found is kept, fewer messages
// but the newest.
func (a *API) Replies(ctx context.Context, channel, threadTS, before string, newest int) ([]handlers.Message, error) {
	newest = max(newest, 1)
	if before == "" {
		before = formatTS(a.now().UnixMicro() + 1)
	}
	read := func(oldest string, limit int) ([]slack.Message, bool, error) {
		msgs, more, _, err := a.read.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{
			ChannelID: channel, Timestamp: threadTS, Oldest: oldest, Latest: before, Limit: limit,
		})
		if err != nil {
			return nil, false, wrapSlackError("conversations.replies", err)
		}
		return msgs, more, nil
	}
	first, more, err := read("", newest+1)
	if err != nil {
		return nil, err
	}
	var root []slack.Message
	if len(first) > 0 && first[0].Timestamp == threadTS {
		root, first = []slack.Message{first[0]}, first[1:]
	}
	replies := first
	if more && len(first) > 0 {
		replies, err = newestReplies(first, newest, threadTS, before, read)
		if err != nil {
			return nil, err
		}
	}
	replies = replies[max(0, len(replies)-newest):]
	out := make([]handlers.Message, 0, len(root)+len(replies))
	for _, m := range append(root, replies...) {
		out = append(out, blocks.Message(channel, m.Msg))
	}
	return out, nil
}

// maxThreadProbes bounds the reads that look for a long thread's newest
// replies by time: a thread of a thousand messages posted evenly takes
// about eight, one whose root is a year older than its last day's talk
// about six; the worst, the newest few after a long silence that follows
// a busy stretch, near twenty.
const maxThreadProbes = 20

// newestReplies finds the newest replies before the end of read's range,
// of a thread longer than its first page (first: the oldest replies), by
// the search by time Replies describes.
func newestReplies(first []slack.Message, newest int, threadTS, before string,
	read func(oldest string, limit int) ([]slack.Message, bool, error)) ([]slack.Message, error) {
	limit := 2*newest + 1
	withoutRoot := func(msgs []slack.Message) []slack.Message {
		out := make([]slack.Message, 0, len(msgs))
		for _, m := range msgs {
			if m.Timestamp != threadTS { // a read may carry the root first
				out = append(out, m)
			}
		}
		return out
	}
	// A start known to read too many (low) and one known to read too few
	// (high): after the first page, and before itself.
	lo := first[len(first)-1].Timestamp
	msgs, more, err := read(lo, limit)
	if err != nil {
		return nil, err
	}
	if !more { // a little more than a page: all of it
		return append(first, withoutRoot(msgs)...), nil
	}
	low, high := parseTS(lo), parseTS(before)
	var best []slack.Message
	for probe := 0; probe < maxThreadProbes && high-low > 1; probe++ {
		mid := low + (high-low)/2
		msgs, more, err := read(formatTS(mid), limit)
		if err != nil {
			return nil, err
		}
		msgs = withoutRoot(msgs)
		switch {
		case more:
			low = mid // too many since mid: start later
		case len(msgs) >= newest:
			return msgs, nil
		default:
			best, high = msgs, mid // too few: start earlier
		}
	}
	return best, nil
}

// parseTS reads a Slack timestamp ("1700000000.000100") as microseconds.
func parseTS(ts string) int64 {
	sec, frac, _ := strings.Cut(ts, ".")
	s, _ := strconv.ParseInt(sec, 10, 64)
	frac = (frac + "000000")[:6]
	f, _ := strconv.ParseInt(frac, 10, 64)
	return s*1_000_000 + f
}

// formatTS writes microseconds as a Slack timestamp.
func formatTS(us int64) string { return fmt.Sprintf("%d.%06d", us/1_000_000, us%1_000_000) }

func (a *API) FileInfo(ctx context.Context, fileID string) (handlers.File, error) {
	f, _, _, err := a.read.GetFileInfoContext(ctx, fileID, 0, 0)
	if err != nil {
		return handlers.File{}, wrapSlackError("files.info "+fileID, err)
	}
	return blocks.File(*f), nil
}

func (a *API) Download(ctx context.Context, url string, maxBytes int64) ([]byte, error) {
	return a.files.Get(ctx, url, maxBytes)
}

// OpenDownload streams a Slack file URL, reading at most maxBytes, for a
// video or a PDF that goes on to its upload without being held whole;
// size is the original's size from its file object, 0 for one of Slack's
// copies (Downloader.Open).
func (a *API) OpenDownload(ctx context.Context, url string, size, maxBytes int64) (io.ReadCloser, error) {
	return a.files.Open(ctx, url, size, maxBytes)
}
