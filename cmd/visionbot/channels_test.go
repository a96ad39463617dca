package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/visionbot/visionbot/internal/geminiemu"
	"github.com/visionbot/visionbot/internal/redistest"
	"github.com/visionbot/visionbot/internal/slackemu"
)

// openSettings runs /analyze settings in channel as user and returns the
// modal it opened, the nth the emulator has seen.
func openSettings(t *testing.T, h *harness, channel, user string, nth int) map[string]any {
	t.Helper()
	if _, err := h.slack.SendSlashCommand(map[string]string{"text": "settings", "channel_id": channel, "user_id": user}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return len(h.slack.Views()) >= nth }, "the settings modal opens")
	return h.slack.Views()[nth-1]
}

// saveSettings submits a settings modal as user with the values given,
// by setting, and waits for its ack, which it returns.
func saveSettings(t *testing.T, h *harness, view map[string]any, user string, values map[string]map[string]any) slackemu.Ack {
	t.Helper()
	state := map[string]any{}
	for setting, v := range values {
		id := "setting_" + setting
		state[id] = map[string]any{id: v}
	}
	view["state"] = map[string]any{"values": state}
	body, _ := json.Marshal(map[string]any{
		"type": "view_submission", "team": map[string]any{"id": slackemu.TeamID},
		"user": map[string]any{"id": user, "team_id": slackemu.TeamID}, "view": view,
	})
	env, err := h.slack.SendEnvelope("interactive", body)
	if err != nil {
		t.Fatal(err)
	}
	ack, err := h.slack.WaitAck(env, wait)
	if err != nil {
		t.Fatal(err)
	}
	return ack
}

func option(v string) map[string]any { return map[string]any{"value": v} }

// kitchen is the change the tests save: recipe by default, three use
// cases, a brief, and no reaction triggers.
func kitchen(brief string) map[string]map[string]any {
	return map[string]map[string]any{
		"default":   {"type": "static_select", "selected_option": option("recipe")},
		"use_cases": {"type": "multi_static_select", "selected_options": []any{option("recipe"), option("nutrition"), option("healthy")}},
		"brief":     {"type": "plain_text_input", "value": brief},
		"reactions": {"type": "radio_buttons", "selected_option": option("off")},
	}
}

// systemOf is the system instruction of Gemini's last streamed request.
func systemOf(t *testing.T, g *geminiemu.Server) string {
	t.Helper()
	reqs := streamRequests(t, g)
	if len(reqs) == 0 || reqs[len(reqs)-1].SystemInstruction == nil {
		t.Fatal("no request with a system instruction")
	}
	var b strings.Builder
	for _, p := range reqs[len(reqs)-1].SystemInstruction.Parts {
		b.WriteString(p.Text)
	}
	return b.String()
}

// A channel's members make the bot fit their channel from Slack: the
// settings modal, its mistakes shown in it, one line in the channel when
// saved, and the next mention answered with the channel's default and
// brief; the settings survive a restart (the embedded store's file).
func TestChannelSettingsFromSlack(t *testing.T) {
	s, g := newEmulators(t)
	db := filepath.Join(t.TempDir(), "settings.db")
	h := launchBot(t, s, g, map[string]string{"SETTINGS_DB": db})
	view := openSettings(t, h, "C1", "U1", 1)
	if view["callback_id"] != "channel_settings" {
		t.Fatalf("opened %v", view["callback_id"])
	}

	ack := saveSettings(t, h, view, "U1", kitchen(strings.Repeat("x", 501)))
	if !strings.Contains(string(ack.Payload), `"response_action":"errors"`) || !strings.Contains(string(ack.Payload), "setting_brief") {
		t.Fatalf("a brief too long was acked with %s, want the error in the modal", ack.Payload)
	}
	if ack := saveSettings(t, h, view, "U1", kitchen("A professional kitchen: metric units, allergens first.")); ack.Payload != nil {
		t.Fatalf("a good save was acked with %s", ack.Payload)
	}
	posted := h.waitPosted(t, "C1", 1)
	line := answerText(t, posted[0])
	for _, w := range []string{"<@U1> changed my settings in this channel", "default use case `recipe`", "use cases `recipe`, `healthy`, `nutrition`",
		"brief “A professional kitchen: metric units, allergens first.”", "reaction triggers off"} {
		if !strings.Contains(line, w) {
			t.Errorf("the announcement lacks %q: %s", w, line)
		}
	}

	g.SetDefault(geminiemu.Reply{Text: "Pasta."})
	mentionWithPhoto(t, h, "1700000100.000100", "<@"+slackemu.BotUserID+"> for four")
	h.waitLog(t, 1, `"trigger":"mention"`, `"use_case":"recipe"`, `"outcome":"ok"`)
	if sys := systemOf(t, g); !strings.Contains(sys, "<channel_brief>\nA professional kitchen: metric units, allergens first.\n</channel_brief>") {
		t.Errorf("the brief did not reach Gemini: %q", sys)
	}

	// /analyze help in the channel says what it uses.
	if _, err := s.SendSlashCommand(map[string]string{"text": "help", "channel_id": "C1", "user_id": "U2"}); err != nil {
		t.Fatal(err)
	}
	responses, err := s.WaitResponses(1, wait)
	if err != nil {
		t.Fatal(err)
	}
	help, _ := responses[len(responses)-1].Body["text"].(string)
	if !strings.Contains(help, "Use cases in this channel") || strings.Contains(help, "`code`") || !strings.Contains(help, "allergens first") {
		t.Errorf("the help in the channel:\n%s", help)
	}

	if err := h.stop(t); err != nil {
		t.Fatal(err)
	}
	restarted := launchBot(t, s, g, map[string]string{"SETTINGS_DB": db})
	mentionWithPhoto(t, restarted, "1700000200.000100", "<@"+slackemu.BotUserID+"> again")
	restarted.waitLog(t, 1, `"trigger":"mention"`, `"use_case":"recipe"`, `"outcome":"ok"`)
	if sys := systemOf(t, g); !strings.Contains(sys, "allergens first") {
		t.Errorf("after a restart the brief is gone: %q", sys)
	}
}

// Where the settings can't be changed, the person is told privately why:
// in a DM, in a channel the bot is not in, and as someone the operator's
// file does not let.
func TestChannelSettingsRefused(t *testing.T) {
	file := filepath.Join(t.TempDir(), "channels.yaml")
	if err := os.WriteFile(file, []byte("channels:\n  CADMINS:\n    editors: admins\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := startBot(t, map[string]string{"CHANNELS_FILE": file})
	h.slack.LeaveChannel("COUT")
	for i, tt := range []struct{ channel, want string }{
		{"D1", "Settings belong to a channel"},
		{"COUT", "I'm not in this channel"},
		{"CADMINS", "Only workspace admins and owners"},
	} {
		if _, err := h.slack.SendSlashCommand(map[string]string{"text": "settings", "channel_id": tt.channel, "user_id": "U1"}); err != nil {
			t.Fatal(err)
		}
		responses, err := h.slack.WaitResponses(i+1, wait)
		if err != nil {
			t.Fatal(err)
		}
		if text, _ := responses[i].Body["text"].(string); !strings.Contains(text, tt.want) {
			t.Errorf("%s: told %q, want %q", tt.channel, text, tt.want)
		}
	}
	if n := len(h.slack.Views()); n != 0 {
		t.Errorf("%d modals opened", n)
	}
	h.slack.SetAdmin("U1", false)
	openSettings(t, h, "CADMINS", "U1", 1)
}

// Two replicas sharing Redis: a change saved through one is what the
// other uses on its next request, although it had read the channel's
// settings before.
func TestChannelSettingsAcrossReplicas(t *testing.T) {
	env := map[string]string{"REDIS_URL": redistest.Start(t).URL()}
	s, g := newEmulators(t)
	g.SetDefault(geminiemu.Reply{Text: "Answer."})
	// The emulator sends each envelope to the newest connection: b first,
	// then a, which gets everything until it stops.
	b := launchBot(t, s, g, env)
	mentionWithPhoto(t, b, "1700000100.000100", "<@"+slackemu.BotUserID+"> what is it")
	b.waitLog(t, 1, `"trigger":"mention"`, `"use_case":"describe"`, `"outcome":"ok"`)

	a := launchBot(t, s, g, env)
	view := openSettings(t, a, "C1", "U1", 1)
	saveSettings(t, a, view, "U1", kitchen("Kitchen."))
	a.waitPosted(t, "C1", 2)
	b.waitLog(t, 1, "a channel's settings changed on another replica", `"channel":"C1"`)
	if err := a.stop(t); err != nil {
		t.Fatal(err)
	}

	mentionWithPhoto(t, b, "1700000300.000100", "<@"+slackemu.BotUserID+"> what is it")
	b.waitLog(t, 1, `"trigger":"mention"`, `"use_case":"recipe"`, `"outcome":"ok"`)
	if sys := systemOf(t, g); !strings.Contains(sys, "Kitchen.") {
		t.Errorf("the other replica's request lacks the brief: %q", sys)
	}
}

// The operator's file: a mistake stops the start naming its line, and
// visionbot check says the same, and warns of a channel that does not
// exist, or that the bot is not in.
func TestChannelsFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	bad := write("bad.yaml", "channels:\n  C1:\n    default: recipe\n    use_cases: [wine]\n")
	env := map[string]string{"CHANNELS_FILE": bad, "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1", "GEMINI_API_KEY": "k",
		"SLACK_API_URL": "http://127.0.0.1:1/api/", "GOOGLE_GEMINI_BASE_URL": "http://127.0.0.1:1"}
	err := run(context.Background(), []string{"visionbot"}, func(k string) string { return env[k] }, &syncBuffer{}, &syncBuffer{})
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "CHANNELS_FILE "+bad+": line 4: there is no use case \"wine\"") {
		t.Fatalf("run = %v, want the start stopped naming the line", err)
	}

	s, _, checkEnv := emulators(t)
	s.DeleteChannel("CGONE")
	s.LeaveChannel("COUT")
	for _, tt := range []struct {
		file string
		want []string
		fail bool
	}{
		{bad, []string{"FAIL  channel settings file: CHANNELS_FILE " + bad + ": line 4: there is no use case \"wine\""}, true},
		{write("good.yaml", "channels:\n  C1:\n    default: recipe\n  CGONE:\n    brief: gone\n  COUT:\n    brief: out\n"), []string{
			"ok    channel settings file: " + dir + "/good.yaml sets 3 channels",
			"warn  channel settings file: " + dir + "/good.yaml line 4: channel CGONE does not exist",
			"warn  channel settings file: " + dir + "/good.yaml line 6: the bot is not in channel COUT",
		}, false},
	} {
		checkEnv["CHANNELS_FILE"] = tt.file
		var out syncBuffer
		err := run(context.Background(), []string{"visionbot", "check"}, func(k string) string { return checkEnv[k] }, &out, &syncBuffer{})
		for _, w := range tt.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("check lacks %q:\n%s", w, out.String())
			}
		}
		if (err != nil) != tt.fail {
			t.Errorf("check returned %v", err)
		}
	}
}
