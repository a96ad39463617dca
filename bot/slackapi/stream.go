package slackapi

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/visionbot/visionbot/bot/blocks"
	"github.com/visionbot/visionbot/handlers"
	"github.com/visionbot/visionbot/internal/settings"
	"github.com/visionbot/visionbot/internal/slackmd"
)

// StreamMode says how an answer reaches Slack while the model writes it.
type StreamMode string

const (
	// StreamNative uses Slack's chat.startStream / appendStream / stopStream.
	StreamNative StreamMode = "native"
	// StreamUpdate posts a placeholder and edits it with chat.update.
	StreamUpdate StreamMode = "update"
	// StreamOff posts the whole answer when it is complete.
	StreamOff StreamMode = "off"
)

// StreamConfig tunes how answers reach Slack. Its settings carry their
// names in the environment and their defaults in their tags (cmd/visionbot
// reads them); start from DefaultStreamConfig.
type StreamConfig struct {
	Mode StreamMode `env:"STREAM_MODE" envDefault:"native"`
	// MaxParts is the most messages one answer fills in its thread: the
	// rest is cut, and a note under the last says so. An answer of
	// hundreds of kilobytes would otherwise bury its thread under dozens
	// of messages.
	MaxParts int `env:"MAX_ANSWER_PARTS" envDefault:"3"`
	// Interval is the least time between two appends (or two updates) of
	// one answer: Slack's tiers allow chat.appendStream about 100 calls a
	// minute and chat.update about 50.
	Interval time.Duration `env:"STREAM_INTERVAL" envDefault:"1s"`
	// MaxAge is how long a native stream is fed before it is stopped and
	// continued with updates: Slack ends a stream after about five minutes.
	// Slack's limit, not a setting: DefaultStreamConfig holds it.
	MaxAge time.Duration
}

// DefaultStreamConfig is how answers are streamed unless configured
// otherwise: the settings' defaults from their tags, and Slack's limit.
func DefaultStreamConfig() StreamConfig {
	c := settings.Defaults[StreamConfig]()
	c.MaxAge = 4 * time.Minute
	return c
}

// Problems says, variable by variable, what is out of range.
func (c StreamConfig) Problems() []string {
	var p []string
	if c.Interval < 200*time.Millisecond {
		p = append(p, "STREAM_INTERVAL must be at least 200ms: Slack rate-limits message updates")
	}
	if c.MaxParts < 1 {
		p = append(p, fmt.Sprintf("MAX_ANSWER_PARTS must be at least 1 (it is %d): it is how many thread messages one answer may fill before it is cut with a note; unset, it is %d",
			c.MaxParts, DefaultStreamConfig().MaxParts))
	}
	return p
}

// UnmarshalText reads STREAM_MODE.
func (m *StreamMode) UnmarshalText(text []byte) error {
	switch mode := StreamMode(text); mode {
	case StreamNative, StreamUpdate, StreamOff:
		*m = mode
		return nil
	}
	return fmt.Errorf("%q is not native (Slack's streaming), update (edit a message as the answer grows) or off (post the whole answer)", text)
}

// liveCallTimeout bounds each call that shows an answer while it is being
// written: Finish and Fail wait for the one under way, within
// handlers.FinishTimeout, before they make the final ones.
const liveCallTimeout = 5 * time.Second

// placeholder is what an answer shows in update mode until the model's
// first words arrive.
const placeholder = "_Looking at your photo…_"

// cutNote is the message under an answer cut at MaxParts messages;
// cutNoteFor words it when the answer's code went into files.
const (
	cutLead = "_The answer was longer than this thread takes, so it stops here."
	cutNote = cutLead + " Ask for a shorter answer, or for one part at a time._"
)

// streamMargin is how much of Slack's limit a streamed answer leaves
// unused: slackmd.Split may cut the final first part short of the limit,
// and text shown beyond that cut would have to be taken back.
const streamMargin = 1000

// OpenReply starts an answer in a thread. Except when streaming is off, one
// goroutine makes every Slack call of the answer until Finish or Fail, so
// Append never waits for Slack and the calls for one message never overlap.
//
// A request of the shared queue writes within its lease, records
// the message it opens for a run that may take it over, and takes over
// the message an earlier run of it left: a stream still open is stopped,
// and the message edited into this run's answer instead of a second one.
func (w *Writer) OpenReply(ctx context.Context, to handlers.Thread) handlers.Reply {
	r := w.newReply(to)
	if r.cfg.Mode == StreamOff {
		close(r.done)
		return r
	}
	go r.run(ctx)
	return r
}

func (w *Writer) newReply(to handlers.Thread) *reply {
	a := w.api
	r := &reply{
		api:  a,
		w:    w,
		to:   to,
		cfg:  a.stream,
		wake: make(chan struct{}, 1),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	r.limit = max(a.replyLimit-streamMargin, a.replyLimit/2)
	return r
}

// reply is one answer being written into a thread.
type reply struct {
	api   *API
	to    handlers.Thread
	cfg   StreamConfig
	limit int // bytes shown while streaming; the rest waits for Finish
	// w writes for the request, within its lease.
	w *Writer

	wake chan struct{} // capacity 1: Append's nudge never blocks
	stop chan struct{} // closed by the first Finish or Fail
	done chan struct{} // closed once the goroutine has made its last call

	mu    sync.Mutex
	text  strings.Builder // everything appended
	ended bool
	// preview is what visible showed last; for good once previewDone.
	preview     string
	previewDone bool

	// msg belongs to the goroutine until done is closed, then to Finish or
	// Fail, and so does placeholderID, the block id of the placeholder
	// when one was posted.
	msg           replyMessage
	placeholderID string
	// looked is whether the thread was read for an earlier run's answer
	// (answeredBefore), which is done once.
	looked bool
}

// phase is where an answer's message stands. The goroutine opens it and
// moves it on while the model writes; Finish and Fail end it from
// whichever phase it reached.
type phase int

const (
	// unopened: nothing is in the thread, because the answer ended before
	// it could open, or neither a stream nor a placeholder could be
	// started within Slack's tiers. Finish posts the answer.
	unopened phase = iota
	// lost: posting the placeholder failed in a way that leaves unknown
	// whether Slack posted it (a 5xx, a lost response). Finish looks for
	// it in the thread by its block id, to replace it.
	lost
	// streaming: a native stream is open, fed with chat.appendStream.
	streaming
	// editing: a message of the bot's (a placeholder, or a stream that
	// was stopped) is edited with chat.update as the answer grows.
	editing
	// frozen: Slack refused a live edit for good (the message was deleted,
	// say). No more live edits; Finish tries the final one, and posts if
	// that fails too.
	frozen
	// answered: an earlier run of the request wrote its whole answer
	// into the thread (answeredBefore). Nothing is written: the request
	// is done.
	answered
)

// replyMessage is the Slack message an answer is written into.
type replyMessage struct {
	phase phase
	ts    string
	// shown is the text the message shows, without the footer. A stream's
	// is always a prefix of what was appended.
	shown string
	// streamOpen is whether a stream the bot started may still be open:
	// it outlives the streaming phase when stopping it failed, and is
	// stopped again at the end.
	streamOpen bool
	started    time.Time // when the stream was started
	next       time.Time // no flush before this
	// finalBooked is when a placeholder booked its final edit in the
	// tier; zero when none did.
	finalBooked time.Time
}

// later is the reserve a live append or edit leaves in its tier: none for
// the answer's first words, reserve for the ones after.
func (r *reply) later(reserve int) int {
	if r.msg.shown == "" {
		return 0
	}
	return reserve
}

func (r *reply) Append(text string) {
	if text == "" || r.cfg.Mode == StreamOff {
		return
	}
	r.mu.Lock()
	if !r.ended {
		r.text.WriteString(text)
	}
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Finish makes the thread show the whole answer, on a context of its own
// (see handlers.FinishTimeout). When the answer is longer than MaxParts messages,
// snippets go into the thread as files between its parts and the note:
// they hold what was cut. An answer the thread takes whole shares none,
// since its code is all there already, and each file would cost Slack
// calls and stay in the workspace for nothing.
func (r *reply) Finish(ctx context.Context, markdown string, footer *handlers.Footer, snippets ...handlers.Snippet) (err error) {
	ctx, c, done, err := r.ending(ctx)
	if done == nil {
		return err
	}
	defer done(&err)
	most := max(r.cfg.MaxParts, 1)
	// One part more than the thread takes tells that the answer is cut.
	parts := slackmd.Split(markdown, r.api.replyLimit, most+1)
	if len(parts) <= most {
		return r.complete(ctx, c, parts, footer)
	}
	// While the answer streamed, no more than its first part was shown
	// (see limit), so every mode cuts it here alike: its first parts, then
	// the note, with the footer under it as the thread's last message.
	if err := r.complete(ctx, c, parts[:most], nil); err != nil {
		return err
	}
	shared, shareErr := r.api.shareSnippets(ctx, c, r.to, snippets)
	if err := r.post(ctx, c, []string{cutNoteFor(shared)}, footer); err != nil {
		return err
	}
	if shareErr != nil {
		return &handlers.SnippetsNotShared{Err: shareErr}
	}
	return nil
}

// Fail is Finish with the notice as the answer: whatever was shown that the
// notice does not start with is replaced.
func (r *reply) Fail(ctx context.Context, notice string) (err error) {
	ctx, c, done, err := r.ending(ctx)
	if done == nil {
		return err
	}
	defer done(&err)
	return r.complete(ctx, c, slackmd.Split(notice, r.api.replyLimit, slackmd.AllParts), nil)
}

// Stopped ends an answer its person stopped with Slack's Stop button. Slack
// has stopped the answer's stream itself: it is not written to again, and
// note follows it in the thread. A message being edited keeps what it
// shows, with note under it; with nothing shown yet, note replaces the
// placeholder or is posted.
func (r *reply) Stopped(ctx context.Context, note string) (err error) {
	ctx, c, done, err := r.ending(ctx)
	if done == nil {
		return err
	}
	defer done(&err)
	m := &r.msg
	if m.phase == lost {
		r.findPlaceholder(ctx)
	}
	switch m.phase {
	case streaming:
		m.streamOpen = false
		return r.post(ctx, c, []string{note}, nil)
	case editing, frozen:
		if m.streamOpen {
			_ = r.stopStream(ctx, c)
		}
		text := note
		if m.shown != "" {
			text = m.shown + "\n\n" + note
		}
		return r.replace(ctx, c, slackmd.Split(text, r.api.replyLimit, slackmd.AllParts), nil)
	}
	return r.post(ctx, c, []string{note}, nil)
}

// ending starts the one ending of the reply (Finish, Fail or Stopped): on a
// context of its own (see handlers.FinishTimeout), once the writer's last call is
// done, and fenced by the request's lease. done releases
// them and puts, in front of the ending's error, why the lease was lost
// if it was; it is nil when there is nothing to write: another ending ran,
// or an earlier run of the request answered it (err nil), or the lease or
// the wait failed (err says which).
func (r *reply) ending(ctx context.Context) (_ context.Context, _ *slack.Client, done func(err *error), err error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), handlers.FinishTimeout)
	if ok, err := r.end(ctx); !ok {
		cancel()
		return nil, nil, nil, err
	}
	if r.answeredBefore(ctx) {
		cancel()
		return nil, nil, nil, nil
	}
	ctx, c, release, err := r.w.final(ctx)
	if err != nil {
		cancel()
		return nil, nil, nil, err
	}
	return ctx, c, func(err *error) { *err = r.w.lease.Cause(*err); release(); cancel() }, nil
}

// end stops the goroutine and waits for the call it may be making. It
// reports false when the reply had already ended.
func (r *reply) end(ctx context.Context) (bool, error) {
	r.mu.Lock()
	ended := r.ended
	r.ended = true
	r.mu.Unlock()
	if ended {
		return false, nil
	}
	close(r.stop)
	select {
	case <-r.done:
		return true, nil
	case <-ctx.Done():
		return false, fmt.Errorf("wait for the reply's last call: %w", ctx.Err())
	}
}

// run opens the message, then flushes appended text: the first as soon as
// it comes, then at most once per interval.
//
// ctx ends the loop, never a call under way: a call the job's end cut off
// in flight could still reach Slack after the final one, and show the
// answer's first words over its notice. Each call has its own deadline,
// well within what Finish and Fail wait for the goroutine.
func (r *reply) run(ctx context.Context) {
	defer close(r.done)
	if r.stopped(ctx) {
		return // ended before anything could be shown: Finish posts
	}
	live := context.WithoutCancel(ctx)
	call := func(do func(context.Context, *slack.Client)) {
		callCtx, cancel := context.WithTimeout(live, liveCallTimeout)
		defer cancel()
		callCtx, c, release := r.w.write(callCtx)
		defer release()
		do(callCtx, c)
	}
	call(r.open)

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	// Without a message, or with one Slack refuses to edit, nothing is left
	// to do before Finish.
	for (r.msg.phase == streaming || r.msg.phase == editing) && !r.stopped(ctx) {
		var tick <-chan time.Time
		if r.pending() {
			wait := r.msg.next.Sub(r.api.now())
			if wait <= 0 {
				call(r.flush)
				continue
			}
			timer.Reset(wait)
			tick = timer.C
		}
		select {
		case <-r.stop:
			return
		case <-ctx.Done():
			return
		case <-r.wake:
		case <-tick:
			// Trust the timer over the clock, which a test may have frozen.
			call(r.flush)
		}
		timer.Stop()
	}
}

// stopped reports whether the goroutine must leave the message to Finish
// or Fail.
func (r *reply) stopped(ctx context.Context) bool {
	select {
	case <-r.stop:
		return true
	case <-ctx.Done():
		return true
	default:
		return false
	}
}

// visible is the text that may be shown before Finish: at most limit
// bytes, cut where the safety scanner allows (slackmd.Preview), and never
// less than it was, as what was shown can't be taken back (a text that
// fitted the limit was all shown; once longer, a token it ended with may
// be read again undecided). Once no more text can move the cut, it is
// kept rather than read again.
func (r *reply) visible() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.previewDone {
		return r.preview
	}
	shown, settled := slackmd.Preview(r.text.String(), r.limit)
	if len(shown) > len(r.preview) {
		r.preview = shown
	}
	r.previewDone = settled
	return r.preview
}

func (r *reply) pending() bool {
	return len(r.visible()) > len(r.msg.shown)
}

// open starts the message: the one an earlier run of the request left, a
// native stream, or else a placeholder to edit. When both fail there is no
// message and Finish posts the answer.
func (r *reply) open(ctx context.Context, c *slack.Client) {
	if r.answeredBefore(ctx) || r.takeOver(ctx, c) {
		return
	}
	dm := strings.HasPrefix(r.to.Channel, "D")
	// Without its recipient, a stream in a channel vanishes when it stops.
	canStream := dm || (r.to.User != "" && r.to.Team != "")
	// A stream needs its start and its stop within Slack's Tier 2; without
	// room for both it is not started.
	if r.cfg.Mode == StreamNative && canStream && r.api.tiers.take(ctx, 0, "chat.startStream", "chat.stopStream") {
		opts := []slack.MsgOption{slack.MsgOptionTS(r.to.TS)}
		if !dm {
			opts = append(opts, slack.MsgOptionRecipientUserID(r.to.User), slack.MsgOptionRecipientTeamID(r.to.Team))
		}
		started := r.api.now()
		if _, ts, err := c.StartStreamContext(ctx, r.to.Channel, opts...); err == nil {
			r.msg = replyMessage{phase: streaming, ts: ts, streamOpen: true, started: started}
			r.w.record(ctx, r.shown(true))
			return
		}
	}
	// A placeholder must be edited into the answer at the end: it books
	// that edit now. When the minute has no room for it, the answer is
	// posted whole at the end instead.
	booked := r.api.now()
	if !r.api.tiers.take(ctx, 0, "chat.update") {
		return
	}
	// The placeholder's block id is this reply's own, so that a
	// placeholder whose post seemed to fail can be told from another
	// answer's in the same thread.
	r.placeholderID = "vb-wait|" + rand.Text()
	// Recorded before it is posted: a run that takes the request over
	// after a crash in the post looks for it by its block id.
	r.w.record(ctx, r.shown(false))
	_, ts, err := c.PostMessageContext(ctx, r.to.Channel,
		slack.MsgOptionTS(r.to.TS), unfurlsOff(),
		slack.MsgOptionText(slackmd.Notification(placeholder), false),
		slack.MsgOptionBlocks(slack.NewMarkdownBlock(r.placeholderID, placeholder)))
	switch {
	case err == nil:
		r.msg = replyMessage{phase: editing, ts: ts, finalBooked: booked}
		r.w.record(ctx, r.shown(false))
	case slackErrorCode(err) == "":
		// A 5xx or a lost response: the placeholder may be in the thread
		// with a ts this reply never learnt. Finish looks for it.
		r.msg.phase = lost
	}
}

// answeredBefore reports whether an earlier run of the request wrote its
// whole answer into the thread already: a replica that crashed between
// its final write and the queue's acknowledgement, or whose
// acknowledgement was lost, leaves a request that another one takes over
// with its answer given. The answer's footer names its request
// (blocks.RequestOf). Only a run that may follow another one looks, once,
// from the message the earlier run opened when it recorded one; when the
// thread can't be read, the answer is written.
func (r *reply) answeredBefore(ctx context.Context) bool {
	if r.looked {
		return r.msg.phase == answered
	}
	r.looked = true
	id, again := r.w.lease.Request()
	if !again || id == "" || r.to.TS == "" {
		return false
	}
	params := &slack.GetConversationRepliesParameters{ChannelID: r.to.Channel, Timestamp: r.to.TS, Limit: 200}
	if left := r.w.peekLeft(r.to.Channel, r.to.TS); left != nil && left.TS != "" {
		params.Oldest, params.Inclusive = left.TS, true
	}
	for range maxAnswerPages {
		msgs, more, cursor, err := r.api.read.GetConversationRepliesContext(ctx, params)
		if err != nil {
			return false
		}
		for _, m := range msgs {
			if blocks.RequestOf(m.Blocks) == id {
				r.msg.phase = answered
				return true
			}
		}
		if !more || cursor == "" {
			return false
		}
		params.Cursor = cursor
	}
	return false
}

// maxAnswerPages bounds the reads of a thread for an earlier run's answer:
// a thousand messages, where the answer of a request whose earlier run
// recorded nothing is among the newest.
const maxAnswerPages = 5

// shown is what the reply shows, for the lease's record.
func (r *reply) shown(stream bool) shownMessage {
	return shownMessage{Channel: r.to.Channel, Thread: r.to.TS, TS: r.msg.ts, Stream: stream, Block: r.placeholderID}
}

// takeOver makes the reply's message the one an earlier run of its
// request left in the thread, if any: a stream it left open is stopped
// (a stopped stream is an ordinary message of the bot, which chat.update
// edits), and a placeholder whose post seemed to fail is looked for at
// the end by its block id. It reports whether there was one.
func (r *reply) takeOver(ctx context.Context, c *slack.Client) bool {
	left := r.w.takeLeft(r.to.Channel, r.to.TS)
	if left == nil {
		return false
	}
	r.placeholderID = left.Block
	if left.TS == "" {
		r.msg.phase = lost
		return true
	}
	r.msg = replyMessage{phase: editing, ts: left.TS, streamOpen: left.Stream}
	if left.Stream {
		_ = r.stopStream(ctx, c)
	}
	r.w.record(ctx, r.shown(false))
	return true
}

// flush shows what was appended since the last flush.
func (r *reply) flush(ctx context.Context, c *slack.Client) {
	text := r.visible()
	now := r.api.now()
	if r.msg.phase == streaming && now.Sub(r.msg.started) >= r.cfg.MaxAge {
		r.toUpdate(ctx, c)
	}
	switch r.msg.phase {
	case streaming:
		if !r.api.tiers.take(ctx, r.later(laterAppendReserve), "chat.appendStream") {
			r.msg.next = now.Add(r.cfg.Interval) // coalesced into a later append
			return
		}
		_, _, err := c.AppendStreamContext(ctx, r.to.Channel, r.msg.ts,
			slack.MsgOptionMarkdownText(text[len(r.msg.shown):]))
		var limited *slack.RateLimitedError
		switch {
		case err == nil:
			r.msg.shown = text
			r.msg.next = now.Add(r.cfg.Interval)
		case errors.As(err, &limited):
			r.msg.next = now.Add(max(limited.RetryAfter, r.cfg.Interval))
		default:
			// Whether the text got in is unknown: an edit shows it all.
			r.toUpdate(ctx, c)
			r.edit(ctx, c, text, now)
		}
	case editing:
		r.edit(ctx, c, text, now)
	}
}

// toUpdate ends the stream and carries on with chat.update on the same
// message: a stopped stream is an ordinary message of the bot.
func (r *reply) toUpdate(ctx context.Context, c *slack.Client) {
	_ = r.stopStream(ctx, c)
	r.msg.phase = editing
	r.msg.shown = ""
}

// edit shows text in the message while the answer is being written.
func (r *reply) edit(ctx context.Context, c *slack.Client, text string, now time.Time) {
	if !r.api.tiers.take(ctx, r.later(laterEditReserve), "chat.update") {
		r.msg.next = now.Add(r.cfg.Interval) // coalesced into a later edit
		return
	}
	_, _, _, err := c.UpdateMessageContext(ctx, r.to.Channel, r.msg.ts, markdownMessage(text, nil, "")...)
	var limited *slack.RateLimitedError
	switch {
	case err == nil:
		r.msg.shown = text
		r.msg.next = now.Add(r.cfg.Interval)
	case errors.As(err, &limited):
		r.msg.next = now.Add(max(limited.RetryAfter, r.cfg.Interval))
	case slackErrorCode(err) != "":
		r.msg.phase = frozen
	default:
		r.msg.next = now.Add(r.cfg.Interval)
	}
}

func (r *reply) stopStream(ctx context.Context, c *slack.Client, opts ...slack.MsgOption) error {
	_, _, err := c.StopStreamContext(ctx, r.to.Channel, r.msg.ts, opts...)
	if err == nil || slackErrorCode(err) == "message_not_in_streaming_state" {
		r.msg.streamOpen = false
	}
	return wrapSlackError("chat.stopStream", err)
}

// complete makes the thread show exactly parts, the footer under the last.
func (r *reply) complete(ctx context.Context, c *slack.Client, parts []string, footer *handlers.Footer) error {
	m := &r.msg
	if m.phase == unopened {
		// No message of its own (streaming off, or none could be opened):
		// one an earlier run left still takes the answer.
		r.takeOver(ctx, c)
	}
	if m.phase == streaming && strings.HasPrefix(parts[0], m.shown) {
		var opts []slack.MsgOption
		if rest := parts[0][len(m.shown):]; rest != "" {
			opts = append(opts, slack.MsgOptionMarkdownText(rest))
		}
		if len(parts) == 1 && footer != nil {
			opts = append(opts, slack.MsgOptionBlocks(blocks.Footer(footer, r.w.request())...))
		}
		if r.stopStream(ctx, c, opts...) == nil {
			return r.post(ctx, c, parts[1:], footer)
		}
	}
	if m.streamOpen {
		_ = r.stopStream(ctx, c)
	}
	if m.phase == lost {
		r.findPlaceholder(ctx)
	}
	switch m.phase {
	case unopened, lost:
		return r.post(ctx, c, parts, footer)
	}
	return r.replace(ctx, c, parts, footer)
}

// findPlaceholder looks in the thread for this reply's placeholder, which
// Slack may have posted although its post seemed to fail, so that the
// answer replaces it rather than leaving "Looking at your photo…" above it
// for good. The placeholder is known by its block id.
func (r *reply) findPlaceholder(ctx context.Context) {
	msgs, _, _, err := r.api.read.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{
		ChannelID: r.to.Channel, Timestamp: r.to.TS, Limit: 200,
	})
	if err != nil {
		return // the answer is posted; at worst the placeholder stays
	}
	for _, m := range slices.Backward(msgs) {
		for _, b := range m.Blocks.BlockSet {
			if b.ID() == r.placeholderID {
				r.msg = replyMessage{phase: editing, ts: m.Timestamp}
				return
			}
		}
	}
}

// replace edits the message to show the first part and posts the others.
// An edit can be repeated safely, so it also repairs a stream whose end is
// unknown; a post cannot, so one is made only once the edit surely failed.
func (r *reply) replace(ctx context.Context, c *slack.Client, parts []string, footer *handlers.Footer) error {
	var under *handlers.Footer
	if len(parts) == 1 {
		under = footer
	}
	if r.api.now().Sub(r.msg.finalBooked) >= time.Minute {
		// Not booked by a placeholder (a stream that turned into edits),
		// or booked in a window that has passed: counted now.
		r.api.tiers.force(ctx, "chat.update")
	}
	err := retryRateLimited(ctx, func() error {
		_, _, _, err := c.UpdateMessageContext(ctx, r.to.Channel, r.msg.ts, markdownMessage(parts[0], under, r.w.request())...)
		return err
	})
	if err == nil {
		return r.post(ctx, c, parts[1:], footer)
	}
	if slackErrorCode(err) != "" {
		return r.post(ctx, c, parts, footer)
	}
	return wrapSlackError("chat.update", err)
}

// post posts parts in the thread, the footer under the last.
func (r *reply) post(ctx context.Context, c *slack.Client, parts []string, footer *handlers.Footer) error {
	for i, part := range parts {
		var under *handlers.Footer
		if i == len(parts)-1 {
			under = footer
		}
		err := retryRateLimited(ctx, func() error {
			_, _, err := c.PostMessageContext(ctx, r.to.Channel,
				append([]slack.MsgOption{slack.MsgOptionTS(r.to.TS), unfurlsOff()}, markdownMessage(part, under, r.w.request())...)...)
			return err
		})
		if err != nil {
			return wrapSlackError("chat.postMessage", err)
		}
	}
	return nil
}

// markdownMessage is the content of a message showing markdown, with the
// footer of request's answer under it.
func markdownMessage(markdown string, footer *handlers.Footer, request string) []slack.MsgOption {
	set := append([]slack.Block{slack.NewMarkdownBlock("", markdown)}, blocks.Footer(footer, request)...)
	return []slack.MsgOption{
		slack.MsgOptionText(slackmd.Notification(markdown), false),
		slack.MsgOptionBlocks(set...),
	}
}

// retryRateLimited makes call again once Slack's requested wait has passed:
// a rate-limited call was not made, and the final text must get through.
// The bot's transport (RetrySlack) already waits out a Retry-After of up to
// 10 s; what reaches this is a longer one, which only the final text is
// worth waiting for.
func retryRateLimited(ctx context.Context, call func() error) error {
	err := call()
	var limited *slack.RateLimitedError
	if !errors.As(err, &limited) {
		return err
	}
	t := time.NewTimer(limited.RetryAfter)
	defer t.Stop()
	select {
	case <-t.C:
		return call()
	case <-ctx.Done():
		return err
	}
}
