package handlers

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/visionbot/visionbot/internal/failure"
	"github.com/visionbot/visionbot/internal/media"
	"github.com/visionbot/visionbot/internal/slackmd"
	"github.com/visionbot/visionbot/internal/vision"
)

// userMessage is the one place where a failure becomes words for the user:
// what happened and what to do next. Each family of failure.Kind has its
// words in its own function.
func (h *Flows) userMessage(err error) string {
	kind, detail := failure.KindOf(err), failure.DetailOf(err)
	for _, words := range []func(failure.Kind, string, error) (string, bool){
		h.inputMessage, h.slackMessage, h.geminiMessage, h.botMessage,
	} {
		if text, ok := words(kind, detail, err); ok {
			return text
		}
	}
	return "Something went wrong on my side. Try again; if it keeps happening, tell the app's admin."
}

// inputMessage is userMessage for what the user gave the bot.
func (h *Flows) inputMessage(kind failure.Kind, detail string, err error) (string, bool) {
	switch kind {
	case failure.NoImage:
		switch detail {
		case noRecentPhoto:
			return h.noRecentPhotoText(), true
		case emptyForm:
			return fmt.Sprintf("I couldn't find an image in that message or the form. Open *Analyze image* again and attach a photo (%s).",
				media.SupportedFormats), true
		}
		return fmt.Sprintf("I couldn't find an image here. Attach a photo (%s) to your message and mention me, "+
			"or mention me in the photo's thread. Say `%s help` to see what I can do.", media.SupportedFormats, h.cfg.BotName), true
	case failure.UnsupportedFile:
		what := detail
		if what == "" {
			what = "not an image"
		}
		return fmt.Sprintf("I can only look at images (%s), and this is %s. Post a photo or a screenshot instead.",
			media.SupportedFormats, what), true
	case failure.SVG:
		return fmt.Sprintf("I can't read SVG images, only %s. Export it as PNG and post that instead.", media.SupportedFormats), true
	case failure.TooLarge:
		if detail != "" {
			return fmt.Sprintf("That image is too large (%s). Post a smaller version and try again.", detail), true
		}
		return fmt.Sprintf("That image is over the %s limit. Post a smaller version and try again.", humanBytes(int64(h.cfg.MaxFileBytes))), true
	case failure.CorruptImage:
		what := "image"
		if detail != "" {
			what = detail // the format: "JPEG", "PNG"
		}
		return fmt.Sprintf("I couldn't read that %s: the file looks damaged or incomplete. Upload it again and retry.", what), true
	case failure.ForeignHost:
		return "That file is stored outside Slack, so I won't fetch it with my Slack credentials. Upload the image to Slack itself and retry.", true
	case failure.QuestionTooLong:
		n, _ := strconv.Atoi(detail)
		return fmt.Sprintf("Your question is %s characters; I take up to %s. Shorten it and ask again.",
			thousands(n), thousands(h.cfg.MaxQuestion)), true
	case failure.ExpiredRef:
		return fmt.Sprintf("That prompt has expired: a prompt about the message you're viewing works for %s. "+
			"To ask about it, open the message again with my Messages tab open and pick a fresh prompt.",
			humanDuration(h.cfg.RefLifetime)), true
	case failure.NotOffered:
		return fmt.Sprintf("%s isn't one of the use cases this channel uses. `%s help` lists those it does.",
			slackmd.Code(detail), h.cfg.Command), true
	case failure.NotShared:
		return "I can't look at that image here: it isn't shared in this conversation, so not everyone here may see it. " +
			"Share the image in this conversation and try again.", true
	}
	return "", false
}

// slackMessage is userMessage for Slack's refusals.
func (h *Flows) slackMessage(kind failure.Kind, detail string, err error) (string, bool) {
	switch kind {
	case failure.FilesScope:
		return "I can't download files from Slack yet: the app needs the `files:read` scope. " +
			"An admin can add it under OAuth & Permissions in the app's settings and reinstall the app.", true
	case failure.FileUnavailable:
		return "That file isn't available to me any more (it was deleted or isn't shared with me). Post it again and retry.", true
	case failure.NotInChannel:
		return fmt.Sprintf("I'm not a member of this channel. Invite me with `/invite %s`, then try again.", h.cfg.BotName), true
	case failure.MissingScope:
		scope := "a required"
		if detail != "" {
			scope = "the `" + detail + "`"
		}
		return fmt.Sprintf("I'm missing %s permission. An admin can add it under OAuth & Permissions "+
			"in the app's settings and reinstall the app.", scope), true
	case failure.SlackAuth:
		return "Slack refused my token, so I can't work here until an admin reinstalls the app and updates SLACK_BOT_TOKEN.", true
	case failure.Archived:
		return "That channel is archived, so I can't answer there. Unarchive it, or post the photo in another channel.", true
	}
	return "", false
}

// geminiMessage is userMessage for Gemini's failures and refusals.
func (h *Flows) geminiMessage(kind failure.Kind, detail string, err error) (string, bool) {
	switch kind {
	case failure.Blocked:
		return blockedMessage(detail), true
	case failure.EmptyAnswer:
		return "Gemini finished without an answer. Try again, or ask a more specific question.", true
	case failure.ImageRejected:
		return "Gemini couldn't process this image. Try a JPEG or PNG photo or screenshot.", true
	case failure.ModelAuth:
		return "I can't use Gemini right now: it rejected the bot's API key, and an admin must fix it " +
			"(GEMINI_API_KEY; the bot's log says more). Until then I can't answer photos.", true
	case failure.UnknownModel:
		return "The Gemini model I'm configured with isn't available, so I can't answer photos until it is fixed. " +
			"Tell the app's admin: GEMINI_MODEL names a model Gemini doesn't offer (visionbot check lists the fix).", true
	case failure.Quota:
		if after, ok := strings.CutPrefix(detail, "retry in "); ok {
			return "Gemini is busy: the bot's quota is used up for now. Try again in " + roundDelay(after) + ".", true
		}
		return "Gemini is busy: the bot's quota is used up for now. Try again in a minute.", true
	case failure.Unavailable:
		return "Gemini is overloaded right now. Try again in a moment.", true
	case failure.RequestTooLarge:
		return "Your images were too large for Gemini to take in one request. Send a smaller image, or fewer " +
			"images at once; if this keeps happening, ask the app's admin to lower MAX_REQUEST_MB so that I send smaller copies.", true
	case failure.Timeout:
		return "Gemini took too long to answer. Try again in a moment.", true
	case failure.CutOff:
		if detail == "MAX_TOKENS" || detail == "CONTINUATION" {
			return "This answer is cut off: it reached Gemini's length limit. Ask for a shorter answer or one part at a time.", true
		}
		return "This answer is cut off: Gemini's stream ended before it finished. Ask again for the whole answer.", true
	}
	return "", false
}

// botMessage is userMessage for the bot's own refusals and interruptions.
func (h *Flows) botMessage(kind failure.Kind, detail string, err error) (string, bool) {
	switch kind {
	case failure.Busy:
		return "I'm answering a lot of requests right now. Try again shortly.", true
	case failure.ShuttingDown:
		return "I'm restarting and couldn't finish this one. Ask me again in a minute.", true
	case failure.Stopped:
		return "_Stopped._", true
	case failure.JobTimeout:
		return "This one took longer than I allow for an answer, so I stopped. Try again, perhaps with fewer images or a shorter question.", true
	case failure.HandedOver:
		// Never shown: the replica that let the request go writes nothing
		// more to Slack for it. Here for the log and for completeness.
		return "Another copy of me took this one over.", true
	case failure.TooManyTries:
		return fmt.Sprintf("I tried to answer this %s times and stopped on the way each time, so I gave up on it. "+
			"Try again, perhaps with another photo; if it keeps happening, tell the app's admin.", detail), true
	case failure.QueueLost:
		return "I lost this request before I could answer it: my queue was restarted and forgot what it held. Ask me again.", true
	case failure.TooOld:
		waited := "too long"
		if d, err := time.ParseDuration(detail); err == nil && d > 0 {
			waited = "more than " + waitText(d)
		}
		return fmt.Sprintf("This request waited %s for its turn, so I'm not answering it this late. Ask me again if you still need it.", waited), true
	}
	return "", false
}

// blockedMessage says why Gemini refused, by the reason it gave: a prompt
// block (promptFeedback.blockReason) or a finish reason.
func blockedMessage(reason string) string {
	switch reason {
	case "SAFETY", "IMAGE_SAFETY":
		return "Gemini declined to answer: its safety filters flagged this photo or question. Try another photo or ask differently."
	case "RECITATION", "IMAGE_RECITATION":
		return "Gemini stopped because its answer would have repeated existing text or images too closely. " +
			"Ask for a summary in its own words, or a different angle."
	case "PROHIBITED_CONTENT", "IMAGE_PROHIBITED_CONTENT", "BLOCKLIST", "SPII":
		return "Gemini won't answer this: the photo or question touches content its usage policy prohibits. Try a different photo or question."
	}
	what := ""
	if reason != "" {
		what = " (" + strings.ToLower(strings.ReplaceAll(reason, "_", " ")) + ")"
	}
	return "Gemini declined to answer this one" + what + ". Try another photo or ask differently."
}

// roundDelay makes Google's retryDelay ("48.805646254s") readable: whole
// seconds, at least one.
func roundDelay(s string) string {
	d, err := time.ParseDuration(s)
	if err != nil {
		return s
	}
	return max(d.Round(time.Second), time.Second).String()
}

// noRecentPhotoText answers /analyze when the user posted no photo lately.
func (h *Flows) noRecentPhotoText() string {
	return fmt.Sprintf("I couldn't find a photo you posted in this channel in the last %s. "+
		"Post a photo (%s), then run `%s <use case>` again, or mention %s in the photo's message. "+
		"`%s help` lists the use cases.",
		humanDuration(h.cfg.HistoryWindow), media.SupportedFormats, h.cfg.Command, h.cfg.BotName, h.cfg.Command)
}

// helpText is the help of a conversation with the operator's defaults: a
// DM's.
func (h *Flows) helpText() string { return h.helpTextIn(h.resolveChannel("", ChannelSettings{})) }

// helpTextIn lists the use cases the conversation uses and the ways to
// call the bot there: in a channel with settings, its own use cases,
// default, brief and reactions. It is plain enough to read the same as
// Markdown and as mrkdwn.
func (h *Flows) helpTextIn(c channelUse) string {
	var b strings.Builder
	b.WriteString("I look at photos and screenshots and answer in the thread. ")
	if c.all {
		b.WriteString("Use cases:\n")
	} else {
		b.WriteString("Use cases in this channel:\n")
	}
	for _, uc := range c.offered {
		fmt.Fprintf(&b, "• `%s`", uc.Name)
		if len(uc.Aliases) > 0 {
			fmt.Fprintf(&b, " (or %s)", strings.Join(uc.Aliases, ", "))
		}
		fmt.Fprintf(&b, ": %s", uc.Description)
		if uc.Name == c.def.Name {
			b.WriteString(" (the default)")
		}
		b.WriteString("\n")
	}
	if c.brief != "" {
		// The members' own words, shown as any text the bot did not write.
		b.WriteString("\nThis channel's brief, which every answer here takes into account: “" +
			slackmd.Safe(strings.Join(strings.Fields(c.brief), " ")) + "”\n")
	}
	b.WriteString("\nHow to ask:\n")
	for _, line := range h.howToIn(c) {
		b.WriteString("• " + line + "\n")
	}
	fmt.Fprintf(&b, "Without a use case word, your text is the question. I read %s, up to %s, and up to %d images per message.",
		media.SupportedFormats, humanBytes(int64(h.cfg.MaxFileBytes)), h.cfg.MaxImages)
	b.WriteString("\n\n" + h.privacyText())
	return b.String()
}

// privacyText says, plainly, what happens to people's photos: where they
// are sent, that the bot keeps none of them, what its logs note, and what
// Google keeps.
//
// The logs (the operator's, wherever they send the bot's output) note a
// request's channel, its person's Slack user id, the use case, its
// figures and, for a failure, the error, which may name a file (job.end),
// never its text or images; a 👎's line is logged
// without the person's id, scrubbed and cut (whatWasWrong, scrubLine).
//
// On the Gemini API (ai.google.dev/gemini-api/docs: "Logs and datasets",
// "Data logging and sharing", "Zero data retention", "Additional usage
// policies"): a project's logs keep requests for 55 days by default
// unless a request says store: false, which the bot sends unless
// GEMINI_REQUEST_LOGS is on; Google keeps prompts and answers for 55 days
// to detect abuse whatever the setting; unpaid (free-tier) use may improve
// Google's products, with human reviewers; and a request grounded in
// Google Search is kept 30 days, which no setting turns off. The bot
// uploads no files (images go inline), so the File API keeps nothing.
func (h *Flows) privacyText() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Your photos and questions go to Google Gemini through %s, only to answer you; "+
		"a follow-up in a thread sends your own messages there, my answers and the photos they were about, "+
		"never what others wrote or their other photos. "+
		"I keep none of them myself: no images, no answers, no history beyond what Slack shows in the thread "+
		"(a request waiting for its turn is held only until it is answered). "+
		"My logs, kept by whoever runs me, note each request's channel, your Slack user ID, the use case, how long it took "+
		"and, if it failed, why (which may name a file), never your questions, my answers or your images; "+
		"a line you write after a 👎 is logged with its use case, without your ID, "+
		"cut to %d characters, with mentions, links, email addresses and long numbers taken out.", h.cfg.Backend, maxWhatWasWrong)
	if h.deps.Channels != nil {
		b.WriteString(" What I do keep is each channel's settings: its use cases, its default, its brief, " +
			"and who changed them last and when, never a photo or an answer.")
	}
	if h.cfg.VertexAI {
		b.WriteString(" Under Google Cloud's terms, Google doesn't train its models on them, and may keep them " +
			"for a limited time to detect abuse: https://cloud.google.com/terms/service-terms.")
		return b.String()
	}
	if h.cfg.RequestLogs {
		b.WriteString(" The app's admin turned on Gemini request logs: Google keeps each request (your photos, your " +
			"questions, your earlier messages and my answers in the thread) and its answer for up to 55 days, where the members of the " +
			"app's Google AI Studio project can read them and may share them with Google.")
	} else {
		b.WriteString(" I ask Google not to keep them in the app's request logs.")
	}
	b.WriteString(" Google itself keeps what it receives for up to 55 days to detect abuse, and, if the app uses " +
		"Gemini's free tier, may use it to improve its products, with people reviewing it: " +
		"see https://ai.google.dev/gemini-api/terms.")
	if grounded := h.groundedUseCases(); len(grounded) > 0 {
		fmt.Fprintf(&b, " When an answer searches Google (%s), Google keeps that request and answer for 30 days, "+
			"which can't be turned off.", strings.Join(grounded, ", "))
	}
	return b.String()
}

// groundedUseCases are the use cases whose answers search Google, when
// GROUNDING lets them.
func (h *Flows) groundedUseCases() []string {
	if !h.cfg.Grounding {
		return nil
	}
	var names []string
	for _, uc := range h.catalog.All() {
		if uc.Grounding {
			names = append(names, "`"+uc.Name+"`")
		}
	}
	return names
}

// howTo lists the ways to call the bot with the operator's defaults, for
// the Home tab.
func (h *Flows) howTo() []string {
	lines := h.howToIn(h.resolveChannel("", ChannelSettings{}))
	if h.deps.Channels == nil {
		return lines
	}
	return append(lines, fmt.Sprintf("In a channel, `%s settings` picks the use cases it uses, its default and a brief every answer there takes into account; `%s help` there shows them", h.cfg.Command, h.cfg.Command))
}

// howToIn lists the ways to call the bot in a conversation: the reaction
// triggers only where they answer, for the use cases offered there.
func (h *Flows) howToIn(c channelUse) []string {
	lines := []string{
		fmt.Sprintf("Mention me in a message with a photo: `%s recipe` (add a question if you like)", h.cfg.BotName),
		fmt.Sprintf("Mention me in the thread of a photo, or of my answer, to ask more: `%s is this healthy?`", h.cfg.BotName),
		fmt.Sprintf("`%s recipe [question]` analyzes your newest photo in the channel (or lets you attach one)", h.cfg.Command),
		"Message shortcut *Analyze image* (the ⋮ menu on any message with an image)",
		"Send me a photo in a direct message",
	}
	if c.id != "" && !isDM(c.id) && h.deps.Channels != nil {
		lines = append(lines, fmt.Sprintf("`%s settings` changes what this channel uses", h.cfg.Command))
	}
	if len(h.cfg.Reactions) > 0 && c.reactions {
		names := make([]string, 0, len(h.cfg.Reactions))
		for e, name := range h.cfg.Reactions {
			if uc, ok := h.catalog.Lookup(name); ok && c.offers(uc.Name) {
				names = append(names, e)
			}
		}
		slices.Sort(names)
		var pairs []string
		for _, e := range names {
			pairs = append(pairs, fmt.Sprintf(":%s: %s", e, h.cfg.Reactions[e]))
		}
		if len(pairs) > 0 {
			lines = append(lines, "React to a photo: "+strings.Join(pairs, ", "))
		}
	}
	return lines
}

// tsBefore compares two Slack timestamps ("1700000000.000100") exactly.
func tsBefore(a, b string) bool {
	as, af, _ := strings.Cut(a, ".")
	bs, bf, _ := strings.Cut(b, ".")
	ai, _ := strconv.ParseInt(as, 10, 64)
	bi, _ := strconv.ParseInt(bs, 10, 64)
	if ai != bi {
		return ai < bi
	}
	const width = 6
	return padRight(af, width) < padRight(bf, width)
}

func padRight(s string, n int) string {
	for len(s) < n {
		s += "0"
	}
	return s
}

func humanBytes(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MB", n>>20)
	}
	return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
}

func humanDuration(d time.Duration) string {
	if d < time.Hour && d%time.Minute == 0 {
		if d == time.Minute {
			return "1 minute"
		}
		return fmt.Sprintf("%d minutes", int(d.Minutes()))
	}
	h := d.Hours()
	if h == float64(int(h)) {
		if h == 1 {
			return "hour"
		}
		return fmt.Sprintf("%d hours", int(h))
	}
	return fmt.Sprintf("%.1f hours", h)
}

// checkQuestion refuses a question longer than the bound, rather than cut
// it where the user can't see and answer something else.
func (h *Flows) checkQuestion(question string) error {
	if n := utf8.RuneCountInString(question); n > h.cfg.MaxQuestion {
		return failure.Errorf("check the question", failure.QuestionTooLong, strconv.Itoa(n), nil)
	}
	return nil
}

// imagesUsedNote tells, under an answer, which images it is about when
// the message held more than the bot takes at once.
func (h *Flows) imagesUsedNote(used []File, left int) string {
	return fmt.Sprintf("I looked at the first %d of your %d images (%s): I take up to %d at a time. "+
		"Ask about the others in another message.", len(used), len(used)+left, fileNames(used), h.cfg.MaxImages)
}

// smallerCopiesNote says that some images were sent as Slack's smaller
// copies, to keep the request within MaxRequestBytes.
func (h *Flows) smallerCopiesNote(files []File) string {
	return fmt.Sprintf("Your images together were more than I send to Gemini at once (%s), so I looked at smaller copies of %s: "+
		"fine detail such as small text may be lost. Ask about one image at a time for the full size.",
		humanBytes(int64(h.cfg.MaxRequestBytes)), fileNames(files))
}

// SourcesNote is the line that ends a grounded answer: its sources as
// Markdown links, each showing the host it leads to, or "" when there are
// none.
func SourcesNote(sources []vision.Source) string {
	links := make([]string, 0, len(sources))
	for _, s := range sources {
		if s.Host == "" || s.URL == "" {
			continue
		}
		links = append(links, slackmd.Link(s.Host, s.URL))
	}
	if len(links) == 0 {
		return ""
	}
	return "\n\nSources: " + strings.Join(links, ", ")
}

// fileNames lists files by name (their id when they have none) as code,
// which no name can break out of; a mention in a name notifies nobody.
func fileNames(files []File) string {
	names := make([]string, 0, len(files))
	for _, f := range files {
		name := f.Name
		if name == "" {
			name = f.ID
		}
		names = append(names, slackmd.Code(name))
	}
	return strings.Join(names, ", ")
}

// thousands writes n with commas between groups of three digits: 3,412.
func thousands(n int) string {
	if n < 0 {
		return "-" + thousands(-n)
	}
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
