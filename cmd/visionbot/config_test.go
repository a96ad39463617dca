package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
