package main

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/visionbot/visionbot/bot"
	"github.com/visionbot/visionbot/gemini"
	"github.com/visionbot/visionbot/handlers"
)

func TestLoadConfigReadsDotenvUnderTheEnvironment(t *testing.T) {
	dir := t.TempDir()
	dotenv := filepath.Join(dir, ".env")
	content := "SLACK_BOT_TOKEN=xoxb-from-file\nSLACK_APP_TOKEN=xapp-from-file\nGEMINI_API_KEY=file-key\nWORKERS=3\n"
	if err := os.WriteFile(dotenv, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SLACK_BOT_TOKEN": "xoxb-from-env", "HISTORY_WINDOW": "2h"}
	cfg, err := loadConfig(func(k string) string { return env[k] }, dotenv, partAll)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, got, want string }{
		{"the environment wins", cfg.SlackBotToken.reveal(), "xoxb-from-env"},
		{".env fills what is unset", cfg.SlackAppToken.reveal(), "xapp-from-file"},
		{"GEMINI_API_KEY from .env", cfg.geminiKey().reveal(), "file-key"},
		{"numbers from .env", fmt.Sprint(cfg.Workers), "3"},
		{"durations from the environment", cfg.HistoryWindow.String(), (2 * time.Hour).String()},
		{"defaults", cfg.GeminiModel, "gemini-flash-latest"},
		{"GOOGLE_API_KEY is the fallback", config{GoogleAPIKey: "g"}.geminiKey().reveal(), "g"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

func TestSecretsDoNotPrint(t *testing.T) {
	cfg := config{SlackBotToken: "xoxb-very-secret", GeminiAPIKey: "AIza-very-secret"}
	for _, format := range []string{"%v", "%+v", "%s", "%#v"} {
		out := fmt.Sprintf(format, cfg)
		if strings.Contains(out, "very-secret") {
			t.Errorf("%s of the config shows a secret: %s", format, out)
		}
	}
}

func TestEachCommandChecksWhatItUses(t *testing.T) {
	tests := []struct {
		name string
		need part
		env  map[string]string
		want []string // problems; none: loads
	}{
		{"analyze needs no Slack token, and ignores a broken bot setting", partGemini | partImages | partPrompts,
			map[string]string{"GEMINI_API_KEY": "k", "WORKERS": "many", "LOG_LEVEL": "loud"}, nil},
		{"analyze needs Gemini credentials", partGemini | partImages | partPrompts,
			map[string]string{"SLACK_BOT_TOKEN": "xoxb-1"}, []string{"GEMINI_API_KEY is not set"}},
		{"analyze checks its image limits", partGemini | partImages | partPrompts,
			map[string]string{"GEMINI_API_KEY": "k", "MAX_IMAGES": "0"}, []string{"MAX_IMAGES must be positive"}},
		{"usecases needs nothing but PROMPTS_DIR", partPrompts, map[string]string{"MAX_IMAGES": "0", "GEMINI_API_KEY": ""}, nil},
		{"the bot needs everything", partAll,
			map[string]string{"GEMINI_API_KEY": "k", "WORKERS": "0"}, []string{"SLACK_BOT_TOKEN is not set", "WORKERS must be positive"}},
		{"a metrics address must be host:port", partAll,
			map[string]string{"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1", "GEMINI_API_KEY": "k", "METRICS_ADDR": "9090"},
			[]string{`METRICS_ADDR "9090" is not host:port`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadConfig(func(k string) string { return tt.env[k] }, filepath.Join(t.TempDir(), ".env"), tt.need)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("loadConfig: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("loadConfig succeeded, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestLimitSettings(t *testing.T) {
	base := map[string]string{"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1", "GEMINI_API_KEY": "k"}
	tests := []struct {
		name       string
		env        map[string]string
		wantLimits bot.Limits
		wantAccess bot.Access
		wantQ      int
		problems   []string
	}{
		{"the defaults", nil,
			bot.Limits{User: bot.Rate{N: 10, Per: time.Minute}, Channel: bot.Rate{N: 30, Per: time.Minute}, ThreadReplies: 20, ThreadWindow: 24 * time.Hour},
			bot.Access{}, 2000, nil},
		{"rates in other units, off, and no cap",
			map[string]string{"USER_RATE": "5/30s", "CHANNEL_RATE": "off", "MAX_REPLIES_PER_THREAD": "0", "MAX_QUESTION_CHARS": "500"},
			bot.Limits{User: bot.Rate{N: 5, Per: 30 * time.Second}, ThreadWindow: 24 * time.Hour}, bot.Access{}, 500, nil},
		{"none, as earlier versions took, is off too",
			map[string]string{"USER_RATE": "none", "CHANNEL_RATE": "none", "REACTION_TRIGGERS": "none"},
			bot.Limits{ThreadReplies: 20, ThreadWindow: 24 * time.Hour}, bot.Access{}, 2000, nil},
		{"a unit alone is one of it, a count of 0 is off",
			map[string]string{"USER_RATE": "100 / hour", "CHANNEL_RATE": "0/1m"},
			bot.Limits{User: bot.Rate{N: 100, Per: time.Hour}, ThreadReplies: 20, ThreadWindow: 24 * time.Hour}, bot.Access{}, 2000, nil},
		{"allow-lists, spaces and empty items ignored",
			map[string]string{"ALLOWED_CHANNELS": "C1, C2,,D3", "ALLOWED_USERS": "U1", "ALLOWED_TEAMS": " T1 ", "ALLOW_EXTERNAL_USERS": "true"},
			bot.Limits{User: bot.Rate{N: 10, Per: time.Minute}, Channel: bot.Rate{N: 30, Per: time.Minute}, ThreadReplies: 20, ThreadWindow: 24 * time.Hour},
			bot.Access{Channels: bot.SlackIDs{"C1", "C2", "D3"}, Users: bot.SlackIDs{"U1"}, Teams: bot.SlackIDs{"T1"}, External: true}, 2000, nil},
		{"every mistake named",
			map[string]string{"USER_RATE": "ten", "CHANNEL_RATE": "30/soon", "MAX_REPLIES_PER_THREAD": "-1", "MAX_QUESTION_CHARS": "0",
				"ALLOWED_CHANNELS": "C1,#general", "ALLOWED_USERS": "alice", "ALLOWED_TEAMS": "acme"},
			bot.Limits{}, bot.Access{}, 0, []string{
				`USER_RATE "ten" is not N/duration such as 10/1m, or off`,
				`CHANNEL_RATE "30/soon" is not N/duration such as 10/1m, or off`,
				`MAX_REPLIES_PER_THREAD "-1" must be a whole number: 0 (or off) for no cap, or more`,
				"MAX_QUESTION_CHARS must be positive",
				`ALLOWED_CHANNELS "C1,#general" is not a list of channel ids such as C0123ABCD,C0456EFGH: "#general" is a name, not an id`,
				`ALLOWED_USERS "alice" is not a list of user ids`,
				`ALLOWED_TEAMS "acme" is not a list of team ids`,
			}},
		{"an API URL that isn't one says to leave it unset", map[string]string{"SLACK_API_URL": "slack.com/api"},
			bot.Limits{}, bot.Access{}, 0, []string{`"slack.com/api" is not an http(s) URL`, "leave it unset for the service's own endpoint"}},
		{"a Redis URL that isn't one, named without its password", map[string]string{"REDIS_URL": "redis://:s3cret@redis:6379/zero"},
			bot.Limits{}, bot.Access{}, 0, []string{"REDIS_URL is not a Redis URL such as redis://redis:6379/0"}},
		{"a Redis URL that does not parse, named without its password", map[string]string{"REDIS_URL": "redis://:s3cret@redis:63 79/0"},
			bot.Limits{}, bot.Access{}, 0, []string{"REDIS_URL is not a Redis URL such as redis://redis:6379/0", "does not parse as a URL"}},
		{"a yes or no that is neither", map[string]string{"ALLOW_EXTERNAL_USERS": "maybe"},
			bot.Limits{}, bot.Access{}, 0, []string{`ALLOW_EXTERNAL_USERS="maybe" is not true or false`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range tt.env {
				env[k] = v
			}
			cfg, err := loadConfig(func(k string) string { return env[k] }, filepath.Join(t.TempDir(), ".env"), partAll)
			if len(tt.problems) > 0 {
				if err == nil {
					t.Fatal("loadConfig succeeded")
				}
				for _, p := range tt.problems {
					if !strings.Contains(err.Error(), p) {
						t.Errorf("error lacks %q:\n%v", p, err)
					}
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Errorf("the error shows a password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.limits(); got != tt.wantLimits {
				t.Errorf("limits = %+v, want %+v", got, tt.wantLimits)
			}
			if got := cfg.access(); !reflect.DeepEqual(got, tt.wantAccess) {
				t.Errorf("access = %+v, want %+v", got, tt.wantAccess)
			}
			if cfg.MaxQuestionChars != tt.wantQ {
				t.Errorf("MAX_QUESTION_CHARS = %d, want %d", cfg.MaxQuestionChars, tt.wantQ)
			}
		})
	}
}

// MAX_ANSWER_PARTS bounds the messages of one answer; fewer than one
// would leave no room for any answer, and the start says what to set.
func TestMaxAnswerParts(t *testing.T) {
	tests := []struct {
		value   string
		want    int
		problem string
	}{
		{"", 3, ""},
		{"5", 5, ""},
		{"1", 1, ""},
		{"0", 0, "MAX_ANSWER_PARTS must be at least 1 (it is 0): it is how many thread messages one answer may fill"},
		{"-2", 0, "MAX_ANSWER_PARTS must be at least 1 (it is -2)"},
		{"three", 0, `MAX_ANSWER_PARTS="three" is not a whole number`},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			env := map[string]string{"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1", "GEMINI_API_KEY": "k", "MAX_ANSWER_PARTS": tt.value}
			cfg, err := loadConfig(func(k string) string { return env[k] }, filepath.Join(t.TempDir(), ".env"), partAll)
			if tt.problem != "" {
				if err == nil || !strings.Contains(err.Error(), tt.problem) {
					t.Errorf("loadConfig = %v, want a problem saying %q", err, tt.problem)
				}
				return
			}
			if err != nil || cfg.MaxAnswerParts != tt.want {
				t.Errorf("MAX_ANSWER_PARTS %q: %d, %v; want %d", tt.value, cfg.MaxAnswerParts, err, tt.want)
			}
		})
	}
}

// Every variable the bot reads is in README.md's Configuration table.
func TestEveryVariableIsDocumented(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, table, _ := strings.Cut(string(readme), "\n## Configuration\n")
	table, _, _ = strings.Cut(table, "\n## ")
	for _, f := range reflect.VisibleFields(reflect.TypeFor[config]()) {
		if f.Anonymous { // a package's settings, whose fields are listed too
			continue
		}
		if name := f.Tag.Get("env"); !strings.Contains(table, "`"+name+"`") {
			t.Errorf("README.md, Configuration, does not document %s", name)
		}
	}
}

// The default bound on a request's images fits Gemini's inline request
// once base64-encoded, with room for the JSON.
func TestMaxRequestDefaultFitsGemini(t *testing.T) {
	if got := handlers.DefaultConfig().MaxRequestBytes; got <= 0 || got > gemini.InlineImageBudget {
		t.Errorf("MAX_REQUEST_MB's default is %d bytes; gemini.InlineImageBudget is %d", got, gemini.InlineImageBudget)
	}
}
