// Package bot is the spine's front half: the Socket Mode loop, which acks
// every envelope at once and does nothing else; decode, a pure function from
// an envelope to a request (handlers.Request) or a reason to ignore it; and
// admission, one pipeline for every surface (allow-lists, duplicates,
// limits and the day's token allowances in one call to the store). An
// admitted request goes to the Queue; a refusal back to the person through
// Flows.Decline. It knows no Redis and no Web API: it declares what it
// needs of them (Store, Teams, Queue) and is handed them.
package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/slack-go/slack/socketmode"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/visionbot/visionbot/bot/store"
	"github.com/visionbot/visionbot/handlers"
	"github.com/visionbot/visionbot/internal/settings"
)

// Flows are the requests' flows as admission needs them: to tell a person
// that their request was turned away. The queue runs the rest.
type Flows interface {
	// Decline tells the person who asked that the request was turned away,
	// why, and when to ask again.
	Decline(ctx context.Context, o handlers.Origin, why handlers.Refusal)
	// Precheck is what the flows would refuse of a request once it ran
	// (a question over their bound), asked before it is queued, so that
	// it takes no room there.
	Precheck(r handlers.Request) (why handlers.Refusal, refused bool)
}

// Queue is where admission puts requests (queue.Queue): it runs them, the
// short ones beside the others, and the notices to their users.
type Queue interface {
	Start(ctx context.Context)
	// Submit queues a request, or refuses it at once with a
	// handlers.Refusal (busy, oversized) to tell its person.
	Submit(ctx context.Context, req handlers.Request) error
	Beside(what string, req handlers.Request)
	Notify(what string, notice func(context.Context))
	Load() (running, queued int)
	Shutdown(ctx context.Context)
}

// Teams looks up the team a user belongs to (users.info), for the
// allow-lists of surfaces whose events don't say it.
type Teams interface {
	TeamOf(ctx context.Context, user string) (string, error)
}

// Observer is what the loop and admission report, for metrics. It must be
// safe for concurrent use and quick: Acked is called on the loop that acks
// every envelope. A nil Observer reports nothing.
type Observer interface {
	// Acked is how long an envelope took from reaching the loop to its ack.
	Acked(took time.Duration)
	// AllowanceRefused is a request refused because a daily token allowance is
	// spent: "user", "channel" or "workspace".
	AllowanceRefused(budget string)
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

// Config sizes the loop and admission. Start from DefaultConfig: the zero
// value of a field is its own setting (no limit), not a default.
type Config struct {
	DedupeTTL time.Duration // how long an event is remembered
	// Limits bound what a user, a channel and a thread may ask.
	Limits Limits
	// Access is who may use the bot; the zero value is everyone of the
	// bot's own team.
	Access Access
	// Reactions maps a trigger emoji to the use case it asks for.
	Reactions map[string]string
}

// Deps are what the loop and admission work with besides the socket, the
// flows and the queue; each is optional.
type Deps struct {
	// Store remembers seen events and counts the limits; nil for one in
	// this process's memory. Replicas share a RedisStore.
	Store Store
	// Teams looks up users' teams for the allow-lists; nil for none, in
	// which case a user whose team an event doesn't say is refused where
	// the allow-lists need it.
	Teams    Teams
	Observer Observer // what the loop reports for metrics; nil for none
	// Stops takes people's Stops to their requests; nil for none.
	Stops *StopBoard
	// Ledger holds the daily token allowances; nil for none.
	Ledger *Ledger
	// Channels are the channels' settings, which turn reaction triggers
	// off and set channels' token allowances; nil for none.
	Channels Channels
}

// Channels are the channels' settings as admission reads them
// (bot/settings): from this replica's memory, which Redis keeps current,
// so that reading them adds no round trip to the store.
type Channels interface {
	Settings(ctx context.Context, channel string) (handlers.ChannelSettings, error)
}

// DefaultConfig is what the bot runs with unless configured otherwise:
// the settings' defaults from their tags, and the loop's own.
func DefaultConfig() Config {
	limits := settings.Defaults[Limits]()
	limits.ThreadWindow = 24 * time.Hour
	return Config{
		// Slack retries an event for minutes; the memory lasts longer.
		DedupeTTL: 15 * time.Minute,
		Limits:    limits,
		Access:    settings.Defaults[Access](),
		Reactions: handlers.DefaultReactions(),
	}
}

// Admission runs beside the loop that acks: the loop hands each envelope
// over and returns to the socket at once, so that no call to the store or
// to Slack can delay an ack.
const (
	// intakeQueue is how many envelopes may wait for admission. Beyond it
	// admission is far behind, and the person is told the bot is busy.
	intakeQueue = 1024
	// admitters are the goroutines that admit envelopes, each waiting on
	// the store for its own: a slow Redis holds up one request, not all.
	admitters = 16
)

// Bot is the Socket Mode loop, admission and the job queue: the spine
// every request goes through, from its envelope to its flow.
type Bot struct {
	socket  Socket
	events  <-chan socketmode.Event
	flows   Flows
	self    Identity
	log     *zap.Logger
	cfg     Config
	deps    Deps
	store   Store
	access  access
	decoder decoder
	intake  chan socketmode.Event
	// queue runs admitted requests: this process's pool, or the shared
	// queue when replicas share Redis.
	queue Queue
	// connected follows the Socket Mode connection, for readiness checks.
	connected atomic.Bool
}

// New returns a Bot reading events from events (the Socket Mode client's
// Events channel).
func New(socket Socket, events <-chan socketmode.Event, flows Flows, queue Queue, self Identity, log *zap.Logger, cfg Config, deps Deps) *Bot {
	memory := deps.Store
	if memory == nil {
		memory = store.NewMemory(time.Now)
	}
	b := &Bot{
		socket: socket, events: events, flows: flows, self: self, log: log, cfg: cfg, deps: deps,
		store: memory, access: newAccess(cfg.Access),
		decoder: decoder{self: self, reactions: cfg.Reactions},
		intake:  make(chan socketmode.Event, intakeQueue),
		queue:   queue,
	}
	return b
}

// Ready reports whether the Socket Mode connection is up: without it no
// request can reach this replica.
func (b *Bot) Ready() bool { return b.connected.Load() }

// Jobs reports the requests being answered now and those waiting for a
// worker.
func (b *Bot) Jobs() (running, queued int) { return b.queue.Load() }

// Run connects and serves until ctx ends, then lets running requests
// finish within the queue's shutdown grace. It returns the Socket Mode
// client's error if that gives up first.
//
// Its goroutines live and die together (an errgroup): the socket, the
// listener of Stops relayed by other replicas and the admitters end with
// the loop, and Run returns only once each has.
func (b *Bot) Run(ctx context.Context) error {
	serving, stopServing := context.WithCancel(ctx)
	defer stopServing()
	// Requests outlive ctx by the grace period, so that a shutdown does
	// not cut an answer in half.
	jobCtx, stopJobs := context.WithCancel(context.WithoutCancel(ctx))
	defer stopJobs()
	b.queue.Start(jobCtx)

	var socketErr error
	var g errgroup.Group
	g.Go(func() error {
		// The socket ending ends the loop too.
		defer stopServing()
		err := b.socket.RunContext(serving)
		if err != nil && !errors.Is(err, context.Canceled) && serving.Err() == nil {
			socketErr = fmt.Errorf("socket mode: %w", err)
		}
		return nil
	})
	// Stops relayed by the other replicas reach this one's requests until
	// the shutdown: no new request starts after it.
	if b.deps.Stops != nil {
		g.Go(func() error { b.deps.Stops.listen(serving); return nil })
	}
	var admitting errgroup.Group
	for range admitters {
		admitting.Go(func() error {
			for evt := range b.intake {
				b.admitEnvelope(jobCtx, evt)
			}
			return nil
		})
	}

loop:
	for {
		select {
		case <-serving.Done():
			break loop
		case evt, ok := <-b.events:
			if !ok {
				break loop
			}
			b.handle(evt)
		}
	}
	stopServing()
	// Not ready from here on: running requests may finish, no new ones come.
	b.connected.Store(false)
	close(b.intake)
	_ = admitting.Wait()
	b.queue.Shutdown(jobCtx)
	_ = g.Wait()
	return socketErr
}

// admitEnvelope decodes an envelope and admits what it asks for.
func (b *Bot) admitEnvelope(ctx context.Context, evt socketmode.Event) {
	d := b.decoder.decode(evt)
	if d.ignored != "" {
		b.log.Debug("ignored an envelope", zap.String("why", d.ignored))
		return
	}
	b.admit(ctx, d)
}

// handle acks first, whatever the envelope holds, then hands it over to
// admission: nothing else happens on the loop that acks.
func (b *Bot) handle(evt socketmode.Event) {
	arrived := time.Now()
	switch evt.Type {
	case socketmode.EventTypeEventsAPI, socketmode.EventTypeSlashCommand:
		b.ack(evt.Request, arrived, nil)
	case socketmode.EventTypeInteractive:
		// A modal's mistakes go back in its ack, the one answer Slack
		// shows in the modal: found by a pure check, with no call.
		b.ack(evt.Request, arrived, b.decoder.answerInModal(evt))
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

	b.handOver(evt)
}

// handOver gives an acked envelope to admission without waiting. When
// admission is a whole intake behind, the person is told the bot is busy,
// from a notice goroutine: decoding is all it takes to know whom to tell.
func (b *Bot) handOver(evt socketmode.Event) {
	select {
	case b.intake <- evt:
		return
	default:
	}
	b.log.Warn("admission is behind: told the user to retry")
	b.queue.Notify("busy", func(ctx context.Context) {
		d := b.decoder.decode(evt)
		if d.ignored != "" || d.stop != nil {
			return
		}
		// The allow-lists promise silence outside them; without looking
		// the team up, a person not known to be inside gets it too.
		o := d.req.Origin
		if policyOf(d.req.Trigger).allowLists && !b.access.allows(o, b.self.TeamID) {
			return
		}
		b.flows.Decline(ctx, o, handlers.Refusal{Reason: handlers.RefusedBusy})
	})
}

// ack acknowledges an envelope that reached the loop at arrived, with
// payload unless it is nil.
func (b *Bot) ack(req *socketmode.Request, arrived time.Time, payload any) {
	if req == nil || req.EnvelopeID == "" {
		return
	}
	var payloads []any
	if payload != nil {
		payloads = append(payloads, payload)
	}
	if err := b.socket.Ack(*req, payloads...); err != nil {
		b.log.Warn("ack envelope", zap.String("envelope_id", req.EnvelopeID), zap.Error(err))
		return
	}
	if b.deps.Observer != nil {
		b.deps.Observer.Acked(time.Since(arrived))
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
		b.ack(&socketmode.Request{EnvelopeID: env.EnvelopeID}, arrived, nil)
	}
}
