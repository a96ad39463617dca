// Package slackapi is visionbot's Web API adapter: the one importer of
// slack-go's Web API client. It plays the roles the flows declare
// (handlers.Slack): reads on the API itself, and every write on the
// Writer of one request, through the request's Lease. It also holds the
// reply writer (stream.go), downloads with the bot token, snippets, and
// what every call shares: Slack's rate tiers, retries, error codes.
package slackapi

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/visionbot/visionbot/bot/blocks"
	"github.com/visionbot/visionbot/handlers"
	"github.com/visionbot/visionbot/internal/failure"
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
		tiers: newTiers(slackTiers(), time.Now), replyLimit: markdownBlockLimit, now: time.Now,
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
	if !a.tiers.take(0, "reactions.add", "reactions.remove") {
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
	if !a.takeRemoval(reactionKey(channel, ts, emoji)) && !a.tiers.take(0, "reactions.remove") {
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
	return w.lease.Cause(r.complete(ctx, client, splitMarkdown(markdown, w.api.replyLimit, allParts), nil))
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
		slack.MsgOptionText(notificationText(markdown), false),
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
	thread, err := a.Replies(ctx, channel, ts)
	if err != nil {
		return handlers.Message{}, err
	}
	for _, m := range thread {
		if m.TS == ts {
			return m, nil
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

// maxThreadPages bounds how much of a very long thread is read.
const maxThreadPages = 5

func (a *API) Replies(ctx context.Context, channel, threadTS string) ([]handlers.Message, error) {
	var out []handlers.Message
	cursor := ""
	for range maxThreadPages {
		msgs, hasMore, next, err := a.read.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{
			ChannelID: channel,
			Timestamp: threadTS,
			Cursor:    cursor,
			Limit:     200,
		})
		if err != nil {
			return nil, wrapSlackError("conversations.replies", err)
		}
		for _, m := range msgs {
			out = append(out, blocks.Message(channel, m.Msg))
		}
		if !hasMore || next == "" {
			break
		}
		cursor = next
	}
	return out, nil
}

func (a *API) FileInfo(ctx context.Context, fileID string) (handlers.File, error) {
	f, _, _, err := a.read.GetFileInfoContext(ctx, fileID, 0, 0)
	if err != nil {
		return handlers.File{}, wrapSlackError("files.info", err)
	}
	return blocks.File(*f), nil
}

func (a *API) Download(ctx context.Context, url string, maxBytes int64) ([]byte, error) {
	return a.files.Get(ctx, url, maxBytes)
}
