package handlers

import (
	"strings"

	"github.com/visionbot/visionbot/internal/vision"
	"github.com/visionbot/visionbot/prompts"
)

// followUp builds the conversation for a message in a thread (ts, text)
// from the thread itself (msgs, root first), so that any replica can
// answer it: the images are the newest ones posted before the message (or,
// when a person posted none, those the bot's latest answer was about). When
// the bot has answered since, its answers become the model's turns and the
// people's messages the user's, and the use case stays the one last
// answered with unless the text names another; else uc and question, chosen
// from the text, stand. It reports false when the thread holds no image.
//
// Every person's text taken from the thread is held to MaxQuestion, as the
// new message was: one the bot refused for its length must not reach the
// model as part of a follow-up.
func (h *Handler) followUp(msgs []Message, ts, text string, uc prompts.UseCase, question string) (conversation, bool) {
	var before []Message
	for _, msg := range msgs {
		if msg.TS != ts && tsBefore(msg.TS, ts) {
			before = append(before, msg)
		}
	}
	th, ok := h.readThread(before)
	if !ok {
		return conversation{}, false
	}
	text = strings.TrimSpace(text)
	if !th.answered || text == "" {
		return conversation{files: th.files, useCase: uc, question: question}, true
	}

	// A follow-up keeps the use case of the last answer unless the
	// message starts with another's name.
	if first, _, _ := strings.Cut(text, " "); th.lastRef != nil {
		if _, named := h.catalog.Lookup(strings.ToLower(strings.Trim(first, ",:;.!?"))); !named {
			if last, ok := h.catalog.Lookup(th.lastRef.UseCase); ok {
				uc = last
			}
		}
	}
	question = ""
	if th.byPerson {
		_, asked := h.catalog.Choose(h.withoutOwnMention(before[th.anchor].Text))
		if h.checkQuestion(asked) == nil {
			question = asked
		}
	}
	later := h.boundHistory(h.turnsAfter(before[th.anchor+1:]))
	// The new message's length was checked before (checkQuestion).
	later = append(later, vision.Turn{Role: vision.RoleUser, Text: text})
	return conversation{files: th.files, later: later, useCase: uc, question: question}, true
}

// thread is what a follow-up needs of the messages before it.
type thread struct {
	// anchor is the index of the message with the images: a person's
	// newest photo, or (byPerson false) the message before the bot's
	// latest answer about images from elsewhere; -1 when that is the root.
	anchor   int
	byPerson bool
	files    []File
	answered bool       // the bot answered since the anchor
	lastRef  *AnswerRef // what its latest answer was about
}

// readThread finds a thread's images and whether the bot answered about
// them; false when it holds none.
func (h *Handler) readThread(before []Message) (thread, bool) {
	th := thread{anchor: -1}
	for i := len(before) - 1; i >= 0; i-- {
		if !h.ours(before[i]) && before[i].BotID == "" && hasImageCandidate(before[i].Files) {
			th.anchor, th.files, th.byPerson = i, before[i].Files, true
			break
		}
	}
	for i := th.anchor + 1; i < len(before); i++ {
		if h.ours(before[i]) {
			th.answered = true
			if before[i].Answer != nil {
				th.lastRef = before[i].Answer
			}
		}
	}
	if th.byPerson {
		return th, true
	}
	// No person's image in the thread: an answer about images from
	// elsewhere (a form's upload) still names its files.
	for i := len(before) - 1; i >= 0; i-- {
		if ref := before[i].Answer; ref != nil && h.ours(before[i]) && len(ref.Files) > 0 {
			th.anchor = i - 1 // the answer itself is the first model turn
			th.files = stubs(ref.Files)
			return th, true
		}
	}
	return thread{}, false
}

// turnsAfter are the model's turns (the bot's answers) and the user's (the
// people's messages) of a thread after its images. Other bots' messages
// are no part of the conversation, and a person's text over MaxQuestion is
// left out, as it was refused when it was sent.
func (h *Handler) turnsAfter(msgs []Message) []vision.Turn {
	var turns []vision.Turn
	for _, msg := range msgs {
		switch {
		case h.ours(msg):
			turns = append(turns, vision.Turn{Role: vision.RoleModel, Text: msg.Text})
		case msg.BotID != "":
		default:
			if said := h.withoutOwnMention(msg.Text); said != "" && h.checkQuestion(said) == nil {
				turns = append(turns, vision.Turn{Role: vision.RoleUser, Text: said})
			}
		}
	}
	return turns
}

// ours says whether the bot posted msg.
func (h *Handler) ours(msg Message) bool {
	return h.cfg.BotUserID != "" && msg.User == h.cfg.BotUserID
}

// boundHistory keeps the newest turns within the configured count and
// size: the first turn (the images) is always sent, the oldest talk goes.
func (h *Handler) boundHistory(turns []vision.Turn) []vision.Turn {
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
func (h *Handler) withoutOwnMention(text string) string {
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

// mentionGuard releases streamed text for display only up to where no
// mention can be cut in two ("<@U1" + "23>", "@he" + "re"), defused the
// same way as the whole answer will be, and without surrounding
// whitespace, so that what is shown is always a prefix of the final text.
type mentionGuard struct {
	held    string
	started bool
}

// The longest tail held back: a mention's "<…>" and "@everyone".
const (
	maxHeldMention = 256
	maxHeldWord    = len("@everyone")
)

func (g *mentionGuard) write(delta string) string {
	text := g.held + delta
	if !g.started {
		text = strings.TrimLeft(text, " \t\r\n")
		if text == "" {
			g.held = ""
			return ""
		}
		g.started = true
	}
	cut := len(strings.TrimRight(text, " \t\r\n"))
	// Only what follows the last ">" can still change: an unclosed "<"
	// there may become a mention, an "@" a broadcast word.
	closed := strings.LastIndexByte(text[:cut], '>') + 1
	if i := strings.LastIndexByte(text[closed:cut], '<'); i >= 0 && cut-(closed+i) < maxHeldMention {
		cut = closed + i
	} else if i := strings.LastIndexByte(text[closed:cut], '@'); i >= 0 && cut-(closed+i) <= maxHeldWord {
		cut = closed + i
	}
	g.held = text[cut:]
	return defuseMentions(text[:cut])
}
