package slackapi

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/visionbot/visionbot/handlers"
	"github.com/visionbot/visionbot/internal/failure"
)

// Where the bot is, who is an admin, and the settings modal, on the real
// client against the emulator.
func TestSettingsCalls(t *testing.T) {
	api, emu := newTestAPI(t)
	ctx := context.Background()
	emu.LeaveChannel("C2")
	emu.LeaveChannel("G3")
	emu.DeleteChannel("C4")
	for channel, want := range map[string]bool{"C1": true, "C2": false, "G3": false, "C4": false} {
		if in, err := api.InChannel(ctx, channel); err != nil || in != want {
			t.Errorf("in %s: %v, %v; want %v", channel, in, err, want)
		}
	}
	emu.SetScopes("chat:write,users:read")
	if _, err := api.InChannel(ctx, "C1"); failure.KindOf(err) != failure.MissingScope || failure.DetailOf(err) != "channels:read" {
		t.Errorf("without channels:read: %v", err)
	}

	emu.SetAdmin("U2", false)
	emu.SetAdmin("U3", true)
	for user, want := range map[string]bool{"U1": false, "U2": true, "U3": true} {
		if admin, err := api.IsAdmin(ctx, user); err != nil || admin != want {
			t.Errorf("%s is an admin: %v, %v; want %v", user, admin, err, want)
		}
	}

	form := handlers.SettingsForm{Channel: "C1", Choices: []handlers.Choice{{Name: "describe", Label: "describe"}}, Default: "describe",
		UseCases: []string{"describe"}, Metadata: handlers.SettingsTarget{Channel: "C1"}.Encode()}
	if err := api.For(Unleased{}).OpenSettings(ctx, emu.NewTriggerID(), form); err != nil {
		t.Fatal(err)
	}
	views := emu.Views()
	raw, _ := json.Marshal(views)
	if len(views) != 1 || views[0]["callback_id"] != "channel_settings" || !strings.Contains(string(raw), "setting_brief") {
		t.Errorf("views %s", raw)
	}
}
