package blocks

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/slack-go/slack"

	"github.com/visionbot/visionbot/handlers"
)

// updateGolden rewrites the golden files instead of comparing with them:
// UPDATE_GOLDEN=1 go test ./bot/blocks/.
func updateGolden() bool { return os.Getenv("UPDATE_GOLDEN") != "" }

// settingsGolden compares got, indented, with testdata/name.
func settingsGolden(t *testing.T, name string, got any) {
	t.Helper()
	raw, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	raw = append(raw, '\n')
	path := filepath.Join("testdata", name)
	if updateGolden() {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (UPDATE_GOLDEN=1 writes it)", err)
	}
	if !bytes.Equal(raw, want) {
		t.Errorf("%s differs from what renders now (UPDATE_GOLDEN=1 rewrites it after a deliberate change):\n%s", path, raw)
	}
}

func settingsChoices() []handlers.Choice {
	return []handlers.Choice{
		{Name: "describe", Label: "describe: Describe what is in the image"},
		{Name: "code", Label: "code: Turn a UI screenshot into code"},
		{Name: "recipe", Label: "recipe: Turn a dish into a recipe"},
	}
}

// The settings modal as Block Kit, one golden file per shape: every
// setting open to the members; some locked by the operator, shown but not
// offered; and an allowance within the operator's cap.
func TestSettingsModalGolden(t *testing.T) {
	target := handlers.SettingsTarget{Channel: "C1", ResponseURL: "https://hooks.slack.com/r",
		Opened: handlers.SettingsOpened{Default: "recipe", UseCases: []string{"code", "recipe"}, Brief: handlers.BriefDigest("Metric units."), Reactions: true}}
	tests := []struct {
		file string
		form handlers.SettingsForm
	}{
		{"settings_open.json", handlers.SettingsForm{
			Channel: "C1", Choices: settingsChoices(), Default: "recipe", UseCases: []string{"recipe", "code"},
			Brief: "Metric units.", Reactions: true, Notice: "Last changed by <@U2>.", Metadata: target.Encode()}},
		{"settings_locked.json", handlers.SettingsForm{
			Channel: "C2", Choices: settingsChoices(), Default: "describe", UseCases: []string{"describe", "code", "recipe"},
			Brief: "Set by IT.", Locked: []handlers.Setting{handlers.SettingBrief, handlers.SettingDailyTokens}, DailyTokens: 500_000,
			Metadata: handlers.SettingsTarget{Channel: "C2"}.Encode()}},
		{"settings_capped.json", handlers.SettingsForm{
			Channel: "C3", Choices: settingsChoices(), Default: "describe", UseCases: []string{"describe", "code", "recipe"},
			DailyTokens: 100_000, MaxDailyTokens: 1_000_000, Metadata: handlers.SettingsTarget{Channel: "C3", MaxDailyTokens: 1_000_000}.Encode()}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) { settingsGolden(t, tt.file, Settings(tt.form)) })
	}
}

// What the modal shows comes back as Slack sends a submission of it: each
// input's value under its block and action ids, none for a locked setting.
func TestSettingsSubmissionReadsBack(t *testing.T) {
	target := handlers.SettingsTarget{Channel: "C1", Opened: handlers.SettingsOpened{Default: "recipe"}, MaxDailyTokens: 9}
	view := Settings(handlers.SettingsForm{Channel: "C1", Choices: settingsChoices(), Default: "recipe",
		UseCases: []string{"recipe"}, Locked: []handlers.Setting{handlers.SettingReactions}, Metadata: target.Encode()})
	state := map[string]map[string]slack.BlockAction{}
	for _, b := range view.Blocks.BlockSet {
		in, ok := b.(*slack.InputBlock)
		if !ok {
			continue
		}
		var a slack.BlockAction
		switch in.BlockID {
		case settingBlock(handlers.SettingDefault):
			a.SelectedOption = slack.OptionBlockObject{Value: "code"}
		case settingBlock(handlers.SettingUseCases):
			a.SelectedOptions = []slack.OptionBlockObject{{Value: "code"}, {Value: "recipe"}}
		case settingBlock(handlers.SettingBrief):
			a.Value = "  Short.  "
		case settingBlock(handlers.SettingDailyTokens):
			a.Value = "7"
		default:
			t.Fatalf("an input for %s", in.BlockID)
		}
		state[in.BlockID] = map[string]slack.BlockAction{in.BlockID: a}
	}
	if len(state) != 4 {
		t.Fatalf("%d inputs, want 4 (reactions are locked)", len(state))
	}
	var cb slack.InteractionCallback
	cb.View.PrivateMetadata = view.PrivateMetadata
	cb.View.State = &slack.ViewState{Values: state}
	saved, got, err := ReadSettings(cb)
	if err != nil {
		t.Fatal(err)
	}
	v := saved.Values
	if got.Channel != "C1" || got.MaxDailyTokens != 9 || saved.Opened.Default != "recipe" {
		t.Errorf("metadata read back as %+v", got)
	}
	if v.Default == nil || *v.Default != "code" || v.UseCases == nil || len(*v.UseCases) != 2 ||
		v.Brief == nil || *v.Brief != "  Short.  " || v.Reactions != nil || v.DailyTokens == nil || *v.DailyTokens != 7 {
		t.Errorf("values read back as %+v", v)
	}
	if errs := SettingsErrors(map[handlers.Setting]string{handlers.SettingBrief: "too long"}); errs == nil ||
		errs.ResponseAction != slack.RAErrors || errs.Errors[settingBlock(handlers.SettingBrief)] != "too long" {
		t.Errorf("errors answer %+v", errs)
	}
}
