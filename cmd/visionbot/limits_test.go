package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/visionbot/visionbot/internal/geminiemu"
	"github.com/visionbot/visionbot/internal/redistest"
	"github.com/visionbot/visionbot/internal/slackemu"
)

// mentionEvent is an app_mention by user in channel, with files if any.
func mentionEvent(t *testing.T, channel, user, ts, text string, files ...any) []byte {
	t.Helper()
	ev := map[string]any{"type": "app_mention", "user": user, "text": "<@" + slackemu.BotUserID + "> " + text,
		"ts": ts, "event_ts": ts, "channel": channel}
	if len(files) > 0 {
		ev["files"] = files
	}
	inner, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return inner
}

// waitLogged waits until the bot's logs hold what n times: the log line a
// deliberate silence leaves is how a test knows the bot is done with an
// event it must not answer.
func (h *harness) waitLogged(t *testing.T, what string, n int) {
	t.Helper()
	waitFor(t, func() bool { return strings.Count(h.logs.String(), what) >= n }, "the log says "+what)
}

// The limits and allow-lists, configured through the environment, as the
// users see them.
func TestLimitsEndToEnd(t *testing.T) {
	t.Parallel()

	h := startBot(t, map[string]string{
		"USER_RATE": "1/1m", "CHANNEL_RATE": "off", "ALLOWED_CHANNELS": "C1,C2", "MAX_QUESTION_CHARS": "40",
	})
	h.gemini.SetDefault(geminiemu.Reply{Text: "A dish."})
	send := func(inner []byte) {
		t.Helper()
		if _, err := h.slack.SendEvent(inner, ""); err != nil {
			t.Fatal(err)
		}
	}

	// The cases run in order on one bot: each counts on what the one
	// before left in its limits.
	t.Run("a user over the rate is told once, then silence until the window ends", func(t *testing.T) {
		send(mentionEvent(t, "C1", "U1", "1700000000.000100", "recipe", photoFile(h, slackemu.MakePNG(32, 24))))
		h.waitPosted(t, "C1", 1)
		send(mentionEvent(t, "C1", "U1", "1700000000.000200", "recipe", photoFile(h, slackemu.MakePNG(32, 24))))
		posted := h.waitPosted(t, "C1", 2)
		if got := answerText(t, posted[1]); posted[1].ThreadTS != "1700000000.000200" ||
			!strings.HasPrefix(got, "You're sending requests faster than I can take them (up to 1 request a minute): try again in ") {
			t.Errorf("second answer in %s: %q", posted[1].ThreadTS, got)
		}
		send(mentionEvent(t, "C1", "U1", "1700000000.000300", "recipe", photoFile(h, slackemu.MakePNG(32, 24))))
		h.waitLogged(t, "refused a request over a limit, silently", 1)
		if n := len(h.slack.Posted("C1")); n != 2 {
			t.Errorf("messages in C1 = %d, want 2: the third request gets silence", n)
		}
	})

	t.Run("outside the allow-lists a mention gets silence and a command a private answer", func(t *testing.T) {
		send(mentionEvent(t, "C9", "U2", "1700000100.000100", "recipe", photoFile(h, slackemu.MakePNG(32, 24))))
		h.waitLogged(t, "ignored a request from outside the allow-lists", 1)
		if n := len(h.slack.Posted("C9")); n != 0 {
			t.Errorf("messages in C9 = %d, want none", n)
		}
		if _, err := h.slack.SendSlashCommand(map[string]string{"text": "recipe", "channel_id": "C9", "user_id": "U2"}); err != nil {
			t.Fatal(err)
		}
		resps, err := h.slack.WaitResponses(1, wait)
		if err != nil {
			t.Fatal(err)
		}
		if text, _ := resps[0].Body["text"].(string); !strings.Contains(text, "isn't enabled here") || resps[0].Body["response_type"] != "ephemeral" {
			t.Errorf("response = %+v", resps[0].Body)
		}
	})

	t.Run("a question over MAX_QUESTION_CHARS is refused by name", func(t *testing.T) {
		before := len(h.gemini.Requests())
		send(mentionEvent(t, "C2", "U3", "1700000200.000100", strings.Repeat("a", 50), photoFile(h, slackemu.MakePNG(32, 24))))
		posted := h.waitPosted(t, "C2", 1)
		if got := answerText(t, posted[0]); got != "Your question is 50 characters; I take up to 40. Shorten it and ask again." {
			t.Errorf("answer = %q", got)
		}
		if after := len(h.gemini.Requests()); after != before {
			t.Errorf("Gemini was asked %d times", after-before)
		}
	})

	// reaction_added names no team: the bot looks the person up
	// (users.info), so a Slack Connect outsider is kept out as their
	// mention would be.
	t.Run("an outsider's reaction in a shared channel gets silence, a member's an answer", func(t *testing.T) {
		h.slack.SetUserTeam("UX1", "T9")
		ts := h.slack.AddMessage("C2", map[string]any{"user": "U4", "text": "lunch", "files": []any{photoFile(h, slackemu.MakePNG(32, 24))}})
		react := func(user string) {
			inner, _ := json.Marshal(map[string]any{"type": "reaction_added", "user": user, "reaction": "fork_and_knife", "item_user": "U4",
				"item": map[string]any{"type": "message", "channel": "C2", "ts": ts}, "event_ts": "1700000300.000100"})
			send(inner)
		}
		before := len(h.slack.Posted("C2"))
		ignored := strings.Count(h.logs.String(), "ignored a request from outside the allow-lists")
		react("UX1")
		h.waitLogged(t, "ignored a request from outside the allow-lists", ignored+1)
		react("U5")
		posted := h.waitPosted(t, "C2", before+1)
		if len(posted) != before+1 || posted[before].ThreadTS != ts || answerText(t, posted[before]) != "A dish." {
			t.Errorf("C2 holds %d messages, want the member's answer only", len(posted))
		}
		looked := map[string]int{}
		for _, c := range h.slack.Calls("users.info") {
			looked[c.Params["user"]]++
		}
		if looked["UX1"] != 1 || looked["U5"] != 1 {
			t.Errorf("users.info calls by user = %v, want one for each person", looked)
		}
	})
}

// A response_url that fails is logged without its URL: it can post as the
// app for half an hour.
func TestAFailedResponseURLStaysOutOfTheLog(t *testing.T) {
	t.Parallel()

	h := startBot(t, nil)
	hook := "http://127.0.0.1:9/commands/T1/12345/hookSecretPath"
	if _, err := h.slack.SendSlashCommand(map[string]string{"text": "help", "channel_id": "C1", "user_id": "U1", "response_url": hook}); err != nil {
		t.Fatal(err)
	}
	h.waitLogged(t, `"outcome":"help"`, 1)
	logs := h.logs.String()
	if !strings.Contains(logs, "post to response_url") {
		t.Fatalf("no failure logged:\n%s", logs)
	}
	if strings.Contains(logs, "hookSecretPath") {
		t.Errorf("the log holds the response_url:\n%s", logs)
	}
}

// Daily token allowances, in one process and across replicas sharing Redis:
// a request that finds its budget spent is refused with when it resets,
// and the person is told once.
func TestDailyTokenBudgets(t *testing.T) {
	t.Parallel()

	for _, shared := range []bool{false, true} {
		name := "in memory"
		if shared {
			name = "across replicas through Redis"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()

			env := map[string]string{"USER_DAILY_TOKENS": "1"}
			if shared {
				env["REDIS_URL"] = redistest.Start(t).URL()
			}
			s, g := newEmulators(t)
			first := launchBot(t, s, g, env)
			g.SetDefault(geminiemu.Reply{Text: "A recipe."})
			mention := func(h *harness, ts string) {
				t.Helper()
				file := photoFile(h, slackemu.MakePNG(32, 24))
				s.AddMessage("C1", map[string]any{"user": "U1", "text": "recipe", "files": []any{file}, "ts": ts})
				if _, err := s.SendEvent(mentionEvent(t, "C1", "U1", ts, "recipe", file), ""); err != nil {
					t.Fatal(err)
				}
			}
			mention(first, "1700000000.000100")
			first.waitLog(t, 1, `"msg":"request"`, `"outcome":"ok"`, `"tokens_in"`)

			// The next requests reach the newest connection: with Redis,
			// another replica, which must know what the first one spent.
			second := first
			if shared {
				second = launchBot(t, s, g, env)
				if err := s.WaitConnects(2, wait); err != nil {
					t.Fatal(err)
				}
			}
			mention(second, "1700000001.000100")
			mention(second, "1700000002.000100")
			second.waitLog(t, 1, "refused a request over a limit and told the user", `"limit":"spend:`, `:user:U1"`)
			second.waitLog(t, 1, "refused a request over a limit, silently", `"limit":"spend:`)
			var refusals []string
			for _, p := range s.Posted("C1") {
				if p.ThreadTS != "1700000000.000100" {
					refusals = append(refusals, p.ThreadTS+" "+answerText(t, p))
				}
			}
			// Admission runs the two at once: either may be the one told.
			refusedThread := len(refusals) == 1 &&
				(strings.HasPrefix(refusals[0], "1700000001.000100 ") || strings.HasPrefix(refusals[0], "1700000002.000100 "))
			if !refusedThread ||
				!strings.Contains(refusals[0], "used today's share of Gemini (1 tokens a day") || !strings.Contains(refusals[0], "midnight UTC") {
				t.Errorf("refusals in the channel: %q, want one, in a refused request's thread", refusals)
			}
			if n := len(streamRequests(t, g)); n != 1 {
				t.Errorf("Gemini was asked %d times, want once", n)
			}
		})
	}
}
