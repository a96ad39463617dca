// Package settings keeps each channel's settings: the operator's file of
// defaults and locks (File), and what the channel's members saved from
// Slack, in Redis when replicas share one, else in an embedded store on
// disk (bbolt). Both are read through this replica's memory, which Redis
// keeps current by telling every replica of each save (publish and
// subscribe), so that reading a channel's settings costs a request no
// round trip once it was read. It knows nothing of Slack: channels and
// people are IDs.
package settings

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/visionbot/visionbot/handlers"
)

// Config is how channel settings are kept, from the environment.
type Config struct {
	// File is the operator's channel settings file; "" for none.
	File string `env:"CHANNELS_FILE"`
	// Path is the embedded store's file, where channel settings are kept
	// without REDIS_URL.
	Path string `env:"SETTINGS_DB" envDefault:"visionbot-settings.db"`
}

// Record is what a channel's members saved, with its version and who
// saved it last, when.
type Record struct {
	Values  handlers.ChannelValues `json:"values"`
	Version int64                  `json:"version"`
	By      string                 `json:"by,omitempty"`
	At      time.Time              `json:"at,omitzero"`
}

// backend is where records are kept: Redis, or the file on disk.
type backend interface {
	// load is a channel's record; the zero Record for none.
	load(ctx context.Context, channel string) (Record, error)
	// save applies change to the channel's record, all or nothing, and
	// returns it before and after.
	save(ctx context.Context, channel string, change handlers.ChannelValues, by string, at time.Time) (before, after Record, err error)
	close() error
}

// Options tune a Channels.
type Options struct {
	// TTL bounds how long a record read is trusted without word from
	// Redis: a guard against a word lost, which a reconnection also
	// covers.
	TTL time.Duration
	// Invalidated, when set, is called after another replica's save (or a
	// reconnection) dropped what this replica remembered of a channel ("" for
	// every channel): tests wait on it.
	Invalidated func(channel string)
	// Now is the clock; nil for time.Now.
	Now func() time.Time
	// LockTimeout is how long opening the embedded store waits for
	// another process to let go of its file: a replica restarting waits
	// for the old one to stop; two running at once is a mistake to say.
	LockTimeout time.Duration
}

// DefaultOptions are what the bot runs with.
func DefaultOptions() Options { return Options{TTL: 5 * time.Minute, LockTimeout: 5 * time.Second} }

// maxCached bounds the channels remembered: far more than one workspace
// uses the bot in.
const maxCached = 10_000

// Channels are the channels' settings, as the flows and admission read
// them (handlers.Channels, bot.Channels). Safe for concurrent use.
type Channels struct {
	file  *File
	store backend
	log   *zap.Logger
	opts  Options

	mu    sync.Mutex
	cache map[string]cached
	// dropped counts what was dropped from the cache: a read that saw it
	// change while it asked the store does not keep what it read, which
	// may be older than the drop.
	dropped uint64
}

type cached struct {
	rec   Record
	until time.Time
}

func newChannels(file *File, store backend, log *zap.Logger, opts Options) *Channels {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.TTL <= 0 {
		opts.TTL = DefaultOptions().TTL
	}
	return &Channels{file: file, store: store, log: log, opts: opts, cache: map[string]cached{}}
}

var (
	_ handlers.Channels = (*Channels)(nil)
)

// Settings implements handlers.Channels: the operator's rules and what the
// channel's members saved, from memory when it is there. When the store
// can't be read, what this replica last read is used, even past its TTL;
// with nothing, the operator's rules alone, and the error.
func (c *Channels) Settings(ctx context.Context, channel string) (handlers.ChannelSettings, error) {
	rules := c.file.Rules(channel)
	now := c.opts.Now()
	c.mu.Lock()
	hit, ok := c.cache[channel]
	dropped := c.dropped
	c.mu.Unlock()
	if ok && now.Before(hit.until) {
		return settingsOf(rules, hit.rec), nil
	}
	rec, err := c.store.load(ctx, channel)
	if err != nil {
		if ok {
			c.log.Debug("read a channel's settings: using what this replica read last", zap.String("channel", channel), zap.Error(err))
			return settingsOf(rules, hit.rec), nil
		}
		return handlers.ChannelSettings{Operator: rules}, fmt.Errorf("read the settings of channel %s: %w", channel, err)
	}
	c.mu.Lock()
	if c.dropped == dropped {
		c.remember(channel, rec, now)
	}
	c.mu.Unlock()
	return settingsOf(rules, rec), nil
}

// Save implements handlers.Channels.
func (c *Channels) Save(ctx context.Context, channel string, change handlers.ChannelValues, by string) (before, after handlers.ChannelSettings, err error) {
	rules := c.file.Rules(channel)
	now := c.opts.Now()
	b, a, err := c.store.save(ctx, channel, change, by, now.UTC())
	if err != nil {
		return handlers.ChannelSettings{}, handlers.ChannelSettings{}, fmt.Errorf("save the settings of channel %s: %w", channel, err)
	}
	c.mu.Lock()
	c.dropped++ // a read under way may hold what this replaced
	c.remember(channel, a, now)
	c.mu.Unlock()
	return settingsOf(rules, b), settingsOf(rules, a), nil
}

// remember keeps rec for the TTL; the caller holds mu.
func (c *Channels) remember(channel string, rec Record, now time.Time) {
	if _, ok := c.cache[channel]; !ok && len(c.cache) >= maxCached {
		for ch, e := range c.cache {
			if !now.Before(e.until) || len(c.cache) >= maxCached-maxCached/10 {
				delete(c.cache, ch)
			}
		}
	}
	c.cache[channel] = cached{rec: rec, until: now.Add(c.opts.TTL)}
}

// changed drops what this replica remembers of a channel that another
// replica saved as version (0: whatever it is); "" drops every channel,
// after a reconnection in which words may have been lost.
func (c *Channels) changed(channel string, version int64) {
	c.mu.Lock()
	switch e, ok := c.cache[channel]; {
	case channel == "":
		clear(c.cache)
		c.dropped++
	case ok && version > 0 && e.rec.Version >= version:
		// This replica's own save, or one it has read already.
		c.mu.Unlock()
		return
	default:
		delete(c.cache, channel)
		c.dropped++
	}
	c.mu.Unlock()
	if c.opts.Invalidated != nil {
		c.opts.Invalidated(channel)
	}
}

// Close closes the store.
func (c *Channels) Close() error { return c.store.close() }

// File is the operator's file; nil for none.
func (c *Channels) File() *File { return c.file }

func settingsOf(rules handlers.ChannelRules, rec Record) handlers.ChannelSettings {
	return handlers.ChannelSettings{Operator: rules, Members: rec.Values, Version: rec.Version, ChangedBy: rec.By, ChangedAt: rec.At}
}

// merge is rec with change saved by by at at: the one rule of a save,
// for both stores.
func merge(rec Record, change handlers.ChannelValues, by string, at time.Time) Record {
	rec.Values = rec.Values.Merge(change)
	rec.Version++
	rec.By, rec.At = by, at
	return rec
}

// ErrLocked is the store's file held by another process.
var ErrLocked = errors.New("another process holds it")
