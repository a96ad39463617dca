package blocks

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/slack-go/slack"

	"github.com/visionbot/visionbot/handlers"
	"github.com/visionbot/visionbot/internal/slackmd"
)

// CallbackSettings names the channel settings modal.
const CallbackSettings = "channel_settings"

// The settings modal's inputs: each block and its element are named by
// the setting they hold, so that a mistake found on submission is shown
// beside its input (response_action "errors" names blocks).
func settingBlock(s handlers.Setting) string { return "setting_" + string(s) }

// The reaction triggers' two options.
const (
	reactionsOn  = "on"
	reactionsOff = "off"
)

// settingLabels are what the modal calls each setting.
var settingLabels = map[handlers.Setting]string{
	handlers.SettingDefault:     "Default use case",
	handlers.SettingUseCases:    "Use cases in this channel",
	handlers.SettingBrief:       "Channel brief",
	handlers.SettingReactions:   "Reaction triggers",
	handlers.SettingDailyTokens: "Daily token budget",
}

// Settings is the modal of a channel's settings: an input for each
// setting its members may change, and, for those the operator locked, a
// line that shows their value.
func Settings(f handlers.SettingsForm) slack.ModalViewRequest {
	view := slack.ModalViewRequest{
		Type:            slack.VTModal,
		Title:           plain("Channel settings"),
		Close:           plain("Cancel"),
		Submit:          plain("Save"),
		CallbackID:      CallbackSettings,
		PrivateMetadata: f.Metadata,
	}
	intro := fmt.Sprintf("How I work in <#%s>. When you save, I post one line there saying what you changed.", f.Channel)
	if f.Notice != "" {
		intro += " " + f.Notice
	}
	blocks := []slack.Block{mrkdwn(intro)}
	if len(f.Locked) > 0 {
		blocks = append(blocks, lockedBlock(f))
	}
	locked := func(s handlers.Setting) bool { return slices.Contains(f.Locked, s) }

	options := make([]*slack.OptionBlockObject, 0, len(f.Choices))
	byName := map[string]*slack.OptionBlockObject{}
	for _, c := range f.Choices {
		if len(options) == maxSelectOptions {
			break
		}
		opt := slack.NewOptionBlockObject(c.Name, plain(slackmd.CutChars(c.Label, maxOptionText, "…")), nil)
		options = append(options, opt)
		byName[c.Name] = opt
	}
	if !locked(handlers.SettingDefault) {
		id := settingBlock(handlers.SettingDefault)
		menu := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Choose a use case"), id, options...)
		menu.InitialOption = byName[f.Default]
		blocks = append(blocks, input(id, handlers.SettingDefault, menu,
			"What a mention or /analyze gets when it names no use case."))
	}
	if !locked(handlers.SettingUseCases) {
		id := settingBlock(handlers.SettingUseCases)
		menu := slack.NewOptionsMultiSelectBlockElement(slack.MultiOptTypeStatic, plain("Choose use cases"), id, options...)
		for _, name := range f.UseCases {
			if opt := byName[name]; opt != nil {
				menu.InitialOptions = append(menu.InitialOptions, opt)
			}
		}
		blocks = append(blocks, input(id, handlers.SettingUseCases, menu,
			"The menus, the help and the reaction triggers here offer these only. Keep every one to get new use cases too."))
	}
	if !locked(handlers.SettingBrief) {
		id := settingBlock(handlers.SettingBrief)
		brief := slack.NewPlainTextInputBlockElement(plain("e.g. We run a professional kitchen: metric units, allergens first."), id)
		brief.Multiline = true
		brief.MaxLength = handlers.MaxBrief
		brief.InitialValue = f.Brief
		b := input(id, handlers.SettingBrief, brief,
			"Every answer here takes it into account, after the use case's own instructions; it never replaces them.")
		b.Optional = true
		blocks = append(blocks, b)
	}
	if !locked(handlers.SettingReactions) {
		id := settingBlock(handlers.SettingReactions)
		on := slack.NewOptionBlockObject(reactionsOn, plain("On: a trigger emoji on a photo asks for its use case"), nil)
		off := slack.NewOptionBlockObject(reactionsOff, plain("Off: emoji are only emoji here"), nil)
		radio := slack.NewRadioButtonsBlockElement(id, on, off)
		radio.InitialOption = off
		if f.Reactions {
			radio.InitialOption = on
		}
		blocks = append(blocks, input(id, handlers.SettingReactions, radio, ""))
	}
	if !locked(handlers.SettingDailyTokens) {
		id := settingBlock(handlers.SettingDailyTokens)
		n := slack.NewNumberInputBlockElement(plain("0 for none"), id, false).WithMinValue("0")
		hint := "Gemini tokens this channel may use each day (UTC); 0 for no budget of its own."
		if f.MaxDailyTokens > 0 {
			n = n.WithMaxValue(strconv.FormatInt(f.MaxDailyTokens, 10))
			hint = fmt.Sprintf("Gemini tokens this channel may use each day (UTC), up to the %s the app's admin allows; 0 for that.",
				thousandsOf(f.MaxDailyTokens))
		}
		n.InitialValue = strconv.FormatInt(f.DailyTokens, 10)
		b := input(id, handlers.SettingDailyTokens, n, hint)
		b.Optional = true
		blocks = append(blocks, b)
	}
	view.Blocks = slack.Blocks{BlockSet: blocks}
	return view
}

// input is the input block of a setting.
func input(id string, s handlers.Setting, element slack.BlockElement, hint string) *slack.InputBlock {
	var h *slack.TextBlockObject
	if hint != "" {
		h = plain(hint)
	}
	return slack.NewInputBlock(id, plain(settingLabels[s]), h, element)
}

// lockedBlock shows the settings the operator set for the channel, with
// their values: the modal has no input for them.
func lockedBlock(f handlers.SettingsForm) slack.Block {
	var lines []string
	for _, s := range handlers.AllSettings() {
		if !slices.Contains(f.Locked, s) {
			continue
		}
		var value string
		switch s {
		case handlers.SettingDefault:
			value = "`" + f.Default + "`"
		case handlers.SettingUseCases:
			names := make([]string, len(f.UseCases))
			for i, n := range f.UseCases {
				names[i] = "`" + n + "`"
			}
			value = strings.Join(names, ", ")
		case handlers.SettingBrief:
			value = "none"
			if f.Brief != "" {
				value = "“" + strings.Join(strings.Fields(f.Brief), " ") + "”"
			}
		case handlers.SettingReactions:
			value = reactionsOff
			if f.Reactions {
				value = reactionsOn
			}
		case handlers.SettingDailyTokens:
			value = "none"
			if f.DailyTokens > 0 {
				value = thousandsOf(f.DailyTokens) + " tokens"
			}
		}
		lines = append(lines, "• "+settingLabels[s]+": "+value)
	}
	return mrkdwn("Set by the app's admin for this channel:\n" + strings.Join(lines, "\n"))
}

// ReadSettings reads a submitted settings modal: the values of the inputs
// it showed (a locked setting has none), and its metadata.
func ReadSettings(cb slack.InteractionCallback) (handlers.SettingsSaved, handlers.SettingsTarget, error) {
	target, err := handlers.ReadSettingsTarget(cb.View.PrivateMetadata)
	if err != nil {
		return handlers.SettingsSaved{}, handlers.SettingsTarget{}, err
	}
	saved := handlers.SettingsSaved{Opened: target.Opened}
	if cb.View.State == nil {
		return saved, target, nil
	}
	values := cb.View.State.Values
	value := func(s handlers.Setting) (slack.BlockAction, bool) {
		id := settingBlock(s)
		a, ok := values[id][id]
		return a, ok
	}
	v := &saved.Values
	if a, ok := value(handlers.SettingDefault); ok {
		name := a.SelectedOption.Value
		v.Default = &name
	}
	if a, ok := value(handlers.SettingUseCases); ok {
		names := make([]string, 0, len(a.SelectedOptions))
		for _, o := range a.SelectedOptions {
			names = append(names, o.Value)
		}
		v.UseCases = &names
	}
	if a, ok := value(handlers.SettingBrief); ok {
		brief := a.Value
		v.Brief = &brief
	}
	if a, ok := value(handlers.SettingReactions); ok {
		on := a.SelectedOption.Value == reactionsOn
		v.Reactions = &on
	}
	if a, ok := value(handlers.SettingDailyTokens); ok {
		var n int64
		if s := strings.TrimSpace(a.Value); s != "" {
			if n, err = strconv.ParseInt(s, 10, 64); err != nil {
				n = -1 // shown as a mistake in the modal
			}
		}
		v.DailyTokens = &n
	}
	return saved, target, nil
}

// SettingsErrors are the mistakes of a submitted settings modal, as Slack
// shows them beside their inputs: the answer to its view_submission.
func SettingsErrors(problems map[handlers.Setting]string) *slack.ViewSubmissionResponse {
	if len(problems) == 0 {
		return nil
	}
	errs := make(map[string]string, len(problems))
	for s, text := range problems {
		errs[settingBlock(s)] = text
	}
	return slack.NewErrorsViewSubmissionResponse(errs)
}

// thousandsOf writes n with commas between groups of three digits.
func thousandsOf(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
