package bot

import (
	"context"
	"sync"
	"time"
)

// Remembering users' teams: a person's team does not change, so one
// users.info a day is enough for all their reactions and commands, and the
// memory stays bounded under a flood of distinct users.
const (
	teamCacheSize = 10_000
	teamCacheTTL  = 24 * time.Hour
)

// teamCache remembers the teams a lookup found; failed lookups are not
// remembered, so that a passing Slack error costs one request, not a day.
type teamCache struct {
	lookup Teams
	max    int
	ttl    time.Duration
	now    func() time.Time

	mu      sync.Mutex
	entries map[string]cachedTeam
}

type cachedTeam struct {
	team  string
	until time.Time
}

// CachedTeams remembers what lookup finds for a day, for at most 10 000
// users.
func CachedTeams(lookup Teams) Teams {
	return &teamCache{lookup: lookup, max: teamCacheSize, ttl: teamCacheTTL, now: time.Now, entries: map[string]cachedTeam{}}
}

func (c *teamCache) TeamOf(ctx context.Context, user string) (string, error) {
	c.mu.Lock()
	e, ok := c.entries[user]
	c.mu.Unlock()
	if ok && c.now().Before(e.until) {
		return e.team, nil
	}
	team, err := c.lookup.TeamOf(ctx, user)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		c.evict()
	}
	c.entries[user] = cachedTeam{team: team, until: c.now().Add(c.ttl)}
	return team, nil
}

// evict makes room: the expired entries go, and if that is not enough, a
// tenth of the others (map order picks them at random).
func (c *teamCache) evict() {
	now := c.now()
	for user, e := range c.entries {
		if !now.Before(e.until) {
			delete(c.entries, user)
		}
	}
	for user := range c.entries {
		if len(c.entries) < c.max-c.max/10 {
			break
		}
		delete(c.entries, user)
	}
}
