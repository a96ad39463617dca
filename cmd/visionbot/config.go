package main

import (
	"encoding"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/joho/godotenv"
	"go.uber.org/zap/zapcore"

	"github.com/visionbot/visionbot/bot"
	"github.com/visionbot/visionbot/bot/queue"
	"github.com/visionbot/visionbot/bot/settings"
	"github.com/visionbot/visionbot/bot/slackapi"
	"github.com/visionbot/visionbot/bot/store"
	"github.com/visionbot/visionbot/gemini"
	"github.com/visionbot/visionbot/handlers"
)

// secret holds a token or key. It prints as a placeholder, so that a
// config dumped in a log or an error never shows it.
type secret string

func (s secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString keeps %#v from printing it either.
func (s secret) GoString() string { return s.String() }

// reveal is the one way to the value, for the clients that need it.
func (s secret) reveal() string { return string(s) }

// config is every setting, from the environment and a .env file, parsed
// once into typed values: a rate is a bot.Rate, a list of ids a
// bot.SlackIDs, from the moment it is read. Each field's part tag says
// which group of settings it belongs to: a subcommand checks only the
// parts it uses. Defaults come from the packages that use the settings
// (see defaultConfig), never from tags here, so each is written once.
type config struct {
	SlackBotToken secret `env:"SLACK_BOT_TOKEN" part:"slack"`
	SlackAppToken secret `env:"SLACK_APP_TOKEN" part:"slack"`
	SlackAPIURL   webURL `env:"SLACK_API_URL" part:"slack"`

	GeminiAPIKey  secret          `env:"GEMINI_API_KEY" part:"gemini"`
	GoogleAPIKey  secret          `env:"GOOGLE_API_KEY" part:"gemini"`
	UseVertexAI   bool            `env:"GOOGLE_GENAI_USE_VERTEXAI" part:"gemini"`
	CloudProject  string          `env:"GOOGLE_CLOUD_PROJECT" part:"gemini"`
	CloudLocation string          `env:"GOOGLE_CLOUD_LOCATION" part:"gemini"`
	GeminiBaseURL webURL          `env:"GOOGLE_GEMINI_BASE_URL" part:"gemini"`
	GeminiModel   string          `env:"GEMINI_MODEL" part:"gemini"`
	Thinking      gemini.Thinking `env:"GEMINI_THINKING" part:"gemini"`
	GeminiTimeout time.Duration   `env:"GEMINI_TIMEOUT" part:"gemini"`
	// Grounding lets use cases that ask for it search Google, which is
	// billed per grounded request.
	Grounding gemini.Grounding `env:"GROUNDING" part:"gemini"`
	// RequestLogs lets the Gemini API keep requests in the project's logs;
	// off, every request says store: false.
	RequestLogs gemini.RequestLogs `env:"GEMINI_REQUEST_LOGS" part:"gemini"`

	MaxImages int `env:"MAX_IMAGES" part:"images"`
	MaxFileMB int `env:"MAX_FILE_MB" part:"images"`
	// MaxRequestMB bounds the image bytes of one request to Gemini.
	MaxRequestMB int    `env:"MAX_REQUEST_MB" part:"images"`
	PromptsDir   string `env:"PROMPTS_DIR" part:"prompts"`

	Workers       int           `env:"WORKERS" part:"bot"`
	QueueSize     int           `env:"QUEUE_SIZE" part:"bot"`
	JobTimeout    time.Duration `env:"JOB_TIMEOUT" part:"bot"`
	ShutdownGrace time.Duration `env:"SHUTDOWN_GRACE" part:"bot"`
	HistoryWindow time.Duration `env:"HISTORY_WINDOW" part:"bot"`

	ProgressReactions bool                `env:"PROGRESS_REACTIONS" part:"bot"`
	StreamMode        slackapi.StreamMode `env:"STREAM_MODE" part:"bot"`
	StreamInterval    time.Duration       `env:"STREAM_INTERVAL" part:"bot"`
	MaxAnswerParts    int                 `env:"MAX_ANSWER_PARTS" part:"bot"`
	ReactionTriggers  handlers.Reactions  `env:"REACTION_TRIGGERS" part:"bot"`

	UserRate            bot.Rate `env:"USER_RATE" part:"bot"`
	ChannelRate         bot.Rate `env:"CHANNEL_RATE" part:"bot"`
	MaxRepliesPerThread bot.Cap  `env:"MAX_REPLIES_PER_THREAD" part:"bot"`
	MaxQuestionChars    int      `env:"MAX_QUESTION_CHARS" part:"bot"`
	// Daily token allowances; 0 (off) for none.
	UserDailyTokens      bot.Tokens `env:"USER_DAILY_TOKENS" part:"bot"`
	ChannelDailyTokens   bot.Tokens `env:"CHANNEL_DAILY_TOKENS" part:"bot"`
	WorkspaceDailyTokens bot.Tokens `env:"WORKSPACE_DAILY_TOKENS" part:"bot"`
	// Allow-lists: empty lets everyone in.
	AllowedChannels    bot.SlackIDs `env:"ALLOWED_CHANNELS" part:"bot"`
	AllowedUsers       bot.SlackIDs `env:"ALLOWED_USERS" part:"bot"`
	AllowedTeams       bot.SlackIDs `env:"ALLOWED_TEAMS" part:"bot"`
	AllowExternalUsers bool         `env:"ALLOW_EXTERNAL_USERS" part:"bot"`
	// RedisURL is the Redis that replicas share seen events and limits
	// through; empty for this process's memory. It may hold a password.
	RedisURL redisURL `env:"REDIS_URL" part:"bot"`
	// JobClaimAfter is how long a request held by a replica that stopped
	// renewing it waits before another replica takes it over.
	JobClaimAfter time.Duration `env:"JOB_CLAIM_AFTER" part:"bot"`

	LogLevel  logLevel  `env:"LOG_LEVEL" part:"bot"`
	LogFormat logFormat `env:"LOG_FORMAT" part:"bot"`
	// MetricsAddr is where /metrics, /healthz, /readyz and pprof listen;
	// empty for nowhere.
	MetricsAddr string `env:"METRICS_ADDR" part:"bot"`

	// Channel settings: the operator's file (CHANNELS_FILE) and the
	// embedded store's (SETTINGS_DB), with their defaults in their package.
	settings.Config
}

// defaultConfig is the configuration before the environment is read: the
// packages' own defaults, and this command's.
func defaultConfig() config {
	b, q, h, g, st := bot.DefaultConfig(), queue.DefaultConfig(), handlers.DefaultConfig(), gemini.DefaultConfig(), slackapi.DefaultStreamConfig()
	slackAPI, _ := url.Parse("https://slack.com/api/")
	return config{
		SlackAPIURL:   webURL{slackAPI},
		GeminiModel:   g.Model,
		Thinking:      g.Thinking,
		GeminiTimeout: g.Timeout,
		Grounding:     gemini.Grounding(g.Grounding),
		RequestLogs:   gemini.RequestLogs(g.RequestLogs),

		MaxImages:    h.MaxImages,
		MaxFileMB:    int(h.MaxFileBytes >> 20),
		MaxRequestMB: int(h.MaxRequestBytes >> 20),

		Workers:       q.Workers,
		QueueSize:     q.Queue,
		JobTimeout:    q.JobTimeout,
		ShutdownGrace: q.ShutdownGrace,
		HistoryWindow: h.HistoryWindow,

		ProgressReactions: h.ProgressReactions,
		StreamMode:        st.Mode,
		StreamInterval:    st.Interval,
		MaxAnswerParts:    st.MaxParts,
		ReactionTriggers:  h.Reactions,

		UserRate:            b.Limits.User,
		ChannelRate:         b.Limits.Channel,
		MaxRepliesPerThread: b.Limits.ThreadReplies,
		MaxQuestionChars:    h.MaxQuestion,
		JobClaimAfter:       q.ClaimAfter,

		LogLevel:  logLevel{zapcore.InfoLevel},
		LogFormat: "json",
	}
}

// webURL is an http(s) URL from configuration.
type webURL struct{ *url.URL }

func (u *webURL) UnmarshalText(text []byte) error {
	parsed, err := url.Parse(string(text))
	if err != nil || (parsed.Scheme != "https" && parsed.Scheme != "http") || parsed.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL such as https://example.com/api/; leave it unset for the service's own endpoint", text)
	}
	u.URL = parsed
	return nil
}

// String is the URL, or "" when none was set.
func (u webURL) String() string {
	if u.URL == nil {
		return ""
	}
	return u.URL.String()
}

// redisURL is REDIS_URL: a secret, checked as it is read without its
// password ever reaching an error.
type redisURL struct{ secret }

func (r *redisURL) UnmarshalText(text []byte) error {
	if err := store.CheckRedisURL(string(text)); err != nil {
		return fmt.Errorf("is not a Redis URL such as redis://redis:6379/0 (redis://[:password@]host:port/db, or rediss:// for TLS): %w", err)
	}
	r.secret = secret(text)
	return nil
}

// logLevel is LOG_LEVEL.
type logLevel struct{ zapcore.Level }

func (l *logLevel) UnmarshalText(text []byte) error {
	switch string(text) {
	case "debug", "info", "warn", "error":
		return l.Level.UnmarshalText(text)
	}
	return fmt.Errorf("%q is not debug, info, warn or error", text)
}

// logFormat is LOG_FORMAT.
type logFormat string

func (f *logFormat) UnmarshalText(text []byte) error {
	switch format := logFormat(text); format {
	case "json", "console":
		*f = format
		return nil
	}
	return fmt.Errorf("%q is not json or console", text)
}

// part is a group of settings, named by the part tags of config. A
// subcommand reads and checks only the parts it uses: analyzing a photo
// on a laptop needs no Slack token.
type part uint8

const (
	partSlack   part = 1 << iota // the Slack tokens and API URL
	partGemini                   // the model and its credentials
	partImages                   // limits on images
	partPrompts                  // the use cases (PROMPTS_DIR)
	partBot                      // the loop, streaming, reactions, logs and metrics

	partAll = partSlack | partGemini | partImages | partPrompts | partBot
)

// partNamed reads a field's part tag.
func partNamed(tag string) part {
	switch tag {
	case "slack":
		return partSlack
	case "gemini":
		return partGemini
	case "images":
		return partImages
	case "prompts":
		return partPrompts
	case "bot":
		return partBot
	}
	return partAll
}

// geminiKey is the API key, GEMINI_API_KEY first as Google's SDKs do.
func (c config) geminiKey() secret {
	if c.GeminiAPIKey != "" {
		return c.GeminiAPIKey
	}
	return c.GoogleAPIKey
}

// configError lists every configuration problem at once, each with how to
// fix it.
type configError struct{ problems []string }

func (e *configError) Error() string {
	return "configuration problems:\n  - " + strings.Join(e.problems, "\n  - ") +
		"\nSet them in the environment or in a .env file in the working directory (see README.md, Configuration)."
}

// loadConfig reads the variables of the parts it needs through getenv,
// then a .env file in the working directory for those still unset: the
// environment wins, as with godotenv.Load, but without changing this
// process's environment. The other variables keep their defaults, and a
// mistake in one of them is no problem for a subcommand that never uses it.
func loadConfig(getenv func(string) string, dotenvPath string, need part) (config, error) {
	cfg := defaultConfig()
	params, err := env.GetFieldParams(&cfg)
	if err != nil {
		return cfg, fmt.Errorf("read config fields: %w", err)
	}
	dotenv, err := godotenv.Read(dotenvPath)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return cfg, &configError{problems: []string{fmt.Sprintf("%s could not be read: %v", dotenvPath, err)}}
	}
	partOf := map[string]part{}
	for _, f := range reflect.VisibleFields(reflect.TypeFor[config]()) {
		partOf[f.Tag.Get("env")] = partNamed(f.Tag.Get("part"))
	}
	values := make(map[string]string, len(params))
	for _, p := range params {
		if partOf[p.Key]&need == 0 {
			continue
		}
		if v := getenv(p.Key); v != "" {
			values[p.Key] = v
		} else if v, ok := dotenv[p.Key]; ok && v != "" {
			values[p.Key] = v
		}
	}
	var problems []string
	if err := env.ParseWithOptions(&cfg, env.Options{Environment: values}); err != nil {
		problems = parseProblems(err, values)
	}
	// A value that did not parse kept its default, so the checks of the
	// others still say everything that is wrong at once.
	if problems = append(problems, cfg.validate(need)...); len(problems) > 0 {
		return cfg, &configError{problems: problems}
	}
	return cfg, nil
}

// idListHelp says, for an allow-list, what its ids are and where to find
// them, for the message about a list that holds a name.
func idListHelp(key string) (what, example, where string, ok bool) {
	switch key {
	case "ALLOWED_CHANNELS":
		return "channel", "C0123ABCD,C0456EFGH", "a channel's id is at the bottom of its details", true
	case "ALLOWED_USERS":
		return "user", "U0123ABCD,U0456EFGH", "a member's id is under Copy member ID in their profile's ⋮ menu", true
	case "ALLOWED_TEAMS":
		return "team", "T0123ABCD,T0456EFGH", "your workspace's id is the T… that visionbot check shows", true
	}
	return "", "", "", false
}

// parseProblems turns the env library's errors, which name Go fields,
// into sentences that name the variable and what it should hold. A
// secret's value is never repeated.
func parseProblems(err error, values map[string]string) []string {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return []string{err.Error()}
	}
	out := make([]string, 0, len(agg.Errors))
	for _, e := range agg.Errors {
		var pe env.ParseError
		if !errors.As(e, &pe) {
			out = append(out, e.Error())
			continue
		}
		field, _ := reflect.TypeFor[config]().FieldByName(pe.Name)
		key := field.Tag.Get("env")
		if what, example, where, ok := idListHelp(key); ok {
			out = append(out, fmt.Sprintf("%s %q is not a list of %s ids such as %s: %v; %s",
				key, values[key], what, example, pe.Err, where))
			continue
		}
		if reflect.PointerTo(pe.Type).Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) {
			// The type's own words, which quote the value unless it is a
			// secret.
			out = append(out, key+" "+pe.Err.Error())
			continue
		}
		want := "a valid " + pe.Type.String()
		switch pe.Type {
		case reflect.TypeFor[time.Duration]():
			want = "a duration such as 30s, 5m or 24h"
		case reflect.TypeFor[int]():
			want = "a whole number"
		case reflect.TypeFor[bool]():
			want = "true or false"
		}
		out = append(out, fmt.Sprintf("%s=%q is not %s", key, values[key], want))
	}
	return out
}

const (
	botTokenHelp = "the Bot User OAuth Token (xoxb-…) is under OAuth & Permissions in your app's settings at api.slack.com/apps"
	appTokenHelp = "create an App-Level Token with the connections:write scope under Basic Information → App-Level Tokens (xapp-…)"
)

// validate checks the parts a subcommand needs and returns every problem.
func (c config) validate(need part) []string {
	var p []string
	if need&partSlack != 0 {
		p = append(p, c.slackProblems()...)
	}
	if need&partGemini != 0 {
		p = append(p, c.geminiProblems()...)
	}
	if need&partImages != 0 {
		p = append(p, positiveProblems(map[string]bool{"MAX_IMAGES": c.MaxImages > 0, "MAX_FILE_MB": c.MaxFileMB > 0, "MAX_REQUEST_MB": c.MaxRequestMB > 0})...)
	}
	if need&partBot != 0 {
		p = append(p, c.botProblems()...)
	}
	return p
}

func (c config) slackProblems() []string {
	var p []string
	bot, app := c.SlackBotToken.reveal(), c.SlackAppToken.reveal()
	switch {
	case strings.HasPrefix(bot, "xapp-") && strings.HasPrefix(app, "xoxb-"):
		p = append(p, "SLACK_BOT_TOKEN and SLACK_APP_TOKEN are swapped: the xoxb- token goes in SLACK_BOT_TOKEN, the xapp- token in SLACK_APP_TOKEN")
	default:
		switch {
		case bot == "":
			p = append(p, "SLACK_BOT_TOKEN is not set: "+botTokenHelp)
		case strings.HasPrefix(bot, "xapp-"):
			p = append(p, "SLACK_BOT_TOKEN holds an app-level token (xapp-…): it needs the bot token; "+botTokenHelp)
		case strings.HasPrefix(bot, "xoxp-"):
			p = append(p, "SLACK_BOT_TOKEN holds a user token (xoxp-…): it needs the bot token; "+botTokenHelp)
		case !strings.HasPrefix(bot, "xoxb-"):
			p = append(p, "SLACK_BOT_TOKEN must start with xoxb-: "+botTokenHelp)
		}
		switch {
		case app == "":
			p = append(p, "SLACK_APP_TOKEN is not set (Socket Mode needs it): "+appTokenHelp)
		case strings.HasPrefix(app, "xoxb-"):
			p = append(p, "SLACK_APP_TOKEN holds the bot token (xoxb-…): it needs the app-level token; "+appTokenHelp)
		case !strings.HasPrefix(app, "xapp-"):
			p = append(p, "SLACK_APP_TOKEN must start with xapp-: "+appTokenHelp)
		}
	}
	return p
}

func (c config) geminiProblems() []string {
	var p []string
	if c.UseVertexAI {
		if c.CloudProject == "" || c.CloudLocation == "" {
			p = append(p, "GOOGLE_GENAI_USE_VERTEXAI is set, so GOOGLE_CLOUD_PROJECT and GOOGLE_CLOUD_LOCATION are needed (e.g. my-project and us-central1); credentials come from Application Default Credentials (gcloud auth application-default login)")
		}
		if c.RequestLogs {
			p = append(p, "GEMINI_REQUEST_LOGS=on is a Gemini API setting (its requests' store field), which Vertex AI does not take: unset it with GOOGLE_GENAI_USE_VERTEXAI")
		}
	} else if c.geminiKey() == "" {
		p = append(p, "GEMINI_API_KEY is not set: create a key at https://aistudio.google.com/apikey, or set GOOGLE_GENAI_USE_VERTEXAI=true with GOOGLE_CLOUD_PROJECT and GOOGLE_CLOUD_LOCATION for Vertex AI")
	}
	return append(p, positiveProblems(map[string]bool{"GEMINI_TIMEOUT": c.GeminiTimeout > 0})...)
}

func (c config) botProblems() []string {
	p := positiveProblems(map[string]bool{
		"WORKERS": c.Workers > 0, "QUEUE_SIZE": c.QueueSize >= 0, "HISTORY_WINDOW": c.HistoryWindow > 0,
		"JOB_TIMEOUT": c.JobTimeout > 0, "SHUTDOWN_GRACE": c.ShutdownGrace >= 0,
		"MAX_QUESTION_CHARS": c.MaxQuestionChars > 0,
	})
	if c.JobClaimAfter < time.Second {
		p = append(p, "JOB_CLAIM_AFTER must be at least 1s: replicas renew what they hold three times as often, and each renewal is a trip to Redis")
	}
	if c.StreamInterval < 200*time.Millisecond {
		p = append(p, "STREAM_INTERVAL must be at least 200ms: Slack rate-limits message updates")
	}
	if c.MaxAnswerParts < 1 {
		p = append(p, fmt.Sprintf("MAX_ANSWER_PARTS must be at least 1 (it is %d): it is how many thread messages one answer may fill before it is cut with a note; unset, it is %d",
			c.MaxAnswerParts, slackapi.DefaultStreamConfig().MaxParts))
	}
	if c.MetricsAddr != "" {
		if _, port, err := net.SplitHostPort(c.MetricsAddr); err != nil || port == "" {
			p = append(p, fmt.Sprintf("METRICS_ADDR %q is not host:port, such as 127.0.0.1:9090 (this machine only) or :9090 (every interface)", c.MetricsAddr))
		}
	}
	return p
}

// positiveProblems names, in a stable order, the settings whose value is
// not in range.
func positiveProblems(ok map[string]bool) []string {
	var p []string
	for _, name := range slices.Sorted(maps.Keys(ok)) {
		if !ok[name] {
			p = append(p, name+" must be positive")
		}
	}
	return p
}

// limits are the bot's limits.
func (c config) limits() bot.Limits {
	return bot.Limits{User: c.UserRate, Channel: c.ChannelRate, ThreadReplies: c.MaxRepliesPerThread,
		ThreadWindow: bot.DefaultConfig().Limits.ThreadWindow}
}

// budgets are the daily token allowances.
func (c config) budgets() bot.Allowances {
	return bot.Allowances{User: c.UserDailyTokens, Channel: c.ChannelDailyTokens, Workspace: c.WorkspaceDailyTokens}
}

// access is who may use the bot.
func (c config) access() bot.Access {
	return bot.Access{Channels: c.AllowedChannels, Users: c.AllowedUsers, Teams: c.AllowedTeams, External: c.AllowExternalUsers}
}
