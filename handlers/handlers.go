// Package handlers holds visionbot's flows: a mention, a DM or /analyze
// becomes one answer (or one specific error) in the photo's thread.
//
// It declares the few Slack and model calls it makes as small interfaces
// and imports neither slack-go nor genai, so every flow is tested with
// hand-written fakes.
package handlers

import (
	"context"
	"errors"
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
	Team     string // the author's team: in Slack Connect, not always ours
	BotID    string
	Text     string
	Files    []File
	// Answer is set on the bot's own answers: what they were about.
	Answer *AnswerRef
}

// SlashCommand is an /analyze invocation.
type SlashCommand struct {
	Command     string
	Text        string
	Channel     string
	User        string
	Team        string
	ResponseURL string
	// TriggerID lets the command open a modal for a few seconds.
	TriggerID string
}

// ErrNotShown is a courtesy call (a progress reaction) that Slack skipped
// to keep the bot within Slack's rate tiers: nothing changed in Slack.
var ErrNotShown = errors.New("skipped to stay within Slack's rate limits")

// Slack is every Slack call the flows make.
type Slack interface {
	// AddReaction and RemoveReaction may return ErrNotShown under load.
	AddReaction(ctx context.Context, channel, ts, emoji string) error
	RemoveReaction(ctx context.Context, channel, ts, emoji string) error
	// PostReply posts Markdown in a thread, split into as many messages as
	// Slack's limits require.
	PostReply(ctx context.Context, channel, threadTS, markdown string) error
	// OpenReply starts an answer in a thread and returns at once: opening
	// its message runs alongside the download and the model.
	OpenReply(ctx context.Context, to Thread) Reply
	// Respond answers a slash command with a message only its user sees.
	Respond(ctx context.Context, responseURL, text string) error
	// PostMessage posts Markdown at the top of a channel and returns its ts.
	PostMessage(ctx context.Context, channel, markdown string) (string, error)
	// Message returns one message, top-level or in a thread.
	Message(ctx context.Context, channel, ts string) (Message, error)
	// OpenForm opens a modal; triggerID comes from the click or command.
	OpenForm(ctx context.Context, triggerID string, form Form) error
	// PublishHome shows the app's Home tab to a user.
	PublishHome(ctx context.Context, user string, home Home) error
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
	// BotUserID tells the bot's own messages in a thread: its earlier
	// answers are the model's turns of a follow-up.
	BotUserID string
	// Reactions maps an emoji name ("fork_and_knife") to the use case a
	// person adding it to a message with an image asks for.
	Reactions map[string]string
	// MaxQuestion bounds a question's length in characters: a longer one
	// is refused with a message naming both numbers, not cut short.
	MaxQuestion int
	// MaxHistoryTurns and MaxHistoryChars bound the earlier turns of a
	// thread that a follow-up sends to the model.
	MaxHistoryTurns int
	MaxHistoryChars int
	// Observer receives each request's figures when it ends; nil for none.
	Observer Observer
}

// Observer receives the figures of every request when it ends, for
// metrics. It is called once per request, on the request's goroutine, so
// it must be safe for concurrent use and quick.
type Observer interface {
	RequestDone(Figures)
}

// Figures are what one request did and how long each part took. A zero
// duration is a step the request did not reach.
type Figures struct {
	Trigger Trigger
	UseCase string
	// Outcome is "ok", what was shown instead of an answer ("help",
	// "form", "home", "no_image") or the vision.Kind of the failure, as in
	// the request's log line.
	Outcome string
	// ModelError is the vision.Kind of the model's failure, "" when the
	// model answered or was not asked.
	ModelError string
	Download   time.Duration // the images, all at once
	// FirstToken is from the request's start to the model's first text:
	// the download plus the model's time to first token.
	FirstToken time.Duration
	Model      time.Duration // the whole model call
	Slack      time.Duration // every Slack call of the request, added up
	Total      time.Duration
	ImageBytes int
	TokensIn   int
	TokensOut  int
}

// DefaultConfig is what the bot runs with unless configured otherwise.
func DefaultConfig() Config {
	return Config{
		MaxImages:       4,
		MaxFileBytes:    20 << 20,
		HistoryWindow:   24 * time.Hour,
		HistoryLimit:    200,
		BotName:         "@visionbot",
		Command:         "/analyze",
		Reactions:       DefaultReactions(),
		MaxQuestion:     2000,
		MaxHistoryTurns: 12,
		MaxHistoryChars: 24000,
	}
}

// DefaultReactions are the reaction triggers unless configured otherwise.
func DefaultReactions() map[string]string {
	return map[string]string{
		"fork_and_knife": "recipe",
		"mag":            "describe",
		"apple":          "healthy",
		"bar_chart":      "nutrition",
		"computer":       "code",
		"world_map":      "guide",
		"art":            "doodle",
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
	votes   *votes
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
	if cfg.Reactions == nil {
		cfg.Reactions = def.Reactions
	}
	if cfg.MaxQuestion <= 0 {
		cfg.MaxQuestion = def.MaxQuestion
	}
	if cfg.MaxHistoryTurns <= 0 {
		cfg.MaxHistoryTurns = def.MaxHistoryTurns
	}
	if cfg.MaxHistoryChars <= 0 {
		cfg.MaxHistoryChars = def.MaxHistoryChars
	}
	return &Handler{slack: slack, model: model, catalog: catalog, log: log, cfg: cfg, now: now, votes: newVotes()}
}
