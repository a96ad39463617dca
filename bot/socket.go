package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"
	"go.uber.org/zap"

	"github.com/visionbot/visionbot/handlers"
)

// Flows are the handlers the loop dispatches to.
type Flows interface {
	Mention(ctx context.Context, m handlers.Message)
	DirectMessage(ctx context.Context, m handlers.Message)
	Slash(ctx context.Context, cmd handlers.SlashCommand)
	// Decline tells the sender of a message (in its thread), or of a
	// command, a click or a form (privately), that the bot turned their
	// request away, why, and when to ask again.
	Decline(ctx context.Context, m handlers.Message, why handlers.Refusal)
	DeclineSlash(ctx context.Context, cmd handlers.SlashCommand, why handlers.Refusal)
	DeclineSubmit(ctx context.Context, sub handlers.Submission, why handlers.Refusal)
	// Interrupted tells the sender of a message, or of a command or a
	// form, that their request ended without its answer: the bot is
	// stopping, or the job failed on a bug.
	Interrupted(ctx context.Context, m handlers.Message, why handlers.Interruption)
	InterruptedSlash(ctx context.Context, cmd handlers.SlashCommand, why handlers.Interruption)
	InterruptedSubmit(ctx context.Context, sub handlers.Submission, why handlers.Interruption)

	Shortcut(ctx context.Context, s handlers.Shortcut)
	Submit(ctx context.Context, sub handlers.Submission)
	Rerun(ctx context.Context, a handlers.Action)
	Feedback(ctx context.Context, v handlers.Vote)
	Reaction(ctx context.Context, rx handlers.Reaction)
	// Triggers says whether an emoji starts a request, so that other
	// reactions are not queued at all.
	Triggers(emoji string) bool
	HomeOpened(ctx context.Context, user string)
}

// Socket is the part of the Socket Mode client the loop uses.
type Socket interface {
	RunContext(ctx context.Context) error
	Ack(req socketmode.Request, payload ...any) error
}

// Identity is who the bot is, from auth.test: its own messages are ignored
// by these ids, not by a subtype that Slack does not always send.
type Identity struct {
	UserID string
	BotID  string
	TeamID string
}

// Config sizes the loop.
type Config struct {
	Workers    int           // jobs run at once
	Queue      int           // jobs waiting beyond those
	JobTimeout time.Duration // deadline of one job
	// ShutdownGrace is how long running jobs may finish after a stop: 0
	// for 30 s, negative for none (their users are told at once).
	ShutdownGrace time.Duration
	DedupeTTL     time.Duration // how long an event id is remembered
	// Store remembers seen events and counts the limits; nil for one in
	// this process's memory. Replicas share a RedisStore.
	Store    Store
	Observer Observer // what the loop reports for metrics; nil for none
	// Limits bound what a user, a channel and a thread may ask; the zero
	// value is none.
	Limits Limits
	// Access is who may use the bot; the zero value is everyone of the
	// bot's own team.
	Access Access
}

// Bot is the Socket Mode loop.
type Bot struct {
	socket Socket
	events <-chan socketmode.Event
	flows  Flows
	self   Identity
	log    *zap.Logger
	cfg    Config
	store  Store
	access access
	pool   *pool
	// connected follows the Socket Mode connection, for readiness checks.
	connected atomic.Bool
}

// New returns a Bot reading events from events (the Socket Mode client's
// Events channel).
func New(socket Socket, events <-chan socketmode.Event, flows Flows, self Identity, log *zap.Logger, cfg Config) *Bot {
	if cfg.Workers <= 0 {
		cfg.Workers = 16
	}
	if cfg.Queue < 0 {
		cfg.Queue = 0
	}
	if cfg.JobTimeout <= 0 {
		cfg.JobTimeout = 3 * time.Minute
	}
	switch {
	case cfg.ShutdownGrace == 0:
		cfg.ShutdownGrace = 30 * time.Second
	case cfg.ShutdownGrace < 0:
		cfg.ShutdownGrace = 0
	}
	if cfg.DedupeTTL <= 0 {
		cfg.DedupeTTL = 15 * time.Minute
	}
	if cfg.Store == nil {
		cfg.Store = newMemoryStore(0, time.Now)
	}
	if cfg.Limits.ThreadWindow <= 0 {
		cfg.Limits.ThreadWindow = 24 * time.Hour
	}
	return &Bot{
		socket: socket, events: events, flows: flows, self: self, log: log, cfg: cfg,
		store: cfg.Store, access: newAccess(cfg.Access),
		pool: newPool(cfg.Workers, cfg.Queue, log),
	}
}

// Ready reports whether the Socket Mode connection is up: without it no
// request can reach this replica.
func (b *Bot) Ready() bool { return b.connected.Load() }

// Jobs reports the requests being answered now and those waiting for a
// worker.
func (b *Bot) Jobs() (running, queued int) { return b.pool.load() }

// Run connects and serves until ctx ends, then lets running jobs finish
// within the shutdown grace. It returns the Socket Mode client's error if
// that gives up first.
func (b *Bot) Run(ctx context.Context) error {
	socketCtx, stopSocket := context.WithCancel(ctx)
	defer stopSocket()
	socketDone := make(chan error, 1)
	go func() { socketDone <- b.socket.RunContext(socketCtx) }()

	// Jobs outlive ctx by the grace period, so that a stop does not cut an
	// answer in half.
	jobCtx, stopJobs := context.WithCancel(context.WithoutCancel(ctx))
	defer stopJobs()
	b.pool.start(jobCtx, b.cfg.JobTimeout)

	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err := <-socketDone:
			socketDone = nil
			if err != nil && !errors.Is(err, context.Canceled) {
				runErr = fmt.Errorf("socket mode: %w", err)
			}
			break loop
		case evt, ok := <-b.events:
			if !ok {
				break loop
			}
			b.handle(evt)
		}
	}
	stopSocket()
	// Not ready from here on: running jobs may finish, no new ones come.
	b.connected.Store(false)
	if !b.pool.stop(b.cfg.ShutdownGrace, stopJobs) {
		b.log.Warn("shutdown grace ended with jobs still running: their users were told to ask again",
			zap.Duration("grace", b.cfg.ShutdownGrace))
	}
	if socketDone != nil {
		select {
		case <-socketDone:
		case <-time.After(5 * time.Second):
		}
	}
	return runErr
}

// handle acks first, whatever the envelope holds, then routes it.
func (b *Bot) handle(evt socketmode.Event) {
	arrived := time.Now()
	switch evt.Type {
	case socketmode.EventTypeEventsAPI, socketmode.EventTypeSlashCommand, socketmode.EventTypeInteractive:
		b.ack(evt.Request, arrived)
	case socketmode.EventTypeErrorBadMessage:
		b.ackBadMessage(evt, arrived)
		return
	case socketmode.EventTypeConnected:
		b.connected.Store(true)
		b.log.Info("connected to Slack (Socket Mode)")
		return
	case socketmode.EventTypeConnectionError:
		b.connected.Store(false)
		b.log.Warn("Socket Mode connection error", zap.Any("detail", evt.Data))
		return
	case socketmode.EventTypeConnecting, socketmode.EventTypeDisconnect, socketmode.EventTypeInvalidAuth:
		// Slack asked for a new connection, or one is being opened: until
		// it is up, this replica receives nothing.
		b.connected.Store(false)
		return
	default:
		return
	}

	switch evt.Type {
	case socketmode.EventTypeEventsAPI:
		ev, ok := evt.Data.(slackevents.EventsAPIEvent)
		if !ok {
			return
		}
		b.routeEvent(ev, evt.Request)
	case socketmode.EventTypeSlashCommand:
		cmd, ok := evt.Data.(slack.SlashCommand)
		if !ok {
			return
		}
		b.routeSlash(cmd, evt.Request)
	case socketmode.EventTypeInteractive:
		cb, ok := evt.Data.(slack.InteractionCallback)
		if !ok {
			return
		}
		b.routeInteraction(cb, evt.Request)
	}
}

// ack acknowledges an envelope that reached the loop at arrived.
func (b *Bot) ack(req *socketmode.Request, arrived time.Time) {
	if req == nil || req.EnvelopeID == "" {
		return
	}
	if err := b.socket.Ack(*req); err != nil {
		b.log.Warn("ack envelope", zap.String("envelope_id", req.EnvelopeID), zap.Error(err))
		return
	}
	if b.cfg.Observer != nil {
		b.cfg.Observer.Acked(time.Since(arrived))
	}
}

// ackBadMessage acks an envelope slack-go could not parse, so that Slack
// does not deliver it again and again.
func (b *Bot) ackBadMessage(evt socketmode.Event, arrived time.Time) {
	bad, ok := evt.Data.(*socketmode.ErrorBadMessage)
	if !ok {
		return
	}
	var env struct {
		EnvelopeID string `json:"envelope_id"`
		Type       string `json:"type"`
	}
	_ = json.Unmarshal(bad.Message, &env) // best effort: no id, nothing to ack
	b.log.Warn("skipped an envelope that could not be parsed",
		zap.String("envelope_id", env.EnvelopeID), zap.String("type", env.Type), zap.Error(bad.Cause))
	if env.EnvelopeID != "" {
		b.ack(&socketmode.Request{EnvelopeID: env.EnvelopeID}, arrived)
	}
}

func (b *Bot) routeEvent(ev slackevents.EventsAPIEvent, req *socketmode.Request) {
	eventID := ""
	cb, _ := ev.Data.(*slackevents.EventsAPICallbackEvent)
	if cb != nil {
		eventID = cb.EventID
	}
	switch inner := ev.InnerEvent.Data.(type) {
	case *slackevents.AppMentionEvent:
		if inner.BotID != "" || inner.User == "" || inner.User == b.self.UserID || inner.Edited != nil {
			return
		}
		team := inner.UserTeam
		if team == "" {
			team = firstOf(innerTeam(cb), ev.TeamID)
		}
		m := handlers.Message{
			Channel: inner.Channel, TS: inner.TimeStamp, ThreadTS: inner.ThreadTimeStamp,
			User: inner.User, Team: team, Text: b.withoutOwnMention(inner.Text),
			Files: filesFromSlack(inner.Files),
		}
		b.submit(m, eventID, b.flows.Mention)
	case *slackevents.MessageEvent:
		if !inner.IsIM() || !isNewUserMessage(inner.SubType) {
			return
		}
		msg := inner.Message
		if msg == nil {
			return
		}
		if inner.BotID != "" || msg.BotID != "" || inner.User == "" || inner.User == b.self.UserID {
			return
		}
		m := handlers.Message{
			Channel: inner.Channel, TS: inner.TimeStamp, ThreadTS: inner.ThreadTimeStamp,
			User: inner.User, Team: firstOf(inner.UserTeam, msg.Team, ev.TeamID), Text: b.withoutOwnMention(inner.Text),
			Files: messageFiles(msg.Files, msg.Attachments),
		}
		b.submit(m, eventID, b.flows.DirectMessage)
	case *slackevents.ReactionAddedEvent:
		if inner.Item.Type != "message" || inner.User == "" || inner.User == b.self.UserID || !b.flows.Triggers(inner.Reaction) {
			return
		}
		rx := handlers.Reaction{Channel: inner.Item.Channel, TS: inner.Item.Timestamp, User: inner.User,
			Team: ev.TeamID, Emoji: inner.Reaction}
		who := asker{channel: rx.Channel, user: rx.User, team: rx.Team, thread: rx.TS}
		if !b.admits(who, nil) {
			return
		}
		// Two people adding the same emoji ask the same question once.
		if !b.firstSight("event:"+eventID, "reaction:"+inner.Item.Channel+":"+inner.Item.Timestamp+":"+inner.Reaction) {
			return
		}
		reacted := handlers.Message{Channel: rx.Channel, TS: rx.TS, User: rx.User}
		decline := func(ctx context.Context, why handlers.Refusal) { b.flows.Decline(ctx, reacted, why) }
		if !b.withinLimits(who, decline) {
			return
		}
		if !b.pool.trySubmit(func(ctx context.Context) { b.flows.Reaction(ctx, rx) }, b.tellInThread(reacted)) {
			b.declineBusy(rx.Channel, decline)
		}
	case *slackevents.AppHomeOpenedEvent:
		if inner.Tab != "home" || inner.User == "" {
			return
		}
		user := inner.User
		b.pool.runBeside("home", func(ctx context.Context) { b.flows.HomeOpened(ctx, user) })
	}
}

// innerTeam is the "team" of an event's inner event: the team of the
// person who wrote the message, as Slack's payloads carry it (see the
// app_mention fixtures), which slack-go's AppMentionEvent does not keep.
// It is read only when the event lacks user_team.
func innerTeam(cb *slackevents.EventsAPICallbackEvent) string {
	if cb == nil || cb.InnerEvent == nil {
		return ""
	}
	var ev struct {
		Team string `json:"team"`
	}
	_ = json.Unmarshal(*cb.InnerEvent, &ev) // best effort: the envelope's team_id follows
	return ev.Team
}

// firstOf returns the first non-empty string.
func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// routeInteraction dispatches shortcuts, modal submissions and clicks. The
// envelope is already acked: for a view_submission an empty ack closes
// the modal.
func (b *Bot) routeInteraction(cb slack.InteractionCallback, req *socketmode.Request) {
	if !b.firstSight("envelope:" + req.EnvelopeID) {
		return
	}
	team := cb.User.TeamID
	if team == "" {
		team = cb.Team.ID
	}
	switch cb.Type {
	case slack.InteractionTypeMessageAction:
		if cb.CallbackID != CallbackShortcut {
			return
		}
		msg := messageFromSlack(cb.Channel.ID, cb.Message.Msg)
		if msg.TS == "" {
			msg.TS = cb.MessageTs
		}
		s := handlers.Shortcut{TriggerID: cb.TriggerID, Channel: cb.Channel.ID, User: cb.User.ID, Team: team,
			ResponseURL: cb.ResponseURL, Message: msg}
		privately := handlers.SlashCommand{Channel: s.Channel, User: s.User, Team: team, ResponseURL: s.ResponseURL}
		if !b.admits(asker{channel: s.Channel, user: s.User, team: team}, b.declinePrivately(privately)) {
			return
		}
		// A trigger_id lives three seconds: the modal can't wait in the queue.
		b.pool.runBeside("shortcut", func(ctx context.Context) { b.flows.Shortcut(ctx, s) })
	case slack.InteractionTypeViewSubmission:
		if cb.View.CallbackID != CallbackAnalyze {
			return
		}
		sub := readSubmission(cb)
		channel, thread := sub.Target()
		who := asker{channel: channel, user: sub.User, team: team, thread: thread}
		decline := func(ctx context.Context, why handlers.Refusal) { b.flows.DeclineSubmit(ctx, sub, why) }
		if !b.admits(who, decline) || !b.withinLimits(who, decline) {
			return
		}
		interrupted := func(ctx context.Context, why handlers.Interruption) { b.flows.InterruptedSubmit(ctx, sub, why) }
		if !b.pool.trySubmit(func(ctx context.Context) { b.flows.Submit(ctx, sub) }, interrupted) {
			b.declineBusy(channel, decline)
		}
	case slack.InteractionTypeBlockActions:
		for _, act := range cb.ActionCallback.BlockActions {
			b.routeAction(cb, team, act)
		}
	}
}

func (b *Bot) routeAction(cb slack.InteractionCallback, team string, act *slack.BlockAction) {
	ref, ok := decodeRef(act.BlockID)
	if !ok {
		return
	}
	channel := cb.Container.ChannelID
	if channel == "" {
		channel = cb.Channel.ID
	}
	switch act.ActionID {
	case ActionRerun:
		thread := cb.Container.ThreadTs
		if thread == "" {
			thread = cb.Message.ThreadTimestamp
		}
		if thread == "" {
			thread = cb.Container.MessageTs
		}
		a := handlers.Action{Channel: channel, Thread: thread, User: cb.User.ID, Team: team,
			ResponseURL: cb.ResponseURL, UseCase: act.SelectedOption.Value, Ref: ref}
		who := asker{channel: channel, user: a.User, team: team, thread: thread}
		decline := b.declinePrivately(handlers.SlashCommand{Channel: channel, User: a.User, Team: team, ResponseURL: a.ResponseURL})
		if !b.admits(who, decline) || !b.withinLimits(who, decline) {
			return
		}
		interrupted := b.tellInThread(handlers.Message{Channel: channel, TS: thread, User: a.User})
		if !b.pool.trySubmit(func(ctx context.Context) { b.flows.Rerun(ctx, a) }, interrupted) {
			b.declineBusy(channel, decline)
		}
	case ActionFeedbackUp, ActionFeedbackDown:
		v := handlers.Vote{Channel: channel, User: cb.User.ID, ResponseURL: cb.ResponseURL,
			Up: act.ActionID == ActionFeedbackUp, Ref: ref}
		b.pool.runBeside("feedback", func(ctx context.Context) { b.flows.Feedback(ctx, v) })
	}
}

// submit runs a message's flow once, if its sender may use the bot and is
// within the limits: the event id catches Slack's retries, the message's
// own ts catches an app_mention and a message.im for the same message.
func (b *Bot) submit(m handlers.Message, eventID string, flow func(context.Context, handlers.Message)) {
	who := asker{channel: m.Channel, user: m.User, team: m.Team, thread: firstOf(m.ThreadTS, m.TS)}
	if !b.admits(who, nil) {
		return
	}
	if !b.firstSight("event:"+eventID, "message:"+m.Channel+":"+m.TS) {
		b.log.Debug("skipped a duplicate delivery", zap.String("event_id", eventID))
		return
	}
	decline := func(ctx context.Context, why handlers.Refusal) { b.flows.Decline(ctx, m, why) }
	if !b.withinLimits(who, decline) {
		return
	}
	if !b.pool.trySubmit(func(ctx context.Context) { flow(ctx, m) }, b.tellInThread(m)) {
		b.declineBusy(m.Channel, decline)
	}
}

// tellInThread is how a message's job tells its sender, in the thread,
// that it ended without an answer.
func (b *Bot) tellInThread(m handlers.Message) func(context.Context, handlers.Interruption) {
	return func(ctx context.Context, why handlers.Interruption) { b.flows.Interrupted(ctx, m, why) }
}

func (b *Bot) routeSlash(sc slack.SlashCommand, req *socketmode.Request) {
	if !b.firstSight("envelope:" + req.EnvelopeID) {
		return
	}
	cmd := handlers.SlashCommand{
		Command: sc.Command, Text: sc.Text, Channel: sc.ChannelID, User: sc.UserID, Team: sc.TeamID,
		ResponseURL: sc.ResponseURL, TriggerID: sc.TriggerID,
	}
	who := asker{channel: cmd.Channel, user: cmd.User, team: cmd.Team}
	decline := b.declinePrivately(cmd)
	if !b.admits(who, decline) || !b.withinLimits(who, decline) {
		return
	}
	interrupted := func(ctx context.Context, why handlers.Interruption) { b.flows.InterruptedSlash(ctx, cmd, why) }
	if !b.pool.trySubmit(func(ctx context.Context) { b.flows.Slash(ctx, cmd) }, interrupted) {
		b.declineBusy(cmd.Channel, decline)
	}
}

// declinePrivately tells the user of a command, a shortcut or a click,
// through its response_url, why their request was turned away.
func (b *Bot) declinePrivately(cmd handlers.SlashCommand) func(context.Context, handlers.Refusal) {
	return func(ctx context.Context, why handlers.Refusal) { b.flows.DeclineSlash(ctx, cmd, why) }
}

// declineBusy tells a user whose request found every worker and the whole
// queue taken to try again shortly.
func (b *Bot) declineBusy(channel string, decline func(context.Context, handlers.Refusal)) {
	b.log.Warn("queue full: told the user to retry", zap.String("channel", channel))
	b.pool.notify("busy", func(ctx context.Context) { decline(ctx, handlers.Refusal{Reason: handlers.RefusedBusy}) })
}

// isNewUserMessage keeps the subtypes that are a person's new message:
// edits, deletions, joins and bot posts are not requests.
func isNewUserMessage(subtype string) bool {
	return subtype == "" || subtype == "file_share" || subtype == "thread_broadcast"
}

// withoutOwnMention removes the bot's mention (<@U123> or <@U123|name>).
func (b *Bot) withoutOwnMention(text string) string {
	return handlers.WithoutMention(text, b.self.UserID)
}

func filesFromSlack(files []slack.File) []handlers.File {
	out := make([]handlers.File, 0, len(files))
	for _, f := range files {
		out = append(out, fileFromSlack(f))
	}
	return out
}
