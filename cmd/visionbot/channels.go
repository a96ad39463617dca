package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/slack-go/slack"
	"go.uber.org/zap"

	"github.com/visionbot/visionbot/bot/settings"
	"github.com/visionbot/visionbot/bot/store"
	"github.com/visionbot/visionbot/prompts"
)

// loadChannelsFile is the operator's channel settings file
// (CHANNELS_FILE), checked against the catalog; nil when none is set. A
// mistake stops the start with the line to fix.
func loadChannelsFile(path string, catalog *prompts.Catalog) (*settings.File, error) {
	if path == "" {
		return nil, nil
	}
	f, err := settings.ReadFile(path, func(word string) (string, bool) {
		uc, ok := catalog.Lookup(word)
		return uc.Name, ok
	})
	if err != nil {
		return nil, usageError{fmt.Errorf("CHANNELS_FILE %w", err)}
	}
	return f, nil
}

// openChannels is where channels' settings are kept: in the Redis that
// replicas share, else in the embedded store's file (SETTINGS_DB), which
// one process at a time holds.
func openChannels(cfg config, db *store.Redis, file *settings.File, log *zap.Logger) (*settings.Channels, error) {
	if db != nil {
		log.Info("channel settings are kept in Redis", zap.String("redis", db.Addr()), zap.String("channels_file", file.Path()))
		return settings.NewRedis(db.Link(), file, log, settings.DefaultOptions()), nil
	}
	channels, err := settings.OpenBolt(cfg.Ops.Channels.Path, file, log, settings.DefaultOptions())
	if err != nil {
		return nil, usageError{fmt.Errorf("%w: set SETTINGS_DB to a file in a folder this user may write (a volume in a container), or REDIS_URL for replicas", err)}
	}
	log.Info("channel settings are kept in a file", zap.String("settings_db", cfg.Ops.Channels.Path), zap.String("channels_file", file.Path()))
	return channels, nil
}

// conversationInfo is what the check of the channels file asks Slack.
type conversationInfo interface {
	GetConversationInfoContext(ctx context.Context, input *slack.GetConversationInfoInput) (*slack.Channel, error)
}

// checkChannelsFile reads the operator's file and asks Slack about each
// channel it names: one that does not exist (or is private without the
// bot) or that the bot is not in is a warning naming its line, since the
// bot runs without it.
func checkChannelsFile(ctx context.Context, cfg config, catalog *prompts.Catalog, sl conversationInfo) []checkResult {
	const name = "channel settings file"
	if cfg.Ops.Channels.File == "" {
		return nil
	}
	if catalog == nil {
		return []checkResult{{checkFail, name, "not checked: the use cases did not load", "fix the use cases first"}}
	}
	f, err := loadChannelsFile(cfg.Ops.Channels.File, catalog)
	if err != nil {
		return []checkResult{{checkFail, name, err.Error(), "fix the line it names (README.md, Channel settings), or unset CHANNELS_FILE"}}
	}
	results := []checkResult{{checkPass, name, fmt.Sprintf("%s sets %d channels", cfg.Ops.Channels.File, len(f.Channels())), ""}}
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	for _, ch := range f.Channels() {
		c, err := sl.GetConversationInfoContext(ctx, &slack.GetConversationInfoInput{ChannelID: ch.ID})
		var refused slack.SlackErrorResponse
		switch {
		case errors.As(err, &refused) && refused.Err == "channel_not_found":
			results = append(results, checkResult{checkWarn, name, fmt.Sprintf("%s line %d: channel %s does not exist, or is private and the bot is not in it", cfg.Ops.Channels.File, ch.Line, ch.ID),
				"copy the ID from the bottom of the channel's details, or invite the bot to it"})
		case errors.As(err, &refused) && refused.Err == "missing_scope":
			results = append(results, checkResult{checkWarn, name, fmt.Sprintf("could not check the channels it names: the app lacks %s", refused.Needed),
				"add channels:read and groups:read under OAuth & Permissions, then reinstall the app"})
			return results
		case err != nil:
			results = append(results, checkResult{checkWarn, name, fmt.Sprintf("%s line %d: could not check channel %s: %v", cfg.Ops.Channels.File, ch.Line, ch.ID, err), ""})
		case !c.IsMember:
			results = append(results, checkResult{checkWarn, name, fmt.Sprintf("%s line %d: the bot is not in channel %s (#%s)", cfg.Ops.Channels.File, ch.Line, ch.ID, c.Name),
				"invite it there with /invite, or drop the channel from the file"})
		}
	}
	return results
}
