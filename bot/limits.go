package bot

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/visionbot/visionbot/handlers"
)

// Rate is at most N requests per Per; N 0 is no limit.
type Rate struct {
	N   int64
	Per time.Duration
}

func (r Rate) on() bool { return r.N > 0 && r.Per > 0 }

// Limits bound what one user, one channel and one thread may ask of the
// bot. They are counted in the Store, so replicas sharing a RedisStore
// count together.
type Limits struct {
	User    Rate
	Channel Rate
	// ThreadReplies caps the requests one thread gets answered within
	// ThreadWindow, so that two bots mentioning each other run dry; 0 is
	// no cap.
	ThreadReplies int64
	ThreadWindow  time.Duration
}

// Access says who may use the bot: a request passes only when every
// non-empty list names its channel, its user and its user's team.
type Access struct {
	Channels []string
	Users    []string
	Teams    []string
	// External lets people of other teams than the bot's own (Slack
	// Connect) use the bot when Teams is empty.
	External bool
}

// access is Access as sets.
type access struct {
	channels, users, teams map[string]bool
	external               bool
}

func newAccess(a Access) access {
	set := func(ids []string) map[string]bool {
		if len(ids) == 0 {
			return nil
		}
		m := make(map[string]bool, len(ids))
		for _, id := range ids {
			m[id] = true
		}
		return m
	}
	return access{channels: set(a.Channels), users: set(a.Users), teams: set(a.Teams), external: a.External}
}

// asker is who asked and where, for the allow-lists and the limits.
type asker struct {
	channel string
	user    string
	team    string // the user's team; in Slack Connect not always the bot's
	thread  string // where the answer goes; "" when not known yet
}

// allows reports whether the allow-lists let a's request in. A person of
// another team (Slack Connect) needs their team listed, or, with no team
// listed, External.
func (b *Bot) allows(a asker) bool {
	acc := b.access
	if acc.channels != nil && !acc.channels[a.channel] {
		return false
	}
	if acc.users != nil && !acc.users[a.user] {
		return false
	}
	if acc.teams != nil {
		return acc.teams[a.team]
	}
	return acc.external || a.team == "" || b.self.TeamID == "" || a.team == b.self.TeamID
}

// admits applies the allow-lists to a request. Outside them, a mention, a
// DM or a reaction gets deliberate silence (decline nil), while a command,
// a shortcut or a form, which people expect an answer to, is told
// privately that the app isn't enabled here.
func (b *Bot) admits(a asker, decline func(context.Context, handlers.Refusal)) bool {
	if b.allows(a) {
		return true
	}
	fields := []zap.Field{zap.String("channel", a.channel), zap.String("user", a.user), zap.String("team", a.team)}
	if decline == nil {
		b.log.Debug("ignored a request from outside the allow-lists", fields...)
		return false
	}
	b.log.Info("told a user outside the allow-lists that the app isn't enabled", fields...)
	b.pool.notify("not enabled", func(ctx context.Context) {
		decline(ctx, handlers.Refusal{Reason: handlers.RefusedNotEnabled})
	})
	return false
}

// limit is one counter a request is checked against.
type limit struct {
	key    string
	max    int64
	window time.Duration
	reason handlers.RefusalReason
}

// limitsOf are the counters a's request counts against, in the order they
// are checked.
func (b *Bot) limitsOf(a asker) []limit {
	l := b.cfg.Limits
	var out []limit
	if l.User.on() && a.user != "" {
		out = append(out, limit{"rate:user:" + a.user, l.User.N, l.User.Per, handlers.RefusedUserRate})
	}
	if l.Channel.on() && a.channel != "" {
		out = append(out, limit{"rate:channel:" + a.channel, l.Channel.N, l.Channel.Per, handlers.RefusedChannelRate})
	}
	if l.ThreadReplies > 0 && a.channel != "" && a.thread != "" {
		out = append(out, limit{"thread:" + a.channel + ":" + a.thread, l.ThreadReplies, l.ThreadWindow, handlers.RefusedThreadCap})
	}
	return out
}

// withinLimits counts a request against its limits and reports whether it
// stays within all of them. Over one, it is refused, and decline tells
// the user only the first time that limit refuses them in its window:
// after that silence until it resets, so that someone flooding the bot
// can't make it flood the channel. A store error lets the request through.
func (b *Bot) withinLimits(a asker, decline func(context.Context, handlers.Refusal)) bool {
	limits := b.limitsOf(a)
	if len(limits) == 0 {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	for _, l := range limits {
		n, resetIn, err := b.store.Count(ctx, l.key, l.window)
		if err != nil {
			b.log.Warn("limit store failed: letting the request through", zap.String("limit", l.key), zap.Error(err))
			continue
		}
		if n <= l.max {
			continue
		}
		why := handlers.Refusal{Reason: l.reason, Limit: l.max, Window: l.window, RetryIn: resetIn}
		if resetIn <= 0 {
			resetIn = l.window
		}
		first, err := b.store.Claim(ctx, resetIn, "told:"+l.key+":"+a.user)
		fields := []zap.Field{zap.String("limit", l.key), zap.String("user", a.user), zap.Int64("count", n), zap.Duration("reset_in", resetIn)}
		if !first && err == nil {
			b.log.Debug("refused a request over a limit, silently: the user was told already", fields...)
			return false
		}
		b.log.Info("refused a request over a limit and told the user", fields...)
		b.pool.notify("refused", func(ctx context.Context) { decline(ctx, why) })
		return false
	}
	return true
}
