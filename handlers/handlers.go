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
	"fmt"
	"strings"
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
	// User is who uploaded the file.
	User string
	// SharedIn are the conversations Slack lists the file as shared in
	// (files.info: channels, groups, ims and the keys of shares); only a
	// file read with files.info says it.
	SharedIn []string
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

// ErrNotShown is a courtesy call (a progress reaction) that Slack skipped
// to keep the bot within Slack's rate tiers: nothing changed in Slack.
var ErrNotShown = errors.New("skipped to stay within Slack's rate limits")

// Reader reads messages from Slack.
type Reader interface {
	// Message returns one message, top-level or in a thread.
	Message(ctx context.Context, channel, ts string) (Message, error)
	// History returns a channel's top-level messages since oldest, newest first.
	History(ctx context.Context, channel string, oldest time.Time, limit int) ([]Message, error)
	// Replies returns a thread, its root first.
	Replies(ctx context.Context, channel, threadTS string) ([]Message, error)
}

// Files fetches Slack files.
type Files interface {
	FileInfo(ctx context.Context, fileID string) (File, error)
	// Download fetches a Slack file URL, reading at most maxBytes.
	Download(ctx context.Context, url string, maxBytes int64) ([]byte, error)
}

// Poster writes to Slack: answers in threads, and private messages.
type Poster interface {
	// OpenReply starts an answer in a thread and returns at once: opening
	// its message runs alongside the download and the model.
	OpenReply(ctx context.Context, to Thread) Reply
	// PostReply posts Markdown in a thread, split into as many messages as
	// Slack's limits require.
	PostReply(ctx context.Context, channel, threadTS, markdown string) error
	// PostMessage posts Markdown at the top of a channel and returns its ts.
	PostMessage(ctx context.Context, channel, markdown string) (string, error)
	// Respond sends a message only its user sees, through a response_url.
	Respond(ctx context.Context, responseURL, text string) error
	// RespondDownvoted sends the private follow-up to a 👎.
	RespondDownvoted(ctx context.Context, responseURL string, d Downvoted) error
}

// Reactor shows progress with reactions on the message being answered.
// Both calls may return ErrNotShown under load.
type Reactor interface {
	AddReaction(ctx context.Context, channel, ts, emoji string) error
	RemoveReaction(ctx context.Context, channel, ts, emoji string) error
}

// Views opens modals and shows the Home tab.
type Views interface {
	// OpenForm opens a modal; triggerID comes from the click or command.
	OpenForm(ctx context.Context, triggerID string, form Form) error
	// PublishHome shows the app's Home tab to a user.
	PublishHome(ctx context.Context, user string, home Home) error
	// OpenSettings opens a channel's settings modal.
	OpenSettings(ctx context.Context, triggerID string, form SettingsForm) error
}

// Directory says where the bot is and who people are, for a channel's
// settings.
type Directory interface {
	// InChannel reports whether the bot is a member of channel: false,
	// not an error, for a channel Slack does not show it.
	InChannel(ctx context.Context, channel string) (bool, error)
	// IsAdmin reports whether a person is an admin or an owner of the
	// workspace.
	IsAdmin(ctx context.Context, user string) (bool, error)
}

// Agent is Slack's surface for AI apps: a thread's loading status, its
// agent session (while "processing", Slack shows the person a Stop button),
// and the suggested prompts of the Messages tab. Each call is a courtesy:
// under Slack's rate tiers it may be skipped with ErrNotShown.
type Agent interface {
	// SetStatus shows status, and loading messages to rotate through, in a
	// thread while its answer is prepared; an empty status clears it.
	SetStatus(ctx context.Context, channel, thread, status string, loading []string) error
	// SetSession sets the lifecycle status of a thread's agent session
	// ("processing", "active").
	SetSession(ctx context.Context, channel, thread, status string) error
	// SuggestPrompts offers prompts in a conversation: picking one sends
	// its Message as the person's message.
	SuggestPrompts(ctx context.Context, channel, title string, prompts []Prompt) error
}

// Prompt is one suggested prompt.
type Prompt struct {
	Title   string
	Message string
}

// Stops lets a person's Stop, wherever Slack delivers it, reach the request
// answering in their thread.
type Stops interface {
	// Watch makes a Stop in the thread call stop, until unwatch is called.
	Watch(channel, thread string, stop func()) (unwatch func())
}

// Slack is the Slack side of the flows, by role. The adapter in bot/slackapi
// plays every role, reads on its API and writes on the Writer of the
// request's lease (api.Slack(lease)); tests give each one a fake.
type Slack struct {
	Reader    Reader
	Files     Files
	Poster    Poster
	Reactor   Reactor
	Views     Views
	Agent     Agent
	Directory Directory
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
	// MaxRequestBytes bounds the image bytes of one request to the model:
	// where the preferred copies don't fit, smaller ones are sent and the
	// answer says so. 0 is no bound.
	MaxRequestBytes int64
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
	// Reactions are the reaction triggers, for help texts.
	Reactions Reactions
	// ProgressReactions adds :eyes: to the message being answered, then
	// :white_check_mark: or :warning:, beside the thread's loading status.
	ProgressReactions bool
	// Backend names where photos go, for the texts that say so: "the
	// Gemini API" or "Vertex AI in project P (L)"; VertexAI says whose
	// terms apply.
	Backend  string
	VertexAI bool
	// RequestLogs (GEMINI_REQUEST_LOGS) says the Gemini API keeps each
	// request and answer in the project's logs; Grounding (GROUNDING)
	// that the use cases that ask for it search Google, which keeps those
	// requests 30 days. The privacy text says what Google keeps from both.
	RequestLogs bool
	Grounding   bool
	// RefKey signs the references to messages that suggested prompts
	// carry, so that a typed reference can't make the bot read a message
	// the person may not see. Replicas share it.
	RefKey []byte
	// RefLifetime is how long such a reference is honoured: the prompts
	// are picked right away, and an older one is refused with a word to
	// open the message again.
	RefLifetime time.Duration
	// Stops lets a person's Stop reach their request; nil for none.
	Stops Stops
	// MaxQuestion bounds a question's length in characters: a longer one
	// is refused with a message naming both numbers, not cut short.
	MaxQuestion int
	// MaxHistoryTurns and MaxHistoryChars bound the earlier turns of a
	// thread that a follow-up sends to the model.
	MaxHistoryTurns int
	MaxHistoryChars int
	// Observer receives each request's figures when it ends; nil for none.
	Observer Observer
	// Spending is charged the tokens of each request that used the model,
	// when it ends; nil for no budgets.
	Spending Spending
	// Channels keeps each channel's settings; nil for none, where every
	// channel uses the operator's defaults.
	Channels Channels
	// ChannelTokenCap is the operator's cap on a channel's daily token
	// allowance (CHANNEL_DAILY_TOKENS); 0 for none.
	ChannelTokenCap int64
}

// Spending charges what a request cost to the daily budgets it counts
// against (the bot's store, shared by replicas). It is called once, when
// the request ends, with the tokens Gemini reported (input, output and
// thinking together).
type Spending interface {
	Spend(ctx context.Context, o Origin, tokens int)
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
	// "form", "home", "no_image") or the failure.Kind of the failure, as in
	// the request's log line.
	Outcome string
	// ModelError is the failure.Kind of the model's failure, "" when the
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
	// Tokens Gemini reported: the prompt and images, the answer's text,
	// and thinking (billed as output), continuations included.
	TokensIn       int
	TokensOut      int
	TokensThinking int
}

// DefaultConfig is what the bot runs with unless configured otherwise: the
// one place these defaults are written.
func DefaultConfig() Config {
	return Config{
		MaxImages:    4,
		MaxFileBytes: 20 << 20,
		// Under Gemini's 20 MB inline request once base64-encoded, with
		// room for the JSON (gemini.InlineImageBudget, 14.25 MB; the
		// command's tests check the two agree).
		MaxRequestBytes: 13 << 20,
		HistoryWindow:   24 * time.Hour,
		HistoryLimit:    200,
		BotName:         "@visionbot",
		Command:         "/analyze",
		Reactions:       DefaultReactions(),
		MaxQuestion:     2000,
		MaxHistoryTurns: 12,
		MaxHistoryChars: 24000,
		RefLifetime:     15 * time.Minute,
		Backend:         "the Gemini API",
	}
}

// Reactions maps an emoji's name ("fork_and_knife") to the use case a
// person adding it to a message with an image asks for.
type Reactions map[string]string

// UnmarshalText reads REACTION_TRIGGERS: "fork_and_knife=recipe,mag=describe"
// (colons around emoji names are allowed), or "off" (or "none", as earlier
// versions took) for none. Whether each use case exists is checked against
// the catalog, once it is loaded.
func (r *Reactions) UnmarshalText(text []byte) error {
	s := strings.TrimSpace(string(text))
	if s == "off" || s == "none" {
		*r = Reactions{}
		return nil
	}
	out := Reactions{}
	for _, pair := range strings.Split(s, ",") {
		emoji, useCase, ok := strings.Cut(pair, "=")
		emoji = strings.Trim(strings.TrimSpace(emoji), ":")
		useCase = strings.ToLower(strings.TrimSpace(useCase))
		if !ok || emoji == "" || useCase == "" {
			return fmt.Errorf("%q is not a list of emoji=use-case pairs such as fork_and_knife=recipe,mag=describe (or off)", s)
		}
		out[emoji] = useCase
	}
	*r = out
	return nil
}

// DefaultReactions are the reaction triggers unless configured otherwise.
func DefaultReactions() Reactions {
	return Reactions{
		"fork_and_knife": "recipe",
		"mag":            "describe",
		"apple":          "healthy",
		"bar_chart":      "nutrition",
		"computer":       "code",
		"world_map":      "guide",
		"art":            "doodle",
	}
}

// Flows are the flows: every request admitted ends in one of them. It is safe for concurrent use: every call is one
// job with no shared mutable state.
type Flows struct {
	slack   Slack
	model   Model
	catalog *prompts.Catalog
	log     *zap.Logger
	cfg     Config
	now     func() time.Time
	votes   *votes
	// goneOnce logs each use case a channel's settings name and the
	// catalog lost once.
	goneOnce *seenOnce
}

// With is the handler writing to Slack through s: the queue runs each
// request on the Slack its lease allows.
func (h *Flows) With(s Slack) *Flows {
	c := *h
	c.slack = s
	return &c
}

// New returns a Flows with cfg as it is: start from DefaultConfig. now
// may be nil (time.Now).
func New(slack Slack, model Model, catalog *prompts.Catalog, log *zap.Logger, cfg Config, now func() time.Time) *Flows {
	if now == nil {
		now = time.Now
	}
	return &Flows{slack: slack, model: model, catalog: catalog, log: log, cfg: cfg, now: now, votes: newVotes(), goneOnce: &seenOnce{}}
}
