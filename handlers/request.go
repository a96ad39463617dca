package handlers

// Trigger names the surface a request came from, in logs and metrics.
type Trigger string

const (
	TriggerMention  Trigger = "mention"
	TriggerDM       Trigger = "dm"
	TriggerSlash    Trigger = "slash"
	TriggerShortcut Trigger = "shortcut"
	TriggerForm     Trigger = "form"
	TriggerRerun    Trigger = "rerun"
	TriggerReaction Trigger = "reaction"
	TriggerHome     Trigger = "home"
	TriggerFeedback Trigger = "feedback"
	// TriggerMessages is the app's Messages tab opened, or what the person
	// looks at changing while it is open.
	TriggerMessages Trigger = "messages"
	// TriggerSettings is /analyze settings and its modal submitted.
	TriggerSettings Trigger = "settings"
)

// Origin is who asked and where the answer goes. The Slack side builds it
// once, when it decodes an event; every flow, refusal and interruption
// takes it, so there is one way to reach the person who asked.
type Origin struct {
	Trigger Trigger
	Channel string
	// Thread is the thread the answer goes to. It is "" while the flow
	// has yet to find it: /analyze looks for the user's photo first, and
	// an upload posts the message whose thread it answers in.
	Thread string
	// Message is the message the request is about, which shows the
	// progress reactions; "" when there is none.
	Message string
	User    string
	// Team is the user's own team, which in Slack Connect is not always
	// the bot's: "" until the Slack side has looked it up.
	Team string
	// Workspace is the workspace the request happened in (its envelope's
	// team_id): the one a DM with the bot belongs to, whoever's team the
	// person is of.
	Workspace string
	// ResponseURL and TriggerID are the private route back to the user,
	// where the trigger gave one (a command, a shortcut, a click, a form):
	// a private message, and a modal within three seconds.
	ResponseURL string
	TriggerID   string
}

// inThread reports whether the request's message was posted in a thread
// rather than at the top of a channel.
func (o Origin) inThread() bool {
	return o.Message != "" && o.Thread != "" && o.Thread != o.Message
}

// Request is one thing a person asked of the bot: who and where, and what.
type Request struct {
	Origin
	Ask Ask
}

// Ask is what was asked: one of the kinds that have a field in asks (Said,
// Command, ShortcutOn, Submission, Rerun, Vote, WhatWasWrong, Reacted,
// HomeOpened, MessagesOpened, Viewing, SettingsAsked, SettingsSaved). Its one method puts it in that
// field, which is how a request crosses the shared queue (wire.go): a new
// kind can't be an Ask without its field, so there is no list to keep in
// step with the kinds.
type Ask interface{ into(w *asks) }

// Said is a message to the bot, a mention or a DM: its text without the
// bot's mention, and the files attached.
type Said struct {
	Text  string
	Files []File
}

// Command is /analyze and the text after it.
type Command struct{ Text string }

// ShortcutOn is the "Analyze image" message shortcut, used on Message.
type ShortcutOn struct{ Message Message }

// Submission is a submitted analyze modal. Its Origin comes from the
// form's metadata: where the answer goes.
type Submission struct {
	UseCase  string
	Question string
	// Uploads are the images attached to an upload modal.
	Uploads []File
	// Files are the ids of the images of the message the modal was opened
	// on (the shortcut's).
	Files []string
}

// Rerun is a choice in the "Try another use case" menu under an answer.
type Rerun struct {
	UseCase string // the one chosen
	Ref     AnswerRef
}

// Vote is a click on 👍 or 👎 under an answer.
type Vote struct {
	Up  bool
	Ref AnswerRef
}

// WhatWasWrong is the one line a person wrote after a 👎, about the answer
// Ref names.
type WhatWasWrong struct {
	Text string
	Ref  AnswerRef
}

// Reacted is a trigger emoji added to the message Origin.Message names.
type Reacted struct {
	Emoji   string
	UseCase string // the use case the emoji stands for
}

// HomeOpened is a person opening the app's Home tab.
type HomeOpened struct{}

// MessagesOpened is a person opening the app's Messages tab: Origin.Channel
// is the DM with them.
type MessagesOpened struct{}

// Viewing is what a person looks at while the app's Messages tab is open
// (app_context_changed): the message at Channel and TS, or nothing the bot
// can use when both are "". Origin.Channel is the DM with them.
type Viewing struct {
	Channel string
	TS      string
}

func (a Said) into(w *asks)           { w.Said = &a }
func (a Command) into(w *asks)        { w.Command = &a }
func (a ShortcutOn) into(w *asks)     { w.ShortcutOn = &a }
func (a Submission) into(w *asks)     { w.Submission = &a }
func (a Rerun) into(w *asks)          { w.Rerun = &a }
func (a Vote) into(w *asks)           { w.Vote = &a }
func (a WhatWasWrong) into(w *asks)   { w.WhatWasWrong = &a }
func (a MessagesOpened) into(w *asks) { w.MessagesOpened = &a }
func (a Viewing) into(w *asks)        { w.Viewing = &a }
func (a Reacted) into(w *asks)        { w.Reacted = &a }
func (a HomeOpened) into(w *asks)     { w.HomeOpened = &a }
