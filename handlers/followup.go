package handlers

import (
	"strings"

	"github.com/visionbot/visionbot/internal/vision"
	"github.com/visionbot/visionbot/prompts"
)

// inThread is a message to the bot inside a thread: its ts, who wrote it,
// its text (without the bot's mention) and the files attached to it.
type inThread struct {
	ts    string
	user  string
	text  string
	files []File
	named bool // text starts with a use case's name or alias
}

// followUp builds the conversation for a message in a thread from the
// thread itself (msgs, root first), so that any replica can answer it.
//
// The images are the message's own, then the thread's photos posted
// before it, newest first, MaxImages in all (or, when a person posted
// none, those the bot's latest answer was about): "and this one?" with a
// new photo is asked with the photos it follows. Unless the message names
// a use case, the thread's stands: the one its latest answer was made
// with, or the one a person named (a suggested prompt's "recipe" then
// their photo). When the bot has answered in the thread, its answers
// become the model's turns and the asker's messages the user's; else uc
// and question, chosen from the message, stand. It reports false when
// there is no image.
//
// A follow-up sends Google only what its asker and the bot said: the
// asker's messages and photos, the bot's answers and the photos they were
// about. Other people's messages, and their photos the bot never
// answered about, stay in Slack: they did not ask for them to be sent.
// (A first question in a thread, before any answer, is about the
// thread's newest photo, whoever posted it: the asker points at it.)
//
// Every person's text taken from the thread is held to MaxQuestion, as the
// new message was: one the bot refused for its length must not reach the
// model as part of a follow-up.
func (h *Flows) followUp(msgs []Message, m inThread, uc prompts.UseCase, question string) (conversation, bool) {
	var before []Message
	for _, msg := range msgs {
		if msg.TS != m.ts && tsBefore(msg.TS, m.ts) {
			before = append(before, msg)
		}
	}
	th := h.readThread(before, len(m.files), m.user)
	files := append(append([]File(nil), m.files...), th.files...)
	if len(files) == 0 {
		return conversation{}, false
	}
	text := strings.TrimSpace(m.text)
	if !m.named && th.useCase != "" {
		if last, ok := h.catalog.Lookup(th.useCase); ok {
			uc = last
		}
	}
	if !th.answered || text == "" {
		return conversation{files: files, elsewhere: th.fromAnswer, useCase: uc, question: question}, true
	}
	question = ""
	if th.byPerson && before[th.anchor].User == m.user {
		_, asked := h.catalog.Choose(h.withoutOwnMention(before[th.anchor].Text))
		if h.checkQuestion(asked) == nil {
			question = asked
		}
	}
	later := h.boundHistory(h.turnsAfter(before[th.anchor+1:], m.user))
	// The new message's length was checked before (checkQuestion).
	later = append(later, vision.Turn{Role: vision.RoleUser, Text: text})
	return conversation{files: files, elsewhere: th.fromAnswer, later: later, useCase: uc, question: question}, true
}

// thread is what a follow-up needs of the messages before it.
type thread struct {
	// files are the images of the thread, newest first; anchor is the
	// index of the oldest message they come from, where the conversation
	// starts. With no person's photo (byPerson false), the files are those
	// of the bot's latest answer about images from elsewhere, and anchor
	// the message before it; -1 when that is the root.
	files    []File
	anchor   int
	byPerson bool
	// fromAnswer says the files are those the bot's answer names, from
	// its footer, rather than the thread's own.
	fromAnswer bool
	answered   bool   // the bot answered in the thread: this is a follow-up
	useCase    string // the thread's use case: its latest answer's, or the one a person named; "" for none
}

// readThread reads a thread's images and its use case. Before the bot has
// answered in the thread, the images are the new message's own, or else
// the newest photo message's, whoever posted it; in a follow-up, the
// thread's photos too, newest first, up to MaxImages beyond the taken ones
// the new message brings: those asker posted, and those the bot's answers
// were about.
func (h *Flows) readThread(before []Message, taken int, asker string) thread {
	th := thread{anchor: -1}
	answeredAbout := map[string]bool{}
	for _, msg := range before {
		if h.ours(msg) {
			th.answered = true
			if msg.Answer != nil {
				for _, id := range msg.Answer.Files {
					answeredAbout[id] = true
				}
			}
		}
	}
	// sendable are msg's files a follow-up may send: every one of the
	// asker's, only those answered about of anyone else's.
	sendable := func(msg Message) []File {
		if h.ours(msg) || msg.BotID != "" {
			return nil
		}
		if !th.answered || msg.User == asker {
			return msg.Files
		}
		var files []File
		for _, f := range msg.Files {
			if answeredAbout[f.ID] {
				files = append(files, f)
			}
		}
		return files
	}
	for i := len(before) - 1; i >= 0 && taken+len(th.files) < h.cfg.MaxImages; i-- {
		files := sendable(before[i])
		if !hasImageCandidate(files) {
			continue
		}
		th.files = append(th.files, imageCandidates(files, h.cfg.MaxImages-taken-len(th.files))...)
		th.anchor, th.byPerson = i, true
		if !th.answered {
			break // a first question is about the newest photo alone
		}
	}
	if !th.answered && taken > 0 {
		th.files = nil // a first question with its own photo is about that photo
	}
	if !th.byPerson && taken == 0 {
		// No person's image in the thread: an answer about images from
		// elsewhere (a form's upload) still names its files.
		for i := len(before) - 1; i >= 0; i-- {
			if ref := before[i].Answer; ref != nil && h.ours(before[i]) && len(ref.Files) > 0 {
				th.anchor = i - 1 // the answer itself is the first model turn
				th.files, th.fromAnswer = stubs(ref.Files), true
				break
			}
		}
	}
	for i := len(before) - 1; i >= 0 && th.useCase == ""; i-- {
		msg := before[i]
		switch {
		case h.ours(msg) && msg.Answer != nil:
			th.useCase = msg.Answer.UseCase
		case !h.ours(msg) && msg.BotID == "":
			if uc, _, named := h.catalog.Named(h.withoutOwnMention(msg.Text)); named {
				th.useCase = uc.Name
			}
		}
	}
	return th
}

// turnsAfter are the model's turns (the bot's answers) and the user's (the
// asker's messages) of a thread after its images. Other people's and
// other bots' messages are no part of the conversation, and the asker's
// text over MaxQuestion is left out, as it was refused when it was sent.
func (h *Flows) turnsAfter(msgs []Message, asker string) []vision.Turn {
	var turns []vision.Turn
	for _, msg := range msgs {
		switch {
		case h.ours(msg):
			turns = append(turns, vision.Turn{Role: vision.RoleModel, Text: msg.Text})
		case msg.BotID != "" || msg.User != asker:
		default:
			if said := h.withoutOwnMention(msg.Text); said != "" && h.checkQuestion(said) == nil {
				turns = append(turns, vision.Turn{Role: vision.RoleUser, Text: said})
			}
		}
	}
	return turns
}

// ours says whether the bot posted msg.
func (h *Flows) ours(msg Message) bool {
	return h.cfg.BotUserID != "" && msg.User == h.cfg.BotUserID
}

// boundHistory keeps the newest turns within the configured count and
// size: the first turn (the images) is always sent, the oldest talk goes.
func (h *Flows) boundHistory(turns []vision.Turn) []vision.Turn {
	if len(turns) > h.cfg.MaxHistoryTurns {
		turns = turns[len(turns)-h.cfg.MaxHistoryTurns:]
	}
	total := 0
	for i := len(turns) - 1; i >= 0; i-- {
		total += len(turns[i].Text)
		if total > h.cfg.MaxHistoryChars {
			return turns[i+1:]
		}
	}
	return turns
}

// mergeTurns joins consecutive turns of the same role, as the model
// expects them to alternate.
func mergeTurns(turns []vision.Turn) []vision.Turn {
	out := make([]vision.Turn, 0, len(turns))
	for _, t := range turns {
		if n := len(out); n > 0 && out[n-1].Role == t.Role {
			out[n-1].Text = strings.TrimSpace(out[n-1].Text + "\n\n" + t.Text)
			out[n-1].Images = append(out[n-1].Images, t.Images...)
			continue
		}
		out = append(out, t)
	}
	return out
}

// withoutOwnMention removes the bot's mention from a message read back
// from a thread (events arrive with it already removed).
func (h *Flows) withoutOwnMention(text string) string {
	return WithoutMention(text, h.cfg.BotUserID)
}

// WithoutMention removes the mentions of userID (<@U123> or <@U123|name>)
// from text.
func WithoutMention(text, userID string) string {
	if userID == "" {
		return strings.TrimSpace(text)
	}
	prefix := "<@" + userID
	var out strings.Builder
	for {
		i := strings.Index(text, prefix)
		if i < 0 {
			break
		}
		rest := text[i+len(prefix):]
		end := strings.IndexByte(rest, '>')
		if end < 0 || (end > 0 && rest[0] != '|') {
			out.WriteString(text[:i+len(prefix)])
			text = rest
			continue
		}
		out.WriteString(text[:i])
		text = rest[end+1:]
	}
	out.WriteString(text)
	return strings.TrimSpace(out.String())
}
