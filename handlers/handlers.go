// Package handlers holds visionbot's flows: a mention, a DM or /analyze
// becomes one answer (or one specific error) in the photo's thread.
//
// It declares the few Slack and model calls it makes as small interfaces
// and imports neither slack-go nor genai, so every flow is tested with
// hand-written fakes.
package handlers

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/visionbot/visionbot/internal/vision"
	"github.com/visionbot/visionbot/prompts"
)

// File is a Slack file as the flows need it.
type File struct {
	ID       string
	Name     string
	Mimetype string
	Filetype string
	Size     int64
	// URLPrivate and URLDownload are the original's URLs; Thumbs are Slack's
	// own resized copies, which are far smaller and need no decoding here.
	URLPrivate  string
	URLDownload string
	Thumbs      []Thumb
	// Access is "check_file_info" for Slack Connect stubs that carry no
	// URLs: the real object must be fetched with files.info.
	Access string
}

// Thumb is one of Slack's thumbnails (thumb_720, thumb_1024, …).
type Thumb struct {
	URL    string
	Width  int
	Height int
}

// Message is a Slack message: the trigger itself or one found in a thread
// or in a channel's history.
type Message struct {
	Channel  string
	TS       string
	ThreadTS string
	User     string
	BotID    string
	Text     string
	Files    []File
}

// SlashCommand is an /analyze invocation.
type SlashCommand struct {
	Command     string
	Text        string
	Channel     string
	User        string
	ResponseURL string
}

// Slack is every Slack call the flows make.
type Slack interface {
	AddReaction(ctx context.Context, channel, ts, emoji string) error
	RemoveReaction(ctx context.Context, channel, ts, emoji string) error
	// PostReply posts Markdown in a thread, split into as many messages as
	// Slack's limits require.
	PostReply(ctx context.Context, channel, threadTS, markdown string) error
	// Respond answers a slash command with a message only its user sees.
	Respond(ctx context.Context, responseURL, text string) error
	// History returns a channel's top-level messages since oldest, newest first.
	History(ctx context.Context, channel string, oldest time.Time, limit int) ([]Message, error)
	// Replies returns a thread, its root first.
	Replies(ctx context.Context, channel, threadTS string) ([]Message, error)
	FileInfo(ctx context.Context, fileID string) (File, error)
	// Download fetches a Slack file URL, reading at most maxBytes.
	Download(ctx context.Context, url string, maxBytes int64) ([]byte, error)
}

// Model answers a vision request, calling onText with each piece of text as
// it arrives.
type Model interface {
	Stream(ctx context.Context, req vision.Request, onText func(string)) (vision.Usage, error)
}

// Config holds the limits of the flows.
type Config struct {
	// MaxImages bounds how many images of one message go into one request.
	MaxImages int
	// MaxFileBytes is the largest download accepted.
	MaxFileBytes int64
	// HistoryWindow is how far back /analyze looks for the user's photo.
	HistoryWindow time.Duration
	// HistoryLimit bounds how many messages /analyze reads.
	HistoryLimit int
	// BotName is how users call the bot in help texts ("@visionbot").
	BotName string
	// Command is the slash command's name in help texts ("/analyze").
	Command string
}

// DefaultConfig is what the bot runs with unless configured otherwise.
func DefaultConfig() Config {
	return Config{
		MaxImages:     4,
		MaxFileBytes:  20 << 20,
		HistoryWindow: 24 * time.Hour,
		HistoryLimit:  200,
		BotName:       "@visionbot",
		Command:       "/analyze",
	}
}

// Handler runs the flows. It is safe for concurrent use: every call is one
// job with no shared mutable state.
type Handler struct {
	slack   Slack
	model   Model
	catalog *prompts.Catalog
	log     *zap.Logger
	cfg     Config
	now     func() time.Time
}

// New returns a Handler. now may be nil (time.Now).
func New(slack Slack, model Model, catalog *prompts.Catalog, log *zap.Logger, cfg Config, now func() time.Time) *Handler {
	if now == nil {
		now = time.Now
	}
	def := DefaultConfig()
	if cfg.MaxImages <= 0 {
		cfg.MaxImages = def.MaxImages
	}
	if cfg.MaxFileBytes <= 0 {
		cfg.MaxFileBytes = def.MaxFileBytes
	}
	if cfg.HistoryWindow <= 0 {
		cfg.HistoryWindow = def.HistoryWindow
	}
	if cfg.HistoryLimit <= 0 {
		cfg.HistoryLimit = def.HistoryLimit
	}
	if cfg.BotName == "" {
		cfg.BotName = def.BotName
	}
	if cfg.Command == "" {
		cfg.Command = def.Command
	}
	return &Handler{slack: slack, model: model, catalog: catalog, log: log, cfg: cfg, now: now}
}
