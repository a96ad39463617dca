// Package handlers holds visionbot's flows: a mention, a DM or /analyze
// becomes one answer (or one specific error) in the photo's thread.
//
// It declares the few Slack and model calls it makes as small interfaces
// and imports neither slack-go nor genai, so every flow is tested with
// hand-written fakes. Slack's syntax is internal/slackmd's: the model's
// words made safe to post, the bot's links, code, mentions and dates.
package handlers

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/visionbot/visionbot/internal/settings"
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

	// What Slack gives besides the original for a video, an audio file or
	// a PDF (docs/media.md), so that a use case that needs less than the
	// original downloads less.

	// Display is Slack's media_display_type: "video" and "audio" for what
	// its player plays (a voice clip is "audio" even when its mimetype
	// says video/mp4), "unknown" for images, PDFs and the rest.
	Display string
	// Clip is the subtype of a clip recorded in Slack ("slack_audio",
	// "slack_video"), "" for an upload. slack-go's File has no subtype:
	// only a file read from its JSON (blocks.FilesJSON) has it.
	Clip string
	// Duration of a video or audio file (duration_ms); 0 when Slack gave
	// none.
	Duration time.Duration
	// Transcodes are Slack's own copies, by the file object's field that
	// names them: "mp4" and "mp4_low" (a video re-encoded, the second
	// smaller), "aac" (an audio file's sound, in an MP4 container), "hls"
	// (a playlist), "vtt" (the transcript, as WebVTT). A name is missing
	// until Slack has made that copy. Their sizes are unknown: Size is the
	// original's.
	Transcodes map[string]string
	// PDFThumb is the image of a PDF's first page (thumb_pdf), or of a
	// document Slack converted to PDF; VideoThumb a still of a video
	// (thumb_video), whose size is the video's frame size as far as
	// Slack's examples show.
	PDFThumb   Thumb
	VideoThumb Thumb
	// Transcript is the start of Slack's transcription of a video or
	// audio file (transcription.preview.content); TranscriptStatus its
	// status ("none", "complete", …); TranscriptComplete says Transcript
	// is all of it: the status is "complete" and Slack cut nothing
	// (has_more false). The whole transcript is Transcodes["vtt"].
	Transcript         string
	TranscriptStatus   string
	TranscriptComplete bool
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
	// Replies returns a thread's root, then at most newest of its
	// messages before the one at before, oldest first: the part of the
	// thread a follow-up can send, however long the thread.
	Replies(ctx context.Context, channel, threadTS, before string, newest int) ([]Message, error)
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

// Stops lets a person's Stop, wherever Slack delivers it, reach their own
// requests answering in the thread: anyone who sees the thread may click
// Stop, and it ends only what they asked.
type Stops interface {
	// Watch makes user's Stop in the thread call stop, until unwatch is
	// called.
	Watch(channel, thread, user string, stop func()) (unwatch func())
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

// ImageLimits bound the images of one request: the settings the bot
// shares with visionbot analyze. Each carries its name in the environment
// and its default in its tags (cmd/visionbot reads them).
type ImageLimits struct {
	// MaxImages bounds how many images of one message go into one request.
	MaxImages int `env:"MAX_IMAGES" envDefault:"4"`
	// MaxFileBytes is the largest download accepted.
	MaxFileBytes Size `env:"MAX_FILE_MB" envDefault:"20"`
	// MaxRequestBytes bounds the image bytes of one request to the model:
	// where the preferred copies don't fit, smaller ones are sent and the
	// answer says so. 0 is no bound. The default is under Gemini's 20 MB
	// inline request once base64-encoded, with room for the JSON
	// (gemini.InlineImageBudget, 14.25 MB; the command's tests check the
	// two agree).
	MaxRequestBytes Size `env:"MAX_REQUEST_MB" envDefault:"13"`
}

// Problems says, variable by variable, what is out of range.
func (l ImageLimits) Problems() []string {
	var p []string
	for _, bad := range []struct {
		name string
		bad  bool
	}{{"MAX_IMAGES", l.MaxImages <= 0}, {"MAX_FILE_MB", l.MaxFileBytes <= 0}, {"MAX_REQUEST_MB", l.MaxRequestBytes <= 0}} {
		if bad.bad {
			p = append(p, bad.name+" must be positive")
		}
	}
	return p
}

// Settings are the flows' settings an operator may change, besides the
// image limits: each carries its name in the environment and its default
// in its tags (cmd/visionbot reads them).
type Settings struct {
	// HistoryWindow is how far back /analyze looks for the user's photo.
	HistoryWindow time.Duration `env:"HISTORY_WINDOW" envDefault:"24h"`
	// MaxQuestion bounds a question's length in characters: a longer one
	// is refused with a message naming both numbers, not cut short.
	MaxQuestion int `env:"MAX_QUESTION_CHARS" envDefault:"2000"`
	// ProgressReactions adds :eyes: to the message being answered, then
	// :white_check_mark: or :warning:, beside the thread's loading status.
	ProgressReactions bool `env:"PROGRESS_REACTIONS" envDefault:"false"`
	// Reactions are the reaction triggers, for help texts (the bot's
	// decode reads the same).
	Reactions Reactions `env:"REACTION_TRIGGERS" envDefault:"fork_and_knife=recipe,mag=describe,apple=healthy,bar_chart=nutrition,computer=code,world_map=guide,art=doodle"`
}

// Problems says, variable by variable, what is out of range.
func (s Settings) Problems() []string {
	var p []string
	if s.HistoryWindow <= 0 {
		p = append(p, "HISTORY_WINDOW must be positive")
	}
	if s.MaxQuestion <= 0 {
		p = append(p, "MAX_QUESTION_CHARS must be positive")
	}
	return p
}

// Config holds the limits of the flows: the settings, and what the
// product fixes or the wiring learns at start.
type Config struct {
	ImageLimits
	Settings
	// HistoryLimit bounds how many messages /analyze reads.
	HistoryLimit int
	// BotName is how users call the bot in help texts ("@visionbot").
	BotName string
	// Command is the slash command's name in help texts ("/analyze").
	Command string
	// BotUserID tells the bot's own messages in a thread: its earlier
	// answers are the model's turns of a follow-up.
	BotUserID string
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
	// ChannelTokenCap is the operator's cap on a channel's daily token
	// allowance (CHANNEL_DAILY_TOKENS); 0 for none.
	ChannelTokenCap int64
	// RefLifetime is how long such a reference is honoured: the prompts
	// are picked right away, and an older one is refused with a word to
	// open the message again.
	RefLifetime time.Duration
	// MaxHistoryTurns and MaxHistoryChars bound the earlier turns of a
	// thread that a follow-up sends to the model.
	MaxHistoryTurns int
	MaxHistoryChars int
}

// Deps are what the flows work with besides Slack, the model and the
// catalog; each is optional.
type Deps struct {
	// Stops lets a person's Stop reach their request; nil for none.
	Stops Stops
	// Observer receives each request's figures when it ends; nil for none.
	Observer Observer
	// Spending is charged the tokens of each request that used the model,
	// when it ends; nil for no budgets.
	Spending Spending
	// Now is the clock; nil for time.Now.
	Now func() time.Time
	// Channels keeps each channel's settings; nil for none, where every
	// channel uses the operator's defaults.
	Channels Channels
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
	// TokensEstimated says that TokensOut and TokensThinking are the
	// adapter's estimate from the text produced, not Gemini's count: the
	// answer was cut (a Stop, a timeout) before Gemini counted it.
	TokensEstimated bool
}

// DefaultConfig is what the bot runs with unless configured otherwise:
// the settings' defaults from their tags, and the product's own.
func DefaultConfig() Config {
	return Config{
		ImageLimits:     settings.Defaults[ImageLimits](),
		Settings:        settings.Defaults[Settings](),
		HistoryLimit:    200,
		BotName:         "@visionbot",
		Command:         "/analyze",
		MaxHistoryTurns: 12,
		MaxHistoryChars: 24000,
		RefLifetime:     15 * time.Minute,
		Backend:         "the Gemini API",
	}
}

// Size is a number of bytes that configuration gives in whole megabytes
// (MiB): MAX_FILE_MB=20 is 20 << 20.
type Size int64

// UnmarshalText reads a whole number of megabytes.
func (s *Size) UnmarshalText(text []byte) error {
	mb, err := strconv.ParseInt(strings.TrimSpace(string(text)), 10, 64)
	if err != nil || mb > math.MaxInt64>>20 || mb < math.MinInt64>>20 {
		return fmt.Errorf("%q is not a whole number of megabytes", text)
	}
	*s = Size(mb << 20)
	return nil
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
func DefaultReactions() Reactions { return settings.Defaults[Settings]().Reactions }

// Flows are the flows: every request admitted ends in one of them. It is safe for concurrent use: every call is one
// job with no shared mutable state.
type Flows struct {
	slack   Slack
	model   Model
	catalog *prompts.Catalog
	log     *zap.Logger
	cfg     Config
	deps    Deps
	now     func() time.Time
	// ticker paces the refreshes of a thread's loading status; tests
	// replace it.
	ticker tickerFunc
	votes  *votes
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

// New returns a Flows with cfg as it is: start from DefaultConfig.
func New(slack Slack, model Model, catalog *prompts.Catalog, log *zap.Logger, cfg Config, deps Deps) *Flows {
	now := deps.Now
	if now == nil {
		now = time.Now
	}
	return &Flows{slack: slack, model: model, catalog: catalog, log: log, cfg: cfg, deps: deps, now: now, ticker: realTicker, votes: newVotes(maxVotesRemembered), goneOnce: &seenOnce{}}
}
