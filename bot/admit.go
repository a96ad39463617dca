package bot

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/visionbot/visionbot/bot/store"
	"github.com/visionbot/visionbot/handlers"
)

// storeTimeout bounds one admission's call to the store: a slow Redis
// delays the start of an answer by at most this, never an ack.
const storeTimeout = 2 * time.Second

// teamTimeout bounds looking up a user's team (users.info).
const teamTimeout = 5 * time.Second

// policy is how admission treats the requests of one trigger.
type policy struct {
	// allowLists: the allow-lists apply. Only the Home tab passes: it
	// shows the use cases and how to ask, which anyone may read, and an
	// outsider opening it is told nothing else.
	allowLists bool
	// limits: the request counts against the rates, the thread cap and
	// the token allowances.
	limits bool
	// quick: the request counts against the per-user rate (USER_RATE), on
	// a counter of its own: a vote, the line after a 👎 or a glance with
	// the Messages tab open (app_context_changed) each costs Slack calls,
	// so a person can't make the bot call Slack without bound, and
	// clicking around never costs them an answer.
	quick bool
	// beside: the request runs beside the queue, within its own bound. A
	// modal must open within its trigger_id's three seconds, and a vote or
	// the Home tab is too quick to wait behind answers.
	beside bool
}

func policyOf(t handlers.Trigger) policy {
	switch t {
	case handlers.TriggerShortcut:
		return policy{allowLists: true, beside: true}
	case handlers.TriggerHome:
		return policy{beside: true}
	case handlers.TriggerFeedback, handlers.TriggerMessages:
		return policy{allowLists: true, quick: true, beside: true}
	case handlers.TriggerSettings:
		// The modal must open within three seconds, and a save is one
		// write: neither counts against the rates.
		return policy{allowLists: true, beside: true}
	}
	return policy{allowLists: true, limits: true}
}

// admit is the one admission pipeline of every surface: the allow-lists
// (with the user's team looked up where the event did not say it), the
// duplicate check and the limits in one call to the store, then the
// queue. A refusal goes back to the person who asked through
// Flows.Decline. It runs on an admission goroutine, never on the loop
// that acks envelopes.
func (b *Bot) admit(ctx context.Context, d decoded) {
	if d.stop != nil {
		b.stop(ctx, d)
		return
	}
	req := d.req
	if _, reacted := req.Ask.(handlers.Reacted); reacted && !b.channel(ctx, req.Channel).ReactionsOn() {
		b.log.Debug("ignored a reaction trigger: the channel turned them off", zap.String("channel", req.Channel))
		return
	}
	pol := policyOf(req.Trigger)
	if pol.allowLists {
		var ok bool
		if req.Origin, ok = b.allowed(ctx, req.Origin); !ok {
			return
		}
	}
	if pol.limits && req.Origin.Team == "" && req.Origin.User != "" && b.deps.Ledger.chargesTeams() {
		req.Origin.Team = b.teamToCharge(ctx, req.Origin.User)
	}
	var counters []limit
	switch {
	case pol.limits:
		counters = b.limitsOf(req.Origin)
	case pol.quick:
		counters = b.quickLimitsOf(req.Origin)
	}
	switch verdict, why := b.checkStore(ctx, d.seen, counters, req.Origin); verdict {
	case duplicate:
		b.log.Debug("skipped a duplicate delivery", zap.Strings("keys", d.seen))
		return
	case overLimit:
		b.decline(req.Origin, why)
		return
	case overLimitQuietly:
		return
	}
	if pol.beside {
		b.queue.Beside(string(req.Trigger), req)
		return
	}
	if why, refused := b.flows.Precheck(req); refused {
		b.log.Info("refused a request before queueing it: told the user", zap.String("channel", req.Channel), zap.Error(why))
		b.decline(req.Origin, why)
		return
	}
	if err := b.queue.Submit(ctx, req); err != nil {
		var why handlers.Refusal
		if !errors.As(err, &why) {
			why = handlers.Refusal{Reason: handlers.RefusedBusy}
		}
		b.log.Warn("the queue refused a request: told the user", zap.String("channel", req.Channel), zap.Error(err))
		b.decline(req.Origin, why)
	}
}

// channel are a channel's settings; when they can't be read, the
// operator's rules, which need no store.
func (b *Bot) channel(ctx context.Context, channel string) handlers.ChannelSettings {
	if b.deps.Channels == nil || channel == "" {
		return handlers.ChannelSettings{}
	}
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	s, err := b.deps.Channels.Settings(ctx, channel)
	if err != nil {
		b.log.Warn("read a channel's settings: using the operator's", zap.String("channel", channel), zap.Error(err))
	}
	return s
}

// decline queues a refusal for the person who asked.
func (b *Bot) decline(o handlers.Origin, why handlers.Refusal) {
	b.queue.Notify("refused", func(ctx context.Context) { b.flows.Decline(ctx, o, why) })
}

// allowed applies the allow-lists to a request, first looking up the
// user's team when the lists need it and the event did not say it. It
// returns the origin with the team it found. Outside the lists, a
// mention, a DM or a reaction gets deliberate silence, while a command, a
// shortcut, a click or a form (a request with a private route back) is
// told privately that the app isn't enabled here.
func (b *Bot) allowed(ctx context.Context, o handlers.Origin) (handlers.Origin, bool) {
	reason := handlers.RefusedNotEnabled
	if o.Team == "" && b.access.needsTeam(b.self.TeamID) {
		team, err := b.teamOf(ctx, o.User)
		if err != nil {
			b.log.Warn("could not look up a user's team: refusing the request, as the allow-lists can't be applied",
				zap.String("user", o.User), zap.Error(err))
			reason = handlers.RefusedUnknownTeam
		}
		o.Team = team
	}
	if reason == handlers.RefusedNotEnabled && b.access.allows(o, b.self.TeamID) {
		return o, true
	}
	fields := []zap.Field{zap.String("channel", o.Channel), zap.String("user", o.User), zap.String("team", o.Team)}
	if o.ResponseURL == "" {
		b.log.Debug("ignored a request from outside the allow-lists", fields...)
		return o, false
	}
	b.log.Info("told a user outside the allow-lists that the app isn't enabled", fields...)
	b.decline(o, handlers.Refusal{Reason: reason})
	return o, false
}

// teamToCharge is the team whose workspace allowance a user's request
// spends, for a request whose event did not say it and whose allow-lists
// did not need it: in Slack Connect, their own team, not the bot's. A
// failed lookup leaves it unknown, which the ledger charges to the bot's
// own workspace: an answer is worth more than an exact account.
func (b *Bot) teamToCharge(ctx context.Context, user string) string {
	team, err := b.teamOf(ctx, user)
	if err != nil {
		b.log.Warn("could not look up a user's team: their request is charged to the bot's own workspace",
			zap.String("user", user), zap.Error(err))
		return ""
	}
	return team
}

// teamOf looks up a user's team, within teamTimeout.
func (b *Bot) teamOf(ctx context.Context, user string) (string, error) {
	if b.deps.Teams == nil {
		return "", errors.New("no way to look up a user's team was configured")
	}
	ctx, cancel := context.WithTimeout(ctx, teamTimeout)
	defer cancel()
	return b.deps.Teams.TeamOf(ctx, user)
}

// verdict is what the store says of a request.
type verdict int

const (
	admitted verdict = iota
	duplicate
	overLimit        // refused, and its user is to be told why
	overLimitQuietly // refused; its user was told already in this window
)

// checkStore asks the store, in one call, whether the request was seen
// before and, if not, counts it against its limits; over one, it gives the
// refusal of the first. Its user is told only the first time that limit
// refuses them in its window: after that, silence until it resets, so
// that someone flooding the bot can't make it flood the channel. A store
// error lets the request through: an answer given twice, or one over a
// limit, is better than none (RedisStore falls back to memory on its own,
// so this is the last resort).
func (b *Bot) checkStore(ctx context.Context, seen []string, limits []limit, o handlers.Origin) (verdict, handlers.Refusal) {
	keys := make([]string, 0, len(seen))
	for _, k := range seen {
		if k != "" {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 && len(limits) == 0 {
		return admitted, handlers.Refusal{}
	}
	counters := make([]store.Counter, len(limits))
	for i, l := range limits {
		counters[i] = store.Counter{Key: l.key, Window: l.window, Read: l.read}
	}
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	adm, err := b.store.Admit(ctx, b.cfg.DedupeTTL, keys, counters)
	switch {
	case err != nil:
		b.log.Warn("store failed: letting the request through", zap.Error(err))
		return admitted, handlers.Refusal{}
	case !adm.Fresh:
		return duplicate, handlers.Refusal{}
	}
	for i, l := range limits {
		c := adm.Counts[i]
		if !l.passed(c) {
			continue
		}
		resetIn := c.ResetIn
		if resetIn <= 0 || l.read { // an allowance's total outlives its day
			resetIn = l.window
		}
		why := handlers.Refusal{Reason: l.reason, Limit: l.max, Window: l.window, RetryIn: resetIn}
		if which := l.reason.Allowance(); which != "" && b.deps.Observer != nil {
			b.deps.Observer.AllowanceRefused(which)
		}
		first, err := b.store.Remember(ctx, resetIn, "told:"+l.key+":"+o.User)
		fields := []zap.Field{zap.String("limit", l.key), zap.String("user", o.User), zap.Int64("count", c.N), zap.Duration("reset_in", resetIn)}
		if !first && err == nil {
			b.log.Debug("refused a request over a limit, silently: the user was told already", fields...)
			return overLimitQuietly, why
		}
		b.log.Info("refused a request over a limit and told the user", fields...)
		return overLimit, why
	}
	return admitted, handlers.Refusal{}
}

// stop carries a person's Stop to their own requests answering in the
// thread, once per event: Slack's retry of it finds them gone anyway. The
// allow-lists apply as to a request (its team looked up, as the event
// names none): outside them a Stop ends nothing, in silence, as a mention
// would get.
func (b *Bot) stop(ctx context.Context, d decoded) {
	if b.deps.Stops == nil {
		b.log.Debug("a Stop, and no board to take it", zap.String("channel", d.stop.channel))
		return
	}
	o := handlers.Origin{Channel: d.stop.channel, Thread: d.stop.thread, User: d.stop.user, Workspace: d.stop.workspace}
	if _, ok := b.allowed(ctx, o); !ok {
		return
	}
	if verdict, _ := b.checkStore(ctx, d.seen, nil, o); verdict == duplicate {
		return
	}
	b.deps.Stops.Stop(ctx, d.stop.channel, d.stop.thread, d.stop.user)
}

// Store is the memory behind admission: the events the bot has seen and
// the counters of its limits. In one process store.Memory is enough;
// several replicas share a store.Redis, so that an event Slack delivers to
// two of them is answered once and a limit counts every replica's answers.
type Store interface {
	// Admit is one request's whole check, in one call (one round trip to
	// Redis): it records the seen keys for ttl and, when none of them was
	// recorded already, adds one to each counter. A key already recorded
	// keeps its first expiry; a duplicate counts nothing.
	Admit(ctx context.Context, ttl time.Duration, seen []string, counters []store.Counter) (store.Admission, error)
	// Remember records keys for ttl and reports whether none of them was
	// recorded already.
	Remember(ctx context.Context, ttl time.Duration, keys ...string) (bool, error)
	// Spend adds n to each key's total; a key lives ttl from its first
	// spend.
	Spend(ctx context.Context, ttl time.Duration, n int64, keys ...string) error
}
