package bot

import (
	"encoding/json"
	"strings"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"

	"github.com/visionbot/visionbot/bot/blocks"
	"github.com/visionbot/visionbot/handlers"
)

// decoded is what one Socket Mode envelope asks of the bot: a request, or
// the reason it deliberately asks for nothing.
type decoded struct {
	req handlers.Request
	// seen are the keys that tell this request again: a retry of the same
	// event, or the same message delivered as two events.
	seen []string
	// ignored says why the envelope is no request; "" for a request.
	ignored string
	// stop is a person's click on Slack's Stop button: no request, but
	// the end of their own requests answering in that thread.
	stop *stopRef
}

// stopRef is a Stop: the thread it was clicked in, who clicked it, and the
// workspace it happened in (the envelope's team_id; agent_session_stopped
// names no user team, so admission looks the person's up).
type stopRef struct{ channel, thread, user, workspace string }

func ignore(why string) decoded { return decoded{ignored: why} }

// decoder turns envelopes into requests. It is pure: what it needs to know
// (who the bot is, which emoji are triggers) is given, and it makes no
// call, so every surface is decoded by one table-tested function.
type decoder struct {
	self Identity
	// reactions maps a trigger emoji to the use case it asks for.
	reactions map[string]string
}

// decode reads one envelope. The user's team is set only from fields that
// name the user's own team (user_team, the author's team, user.team_id):
// an envelope's team_id is the workspace the event happened in, which in
// Slack Connect is not the user's. Where no such field exists (reactions,
// slash commands), Team stays "" for admission to look up. That team_id
// (a payload's team.id) is the request's Workspace.
func (d decoder) decode(evt socketmode.Event) decoded {
	switch evt.Type {
	case socketmode.EventTypeEventsAPI:
		ev, ok := evt.Data.(slackevents.EventsAPIEvent)
		if !ok {
			return ignore("an Events API envelope without an event")
		}
		return d.event(ev)
	case socketmode.EventTypeSlashCommand:
		sc, ok := evt.Data.(slack.SlashCommand)
		if !ok {
			return ignore("a slash command envelope without a command")
		}
		if isSettings(sc.Text) {
			return decoded{
				req: handlers.Request{
					Origin: handlers.Origin{Trigger: handlers.TriggerSettings, Channel: sc.ChannelID, User: sc.UserID,
						Workspace: sc.TeamID, ResponseURL: sc.ResponseURL, TriggerID: sc.TriggerID},
					Ask: handlers.SettingsAsked{},
				},
				seen: []string{envelopeKey(evt.Request)},
			}
		}
		return decoded{
			req: handlers.Request{
				Origin: handlers.Origin{Trigger: handlers.TriggerSlash, Channel: sc.ChannelID, User: sc.UserID,
					Workspace: sc.TeamID, ResponseURL: sc.ResponseURL, TriggerID: sc.TriggerID},
				Ask: handlers.Command{Text: sc.Text},
			},
			seen: []string{envelopeKey(evt.Request)},
		}
	case socketmode.EventTypeInteractive:
		cb, ok := evt.Data.(slack.InteractionCallback)
		if !ok {
			return ignore("an interactive envelope without a payload")
		}
		d := d.interaction(cb)
		if d.ignored == "" {
			d.seen = append(d.seen, envelopeKey(evt.Request))
			d.req.Origin.Workspace = cb.Team.ID
		}
		return d
	}
	return ignore("not a request envelope: " + string(evt.Type))
}

func envelopeKey(req *socketmode.Request) string {
	if req == nil {
		return ""
	}
	return "envelope:" + req.EnvelopeID
}

func (d decoder) event(ev slackevents.EventsAPIEvent) decoded {
	cb, _ := ev.Data.(*slackevents.EventsAPICallbackEvent)
	eventKey := ""
	if cb != nil && cb.EventID != "" {
		eventKey = "event:" + cb.EventID
	}
	inWorkspace := func(d decoded) decoded {
		if d.req.Ask != nil && cb != nil {
			d.req.Origin.Workspace = cb.TeamID
		}
		return d
	}
	switch inner := ev.InnerEvent.Data.(type) {
	case *slackevents.AppMentionEvent:
		return inWorkspace(d.mention(inner, innerTeam(cb), eventKey))
	case *slackevents.MessageEvent:
		return inWorkspace(d.directMessage(inner, eventKey))
	case *slackevents.ReactionAddedEvent:
		return inWorkspace(d.reaction(inner, eventKey))
	case *slackevents.AppHomeOpenedEvent:
		return inWorkspace(d.appHome(inner))
	case *slackevents.AppContextChangedEvent:
		return inWorkspace(d.contextChanged(inner, eventKey))
	case *slackevents.AgentSessionStoppedEvent:
		switch {
		case inner.Channel == "" || inner.ThreadTimestamp == "":
			return ignore("a Stop that names no thread")
		case inner.User == "" || inner.User == d.self.UserID:
			return ignore("a Stop by no one, or by the bot itself")
		}
		stop := &stopRef{channel: inner.Channel, thread: inner.ThreadTimestamp, user: inner.User}
		if cb != nil {
			stop.workspace = cb.TeamID
		}
		return decoded{stop: stop, seen: []string{eventKey}}
	}
	return ignore("an event the bot does not handle: " + ev.InnerEvent.Type)
}

// mention reads an app_mention; authorTeam is its "team" field, which
// slack-go does not keep.
func (d decoder) mention(ev *slackevents.AppMentionEvent, authorTeam, eventKey string) decoded {
	switch {
	case ev.BotID != "":
		return ignore("a mention by a bot")
	case ev.User == "" || ev.User == d.self.UserID:
		return ignore("a mention by no one, or by the bot itself")
	case ev.Edited != nil:
		return ignore("an edited mention: it was answered when it was new")
	}
	o := messageOrigin(handlers.TriggerMention, ev.Channel, ev.TimeStamp, ev.ThreadTimeStamp, ev.User, firstOf(ev.UserTeam, authorTeam))
	return decoded{
		req:  handlers.Request{Origin: o, Ask: handlers.Said{Text: d.withoutOwnMention(ev.Text), Files: blocks.Files(ev.Files)}},
		seen: []string{eventKey, "message:" + ev.Channel + ":" + ev.TimeStamp},
	}
}

// directMessage reads a message event: only a person's new message in a
// DM is a request.
func (d decoder) directMessage(ev *slackevents.MessageEvent, eventKey string) decoded {
	msg := ev.Message
	switch {
	case !ev.IsIM():
		return ignore("a message outside a DM: channel messages reach the bot as mentions")
	case !isNewUserMessage(ev.SubType):
		return ignore("not a person's new message: " + ev.SubType)
	case msg == nil:
		return ignore("a message event without its message")
	case ev.BotID != "" || msg.BotID != "":
		return ignore("a bot's message")
	case ev.User == "" || ev.User == d.self.UserID:
		return ignore("a message by no one, or by the bot itself")
	}
	o := messageOrigin(handlers.TriggerDM, ev.Channel, ev.TimeStamp, ev.ThreadTimeStamp, ev.User, firstOf(ev.UserTeam, msg.Team))
	return decoded{
		req: handlers.Request{Origin: o, Ask: handlers.Said{Text: d.withoutOwnMention(ev.Text),
			Files: blocks.MessageFiles(msg.Files, msg.Attachments)}},
		seen: []string{eventKey, "message:" + ev.Channel + ":" + ev.TimeStamp},
	}
}

// reaction reads a reaction_added: a trigger emoji on a message.
func (d decoder) reaction(ev *slackevents.ReactionAddedEvent, eventKey string) decoded {
	useCase, trigger := d.reactions[reactionName(ev.Reaction)]
	switch {
	case ev.Item.Type != "message":
		return ignore("a reaction to something other than a message")
	case ev.User == "" || ev.User == d.self.UserID:
		return ignore("a reaction by no one, or by the bot itself")
	case !trigger:
		return ignore("not a trigger emoji")
	}
	item := ev.Item
	// The reacted message's own thread is known only once the flow reads
	// it; until then its notices go under the message itself.
	o := handlers.Origin{Trigger: handlers.TriggerReaction, Channel: item.Channel, Thread: item.Timestamp,
		Message: item.Timestamp, User: ev.User}
	return decoded{
		req: handlers.Request{Origin: o, Ask: handlers.Reacted{Emoji: ev.Reaction, UseCase: useCase}},
		// Two people adding the same emoji (whatever its skin tone) ask
		// the same question once.
		seen: []string{eventKey, "reaction:" + item.Channel + ":" + item.Timestamp + ":" + useCase},
	}
}

// appHome reads a tab of the app opened: the Home tab shows the use cases;
// the Messages tab gets suggested prompts.
func (d decoder) appHome(ev *slackevents.AppHomeOpenedEvent) decoded {
	switch {
	case ev.User == "":
		return ignore("an app tab opened by no one")
	case ev.Tab == "home":
		return decoded{req: handlers.Request{
			Origin: handlers.Origin{Trigger: handlers.TriggerHome, User: ev.User},
			Ask:    handlers.HomeOpened{},
		}}
	case ev.Tab == "messages" && ev.Channel != "":
		return decoded{req: handlers.Request{
			Origin: handlers.Origin{Trigger: handlers.TriggerMessages, Channel: ev.Channel, User: ev.User},
			Ask:    handlers.MessagesOpened{},
		}}
	}
	return ignore("an app tab the bot shows nothing in: " + ev.Tab)
}

// contextChanged reads what a person looks at while the Messages tab is
// open: the first message context among the entities (Slack orders them by
// relevance), or nothing the bot uses.
func (d decoder) contextChanged(ev *slackevents.AppContextChangedEvent, eventKey string) decoded {
	if ev.User == "" || ev.Channel == "" {
		return ignore("a context change with no one or no DM")
	}
	var v handlers.Viewing
	for _, e := range ev.Context.Entities {
		if e.Message != nil && e.Message.ChannelID != "" && e.Message.MessageTimestamp != "" {
			v = handlers.Viewing{Channel: e.Message.ChannelID, TS: e.Message.MessageTimestamp}
			break
		}
	}
	return decoded{
		req: handlers.Request{
			Origin: handlers.Origin{Trigger: handlers.TriggerMessages, Channel: ev.Channel, User: ev.User},
			Ask:    v,
		},
		seen: []string{eventKey},
	}
}

// messageOrigin is the origin of a message to the bot: the answer goes to
// its thread, or starts one under it.
func messageOrigin(trigger handlers.Trigger, channel, ts, threadTS, user, team string) handlers.Origin {
	return handlers.Origin{Trigger: trigger, Channel: channel, Thread: firstOf(threadTS, ts), Message: ts, User: user, Team: team}
}

func (d decoder) interaction(cb slack.InteractionCallback) decoded {
	user, team := cb.User.ID, cb.User.TeamID
	switch cb.Type {
	case slack.InteractionTypeMessageAction:
		if cb.CallbackID != blocks.CallbackShortcut {
			return ignore("a shortcut the bot does not have: " + cb.CallbackID)
		}
		msg := blocks.Message(cb.Channel.ID, cb.Message.Msg)
		if msg.TS == "" {
			msg.TS = cb.MessageTs
		}
		return decoded{req: handlers.Request{
			Origin: handlers.Origin{Trigger: handlers.TriggerShortcut, Channel: cb.Channel.ID, User: user, Team: team,
				ResponseURL: cb.ResponseURL, TriggerID: cb.TriggerID},
			Ask: handlers.ShortcutOn{Message: msg},
		}}
	case slack.InteractionTypeViewSubmission:
		if cb.View.CallbackID == blocks.CallbackSettings {
			return settingsSaved(cb)
		}
		if cb.View.CallbackID != blocks.CallbackAnalyze {
			return ignore("a modal the bot did not open: " + cb.View.CallbackID)
		}
		target, err := handlers.ReadFormTarget(cb.View.PrivateMetadata)
		if err != nil {
			return ignore("a modal whose metadata can't be read")
		}
		return decoded{req: handlers.Request{
			Origin: handlers.Origin{Trigger: handlers.TriggerForm, Channel: target.Channel, Thread: target.Thread,
				Message: target.Message, User: user, Team: team, ResponseURL: target.ResponseURL},
			Ask: blocks.ReadSubmission(cb, target),
		}}
	case slack.InteractionTypeBlockActions:
		for _, act := range cb.ActionCallback.BlockActions {
			if d := d.action(cb, act); d.ignored == "" {
				return d
			}
		}
		return ignore("no action of the bot's")
	}
	return ignore("an interaction the bot does not handle: " + string(cb.Type))
}

// settingsSaved reads a submitted settings modal. One with mistakes was
// answered in the modal itself, when it was acked (answerInModal): it asks
// nothing more. A modal is saved once, however often Slack delivers it.
func settingsSaved(cb slack.InteractionCallback) decoded {
	saved, target, err := blocks.ReadSettings(cb)
	switch {
	case err != nil:
		return ignore("a settings modal whose metadata can't be read")
	case handlers.CheckSettings(saved, target) != nil:
		return ignore("a settings modal with mistakes: they were shown in the modal")
	}
	return decoded{
		req: handlers.Request{
			Origin: handlers.Origin{Trigger: handlers.TriggerSettings, Channel: target.Channel, User: cb.User.ID,
				Team: cb.User.TeamID, ResponseURL: target.ResponseURL},
			Ask: saved,
		},
		seen: []string{"settings-view:" + cb.View.ID},
	}
}

// answerInModal is the payload of the ack of an envelope, which Slack
// shows in the modal submitted: the mistakes of a settings modal beside
// their inputs, so that the person fixes them there. It is pure and makes
// no call, like decode: the loop that acks can afford it. Anything else
// is acked with no payload (nil).
func (d decoder) answerInModal(evt socketmode.Event) any {
	cb, ok := evt.Data.(slack.InteractionCallback)
	if !ok || cb.Type != slack.InteractionTypeViewSubmission || cb.View.CallbackID != blocks.CallbackSettings {
		return nil
	}
	saved, target, err := blocks.ReadSettings(cb)
	if err != nil {
		return nil
	}
	if errs := blocks.SettingsErrors(handlers.CheckSettings(saved, target)); errs != nil {
		return errs
	}
	return nil
}

// isSettings reports whether a command's text asks for the channel's
// settings ("settings", as "help" asks for the help).
func isSettings(text string) bool {
	return strings.EqualFold(strings.Trim(strings.TrimSpace(text), "?!. "), "settings")
}

// action reads a click under one of the bot's answers; the answer's footer
// says what it was about.
func (d decoder) action(cb slack.InteractionCallback, act *slack.BlockAction) decoded {
	ref, ok := blocks.DecodeRef(act.BlockID)
	if !ok {
		return ignore("an action outside the bot's footer")
	}
	// The answer's thread: the footer names it; a click under the answer
	// itself says it too, a click in a private follow-up may not.
	o := handlers.Origin{Channel: firstOf(cb.Container.ChannelID, cb.Channel.ID), User: cb.User.ID,
		Team: cb.User.TeamID, ResponseURL: cb.ResponseURL,
		Thread: firstOf(ref.Thread, cb.Container.ThreadTs, cb.Message.ThreadTimestamp, cb.Container.MessageTs)}
	switch act.ActionID {
	case blocks.ActionRerun:
		o.Trigger = handlers.TriggerRerun
		return decoded{req: handlers.Request{Origin: o, Ask: handlers.Rerun{UseCase: act.SelectedOption.Value, Ref: ref}}}
	case blocks.ActionFeedback:
		if act.Value != blocks.FeedbackUp && act.Value != blocks.FeedbackDown {
			return ignore("a feedback button of unknown value: " + act.Value)
		}
		o.Trigger, o.Message = handlers.TriggerFeedback, votedOn(cb)
		return decoded{req: handlers.Request{Origin: o, Ask: handlers.Vote{Up: act.Value == blocks.FeedbackUp, Ref: ref}}}
	case blocks.ActionFeedbackUp, blocks.ActionFeedbackDown:
		o.Trigger, o.Message = handlers.TriggerFeedback, votedOn(cb)
		return decoded{req: handlers.Request{Origin: o, Ask: handlers.Vote{Up: act.ActionID == blocks.ActionFeedbackUp, Ref: ref}}}
	case blocks.ActionWhatWasWrong:
		o.Trigger = handlers.TriggerFeedback
		return decoded{req: handlers.Request{Origin: o, Ask: handlers.WhatWasWrong{Text: act.Value, Ref: ref}}}
	}
	return ignore("an action the bot does not have: " + act.ActionID)
}

// votedOn is the answer a vote is on: the message whose buttons were
// clicked, by which a person's votes on one answer are told apart.
func votedOn(cb slack.InteractionCallback) string {
	return firstOf(cb.Container.MessageTs, cb.Message.Timestamp)
}

// innerTeam is the "team" of an event's inner event: the team of the
// person who wrote the message, as Slack's payloads carry it (see the
// app_mention fixtures), which slack-go's AppMentionEvent does not keep.
func innerTeam(cb *slackevents.EventsAPICallbackEvent) string {
	if cb == nil || cb.InnerEvent == nil {
		return ""
	}
	var ev struct {
		Team string `json:"team"`
	}
	_ = json.Unmarshal(*cb.InnerEvent, &ev) // best effort: "" is looked up
	return ev.Team
}

// firstOf returns the first non-empty string.
func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// isNewUserMessage keeps the subtypes that are a person's new message:
// edits, deletions, joins and bot posts are not requests.
func isNewUserMessage(subtype string) bool {
	return subtype == "" || subtype == "file_share" || subtype == "thread_broadcast"
}

// withoutOwnMention removes the bot's mention (<@U123> or <@U123|name>).
func (d decoder) withoutOwnMention(text string) string {
	return handlers.WithoutMention(text, d.self.UserID)
}

// reactionName drops a skin tone ("thumbsup::skin-tone-2").
func reactionName(emoji string) string {
	name, _, _ := strings.Cut(emoji, "::")
	return name
}
