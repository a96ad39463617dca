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
	cfg, err := loadConfig(func(k string) string { return env[k] }, dotenv)
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
