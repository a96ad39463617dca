package bot

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/visionbot/visionbot/bot/store"
	"github.com/visionbot/visionbot/handlers"
)

// Tokens is a daily token allowance (USER_DAILY_TOKENS, …): a count of
// tokens, or 0 for no allowance.
type Tokens int64

// UnmarshalText reads an allowance: "off", "0", or a whole number of tokens,
// with "_" or "," between digits allowed ("1_000_000").
func (t *Tokens) UnmarshalText(text []byte) error {
	s := strings.TrimSpace(string(text))
	if s == "off" || s == "" {
		*t = 0
		return nil
	}
	n, err := strconv.ParseInt(strings.NewReplacer("_", "", ",", "").Replace(s), 10, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("%q is not a number of tokens such as 2000000, or off", s)
	}
	*t = Tokens(n)
	return nil
}

// Allowances are the daily token allowances; a zero one is off. Each
// carries its name in the environment and its default in its tags
// (cmd/visionbot reads them).
type Allowances struct {
	User      Tokens `env:"USER_DAILY_TOKENS" envDefault:"off"`
	Channel   Tokens `env:"CHANNEL_DAILY_TOKENS" envDefault:"off"`
	Workspace Tokens `env:"WORKSPACE_DAILY_TOKENS" envDefault:"off"`
}

func (b Allowances) on() bool { return b.User > 0 || b.Channel > 0 || b.Workspace > 0 }

// Ledger keeps the daily token allowances in the store, so that replicas
// sharing Redis share them: a request is checked before it starts
// (Check, at admission) and charged what Gemini reported when it ends
// (Spend, as handlers.Spending). A day is a UTC day: every allowance resets
// at midnight UTC, which a person can be told. Which day it is the store
// says, by its clock (store.Today): replicas whose clocks differ a little
// count the same day; only the time left that a refusal tells is this
// replica's.
type Ledger struct {
	store      Store
	allowances Allowances
	// team is the bot's own workspace, for requests whose person's team
	// could not be looked up (admission looks it up where the event did
	// not say it: chargesTeams).
	team string
	// replicas is nil for one process.
	replicas Replicas
	log      *zap.Logger
	now      func() time.Time
	// channels are the channels' settings, in which a channel sets its
	// own allowance within the operator's; nil for none.
	channels Channels
}

// Replicas is what the ledger knows of the replicas sharing its store
// (queue.Replicas): while Redis is down, each counts the allowances in its
// own memory and takes its share of them.
type Replicas interface {
	// IsDown reports whether Redis failed and has not answered since.
	IsDown() bool
	// Count is how many replicas were alive when last seen; 0 for none.
	Count() int
}

// WithChannels lets each channel set its own daily allowance, within the
// operator's cap (CHANNEL_DAILY_TOKENS, or the operator's file): every
// request is then charged to its channel, so that an allowance set in the
// day counts what the channel spent already.
func (l *Ledger) WithChannels(c Channels) *Ledger {
	l.channels = c
	return l
}

// channelMax is the allowance of a channel today: its own, within the
// operator's cap. Its settings come from the replica's memory.
func (l *Ledger) channelMax(channel string) Tokens {
	if l.channels == nil || channel == "" || strings.HasPrefix(channel, "D") {
		return l.allowances.Channel
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	s, err := l.channels.Settings(ctx, channel)
	if err != nil {
		l.log.Debug("read a channel's allowance: using the operator's", zap.String("channel", channel), zap.Error(err))
	}
	return Tokens(s.DailyTokens(int64(l.allowances.Channel)))
}

// NewLedger returns a ledger of allowances in store; team is the bot's own
// workspace; replicas is nil for one process, else the replicas sharing
// store.
func NewLedger(store Store, allowances Allowances, team string, replicas Replicas, log *zap.Logger) *Ledger {
	return &Ledger{store: store, allowances: allowances, team: team, replicas: replicas, log: log, now: time.Now}
}

// chargesTeams reports whether a request's team must be known to charge
// it: a workspace allowance is on.
func (l *Ledger) chargesTeams() bool { return l != nil && l.allowances.Workspace > 0 }

// spendTTL keeps a day's totals past the day's end, for the clock of a
// replica counting alone while Redis is down, a little off the others'.
const spendTTL = 26 * time.Hour

// limitsOf are the allowances o's request counts against today, as limits
// admission reads in its one call to the store (Counter.Read): the
// user's, the channel's and the workspace's (the person's own team, so
// that in Slack Connect each organisation spends its own). Each is spent
// once its total reaches its max, and resets at midnight UTC.
func (l *Ledger) limitsOf(o handlers.Origin) []limit {
	if l == nil || (!l.allowances.on() && l.channels == nil) {
		return nil
	}
	channelMax := Tokens(0)
	if o.Channel != "" {
		channelMax = l.channelMax(o.Channel)
	}
	if !l.allowances.on() && channelMax == 0 {
		return nil // no allowance at all: nothing to read
	}
	left := untilMidnight(l.now())
	share := l.share()
	team := o.Team
	if team == "" {
		team = l.team
	}
	var out []limit
	add := func(on bool, who string, max Tokens, reason handlers.RefusalReason) {
		if on && max > 0 {
			out = append(out, limit{key: "spend:" + store.Today + ":" + who, max: share(int64(max)), window: left, reason: reason, read: true})
		}
	}
	add(o.User != "", "user:"+o.User, l.allowances.User, handlers.RefusedUserAllowance)
	add(o.Channel != "", "channel:"+o.Channel, channelMax, handlers.RefusedChannelAllowance)
	add(true, "team:"+team, l.allowances.Workspace, handlers.RefusedWorkspaceAllowance)
	return out
}

// channelKey is the key of o's channel's total for the store's day; ""
// for none.
func (l *Ledger) channelKey(o handlers.Origin) string {
	if o.Channel == "" {
		return ""
	}
	return "spend:" + store.Today + ":channel:" + o.Channel
}

// share is what of an allowance this replica may spend now. While Redis
// is down, the replicas each count in their own memory, and N of them
// would allow N times the allowance: each takes the allowance divided by
// the replicas it last saw alive, and by two at least, since another may
// have started meanwhile (as with Slack's tiers, bot/slackapi's share).
// Its memory holds what it spent itself today, through Redis too.
func (l *Ledger) share() func(int64) int64 {
	if l.replicas == nil || !l.replicas.IsDown() {
		return func(max int64) int64 { return max }
	}
	n := int64(max(l.replicas.Count(), 2))
	return func(allowance int64) int64 { return max(allowance/n, 1) }
}

// untilMidnight is how long until the UTC day of now ends.
func untilMidnight(now time.Time) time.Duration {
	now = now.UTC()
	return time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, time.UTC).Sub(now)
}

// Spend implements handlers.Spending: tokens are added to each of o's
// allowances for the store's day. A request already started is never cut for its
// allowance; the next one is refused.
func (l *Ledger) Spend(ctx context.Context, o handlers.Origin, tokens int) {
	if l == nil || (!l.allowances.on() && l.channels == nil) || tokens <= 0 {
		return
	}
	limits := l.limitsOf(o)
	keys := make([]string, 0, len(limits)+1)
	for _, b := range limits {
		keys = append(keys, b.key)
	}
	if channel := l.channelKey(o); l.channels != nil && channel != "" && !slices.Contains(keys, channel) {
		keys = append(keys, channel)
	}
	if len(keys) == 0 {
		return
	}
	if err := l.store.Spend(ctx, spendTTL, int64(tokens), keys...); err != nil {
		l.log.Warn("could not charge a request's tokens to its allowances", zap.String("user", o.User),
			zap.String("channel", o.Channel), zap.Int("tokens", tokens), zap.Error(err))
	}
}
