package handlers

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"go.uber.org/zap"

	"github.com/visionbot/visionbot/internal/vision"
	"github.com/visionbot/visionbot/prompts"
)

// Shortcut is the "Analyze image" message shortcut on a message.
type Shortcut struct {
	TriggerID   string
	Channel     string
	User        string
	Team        string
	ResponseURL string
	Message     Message
}

// Action is a choice in the "Try another use case" menu under an answer.
type Action struct {
	Channel     string
	Thread      string
	User        string
	Team        string
	ResponseURL string
	UseCase     string // the one chosen
	Ref         AnswerRef
}

// Vote is a click on 👍 or 👎 under an answer.
type Vote struct {
	Channel     string
	User        string
	ResponseURL string
	Up          bool
	Ref         AnswerRef
}

// Reaction is a person adding an emoji to a message.
type Reaction struct {
	Channel string
	TS      string
	User    string
	Team    string
	Emoji   string
}

// Shortcut opens the modal that asks for a use case and a question about
// the message's images, or one that says the message has none.
func (h *Handler) Shortcut(ctx context.Context, s Shortcut) {
	r := h.newRequest(TriggerShortcut, s.Channel, s.User, "", "", h.catalog.Default(), "")
	form := Form{Kind: FormNotice, Notice: fmt.Sprintf(
		"This message has no image I can read. I look at %s files attached to a message, "+
			"including forwarded ones. Post a photo or a screenshot and try again.", SupportedFormats)}
	outcome := "no_image"
	if hasImageCandidate(s.Message.Files) {
		thread := s.Message.ThreadTS
		if thread == "" {
			thread = s.Message.TS
		}
		candidates := imageCandidates(s.Message.Files, len(s.Message.Files))
		meta := formMeta{Channel: s.Channel, Thread: thread, Message: s.Message.TS,
			Files: fileIDs(candidates[:min(len(candidates), h.cfg.MaxImages)]), ResponseURL: s.ResponseURL}
		form = Form{Kind: FormAnalyze, Choices: h.choices(), UseCase: h.catalog.Default().Name,
			MaxQuestion: h.cfg.MaxQuestion, Metadata: meta.encode()}
		if len(candidates) > h.cfg.MaxImages {
			form.Notice = fmt.Sprintf("This message has %d images; I'll look at the first %d.", len(candidates), h.cfg.MaxImages)
		}
		outcome = "form"
	}
	err := h.timedSlack(r, func() error { return h.slack.OpenForm(ctx, s.TriggerID, form) })
	if err != nil {
		r.responseURL = s.ResponseURL
		h.tellPrivately(ctx, r, err)
	}
	r.finish(err, outcome)
}

// imageCandidates keeps the files that may be images, at most n.
func imageCandidates(files []File, n int) []File {
	var out []File
	for _, f := range files {
		if len(out) < n && (f.Access == "check_file_info" || checkDeclaredType(f) == nil) {
			out = append(out, f)
		}
	}
	return out
}

// openUploadForm answers /analyze when the user has no recent photo: a
// modal to attach one, with the use case and question already filled in.
func (h *Handler) openUploadForm(ctx context.Context, r *request, cmd SlashCommand, uc prompts.UseCase, question string) {
	meta := formMeta{Channel: cmd.Channel, ResponseURL: cmd.ResponseURL}
	form := Form{
		Kind: FormUpload, Choices: h.choices(), UseCase: uc.Name, Question: question,
		MaxFiles: h.cfg.MaxImages, MaxQuestion: h.cfg.MaxQuestion, Metadata: meta.encode(),
		Notice: fmt.Sprintf("I found no photo of yours in this channel from the last %s. Attach one here.",
			humanDuration(h.cfg.HistoryWindow)),
	}
	err := h.timedSlack(r, func() error { return h.slack.OpenForm(ctx, cmd.TriggerID, form) })
	if err != nil {
		// The trigger lives three seconds: fall back to saying what to do.
		h.respond(ctx, r, cmd.ResponseURL, h.noRecentPhotoText())
	}
	r.finish(err, "form")
}

// Submit answers a submitted form: in the analyzed message's thread, or
// for an upload, in the thread of a new message that says who asked.
func (h *Handler) Submit(ctx context.Context, sub Submission) {
	uc, ok := h.catalog.Lookup(sub.UseCase)
	if !ok {
		uc = h.catalog.Default()
	}
	question := strings.TrimSpace(sub.Question)
	meta, err := decodeFormMeta(sub.Metadata)
	if err != nil {
		r := h.newRequest(TriggerForm, "", sub.User, "", "", uc, question)
		r.finish(err, "")
		return
	}
	r := h.newRequest(TriggerForm, meta.Channel, sub.User, meta.Thread, meta.Message, uc, question)
	r.team = sub.Team
	r.responseURL = meta.ResponseURL
	if err := h.checkQuestion(question); err != nil {
		// Privately: the thread isn't the place for a form's typo.
		r.thread, r.reactTS = "", ""
		h.fail(ctx, r, err)
		return
	}
	files := sub.Files
	if len(files) == 0 {
		for _, id := range meta.Files {
			files = append(files, File{ID: id, Access: "check_file_info"})
		}
	}
	if len(files) == 0 {
		h.fail(ctx, r, vision.Errorf("read the form", vision.KindNoImage, "", nil))
		return
	}
	if r.thread == "" {
		// An upload has no message in the channel yet: post one, so the
		// team sees who asked about what, and answer in its thread.
		var ts string
		err := h.timedSlack(r, func() error {
			var err error
			ts, err = h.slack.PostMessage(ctx, r.channel, h.uploadIntro(sub.User, uc, files))
			return err
		})
		if err != nil {
			h.fail(ctx, r, fmt.Errorf("post the upload's message: %w", err))
			return
		}
		r.thread = ts
	}
	r.startWorking(ctx)
	h.answer(ctx, r, conversation{files: files})
}

func (h *Handler) uploadIntro(user string, uc prompts.UseCase, files []File) string {
	return fmt.Sprintf("<@%s> asked me to look at %s with *%s*. The answer is in the thread.",
		user, fileNames(files), uc.Name)
}

// Rerun answers the same images again with the use case chosen in the menu
// under an earlier answer: a new answer in the same thread.
func (h *Handler) Rerun(ctx context.Context, a Action) {
	uc, ok := h.catalog.Lookup(a.UseCase)
	if !ok {
		uc = h.catalog.Default()
	}
	r := h.newRequest(TriggerRerun, a.Channel, a.User, a.Thread, "", uc, "")
	r.team = a.Team
	r.responseURL = a.ResponseURL
	var files []File
	for _, id := range a.Ref.Files {
		files = append(files, File{ID: id, Access: "check_file_info"})
	}
	if len(files) == 0 {
		h.fail(ctx, r, vision.Errorf("read the answer's images", vision.KindNoImage, "", nil))
		return
	}
	h.answer(ctx, r, conversation{files: files})
}

// Feedback counts and logs a vote, and thanks the voter privately.
func (h *Handler) Feedback(ctx context.Context, v Vote) {
	uc := v.Ref.UseCase
	h.votes.add(uc, v.Up)
	vote := "down"
	thanks := "Thanks for the feedback. Try another use case from the menu, or ask a follow-up in the thread."
	if v.Up {
		vote = "up"
		thanks = "Thanks for the feedback!"
	}
	h.log.Info("feedback", zap.String("use_case", uc), zap.String("vote", vote),
		zap.String("channel", v.Channel), zap.String("user", v.User))
	if v.ResponseURL != "" {
		r := h.newRequest(TriggerFeedback, v.Channel, v.User, "", "", h.catalog.Default(), "")
		h.respond(ctx, r, v.ResponseURL, thanks)
	}
}

// Votes returns the feedback counted so far, by use case.
func (h *Handler) Votes() map[string]VoteCount { return h.votes.snapshot() }

// VoteCount is the feedback one use case got.
type VoteCount struct{ Up, Down int }

type votes struct {
	mu sync.Mutex
	by map[string]VoteCount
}

func newVotes() *votes { return &votes{by: map[string]VoteCount{}} }

func (v *votes) add(useCase string, up bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	c := v.by[useCase]
	if up {
		c.Up++
	} else {
		c.Down++
	}
	v.by[useCase] = c
}

func (v *votes) snapshot() map[string]VoteCount {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make(map[string]VoteCount, len(v.by))
	for k, c := range v.by {
		out[k] = c
	}
	return out
}

// Triggers says whether an emoji is a reaction trigger, so that the loop
// does not queue the workspace's every other reaction.
func (h *Handler) Triggers(emoji string) bool {
	_, ok := h.cfg.Reactions[reactionName(emoji)]
	return ok
}

// reactionName drops a skin tone ("thumbsup::skin-tone-2").
func reactionName(emoji string) string {
	name, _, _ := strings.Cut(emoji, "::")
	return name
}

// Reaction answers a trigger emoji added to a message with an image, in
// the message's thread. A message without an image gets no answer: people
// use these emoji for other things too.
func (h *Handler) Reaction(ctx context.Context, rx Reaction) {
	name, ok := h.cfg.Reactions[reactionName(rx.Emoji)]
	if !ok {
		return
	}
	uc, ok := h.catalog.Lookup(name)
	if !ok {
		uc = h.catalog.Default()
	}
	r := h.newRequest(TriggerReaction, rx.Channel, rx.User, "", rx.TS, uc, "")
	r.team = rx.Team
	var m Message
	err := h.timedSlack(r, func() error {
		var err error
		m, err = h.slack.Message(ctx, rx.Channel, rx.TS)
		return err
	})
	if err != nil {
		r.finish(fmt.Errorf("read the reacted message: %w", err), "")
		return
	}
	if m.BotID != "" || h.ours(m) || !hasImageCandidate(m.Files) {
		r.finish(nil, "no_image")
		return
	}
	r.thread = m.ThreadTS
	if r.thread == "" {
		r.thread = m.TS
	}
	r.startWorking(ctx)
	h.answer(ctx, r, conversation{files: m.Files})
}

// HomeOpened shows the Home tab: the use cases and how to call the bot.
func (h *Handler) HomeOpened(ctx context.Context, user string) {
	r := h.newRequest(TriggerHome, "", user, "", "", h.catalog.Default(), "")
	err := h.timedSlack(r, func() error { return h.slack.PublishHome(ctx, user, h.home()) })
	r.finish(err, "home")
}

func (h *Handler) home() Home {
	home := Home{Intro: "I look at the photos and screenshots you post and answer in the thread, " +
		"with Google Gemini. Pick a use case, or just ask a question about the image."}
	for _, uc := range h.catalog.All() {
		home.UseCases = append(home.UseCases, HomeUseCase{
			Name: uc.Name, Aliases: uc.Aliases, Description: uc.Description, Example: uc.Example, Default: uc.Default,
		})
	}
	home.HowTo = h.howTo()
	return home
}

// InterruptedSubmit tells the user of a submitted form, privately, that
// the request ended without its answer and why.
func (h *Handler) InterruptedSubmit(ctx context.Context, sub Submission, why Interruption) {
	h.tellSubmitter(ctx, sub, why.error())
}

func (h *Handler) tellSubmitter(ctx context.Context, sub Submission, err error) {
	r := h.newRequest(TriggerForm, "", sub.User, "", "", h.catalog.Default(), "")
	if meta, metaErr := decodeFormMeta(sub.Metadata); metaErr == nil && meta.ResponseURL != "" {
		r.channel = meta.Channel
		h.respond(ctx, r, meta.ResponseURL, h.userMessage(err))
	}
	r.finish(err, "")
}
