package main

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/visionbot/visionbot/internal/geminiemu"
	"github.com/visionbot/visionbot/internal/slackemu"
)

// allScopesBut is the emulator's full grant less the scopes named.
func allScopesBut(missing ...string) string {
	var keep []string
	for _, s := range strings.Split(slackemu.DefaultScopes, ",") {
		if !strings.Contains(" "+strings.Join(missing, " ")+" ", " "+s+" ") {
			keep = append(keep, s)
		}
	}
	return strings.Join(keep, ",")
}

// emulators starts both emulators, accepting the test credentials, and
// returns the environment that points visionbot at them.
func emulators(t *testing.T) (*slackemu.Server, *geminiemu.Server, map[string]string) {
	t.Helper()
	s, g := slackemu.New(), geminiemu.New()
	t.Cleanup(s.Close)
	t.Cleanup(g.Close)
	s.SetBotToken(testBotToken)
	s.SetAppToken(testAppToken)
	g.SetAPIKey(testAPIKey)
	return s, g, map[string]string{
		"SLACK_BOT_TOKEN": testBotToken, "SLACK_APP_TOKEN": testAppToken, "GEMINI_API_KEY": testAPIKey,
		"SLACK_API_URL": s.APIURL(), "GOOGLE_GEMINI_BASE_URL": g.URL(),
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name     string
		setup    func(s *slackemu.Server, env map[string]string)
		gemini   func(g *geminiemu.Server)
		wantCode int
		want     []string // lines, or parts of them, of the output
		lacks    []string
	}{
		{
			name:  "everything works",
			setup: func(*slackemu.Server, map[string]string) {},
			want: []string{"ok    configuration", "ok    use cases: 7 use cases, describe by default",
				"ok    Slack bot token: @visionbot (UBOT) in Visionbot Test (T1)", "ok    Slack scopes: all 15 scopes",
				"ok    Slack app-level token", "ok    Gemini model: gemini-flash-latest is available (Gemini API)",
				"ok    Gemini settings: gemini-flash-latest takes GEMINI_THINKING=low and a media resolution", "All checks passed."},
			lacks: []string{"FAIL", "warn"},
		},
		{
			name: "a thinking level the model refuses: a warning with what to set, not a failure",
			setup: func(_ *slackemu.Server, env map[string]string) {
				env["GEMINI_MODEL"], env["GEMINI_THINKING"] = "gemini-3.7-flash", "off"
			},
			gemini: func(g *geminiemu.Server) {
				g.AddModel("gemini-3.7-flash")
				g.RejectThinkingLevel("gemini-3.7-flash", "MINIMAL")
			},
			want: []string{"warn  Gemini thinking setting: gemini-3.7-flash refused thinkingLevel MINIMAL",
				"Thinking level MINIMAL is not supported", "not GEMINI_THINKING=off", "fix: set GEMINI_THINKING to a level this model takes",
				"All checks passed."},
			lacks: []string{"FAIL", "ok    Gemini settings"},
		},
		{
			name:  "a media resolution the model refuses: a warning",
			setup: func(_ *slackemu.Server, env map[string]string) { env["GEMINI_MODEL"] = "gemini-3.7-flash" },
			gemini: func(g *geminiemu.Server) {
				g.AddModel("gemini-3.7-flash")
				g.RejectMediaResolution("gemini-3.7-flash")
			},
			want:  []string{"warn  Gemini media resolution: gemini-3.7-flash refused mediaResolution MEDIA_RESOLUTION_LOW", "media_resolution has no effect", "All checks passed."},
			lacks: []string{"FAIL"},
		},
		{
			name: "missing scopes: each named, with how to add it",
			setup: func(s *slackemu.Server, _ map[string]string) {
				s.SetScopes(allScopesBut("files:read", "reactions:write"))
			},
			wantCode: 1,
			want: []string{"FAIL  Slack scope files:read: missing; the bot needs it to download images",
				"warn  Slack scope reactions:write: missing; the bot answers without it, but PROGRESS_REACTIONS=true shows no reactions",
				"fix: add files:read under OAuth & Permissions → Scopes → Bot Token Scopes", "reinstall the app",
				"ok    Gemini model"},
			lacks: []string{"All checks passed", "Slack scope chat:write", "ok    Slack scopes"},
		},
		{
			// An app installed before a feature keeps answering until it is
			// reinstalled with the feature's scope.
			name: "only a feature's scope missing: a warning that says what goes missing",
			setup: func(s *slackemu.Server, _ map[string]string) {
				s.SetScopes(allScopesBut("files:write"))
			},
			want: []string{"ok    Slack scopes: 14 of the 15 scopes the bot uses are granted, every one it needs",
				"warn  Slack scope files:write: missing; the bot answers without it, but a code answer too long for its thread comes without its code as a file",
				"fix: add files:write", "All checks passed."},
			lacks: []string{"FAIL"},
		},
		{
			name:     "an unknown model",
			setup:    func(_ *slackemu.Server, env map[string]string) { env["GEMINI_MODEL"] = "gemini-0-nonexistent" },
			wantCode: 1,
			want:     []string{`FAIL  Gemini model: GEMINI_MODEL "gemini-0-nonexistent" is not a model Gemini API knows`, "ai.google.dev", "ok    Slack scopes"},
		},
		{
			name:     "a wrong Gemini key",
			setup:    func(_ *slackemu.Server, env map[string]string) { env["GEMINI_API_KEY"] = "AIza-wrong" },
			wantCode: 1,
			want:     []string{"FAIL  Gemini model: Gemini API refused the credentials", "aistudio.google.com/apikey"},
		},
		{
			name: "Slack refuses both tokens",
			setup: func(_ *slackemu.Server, env map[string]string) {
				env["SLACK_BOT_TOKEN"], env["SLACK_APP_TOKEN"] = "xoxb-wrong", "xapp-wrong"
			},
			wantCode: 1,
			want: []string{"FAIL  Slack bot token: Slack refused SLACK_BOT_TOKEN (invalid_auth)",
				"FAIL  Slack app-level token: Slack refused SLACK_APP_TOKEN (invalid_auth)", "ok    Gemini model"},
		},
		{
			name:     "configuration problems are listed, and nothing is called",
			setup:    func(_ *slackemu.Server, env map[string]string) { env["SLACK_APP_TOKEN"], env["WORKERS"] = "", "0" },
			wantCode: 1,
			want:     []string{"FAIL  configuration: SLACK_APP_TOKEN is not set", "FAIL  configuration: WORKERS must be positive"},
			lacks:    []string{"Slack bot token"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			s, g, env := emulators(t)
			tt.setup(s, env)
			if tt.gemini != nil {
				tt.gemini(g)
			}
			stdout, _, code, err := runCommand(t, env, "check")
			if code != tt.wantCode {
				t.Errorf("exit status %d (%v), want %d", code, err, tt.wantCode)
			}
			for _, w := range tt.want {
				if !strings.Contains(stdout, w) {
					t.Errorf("output lacks %q:\n%s", w, stdout)
				}
			}
			for _, l := range tt.lacks {
				if strings.Contains(stdout, l) {
					t.Errorf("output has %q:\n%s", l, stdout)
				}
			}
			for _, secret := range []string{testBotToken, testAppToken, testAPIKey} {
				if strings.Contains(stdout, secret) {
					t.Errorf("the output shows %q", secret)
				}
			}
		})
	}
}

// TestStartupRefusesOnAFailedCheck: the bot runs the checks of visionbot
// check and does not start on a failure, listing every one.
func TestStartupRefusesOnAFailedCheck(t *testing.T) {
	t.Parallel()

	s, _, env := emulators(t)
	s.SetScopes(allScopesBut("files:read", "im:history"))
	env["GEMINI_MODEL"] = "gemini-0-nonexistent"
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	err := run(ctx, []string{"visionbot"}, func(k string) string { return env[k] }, &syncBuffer{}, &syncBuffer{})
	var refused startupRefused
	if !errors.As(err, &refused) {
		t.Fatalf("run = %v, want the start refused", err)
	}
	for _, w := range []string{"files:read", "im:history", "reinstall", `GEMINI_MODEL "gemini-0-nonexistent"`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("the refusal lacks %q:\n%v", w, err)
		}
	}
	if n := len(s.Calls("apps.connections.open")); n != 1 {
		t.Errorf("apps.connections.open called %d times: want the check's only, no connection", n)
	}
	if exitCode(err) != 1 {
		t.Errorf("exit status %d, want 1", exitCode(err))
	}
}

// GEMINI_REQUEST_LOGS decides the store field of every Gemini API
// request, from the settings probe that visionbot check and the start
// send on: off (the default) asks Google to log none.
func TestRequestLogsSetting(t *testing.T) {
	tests := []struct {
		name      string
		env       map[string]string
		wantStore string // the settings probe's "store"; "" when none is sent
		wantCode  int
		want      string // in the output
	}{
		{name: "off by default", wantStore: "false", want: "All checks passed."},
		{name: "on", env: map[string]string{"GEMINI_REQUEST_LOGS": "on"}, wantStore: "true", want: "All checks passed."},
		{name: "off", env: map[string]string{"GEMINI_REQUEST_LOGS": "off"}, wantStore: "false", want: "All checks passed."},
		{name: "not a switch", env: map[string]string{"GEMINI_REQUEST_LOGS": "yes please"}, wantCode: 1,
			want: `FAIL  configuration: GEMINI_REQUEST_LOGS "yes please" is not on or off`},
		{name: "not with Vertex AI", wantCode: 1, env: map[string]string{"GEMINI_REQUEST_LOGS": "on",
			"GOOGLE_GENAI_USE_VERTEXAI": "true", "GOOGLE_CLOUD_PROJECT": "p", "GOOGLE_CLOUD_LOCATION": "us-central1"},
			want: "FAIL  configuration: GEMINI_REQUEST_LOGS=on is a Gemini API setting"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, g, env := emulators(t)
			for k, v := range tt.env {
				env[k] = v
			}
			stdout, _, code, err := runCommand(t, env, "check")
			if code != tt.wantCode || !strings.Contains(stdout, tt.want) {
				t.Fatalf("exit status %d (%v), want %d with %q:\n%s", code, err, tt.wantCode, tt.want, stdout)
			}
			var probes int
			for _, r := range g.Requests() {
				if r.Method != "generateContent" {
					continue
				}
				probes++
				var body map[string]json.RawMessage
				if err := json.Unmarshal(r.Body, &body); err != nil {
					t.Fatal(err)
				}
				if got := string(body["store"]); got != tt.wantStore {
					t.Errorf("the settings probe sent \"store\": %q, want %q", got, tt.wantStore)
				}
			}
			if want := map[bool]int{true: 1, false: 0}[tt.wantStore != ""]; probes != want {
				t.Errorf("%d settings probes, want %d", probes, want)
			}
		})
	}
}
