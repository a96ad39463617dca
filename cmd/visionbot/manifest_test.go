package main

import (
	"os"
	"slices"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/visionbot/visionbot/bot"
	"github.com/visionbot/visionbot/prompts"
)

type manifest struct {
	Features struct {
		AppHome struct {
			HomeTabEnabled             bool `yaml:"home_tab_enabled"`
			MessagesTabEnabled         bool `yaml:"messages_tab_enabled"`
			MessagesTabReadOnlyEnabled bool `yaml:"messages_tab_read_only_enabled"`
		} `yaml:"app_home"`
		BotUser struct {
			DisplayName string `yaml:"display_name"`
		} `yaml:"bot_user"`
		AgentView struct {
			AgentDescription string `yaml:"agent_description"`
		} `yaml:"agent_view"`
		Shortcuts []struct {
			Type       string `yaml:"type"`
			CallbackID string `yaml:"callback_id"`
		} `yaml:"shortcuts"`
		SlashCommands []struct {
			Command   string `yaml:"command"`
			UsageHint string `yaml:"usage_hint"`
		} `yaml:"slash_commands"`
	} `yaml:"features"`
	OAuthConfig struct {
		Scopes struct {
			Bot []string `yaml:"bot"`
		} `yaml:"scopes"`
	} `yaml:"oauth_config"`
	Settings struct {
		EventSubscriptions struct {
			BotEvents []string `yaml:"bot_events"`
		} `yaml:"event_subscriptions"`
		Interactivity struct {
			IsEnabled bool `yaml:"is_enabled"`
		} `yaml:"interactivity"`
		SocketModeEnabled bool `yaml:"socket_mode_enabled"`
	} `yaml:"settings"`
}

// TestManifestMatchesCode keeps manifest.yaml and the code in step: the
// events, shortcut, command and scopes it declares are exactly those the code uses,
// and the usage hint comes from the catalog.
func TestManifestMatchesCode(t *testing.T) {
	t.Parallel()

	data, err := os.ReadFile("../../manifest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := yaml.Unmarshal(data, &m); err != nil {
		t.Fatalf("manifest.yaml: %v", err)
	}
	catalog, err := prompts.Builtin()
	if err != nil {
		t.Fatal(err)
	}

	if !m.Settings.SocketModeEnabled {
		t.Error("socket_mode_enabled must be true: the bot connects over Socket Mode")
	}
	if !m.Features.AppHome.MessagesTabEnabled || m.Features.AppHome.MessagesTabReadOnlyEnabled {
		t.Error("the Messages tab must be enabled and writable, or users cannot DM the bot")
	}
	if m.Features.BotUser.DisplayName == "" {
		t.Error("the manifest declares no bot user")
	}
	if m.Features.AgentView.AgentDescription == "" {
		t.Error("the manifest must declare the app as an agent (agent_view with an agent_description): its sessions' Stop button, loading status and suggested prompts need it")
	}
	if !m.Features.AppHome.HomeTabEnabled {
		t.Error("home_tab_enabled must be true: the bot publishes a Home tab")
	}
	if !m.Settings.Interactivity.IsEnabled {
		t.Error("interactivity must be enabled: the shortcut, modals and answer buttons need it")
	}
	sameSet(t, "bot events", m.Settings.EventSubscriptions.BotEvents, bot.RequiredBotEvents())

	var shortcuts []string
	for _, s := range m.Features.Shortcuts {
		if s.Type != "message" {
			t.Errorf("shortcut %s is of type %q, want message", s.CallbackID, s.Type)
		}
		shortcuts = append(shortcuts, s.CallbackID)
	}
	sameSet(t, "message shortcuts", shortcuts, bot.RequiredShortcuts())

	var commands []string
	for _, c := range m.Features.SlashCommands {
		commands = append(commands, c.Command)
		if c.UsageHint != catalog.UsageHint() {
			t.Errorf("%s usage_hint = %q, want the catalog's %q", c.Command, c.UsageHint, catalog.UsageHint())
		}
	}
	sameSet(t, "slash commands", commands, bot.RequiredCommands())

	var scopes []string
	for s := range bot.RequiredScopes() {
		scopes = append(scopes, s)
	}
	sameSet(t, "bot scopes", m.OAuthConfig.Scopes.Bot, scopes)
}

func sameSet(t *testing.T, what string, got, want []string) {
	t.Helper()
	got, want = slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		t.Errorf("%s in manifest.yaml = %v, the code needs exactly %v", what, got, want)
	}
}
