package bot

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/visionbot/visionbot/handlers"
)

// Tokens is a daily token budget (USER_DAILY_TOKENS, …): a count of
// tokens, or 0 for no budget.
type Tokens int64

// UnmarshalText reads a budget: "off", "0", or a whole number of tokens,
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

// Budgets are the daily token budgets; a zero one is off.
type Budgets struct {
	User, Channel, Workspace Tokens
}

func (b Budgets) on() bool { return b.User > 0 || b.Channel > 0 || b.Workspace > 0 }

// Ledger keeps the daily token budgets in the store, so that replicas
// sharing Redis share them: a request is checked before it starts
// (Check, at admission) and charged what Gemini reported when it ends
// (Spend, as handlers.Spending). A day is a UTC day: every budget resets
// at midnight UTC, which a person can be told.
type Ledger struct {
	store   Store
	budgets Budgets
	// team is the bot's own workspace, for requests whose person's team
	// is not known.
	team string
	log  *zap.Logger
	now  func() time.Time
}

// NewLedger returns a ledger of budgets in store; team is the bot's own
// workspace.
func NewLedger(store Store, budgets Budgets, team string, log *zap.Logger) *Ledger {
	return &Ledger{store: store, budgets: budgets, team: team, log: log, now: time.Now}
}

// spendTTL keeps a day's totals past the day's end, for a clock a little
// off between replicas.
const spendTTL = 26 * time.Hour

// account is one budget a request counts against today.
type account struct {
	key    string
	max    int64
	reason handlers.RefusalReason
}

// accountsOf are the budgets o's request counts against on day: the
// user's, the channel's and the workspace's (the person's own team, so
// that in Slack Connect each organisation spends its own).
func (l *Ledger) accountsOf(o handlers.Origin, day string) []account {
	var out []account
	if l.budgets.User > 0 && o.User != "" {
		out = append(out, account{"spend:" + day + ":user:" + o.User, int64(l.budgets.User), handlers.RefusedUserBudget})
	}
	if l.budgets.Channel > 0 && o.Channel != "" {
		out = append(out, account{"spend:" + day + ":channel:" + o.Channel, int64(l.budgets.Channel), handlers.RefusedChannelBudget})
	}
	if l.budgets.Workspace > 0 {
		team := o.Team
		if team == "" {
			team = l.team
		}
		out = append(out, account{"spend:" + day + ":team:" + team, int64(l.budgets.Workspace), handlers.RefusedWorkspaceBudget})
	}
	return out
}

// today is the UTC day now falls in, and how long until it ends.
func today(now time.Time) (day string, left time.Duration) {
	now = now.UTC()
	midnight := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, time.UTC)
	return now.Format(time.DateOnly), midnight.Sub(now)
}

// overBudget is a request refused because a budget of its is spent.
type overBudget struct {
	why handlers.Refusal
	key string // the budget's key in the store, for telling its user once
}

// Check says whether o may start a request that asks Gemini: nil, or the
// first of its budgets already spent. A store that fails lets the request
// through, as the other limits do.
func (l *Ledger) Check(ctx context.Context, o handlers.Origin) *overBudget {
	if l == nil || !l.budgets.on() {
		return nil
	}
	day, left := today(l.now())
	accounts := l.accountsOf(o, day)
	keys := make([]string, len(accounts))
	for i, a := range accounts {
		keys[i] = a.key
	}
	spent, err := l.store.Spent(ctx, keys...)
	if err != nil {
		l.log.Warn("could not read the token budgets: letting the request through", zap.Error(err))
		return nil
	}
	for i, a := range accounts {
		if spent[i] >= a.max {
			return &overBudget{why: handlers.Refusal{Reason: a.reason, Limit: a.max, Window: 24 * time.Hour, RetryIn: left}, key: a.key}
		}
	}
	return nil
}

// Spend implements handlers.Spending: tokens are added to each of o's
// budgets for today. A request already started is never cut for its
// budget; the next one is refused.
func (l *Ledger) Spend(ctx context.Context, o handlers.Origin, tokens int) {
	if l == nil || !l.budgets.on() || tokens <= 0 {
		return
	}
	day, _ := today(l.now())
	accounts := l.accountsOf(o, day)
	keys := make([]string, len(accounts))
	for i, a := range accounts {
		keys[i] = a.key
	}
	if err := l.store.Spend(ctx, spendTTL, int64(tokens), keys...); err != nil {
		l.log.Warn("could not charge a request's tokens to its budgets", zap.String("user", o.User),
			zap.String("channel", o.Channel), zap.Int("tokens", tokens), zap.Error(err))
	}
}
