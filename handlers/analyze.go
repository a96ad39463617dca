package handlers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/visionbot/visionbot/internal/vision"
	"github.com/visionbot/visionbot/prompts"
)

// Trigger names what started a request, in logs and metrics.
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
)

// Reactions that show progress on the message being answered.
const (
	reactionWorking = "eyes"
	reactionDone    = "white_check_mark"
	reactionFailed  = "warning"
)

// Mention answers an app_mention. m.Text has the bot's mention removed.
func (h *Handler) Mention(ctx context.Context, m Message) {
	h.message(ctx, TriggerMention, m)
}

// DirectMessage answers a message sent to the bot in a DM.
func (h *Handler) DirectMessage(ctx context.Context, m Message) {
	h.message(ctx, TriggerDM, m)
}

func (h *Handler) message(ctx context.Context, trigger Trigger, m Message) {
	thread := m.ThreadTS
	if thread == "" {
		thread = m.TS
	}
	// A bare mention in a thread means "look at the thread's photo"; outside
	// a thread, with nothing attached, the user needs to know what exists.
	bare := strings.TrimSpace(m.Text) == "" && m.ThreadTS == ""
	if len(m.Files) == 0 && (isHelp(m.Text) || bare) {
		r := h.newRequest(trigger, m.Channel, m.User, thread, "", h.catalog.Default(), "")
		err := h.timedSlack(r, func() error { return h.slack.PostReply(ctx, m.Channel, thread, h.helpText()) })
		r.finish(err, "help")
		return
	}
	uc, question := h.catalog.Choose(m.Text)
	r := h.newRequest(trigger, m.Channel, m.User, thread, m.TS, uc, question)
	r.team = m.Team
	r.startWorking(ctx)
	if err := h.checkQuestion(question); err != nil {
		h.fail(ctx, r, err)
		return
	}
	if len(m.Files) > 0 {
		h.answer(ctx, r, conversation{files: m.Files})
		return
	}
	if m.ThreadTS == "" {
		h.fail(ctx, r, vision.Errorf("find an image", vision.KindNoImage, "", nil))
		return
	}
	var msgs []Message
	err := h.timedSlack(r, func() error {
		var err error
		msgs, err = h.slack.Replies(ctx, m.Channel, m.ThreadTS)
		return err
	})
	if err != nil {
		h.fail(ctx, r, fmt.Errorf("read thread %s: %w", m.ThreadTS, err))
		return
	}
	conv, ok := h.followUp(r, msgs, m)
	if !ok {
		h.fail(ctx, r, vision.Errorf("find an image", vision.KindNoImage, "", nil))
		return
	}
	h.answer(ctx, r, conv)
}

// Slash answers /analyze. Slack sends no files with slash commands, so the
// photo is the user's newest one in the channel, and the answer goes to
// that photo's thread.
func (h *Handler) Slash(ctx context.Context, cmd SlashCommand) {
	text := strings.TrimSpace(cmd.Text)
	if text == "" || isHelp(text) {
		r := h.newRequest(TriggerSlash, cmd.Channel, cmd.User, "", "", h.catalog.Default(), "")
		err := h.timedSlack(r, func() error { return h.slack.Respond(ctx, cmd.ResponseURL, h.helpText()) })
		r.finish(err, "help")
		return
	}
	uc, question := h.catalog.Choose(text)
	r := h.newRequest(TriggerSlash, cmd.Channel, cmd.User, "", "", uc, question)
	r.team = cmd.Team
	r.responseURL = cmd.ResponseURL
	if err := h.checkQuestion(question); err != nil {
		h.respond(ctx, r, cmd.ResponseURL, h.userMessage(err))
		r.finish(err, "")
		return
	}

	photo, err := h.newestPhotoOf(ctx, r, cmd.Channel, cmd.User)
	if vision.KindOf(err) == vision.KindNoImage && cmd.TriggerID != "" {
		h.openUploadForm(ctx, r, cmd, uc, question)
		return
	}
	if err != nil {
		text := h.userMessage(err)
		if vision.KindOf(err) == vision.KindNoImage {
			text = h.noRecentPhotoText()
		}
		h.respond(ctx, r, cmd.ResponseURL, text)
		r.finish(err, "")
		return
	}
	r.thread = photo.ThreadTS
	if r.thread == "" {
		r.thread = photo.TS
	}
	r.reactTS = photo.TS
	r.startWorking(ctx)

	// The confirmation is not on the way to the answer: send it alongside,
	// as one of the request's side calls that finish waits for.
	r.working.Go(func() {
		h.respond(ctx, r, cmd.ResponseURL, fmt.Sprintf(
			"Looking at your photo from %s with *%s*: the answer will be in its thread.",
			slackDate(photo.TS), uc.Name))
	})

	h.answer(ctx, r, conversation{files: photo.Files})
}

// newestPhotoOf finds the user's newest top-level message with an image in
// the channel, within the history window.
func (h *Handler) newestPhotoOf(ctx context.Context, r *request, channel, user string) (Message, error) {
	var msgs []Message
	err := h.timedSlack(r, func() error {
		var err error
		msgs, err = h.slack.History(ctx, channel, h.now().Add(-h.cfg.HistoryWindow), h.cfg.HistoryLimit)
		return err
	})
	if err != nil {
		return Message{}, fmt.Errorf("find the user's photo: %w", err)
	}
	for _, m := range msgs { // newest first
		if m.User == user && m.BotID == "" && hasImageCandidate(m.Files) {
			return m, nil
		}
	}
	return Message{}, vision.Errorf("find the user's photo", vision.KindNoImage, "", nil)
}

// resolveFiles completes Slack Connect stubs with files.info, keeps the
// images, and bounds their count; left is how many more images the
// message holds beyond that bound. A message whose files are none of them
// images gets an error that names what it was given.
func (h *Handler) resolveFiles(ctx context.Context, r *request, files []File) (images []File, left int, err error) {
	var firstRefused error
	for i, f := range files {
		if len(images) == h.cfg.MaxImages {
			left = len(imageCandidates(files[i:], len(files)))
			break
		}
		if f.Access == "check_file_info" {
			err := h.timedSlack(r, func() error {
				var err error
				f, err = h.slack.FileInfo(ctx, f.ID)
				return err
			})
			if err != nil {
				return nil, 0, fmt.Errorf("files.info %s: %w", f.ID, err)
			}
		}
		if err := checkDeclaredType(f); err != nil {
			if firstRefused == nil {
				firstRefused = err
			}
			continue
		}
		images = append(images, f)
	}
	if len(images) == 0 {
		if firstRefused != nil {
			return nil, 0, firstRefused
		}
		return nil, 0, vision.Errorf("find an image", vision.KindNoImage, "", nil)
	}
	return images, left, nil
}

// conversation is what a request sends to the model.
type conversation struct {
	files []File // the images, not yet resolved or downloaded
	// later are the turns after the first (the images and the use case's
	// prompt) in a follow-up; the last is the new question.
	later []vision.Turn
}

// answer opens the reply in the thread, then downloads the images and asks
// the model while it opens, and streams the answer into it.
func (h *Handler) answer(ctx context.Context, r *request, conv conversation) {
	r.reply = h.slack.OpenReply(ctx, Thread{Channel: r.channel, TS: r.thread, User: r.user, Team: r.team})
	files, left, err := h.resolveFiles(ctx, r, conv.files)
	if err != nil {
		h.fail(ctx, r, err)
		return
	}
	images, err := h.download(ctx, r, files)
	if err != nil {
		h.fail(ctx, r, err)
		return
	}
	req := Ask(r.useCase, r.question, images, conv.later...)
	var text strings.Builder
	var shown mentionGuard
	modelStart := h.now()
	usage, err := h.model.Stream(ctx, req, func(delta string) {
		if r.firstToken == 0 {
			// At least 1ns: zero means "no text yet", even on a clock
			// that stands still.
			r.firstToken = max(h.now().Sub(r.start), time.Nanosecond)
		}
		text.WriteString(delta)
		if safe := shown.write(delta); safe != "" {
			r.reply.Append(safe)
		}
	})
	r.modelTime = h.now().Sub(modelStart)
	r.usage = usage
	answer := strings.TrimSpace(text.String())
	var cutOff error
	if vision.KindOf(err) == vision.KindCutOff && answer != "" {
		// What arrived is worth keeping, but never as if it were whole:
		// the notice under it says it stopped short.
		r.modelError = vision.KindCutOff.String()
		cutOff, err = fmt.Errorf("ask the model: %w", err), nil
		answer += "\n\n_" + h.userMessage(cutOff) + "_"
	}
	if err != nil {
		r.modelError = vision.KindOf(err).String()
		// A partial answer cut by a safety stop or an error midway is not
		// shown: the notice replaces it.
		h.fail(ctx, r, fmt.Errorf("ask the model: %w", err))
		return
	}
	if answer == "" {
		h.fail(ctx, r, vision.Errorf("ask the model", vision.KindEmptyAnswer, "", nil))
		return
	}
	if left > 0 {
		answer += "\n\n_" + h.imagesUsedNote(files, left) + "_"
	}
	footer := &Footer{Ref: AnswerRef{UseCase: r.useCase.Name, Files: fileIDs(files)}, Choices: h.choices()}
	err = h.timedSlack(r, func() error { return r.reply.Finish(ctx, defuseMentions(answer), footer) })
	if err != nil {
		h.endWorking(ctx, r, false)
		h.tellPrivately(ctx, r, err)
		r.finish(fmt.Errorf("post the answer: %w", err), "")
		return
	}
	h.endWorking(ctx, r, cutOff == nil)
	r.finish(cutOff, "")
}

// Ask is the model request for images seen through a use case, with the
// user's question; later are the turns that followed in a thread, if any.
func Ask(uc prompts.UseCase, question string, images []vision.Image, later ...vision.Turn) vision.Request {
	first := vision.Turn{Role: vision.RoleUser, Text: uc.UserPrompt(question), Images: images}
	return vision.Request{
		System: uc.System,
		Turns:  mergeTurns(append([]vision.Turn{first}, later...)),
	}
}

func fileIDs(files []File) []string {
	ids := make([]string, 0, len(files))
	for _, f := range files {
		ids = append(ids, f.ID)
	}
	return ids
}

// choices are the use cases a menu offers, the default first.
func (h *Handler) choices() []Choice {
	all := h.catalog.All()
	out := make([]Choice, 0, len(all))
	for _, uc := range all {
		out = append(out, Choice{Name: uc.Name, Label: uc.Name + ": " + uc.Description})
	}
	return out
}

// download fetches every image at once: one slow file should not wait for
// another.
func (h *Handler) download(ctx context.Context, r *request, files []File) ([]vision.Image, error) {
	start := h.now()
	defer func() { r.downloadTime = h.now().Sub(start) }()
	images := make([]vision.Image, len(files))
	errs := make([]error, len(files))
	var wg sync.WaitGroup
	for i, f := range files {
		wg.Go(func() {
			url := imageURL(f, r.useCase.Detail, h.cfg.MaxFileBytes)
			data, err := h.slack.Download(ctx, url, h.cfg.MaxFileBytes)
			if err != nil {
				errs[i] = fmt.Errorf("download file %s: %w", f.ID, err)
				return
			}
			img, err := ReadImage(data)
			if err != nil {
				errs[i] = fmt.Errorf("read file %s (%s): %w", f.ID, f.Name, err)
				return
			}
			images[i] = img
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, img := range images {
		r.imageBytes += len(img.Data)
	}
	return images, nil
}

// fail tells the user what went wrong: in the thread when there is one,
// else (or when the thread can't take it) privately.
func (h *Handler) fail(ctx context.Context, r *request, err error) {
	notice := h.userMessage(err)
	var postErr error
	switch {
	case r.reply != nil:
		postErr = h.timedSlack(r, func() error { return r.reply.Fail(ctx, notice) })
	case r.thread != "":
		postErr = h.timedSlack(r, func() error { return h.slack.PostReply(ctx, r.channel, r.thread, notice) })
	case r.responseURL != "":
		h.respond(ctx, r, r.responseURL, notice)
	}
	if postErr != nil {
		err = errors.Join(err, fmt.Errorf("post the error message: %w", postErr))
		h.tellPrivately(ctx, r, postErr)
	}
	h.endWorking(ctx, r, false)
	r.finish(err, "")
}

// tellPrivately explains a failure to post in the thread (the bot is not
// in the channel, a scope is missing) to the one user, when the trigger
// gave a way to reach them.
func (h *Handler) tellPrivately(ctx context.Context, r *request, postErr error) {
	if r.responseURL == "" {
		return
	}
	h.respond(ctx, r, r.responseURL, h.userMessage(postErr))
}

func (h *Handler) respond(ctx context.Context, r *request, responseURL, text string) {
	err := h.timedSlack(r, func() error { return h.slack.Respond(ctx, responseURL, text) })
	if err != nil {
		h.log.Warn("respond to slash command", zap.String("channel", r.channel), zap.Error(err))
	}
}

// request is the state of one request, for its reactions and its log line.
type request struct {
	h        *Handler
	trigger  Trigger
	channel  string
	user     string
	team     string
	thread   string // where the answer goes
	reactTS  string // the message that shows progress reactions
	useCase  prompts.UseCase
	question string
	// responseURL reaches the user privately (slash commands, shortcuts,
	// clicks) when the thread can't.
	responseURL string
	reply       Reply

	start   time.Time
	working sync.WaitGroup // side calls (reactions, confirmation) off the answer's path
	// eyes is whether :eyes: may be on the message, set by startWorking's
	// call before working is done.
	eyes      bool
	slackMu   sync.Mutex
	slackTime time.Duration

	downloadTime time.Duration
	modelTime    time.Duration
	// firstToken is from the start to the model's first text; 0 until then.
	firstToken time.Duration
	// modelError is the Kind of the model's failure, "" when it answered.
	modelError string
	imageBytes int
	usage      vision.Usage
}

func (h *Handler) newRequest(trigger Trigger, channel, user, thread, reactTS string, uc prompts.UseCase, question string) *request {
	return &request{
		h: h, trigger: trigger, channel: channel, user: user, thread: thread,
		reactTS: reactTS, useCase: uc, question: question, start: h.now(),
	}
}

// timedSlack runs one Slack call and adds its time to the request's total.
func (h *Handler) timedSlack(r *request, call func() error) error {
	start := h.now()
	err := call()
	r.slackMu.Lock()
	r.slackTime += h.now().Sub(start)
	r.slackMu.Unlock()
	return err
}

// startWorking shows :eyes: without making the answer wait for it.
func (r *request) startWorking(ctx context.Context) {
	if r.reactTS == "" {
		return
	}
	r.working.Go(func() {
		err := r.h.timedSlack(r, func() error {
			return r.h.slack.AddReaction(ctx, r.channel, r.reactTS, reactionWorking)
		})
		// Even when the call failed, the reaction may be there: only a
		// skipped one surely is not, and needs no removal.
		r.eyes = !errors.Is(err, ErrNotShown)
		if err != nil && r.eyes {
			r.h.log.Warn("add reaction", zap.String("channel", r.channel), zap.Error(err))
		}
	})
}

// endWorking swaps :eyes: for the outcome. Reactions are a courtesy: a
// failure is logged, never shown, and one skipped under load is not even
// logged.
func (h *Handler) endWorking(ctx context.Context, r *request, ok bool) {
	if r.reactTS == "" {
		return
	}
	r.working.Wait()
	outcome := reactionDone
	if !ok {
		outcome = reactionFailed
	}
	err := h.timedSlack(r, func() error {
		var removed error
		if r.eyes {
			removed = failed(h.slack.RemoveReaction(ctx, r.channel, r.reactTS, reactionWorking))
		}
		return errors.Join(removed, failed(h.slack.AddReaction(ctx, r.channel, r.reactTS, outcome)))
	})
	if err != nil {
		h.log.Warn("update reactions", zap.String("channel", r.channel), zap.Error(err))
	}
}

// failed is err, except a call skipped under Slack's tiers, which is no
// failure.
func failed(err error) error {
	if errors.Is(err, ErrNotShown) {
		return nil
	}
	return err
}

// finish writes the request's one log line and reports its figures.
func (r *request) finish(err error, outcome string) {
	r.working.Wait()
	if outcome == "" {
		outcome = "ok"
		if err != nil {
			outcome = vision.KindOf(err).String()
		}
	}
	total := r.h.now().Sub(r.start)
	if obs := r.h.cfg.Observer; obs != nil {
		obs.RequestDone(Figures{
			Trigger: r.trigger, UseCase: r.useCase.Name, Outcome: outcome, ModelError: r.modelError,
			Download: r.downloadTime, FirstToken: r.firstToken, Model: r.modelTime, Slack: r.slackTime, Total: total,
			ImageBytes: r.imageBytes, TokensIn: r.usage.InputTokens, TokensOut: r.usage.OutputTokens,
		})
	}
	fields := []zap.Field{
		zap.String("trigger", string(r.trigger)),
		zap.String("channel", r.channel),
		zap.String("user", r.user),
		zap.String("use_case", r.useCase.Name),
		zap.String("outcome", outcome),
		zap.Int("image_bytes", r.imageBytes),
		zap.Duration("download", r.downloadTime),
		zap.Duration("model", r.modelTime),
		zap.Duration("slack", r.slackTime),
		zap.Duration("total", total),
	}
	if r.usage.Model != "" {
		fields = append(fields, zap.String("model_version", r.usage.Model),
			zap.Int("tokens_in", r.usage.InputTokens), zap.Int("tokens_out", r.usage.OutputTokens))
	}
	if err != nil {
		r.h.log.Warn("request failed", append(fields, zap.Error(err))...)
		return
	}
	r.h.log.Info("request", fields...)
}

func isHelp(text string) bool {
	t := strings.ToLower(strings.Trim(strings.TrimSpace(text), "?!. "))
	return t == "help"
}

// Interruption is why a request ended without its answer.
type Interruption int

const (
	// InterruptedByStop: the bot is shutting down and the request did not
	// finish within the shutdown grace, or never started.
	InterruptedByStop Interruption = iota + 1
	// InterruptedByFault: the request's job failed on a bug (a panic).
	InterruptedByFault
)

func (why Interruption) error() error {
	if why == InterruptedByStop {
		return vision.Errorf("job", vision.KindStopping, "", nil)
	}
	return vision.Errorf("job", vision.KindInternal, "panicked", nil)
}

// Interrupted tells the sender of a message, in its thread, that the
// request ended without its answer and why.
func (h *Handler) Interrupted(ctx context.Context, m Message, why Interruption) {
	h.tellMessage(ctx, m, why.error())
}

// InterruptedSlash is Interrupted for a slash command: the user is told
// privately.
func (h *Handler) InterruptedSlash(ctx context.Context, cmd SlashCommand, why Interruption) {
	h.tellSlash(ctx, cmd, why.error())
}

// tellMessage answers a message with err's notice in its thread.
func (h *Handler) tellMessage(ctx context.Context, m Message, err error) {
	thread := m.ThreadTS
	if thread == "" {
		thread = m.TS
	}
	r := h.newRequest(TriggerMention, m.Channel, m.User, thread, "", h.catalog.Default(), "")
	h.fail(ctx, r, err)
}

// tellSlash answers a slash command with err's notice, privately.
func (h *Handler) tellSlash(ctx context.Context, cmd SlashCommand, err error) {
	r := h.newRequest(TriggerSlash, cmd.Channel, cmd.User, "", "", h.catalog.Default(), "")
	h.respond(ctx, r, cmd.ResponseURL, h.userMessage(err))
	r.finish(err, "")
}
