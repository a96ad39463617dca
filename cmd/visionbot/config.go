package main

import (
	"encoding"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"reflect"
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
// bot.SlackIDs, from the moment it is read. Each package declares its own
// settings, with their variables and defaults in their tags; config holds
// those structs as they are and passes them on, and adds the few that are
// this command's own. A setting is one field in one of these structs.
//
// Each field's part tag says which group of settings it belongs to: a
// subcommand reads and checks only the parts it uses. Every field is a
// struct: the variables it holds (nested structs too) are of its part.
type config struct {
	Slack   slackConfig          `part:"slack"`
	Gemini  geminiConfig         `part:"gemini"`
	Images  handlers.ImageLimits `part:"images"`
	Prompts promptsConfig        `part:"prompts"`

	Queue      queue.Config          `part:"bot"`
	Stream     slackapi.StreamConfig `part:"bot"`
	Flows      handlers.Settings     `part:"bot"`
	Bot        bot.Config            `part:"bot"` // its Limits and Access
	Allowances bot.Allowances        `part:"bot"`
	Ops        opsConfig             `part:"bot"`
}

// slackConfig is how the bot reaches Slack.
type slackConfig struct {
	BotToken secret `env:"SLACK_BOT_TOKEN"`
	AppToken secret `env:"SLACK_APP_TOKEN"`
	APIURL   webURL `env:"SLACK_API_URL" envDefault:"https://slack.com/api/"`
}

// geminiConfig is the Gemini backend, its credentials, and the model's
// settings.
type geminiConfig struct {
	APIKey        secret `env:"GEMINI_API_KEY"`
	GoogleAPIKey  secret `env:"GOOGLE_API_KEY"`
	UseVertexAI   bool   `env:"GOOGLE_GENAI_USE_VERTEXAI"`
	CloudProject  string `env:"GOOGLE_CLOUD_PROJECT"`
	CloudLocation string `env:"GOOGLE_CLOUD_LOCATION"`
	BaseURL       webURL `env:"GOOGLE_GEMINI_BASE_URL"`
	gemini.Settings
}

// promptsConfig is where the use cases come from besides the built-in ones.
type promptsConfig struct {
	Dir string `env:"PROMPTS_DIR"`
}

// opsConfig is how the bot runs: what it shares, logs and serves.
type opsConfig struct {
	// RedisURL is the Redis that replicas share seen events and limits
	// through; empty for this process's memory. It may hold a password.
	RedisURL  redisURL  `env:"REDIS_URL"`
	LogLevel  logLevel  `env:"LOG_LEVEL" envDefault:"info"`
	LogFormat logFormat `env:"LOG_FORMAT" envDefault:"json"`
	// MetricsAddr is where /metrics, /healthz, /readyz and pprof listen;
	// empty for nowhere.
	MetricsAddr string `env:"METRICS_ADDR"`

	// Channel settings: the operator's file (CHANNELS_FILE) and the
	// embedded store's (SETTINGS_DB), with their defaults in their package.
	Channels settings.Config
}

// defaultConfig is the configuration before the environment is read: the
// packages' defaults, which hold, besides their settings' defaults, the
// few values of theirs that are no setting. The command's own defaults
// are in its tags, which parsing any environment applies.
func defaultConfig() config {
	flows := handlers.DefaultConfig()
	return config{
		Gemini: geminiConfig{Settings: gemini.DefaultConfig().Settings},
		Images: flows.ImageLimits,
		Queue:  queue.DefaultConfig(),
		Stream: slackapi.DefaultStreamConfig(),
		Flows:  flows.Settings,
		Bot:    bot.DefaultConfig(),
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

// partNamed reads a field's part tag; a field without one is read by
// every command.
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

// variable is one environment variable config reads: its name, its
// default and the part it is of.
type variable struct {
	env.FieldParams
	part part
}

// variables lists what config reads, in the order of its fields.
func variables() ([]variable, error) {
	var cfg config
	v := reflect.ValueOf(&cfg).Elem()
	var out []variable
	for i := range v.NumField() {
		f := v.Type().Field(i)
		params, err := env.GetFieldParams(v.Field(i).Addr().Interface())
		if err != nil {
			return nil, fmt.Errorf("read the settings of config.%s: %w", f.Name, err)
		}
		for _, p := range params {
			out = append(out, variable{p, partNamed(f.Tag.Get("part"))})
		}
	}
	return out, nil
}

// geminiKey is the API key, GEMINI_API_KEY first as Google's SDKs do.
func (c geminiConfig) geminiKey() secret {
	if c.APIKey != "" {
		return c.APIKey
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
	vars, err := variables()
	if err != nil {
		return cfg, err
	}
	dotenv, err := godotenv.Read(dotenvPath)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return cfg, &configError{problems: []string{fmt.Sprintf("%s could not be read: %v", dotenvPath, err)}}
	}
	values := make(map[string]string, len(vars))
	for _, v := range vars {
		if v.part&need == 0 {
			continue
		}
		if s := getenv(v.Key); s != "" {
			values[v.Key] = s
		} else if s, ok := dotenv[v.Key]; ok && s != "" {
			values[v.Key] = s
		}
	}
	var problems []string
	if err := env.ParseWithOptions(&cfg, env.Options{Environment: values}); err != nil {
		problems = parseProblems(vars, values)
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
// secret's value is never repeated. The library's errors do not say which
// variable they are about, so each set variable is parsed again alone:
// the errors of that parse are its own.
func parseProblems(vars []variable, values map[string]string) []string {
	var out []string
	for _, v := range vars {
		value, ok := values[v.Key]
		if !ok {
			continue
		}
		probe := defaultConfig()
		err := env.ParseWithOptions(&probe, env.Options{Environment: map[string]string{v.Key: value}})
		var agg env.AggregateError
		switch {
		case err == nil:
		case errors.As(err, &agg):
			for _, e := range agg.Errors {
				out = append(out, parseProblem(v.Key, value, e))
			}
		default:
			out = append(out, fmt.Sprintf("%s: %v", v.Key, err))
		}
	}
	return out
}

// parseProblem says what is wrong with key's value.
func parseProblem(key, value string, err error) string {
	var pe env.ParseError
	if !errors.As(err, &pe) {
		return fmt.Sprintf("%s: %v", key, err)
	}
	if what, example, where, ok := idListHelp(key); ok {
		return fmt.Sprintf("%s %q is not a list of %s ids such as %s: %v; %s", key, value, what, example, pe.Err, where)
	}
	if reflect.PointerTo(pe.Type).Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) {
		// The type's own words, which quote the value unless it is a
		// secret.
		return key + " " + pe.Err.Error()
	}
	want := "a valid " + pe.Type.String()
	switch kind := pe.Type.Kind(); {
	case pe.Type == reflect.TypeFor[time.Duration]():
		want = "a duration such as 30s, 5m or 24h"
	case kind >= reflect.Int && kind <= reflect.Int64:
		want = "a whole number"
	case kind == reflect.Bool:
		want = "true or false"
	}
	return fmt.Sprintf("%s=%q is not %s", key, value, want)
}

const (
	botTokenHelp = "the Bot User OAuth Token (xoxb-…) is under OAuth & Permissions in your app's settings at api.slack.com/apps"
	appTokenHelp = "create an App-Level Token with the connections:write scope under Basic Information → App-Level Tokens (xapp-…)"
)

// problemer is a settings struct that checks its values: each problem a
// sentence that names the variable.
type problemer interface{ Problems() []string }

// validate checks the parts a subcommand needs and returns every problem:
// each field of config that is of a needed part checks itself.
func (c config) validate(need part) []string {
	var p []string
	v := reflect.ValueOf(c)
	for i := range v.NumField() {
		if f := v.Type().Field(i); partNamed(f.Tag.Get("part"))&need == 0 {
			continue
		}
		if check, ok := v.Field(i).Interface().(problemer); ok {
			p = append(p, check.Problems()...)
		}
	}
	return p
}

// Problems says what is wrong with the tokens.
func (c slackConfig) Problems() []string {
	var p []string
	bot, app := c.BotToken.reveal(), c.AppToken.reveal()
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

// Problems says what is missing for the backend, and what is wrong with
// the model's settings.
func (c geminiConfig) Problems() []string {
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
	return append(p, c.Settings.Problems()...)
}

// Problems says what is wrong with the metrics address.
func (c opsConfig) Problems() []string {
	if c.MetricsAddr == "" {
		return nil
	}
	if _, port, err := net.SplitHostPort(c.MetricsAddr); err != nil || port == "" {
		return []string{fmt.Sprintf("METRICS_ADDR %q is not host:port, such as 127.0.0.1:9090 (this machine only) or :9090 (every interface)", c.MetricsAddr)}
	}
	return nil
}
