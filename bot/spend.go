package bot

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

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

// Allowances are the daily token allowances; a zero one is off.
type Allowances struct {
	User, Channel, Workspace Tokens
}

func (b Allowances) on() bool { return b.User > 0 || b.Channel > 0 || b.Workspace > 0 }

// Ledger keeps the daily token allowances in the store, so that replicas
// sharing Redis share them: a request is checked before it starts
// (Check, at admission) and charged what Gemini reported when it ends
// (Spend, as handlers.Spending). A day is a UTC day: every allowance resets
// at midnight UTC, which a person can be told.
type Ledger struct {
	store      Store
	allowances Allowances
	// team is the bot's own workspace, for requests whose person's team
	// is not known.
	team string
	log  *zap.Logger
	now  func() time.Time
	// channels are the channels' settings, in which a channel sets its
	// own allowance within the operator's; nil for none.
	channels Channels
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
// workspace.
func NewLedger(store Store, allowances Allowances, team string, log *zap.Logger) *Ledger {
	return &Ledger{store: store, allowances: allowances, team: team, log: log, now: time.Now}
}

// spendTTL keeps a day's totals past the day's end, for a clock a little
// off between replicas.
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
	day, left := today(l.now())
	team := o.Team
	if team == "" {
		team = l.team
	}
	var out []limit
	add := func(on bool, who string, max Tokens, reason handlers.RefusalReason) {
		if on && max > 0 {
			out = append(out, limit{key: "spend:" + day + ":" + who, max: int64(max), window: left, reason: reason, read: true})
		}
	}
	add(o.User != "", "user:"+o.User, l.allowances.User, handlers.RefusedUserAllowance)
	add(o.Channel != "", "channel:"+o.Channel, channelMax, handlers.RefusedChannelAllowance)
	add(true, "team:"+team, l.allowances.Workspace, handlers.RefusedWorkspaceAllowance)
	return out
}

// channelKey is the key of o's channel's total today; "" for none.
func (l *Ledger) channelKey(o handlers.Origin) string {
	if o.Channel == "" {
		return ""
	}
	day, _ := today(l.now())
	return "spend:" + day + ":channel:" + o.Channel
}

// today is the UTC day now falls in, and how long until it ends.
func today(now time.Time) (day string, left time.Duration) {
	now = now.UTC()
	midnight := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, time.UTC)
	return now.Format(time.DateOnly), midnight.Sub(now)
}

// Spend implements handlers.Spending: tokens are added to each of o's
// allowances for today. A request already started is never cut for its
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
