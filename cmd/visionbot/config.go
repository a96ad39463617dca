package main

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/joho/godotenv"

	"github.com/visionbot/visionbot/bot"
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

// config is every setting, from the environment and a .env file. Each
// field's part tag says which group of settings it belongs to: a
// subcommand checks only the parts it uses.
type config struct {
	SlackBotToken secret `env:"SLACK_BOT_TOKEN" part:"slack"`
	SlackAppToken secret `env:"SLACK_APP_TOKEN" part:"slack"`
	SlackAPIURL   string `env:"SLACK_API_URL" envDefault:"https://slack.com/api/" part:"slack"`

	GeminiAPIKey  secret        `env:"GEMINI_API_KEY" part:"gemini"`
	GoogleAPIKey  secret        `env:"GOOGLE_API_KEY" part:"gemini"`
	UseVertexAI   bool          `env:"GOOGLE_GENAI_USE_VERTEXAI" part:"gemini"`
	CloudProject  string        `env:"GOOGLE_CLOUD_PROJECT" part:"gemini"`
	CloudLocation string        `env:"GOOGLE_CLOUD_LOCATION" part:"gemini"`
	GeminiBaseURL string        `env:"GOOGLE_GEMINI_BASE_URL" part:"gemini"`
	GeminiModel   string        `env:"GEMINI_MODEL" envDefault:"gemini-flash-latest" part:"gemini"`
	Thinking      string        `env:"GEMINI_THINKING" envDefault:"low" part:"gemini"`
	GeminiTimeout time.Duration `env:"GEMINI_TIMEOUT" envDefault:"90s" part:"gemini"`

	MaxImages  int    `env:"MAX_IMAGES" envDefault:"4" part:"images"`
	MaxFileMB  int    `env:"MAX_FILE_MB" envDefault:"20" part:"images"`
	PromptsDir string `env:"PROMPTS_DIR" part:"prompts"`

	Workers       int           `env:"WORKERS" envDefault:"16" part:"bot"`
	QueueSize     int           `env:"QUEUE_SIZE" envDefault:"256" part:"bot"`
	JobTimeout    time.Duration `env:"JOB_TIMEOUT" envDefault:"3m" part:"bot"`
	ShutdownGrace time.Duration `env:"SHUTDOWN_GRACE" envDefault:"30s" part:"bot"`
	HistoryWindow time.Duration `env:"HISTORY_WINDOW" envDefault:"24h" part:"bot"`

	StreamMode     string        `env:"STREAM_MODE" envDefault:"native" part:"bot"`
	StreamInterval time.Duration `env:"STREAM_INTERVAL" envDefault:"1s" part:"bot"`
	// ReactionTriggers is "emoji=use-case,…", "off", or unset for the defaults.
	ReactionTriggers string `env:"REACTION_TRIGGERS" part:"bot"`

	// Limits: "N/duration" or "off"; a count of 0 for none.
	UserRate            string `env:"USER_RATE" envDefault:"10/1m" part:"bot"`
	ChannelRate         string `env:"CHANNEL_RATE" envDefault:"30/1m" part:"bot"`
	MaxRepliesPerThread int    `env:"MAX_REPLIES_PER_THREAD" envDefault:"20" part:"bot"`
	MaxQuestionChars    int    `env:"MAX_QUESTION_CHARS" envDefault:"2000" part:"bot"`
	// Allow-lists: comma-separated Slack ids; empty lets everyone in.
	AllowedChannels    string `env:"ALLOWED_CHANNELS" part:"bot"`
	AllowedUsers       string `env:"ALLOWED_USERS" part:"bot"`
	AllowedTeams       string `env:"ALLOWED_TEAMS" part:"bot"`
	AllowExternalUsers bool   `env:"ALLOW_EXTERNAL_USERS" part:"bot"`
	// RedisURL is the Redis that replicas share seen events and limits
	// through; empty for this process's memory. It may hold a password.
	RedisURL secret `env:"REDIS_URL" part:"bot"`

	LogLevel  string `env:"LOG_LEVEL" envDefault:"info" part:"bot"`
	LogFormat string `env:"LOG_FORMAT" envDefault:"json" part:"bot"`
	// MetricsAddr is where /metrics, /healthz, /readyz and pprof listen;
	// empty for nowhere.
	MetricsAddr string `env:"METRICS_ADDR" part:"bot"`
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
	var cfg config
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
	if err := env.ParseWithOptions(&cfg, env.Options{Environment: values}); err != nil {
		return cfg, &configError{problems: parseProblems(err, values)}
	}
	if problems := cfg.validate(need); len(problems) > 0 {
		return cfg, &configError{problems: problems}
	}
	return cfg, nil
}

// parseProblems turns the env library's errors, which name Go fields,
// into sentences that name the variable and what it should hold.
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
		p = append(p, positiveProblems(map[string]bool{"MAX_IMAGES": c.MaxImages > 0, "MAX_FILE_MB": c.MaxFileMB > 0})...)
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
	if !isHTTPURL(c.SlackAPIURL) {
		p = append(p, fmt.Sprintf("SLACK_API_URL %q is not an http(s) URL: leave it unset for Slack itself", c.SlackAPIURL))
	}
	return p
}

func (c config) geminiProblems() []string {
	var p []string
	if c.UseVertexAI {
		if c.CloudProject == "" || c.CloudLocation == "" {
			p = append(p, "GOOGLE_GENAI_USE_VERTEXAI is set, so GOOGLE_CLOUD_PROJECT and GOOGLE_CLOUD_LOCATION are needed (e.g. my-project and us-central1); credentials come from Application Default Credentials (gcloud auth application-default login)")
		}
	} else if c.geminiKey() == "" {
		p = append(p, "GEMINI_API_KEY is not set: create a key at https://aistudio.google.com/apikey, or set GOOGLE_GENAI_USE_VERTEXAI=true with GOOGLE_CLOUD_PROJECT and GOOGLE_CLOUD_LOCATION for Vertex AI")
	}
	if c.GeminiBaseURL != "" && !isHTTPURL(c.GeminiBaseURL) {
		p = append(p, fmt.Sprintf("GOOGLE_GEMINI_BASE_URL %q is not an http(s) URL: leave it unset for Google's endpoint", c.GeminiBaseURL))
	}
	switch c.Thinking {
	case "off", "minimal", "low", "medium", "high":
	default:
		p = append(p, fmt.Sprintf("GEMINI_THINKING %q is not one of off, minimal, low, medium, high", c.Thinking))
	}
	return append(p, positiveProblems(map[string]bool{"GEMINI_TIMEOUT": c.GeminiTimeout > 0})...)
}

func (c config) botProblems() []string {
	p := positiveProblems(map[string]bool{
		"WORKERS": c.Workers > 0, "QUEUE_SIZE": c.QueueSize >= 0, "HISTORY_WINDOW": c.HistoryWindow > 0,
		"JOB_TIMEOUT": c.JobTimeout > 0, "SHUTDOWN_GRACE": c.ShutdownGrace >= 0,
		"MAX_QUESTION_CHARS": c.MaxQuestionChars > 0,
	})
	if c.MaxRepliesPerThread < 0 {
		p = append(p, "MAX_REPLIES_PER_THREAD must be 0 (no cap) or more")
	}
	for name, value := range map[string]string{"USER_RATE": c.UserRate, "CHANNEL_RATE": c.ChannelRate} {
		if _, err := parseRate(name, value); err != nil {
			p = append(p, err.Error())
		}
	}
	for _, list := range []struct{ name, value, what, example, where string }{
		{"ALLOWED_CHANNELS", c.AllowedChannels, "channel", "C0123ABCD,C0456EFGH", "a channel's id is at the bottom of its details"},
		{"ALLOWED_USERS", c.AllowedUsers, "user", "U0123ABCD,U0456EFGH", "a member's id is under Copy member ID in their profile's ⋮ menu"},
		{"ALLOWED_TEAMS", c.AllowedTeams, "team", "T0123ABCD,T0456EFGH", "your workspace's id is the T… that visionbot check shows"},
	} {
		if _, err := parseIDs(list.value); err != nil {
			p = append(p, fmt.Sprintf("%s %q is not a list of %s ids such as %s: %v; %s",
				list.name, list.value, list.what, list.example, err, list.where))
		}
	}
	switch c.StreamMode {
	case "native", "update", "off":
	default:
		p = append(p, fmt.Sprintf("STREAM_MODE %q is not native (Slack's streaming), update (edit a message as the answer grows) or off (post the whole answer)", c.StreamMode))
	}
	if c.StreamInterval < 200*time.Millisecond {
		p = append(p, "STREAM_INTERVAL must be at least 200ms: Slack rate-limits message updates")
	}
	if _, err := parseReactions(c.ReactionTriggers); err != nil {
		p = append(p, err.Error())
	}
	switch c.LogFormat {
	case "json", "console":
	default:
		p = append(p, fmt.Sprintf("LOG_FORMAT %q is not json or console", c.LogFormat))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		p = append(p, fmt.Sprintf("LOG_LEVEL %q is not debug, info, warn or error", c.LogLevel))
	}
	if c.RedisURL != "" {
		if err := bot.CheckRedisURL(c.RedisURL.reveal()); err != nil {
			p = append(p, fmt.Sprintf("REDIS_URL is not a Redis URL such as redis://redis:6379/0 (redis://[:password@]host:port/db, or rediss:// for TLS): %v", err))
		}
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

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// parseReactions reads REACTION_TRIGGERS: "fork_and_knife=recipe,mag=describe"
// (colons around emoji names are allowed), "off" for none, or "" for the
// defaults. Whether each use case exists is checked against the catalog.
func parseReactions(s string) (map[string]string, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "":
		return handlers.DefaultReactions(), nil
	case "off", "none":
		return map[string]string{}, nil
	}
	out := map[string]string{}
	for _, pair := range strings.Split(s, ",") {
		emoji, useCase, ok := strings.Cut(pair, "=")
		emoji = strings.Trim(strings.TrimSpace(emoji), ":")
		useCase = strings.ToLower(strings.TrimSpace(useCase))
		if !ok || emoji == "" || useCase == "" {
			return nil, fmt.Errorf("REACTION_TRIGGERS %q is not a list of emoji=use-case pairs such as fork_and_knife=recipe,mag=describe (or off)", s)
		}
		out[emoji] = useCase
	}
	return out, nil
}

// parseRate reads a rate such as 10/1m ("10/m" and "10/minute" too), or
// "off" (or a count of 0) for no limit.
func parseRate(name, s string) (bot.Rate, error) {
	s = strings.TrimSpace(s)
	if s == "off" || s == "none" {
		return bot.Rate{}, nil
	}
	count, per, ok := strings.Cut(s, "/")
	n, err := strconv.ParseInt(strings.TrimSpace(count), 10, 64)
	window, werr := parseWindow(strings.TrimSpace(per))
	if !ok || err != nil || n < 0 || werr != nil || window <= 0 {
		return bot.Rate{}, fmt.Errorf("%s %q is not N/duration such as 10/1m, or off", name, s)
	}
	if n == 0 {
		return bot.Rate{}, nil
	}
	return bot.Rate{N: n, Per: window}, nil
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

// parseIDs reads a comma-separated list of Slack ids (C…, U…, T…),
// ignoring spaces and empty items.
func parseIDs(s string) ([]string, error) {
	var ids []string
	for _, id := range strings.Split(s, ",") {
		id = strings.TrimSpace(id)
		if id == "" {
			continue
		}
		if !isSlackID(id) {
			return nil, fmt.Errorf("%q is a name, not an id", id)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// isSlackID reports whether s looks like a Slack id: an upper-case letter,
// then upper-case letters and digits.
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

// limits are the bot's limits; the config was validated.
func (c config) limits() bot.Limits {
	user, _ := parseRate("USER_RATE", c.UserRate)
	channel, _ := parseRate("CHANNEL_RATE", c.ChannelRate)
	return bot.Limits{User: user, Channel: channel, ThreadReplies: int64(c.MaxRepliesPerThread)}
}

// access is who may use the bot; the config was validated.
func (c config) access() bot.Access {
	channels, _ := parseIDs(c.AllowedChannels)
	users, _ := parseIDs(c.AllowedUsers)
	teams, _ := parseIDs(c.AllowedTeams)
	return bot.Access{Channels: channels, Users: users, Teams: teams, External: c.AllowExternalUsers}
}
