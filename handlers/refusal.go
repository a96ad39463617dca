package handlers

import (
	"fmt"
	"strconv"
	"time"

	"github.com/visionbot/visionbot/internal/failure"
)

// RefusalReason is why the bot turned a request away before starting it.
type RefusalReason int

const (
	// RefusedBusy: every worker and the whole queue are taken.
	RefusedBusy RefusalReason = iota + 1
	// RefusedUserRate: the user asked more often than the per-user rate.
	RefusedUserRate
	// RefusedChannelRate: the channel asked more often than its rate.
	RefusedChannelRate
	// RefusedThreadCap: the thread already has as many answers as one
	// thread may get (so that two bots can't talk to each other forever).
	RefusedThreadCap
	// RefusedNotEnabled: the channel, user or team is outside the
	// allow-lists. Only commands, shortcuts and forms are told so: people
	// expect an answer to those, while a mention stays unanswered.
	RefusedNotEnabled
	// RefusedUnknownTeam: the user's team could not be looked up, so the
	// allow-lists could not tell whether they may use the bot.
	RefusedUnknownTeam
	// RefusedUserAllowance, RefusedChannelAllowance and RefusedWorkspaceAllowance:
	// the day's token allowance of the user, the channel or the user's
	// workspace is spent.
	RefusedUserAllowance
	RefusedChannelAllowance
	RefusedWorkspaceAllowance
	// RefusedQuestionTooLong: the question is longer than MaxQuestion
	// (Size: its length in characters), found before the request is
	// queued, so that it takes no room there.
	RefusedQuestionTooLong
	// RefusedOversized: the request, as the shared queue holds it, is
	// larger than the queue takes (Size and Limit, in bytes): too many
	// files' details, or too much text.
	RefusedOversized
)

// Allowance names the allowance a refusal is for ("user", "channel",
// "workspace"), or "" for a refusal of another kind.
func (r RefusalReason) Allowance() string {
	switch r {
	case RefusedUserAllowance:
		return "user"
	case RefusedChannelAllowance:
		return "channel"
	case RefusedWorkspaceAllowance:
		return "workspace"
	}
	return ""
}

// kind is the failure.Kind whose words tell the user of the refusal.
func (r RefusalReason) kind() failure.Kind {
	switch r {
	case RefusedUserRate, RefusedChannelRate:
		return failure.RateLimited
	case RefusedThreadCap:
		return failure.ThreadCap
	case RefusedNotEnabled, RefusedUnknownTeam:
		return failure.NotEnabled
	case RefusedUserAllowance, RefusedChannelAllowance, RefusedWorkspaceAllowance:
		return failure.OverAllowance
	case RefusedQuestionTooLong:
		return failure.QuestionTooLong
	case RefusedOversized:
		return failure.Oversized
	}
	return failure.Busy
}

// Refusal is a request the bot turned away, with the limit it reached and
// when the user may ask again. It is an error, so that userMessage can
// read its numbers from the error it is given.
type Refusal struct {
	Reason RefusalReason
	// Limit is the limit reached: requests per Window for a rate, answers
	// for the thread cap, tokens a day for an allowance; 0 when the reason has
	// none.
	Limit  int64
	Window time.Duration
	// RetryIn is how long until the user may ask again; 0 when unknown.
	RetryIn time.Duration
	// Size is how large the request was, for a refusal of its size: its
	// question's characters, or its bytes in the queue.
	Size int64
}

func (why Refusal) Error() string {
	switch why.Reason {
	case RefusedUserRate, RefusedChannelRate:
		return fmt.Sprintf("%d requests per %v reached, retry in %v", why.Limit, why.Window, why.RetryIn)
	case RefusedThreadCap:
		return fmt.Sprintf("%d answers in the thread reached", why.Limit)
	case RefusedNotEnabled:
		return "outside the allow-lists"
	case RefusedUnknownTeam:
		return "the user's team could not be looked up"
	case RefusedUserAllowance, RefusedChannelAllowance, RefusedWorkspaceAllowance:
		return fmt.Sprintf("the %s's %d tokens a day spent, resets in %v", why.Reason.Allowance(), why.Limit, why.RetryIn)
	case RefusedQuestionTooLong:
		return fmt.Sprintf("a question of %d characters", why.Size)
	case RefusedOversized:
		return fmt.Sprintf("%d bytes to queue, over %d", why.Size, why.Limit)
	}
	return "no room in the queue"
}

// error is the refusal as the failure userMessage turns into words; the
// detail tells a user's rate from a channel's.
func (why Refusal) error() error {
	detail := why.Reason.Allowance()
	switch why.Reason {
	case RefusedUserRate:
		detail = "user"
	case RefusedChannelRate:
		detail = "channel"
	case RefusedQuestionTooLong:
		detail = strconv.FormatInt(why.Size, 10) // as the flows' own check says it
	}
	return failure.Errorf("refuse the request", why.Reason.kind(), detail, why)
}

// refusalMessage is a refusal in words. A refusal is no failure: Decline turns it
// into its words here, once, and its error (why.error) only names its kind
// for the log line and the metrics.
func (h *Flows) refusalMessage(why Refusal) string {
	switch why.Reason.kind() {
	case failure.RateLimited:
		who := "You're"
		if why.Reason == RefusedChannelRate {
			who = "This channel is"
		}
		rate := ""
		if why.Limit > 0 && why.Window > 0 {
			rate = " (" + perWindow(why.Limit, why.Window) + ")"
		}
		return fmt.Sprintf("%s sending requests faster than I can take them%s: try again in %s.", who, rate, waitText(why.RetryIn))
	case failure.ThreadCap:
		answers := "as many of my answers as one thread gets"
		if why.Limit > 0 {
			answers = fmt.Sprintf("%d of my answers", why.Limit)
		}
		return fmt.Sprintf("This thread already has %s: start a new thread to ask more "+
			"(post the photo again, or mention %s in a new message).", answers, h.cfg.BotName)
	case failure.OverAllowance:
		who := map[RefusalReason]string{RefusedUserAllowance: "You have", RefusedChannelAllowance: "This channel has",
			RefusedWorkspaceAllowance: "Your workspace has"}[why.Reason]
		by := "set by the app's admin"
		if why.Reason == RefusedChannelAllowance && h.deps.Channels != nil {
			by = fmt.Sprintf("set by the app's admin or in `%s settings`", h.cfg.Command)
		}
		return fmt.Sprintf("%s used today's share of Gemini (%s tokens a day, %s). "+
			"It resets at midnight UTC, in %s.", who, thousands(int(why.Limit)), by, waitText(why.RetryIn))
	case failure.NotEnabled:
		if why.Reason == RefusedUnknownTeam {
			return "I couldn't check with Slack who may use me just now. Try again in a minute."
		}
		return "This app isn't enabled here. Ask the app's admin to enable it for you or for this channel."
	case failure.Oversized:
		most := ""
		if why.Limit > 0 {
			most = fmt.Sprintf(" (I take up to %d KB with the details of its files)", why.Limit>>10)
		}
		return "That's more than I can take in one request" + most + ". Send fewer files at once, or a shorter message."
	}
	// Busy, and the refusals a flow would make itself (a question too
	// long): the same words as the failure.
	return h.userMessage(why.error())
}

// perWindow says a rate the way people do: "up to 10 requests a minute".
func perWindow(n int64, window time.Duration) string {
	what := "requests"
	if n == 1 {
		what = "request"
	}
	per := "per " + window.String()
	switch window {
	case time.Second:
		per = "a second"
	case time.Minute:
		per = "a minute"
	case time.Hour:
		per = "an hour"
	case 24 * time.Hour:
		per = "a day"
	}
	return fmt.Sprintf("up to %d %s %s", n, what, per)
}

// waitText says how long to wait, rounded up so that the user who waits
// that long is let through: "40s", "3 min", "2 hours".
func waitText(d time.Duration) string {
	if d <= 0 {
		return "a moment"
	}
	secs := int((d + time.Second - 1) / time.Second)
	if secs < 60 {
		return fmt.Sprintf("%ds", secs)
	}
	mins := (secs + 59) / 60
	if mins < 60 {
		return fmt.Sprintf("%d min", mins)
	}
	hours := (mins + 59) / 60
	if hours == 1 {
		return "an hour"
	}
	return fmt.Sprintf("%d hours", hours)
}
