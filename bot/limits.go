package bot

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/visionbot/visionbot/bot/store"
	"github.com/visionbot/visionbot/handlers"
)

// Rate is at most N requests per Per; the zero Rate is no limit.
type Rate struct {
	N   int64
	Per time.Duration
}

func (r Rate) on() bool { return r.N > 0 && r.Per > 0 }

// UnmarshalText reads a rate such as 10/1m ("10/m" and "10/minute" too), or
// "off" (or "none", as earlier versions took, or a count of 0) for no
// limit, so that configuration parses it once, where it is read.
func (r *Rate) UnmarshalText(text []byte) error {
	s := strings.TrimSpace(string(text))
	if s == "off" || s == "none" {
		*r = Rate{}
		return nil
	}
	count, per, ok := strings.Cut(s, "/")
	n, err := strconv.ParseInt(strings.TrimSpace(count), 10, 64)
	window, werr := parseWindow(strings.TrimSpace(per))
	if !ok || err != nil || n < 0 || werr != nil || window <= 0 {
		return fmt.Errorf("%q is not N/duration such as 10/1m, or off", s)
	}
	*r = Rate{N: n, Per: window}
	if n == 0 {
		*r = Rate{} // none allowed would be no bot: 0 is read as off
	}
	return nil
}

// parseWindow reads a Go duration ("1m", "90s"), or a unit alone ("m",
// "minute") for one of it.
func parseWindow(s string) (time.Duration, error) {
	switch s {
	case "s", "sec", "second":
		return time.Second, nil
	case "m", "min", "minute":
		return time.Minute, nil
	case "h", "hour":
		return time.Hour, nil
	case "d", "day":
		return 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// Cap is a most-this-many limit; the zero Cap is no limit.
type Cap int64

// UnmarshalText reads a whole number, or "off" (or 0) for no limit.
func (c *Cap) UnmarshalText(text []byte) error {
	s := strings.TrimSpace(string(text))
	if s == "off" {
		*c = 0
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("%q must be a whole number: 0 (or off) for no cap, or more", s)
	}
	*c = Cap(n)
	return nil
}

// Limits bound what one user, one channel and one thread may ask of the
// bot. They are counted in the Store, so replicas sharing a RedisStore
// count together.
//
// Their settings carry their names in the environment and their defaults
// in their tags (cmd/visionbot reads them); start from DefaultConfig.
type Limits struct {
	User    Rate `env:"USER_RATE" envDefault:"10/1m"`
	Channel Rate `env:"CHANNEL_RATE" envDefault:"30/1m"`
	// ThreadReplies caps the requests one thread gets answered within
	// ThreadWindow, so that two bots mentioning each other run dry.
	ThreadReplies Cap `env:"MAX_REPLIES_PER_THREAD" envDefault:"20"`
	// ThreadWindow is no setting: DefaultConfig holds it.
	ThreadWindow time.Duration
}

// SlackID is the id of a Slack channel, user or team (C…, U…, T…), as
// the allow-lists name them: read from configuration, it must look like
// one, so that a name put there by mistake is an error, not a list that
// lets nobody in.
type SlackID string

// UnmarshalText checks the id: an upper-case letter, then upper-case
// letters and digits.
func (id *SlackID) UnmarshalText(text []byte) error {
	s := strings.TrimSpace(string(text))
	if !isSlackID(s) {
		return fmt.Errorf("%q is a name, not an id", s)
	}
	*id = SlackID(s)
	return nil
}

// SlackIDs is a comma-separated list of Slack ids; spaces and empty items
// are ignored.
type SlackIDs []SlackID

// UnmarshalText reads the list, refusing it whole for one bad id.
func (ids *SlackIDs) UnmarshalText(text []byte) error {
	var out SlackIDs
	for _, item := range strings.Split(string(text), ",") {
		if strings.TrimSpace(item) == "" {
			continue
		}
		var id SlackID
		if err := id.UnmarshalText([]byte(item)); err != nil {
			return err
		}
		out = append(out, id)
	}
	*ids = out
	return nil
}

func isSlackID(s string) bool {
	if len(s) < 2 || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for _, r := range s {
		if (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// Access says who may use the bot: a request passes only when every
// non-empty list names its channel, its user and its user's team.
//
// Each list carries its name in the environment (cmd/visionbot reads
// them); unset, a list lets everyone in.
type Access struct {
	Channels SlackIDs `env:"ALLOWED_CHANNELS"`
	Users    SlackIDs `env:"ALLOWED_USERS"`
	Teams    SlackIDs `env:"ALLOWED_TEAMS"`
	// External lets people of other teams than the bot's own (Slack
	// Connect) use the bot when Teams is empty.
	External bool `env:"ALLOW_EXTERNAL_USERS" envDefault:"false"`
}

// access is Access as sets.
type access struct {
	channels, users, teams map[string]bool
	external               bool
}

func newAccess(a Access) access {
	set := func(ids SlackIDs) map[string]bool {
		if len(ids) == 0 {
			return nil
		}
		m := make(map[string]bool, len(ids))
		for _, id := range ids {
			m[string(id)] = true
		}
		return m
	}
	return access{channels: set(a.Channels), users: set(a.Users), teams: set(a.Teams), external: a.External}
}

// needsTeam says whether the lists must know a user's team: when they name
// teams, or when outsiders are kept out and the bot knows its own team.
func (acc access) needsTeam(ownTeam string) bool {
	return acc.teams != nil || (!acc.external && ownTeam != "")
}

// allows reports whether the lists let o's request in. A person of
// another team (Slack Connect) needs their team listed, or, with no team
// listed, External; a person whose team is unknown passes only where the
// lists don't need it.
func (acc access) allows(o handlers.Origin, ownTeam string) bool {
	if acc.channels != nil && !acc.channels[o.Channel] {
		return false
	}
	if acc.users != nil && !acc.users[o.User] {
		return false
	}
	if acc.teams != nil {
		return acc.teams[o.Team]
	}
	return acc.external || ownTeam == "" || o.Team == ownTeam
}

// limit is one counter a request is checked against. A rate or the
// thread cap counts the request and refuses it beyond max; an allowance
// (read) is only read, refuses once its total reaches max, and resets when
// its window (the rest of the day) ends.
type limit struct {
	key    string
	max    int64
	window time.Duration
	reason handlers.RefusalReason
	read   bool
}

// passed reports whether the count c is beyond the limit.
func (l limit) passed(c store.Count) bool {
	if l.read {
		return c.N >= l.max
	}
	return c.N > l.max
}

// limitsOf are the counters o's request counts against, in the order they
// are checked: the rates, the thread cap, then the token allowances.
func (b *Bot) limitsOf(o handlers.Origin) []limit {
	l := b.cfg.Limits
	var out []limit
	if l.User.on() && o.User != "" {
		out = append(out, limit{key: "rate:user:" + o.User, max: l.User.N, window: l.User.Per, reason: handlers.RefusedUserRate})
	}
	if l.Channel.on() && o.Channel != "" {
		out = append(out, limit{key: "rate:channel:" + o.Channel, max: l.Channel.N, window: l.Channel.Per, reason: handlers.RefusedChannelRate})
	}
	// A cap without a window would expire as it is counted: none at all.
	if l.ThreadReplies > 0 && l.ThreadWindow > 0 && o.Channel != "" && o.Thread != "" {
		out = append(out, limit{key: "thread:" + o.Channel + ":" + o.Thread, max: int64(l.ThreadReplies), window: l.ThreadWindow, reason: handlers.RefusedThreadCap})
	}
	// The day's token allowances are read in the same call to the store.
	return append(out, b.deps.Ledger.limitsOf(o)...)
}

// quickLimitsOf are the counters of a quick request (a vote, the line
// after a 👎, a context change): the per-user rate, counted apart from the
// answers' own.
func (b *Bot) quickLimitsOf(o handlers.Origin) []limit {
	l := b.cfg.Limits
	if !l.User.on() || o.User == "" {
		return nil
	}
	return []limit{{key: "rate:quick:user:" + o.User, max: l.User.N, window: l.User.Per, reason: handlers.RefusedUserRate}}
}
