package handlers

import (
	"context"
	"fmt"
	"strings"

	"github.com/visionbot/visionbot/internal/failure"
	"github.com/visionbot/visionbot/internal/media"
	"github.com/visionbot/visionbot/internal/slackmd"
	"github.com/visionbot/visionbot/prompts"
)

// shortcut opens the modal that asks for a use case and a question about
// the message's images, or one that says the message has none.
func (h *Flows) shortcut(ctx context.Context, j *job, s ShortcutOn) {
	msg := s.Message
	form := Form{Kind: FormNotice, Notice: fmt.Sprintf(
		"This message has no image I can read. I look at %s files attached to a message, "+
			"including forwarded ones. Post a photo or a screenshot and try again.", media.SupportedFormats)}
	outcome := "no_image"
	if hasImageCandidate(msg.Files) {
		candidates := imageCandidates(msg.Files, len(msg.Files))
		target := FormTarget{Channel: j.where.Channel, Thread: threadOf(msg), Message: msg.TS,
			Files: fileIDs(candidates[:min(len(candidates), h.cfg.MaxImages)]), ResponseURL: j.where.ResponseURL}
		form = Form{Kind: FormAnalyze, Choices: h.choicesOf(j.channel.offered), UseCase: j.channel.def.Name,
			MaxQuestion: h.cfg.MaxQuestion, Metadata: target.Encode()}
		if len(candidates) > h.cfg.MaxImages {
			form.Notice = fmt.Sprintf("This message has %d images; I'll look at the first %d.", len(candidates), h.cfg.MaxImages)
		}
		outcome = "form"
	}
	err := j.timed(func() error { return h.slack.Views.OpenForm(ctx, j.where.TriggerID, form) })
	if err != nil {
		j.tellPrivately(ctx, err)
	}
	j.end(err, outcome)
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
func (h *Flows) openUploadForm(ctx context.Context, j *job) {
	target := FormTarget{Channel: j.where.Channel, ResponseURL: j.where.ResponseURL}
	form := Form{
		Kind: FormUpload, Choices: h.choicesOf(j.channel.offered), UseCase: j.useCase.Name, Question: j.question,
		MaxFiles: h.cfg.MaxImages, MaxQuestion: h.cfg.MaxQuestion, Metadata: target.Encode(),
		Notice: fmt.Sprintf("I found no photo of yours in this channel from the last %s. Attach one here.",
			humanDuration(h.cfg.HistoryWindow)),
	}
	err := j.timed(func() error { return h.slack.Views.OpenForm(ctx, j.where.TriggerID, form) })
	if err != nil {
		// The trigger lives three seconds: fall back to saying what to do.
		j.respond(ctx, h.noRecentPhotoText())
	}
	j.end(err, "form")
}

// emptyForm is the detail of a NoImage failure of a form: neither the
// analyzed message nor the form held an image.
const emptyForm = "empty form"

// submission answers a submitted form: in the analyzed message's thread,
// or for an upload, in the thread of a new message that says who asked.
func (h *Flows) submission(ctx context.Context, j *job, sub Submission) {
	uc, offered := j.channel.named(h.catalog, sub.UseCase)
	j.ask(uc, strings.TrimSpace(sub.Question))
	err := offered
	if err == nil {
		err = h.checkQuestion(j.question)
	}
	if err != nil {
		// Privately: the thread isn't the place for a form's typo.
		j.where.Thread = ""
		j.fail(ctx, err)
		return
	}
	files := sub.Uploads
	if len(files) == 0 {
		files = stubs(sub.Files)
	}
	if len(files) == 0 {
		j.fail(ctx, failure.Errorf("read the form", failure.NoImage, emptyForm, nil))
		return
	}
	if j.where.Thread == "" {
		// An upload has no message in the channel yet: post one, so the
		// team sees who asked about what, and answer in its thread.
		var ts string
		err := j.timed(func() error {
			var err error
			ts, err = h.slack.Poster.PostMessage(ctx, j.where.Channel, h.uploadIntro(j.where.User, j.useCase, files))
			return err
		})
		if err != nil {
			j.fail(ctx, fmt.Errorf("post the upload's message: %w", err))
			return
		}
		j.where.Thread = ts
	}
	ctx = j.startProgress(ctx)
	h.answer(ctx, j, conversation{files: files})
}

// stubs are files known only by id, to be completed with files.info.
func stubs(ids []string) []File {
	files := make([]File, 0, len(ids))
	for _, id := range ids {
		files = append(files, File{ID: id, Access: "check_file_info"})
	}
	return files
}

func (h *Flows) uploadIntro(user string, uc prompts.UseCase, files []File) string {
	return fmt.Sprintf("%s asked me to look at %s with *%s*. The answer is in the thread.",
		slackmd.Mention(user), fileNames(files), uc.Name)
}

// rerun answers the same images again with the use case chosen in the menu
// under an earlier answer: a new answer in the same thread. The footer
// names the images by id, so each is read only if it may be shown where
// the menu was used.
func (h *Flows) rerun(ctx context.Context, j *job, r Rerun) {
	uc, offered := j.channel.named(h.catalog, r.UseCase)
	j.ask(uc, "")
	if offered != nil {
		// A menu under an older answer: privately, as the click was.
		j.where.Thread = ""
		j.fail(ctx, offered)
		return
	}
	files := stubs(r.Ref.Files)
	if len(files) == 0 {
		j.fail(ctx, failure.Errorf("read the answer's images", failure.NoImage, "", nil))
		return
	}
	ctx = j.startProgress(ctx)
	h.answer(ctx, j, conversation{files: files, elsewhere: true})
}

// reacted answers a trigger emoji added to a message with an image, in the
// message's thread. A message without an image gets no answer: people use
// these emoji for other things too.
func (h *Flows) reacted(ctx context.Context, j *job, rx Reacted) {
	uc, offered := j.channel.named(h.catalog, rx.UseCase)
	j.ask(uc, "")
	if !j.channel.reactions || offered != nil {
		// The channel turned the triggers off, or does not use this one:
		// people use these emoji for other things too, so no word.
		j.end(nil, "reactions_off")
		return
	}
	var m Message
	err := j.timed(func() error {
		var err error
		m, err = h.slack.Reader.Message(ctx, j.where.Channel, j.where.Message)
		return err
	})
	if err != nil {
		j.end(fmt.Errorf("read the reacted message: %w", err), "")
		return
	}
	if m.BotID != "" || h.ours(m) || !hasImageCandidate(m.Files) {
		j.end(nil, "no_image")
		return
	}
	j.where.Thread = threadOf(m)
	ctx = j.startProgress(ctx)
	h.answer(ctx, j, conversation{files: m.Files})
}

// homeOpened shows the Home tab: the use cases and how to call the bot.
func (h *Flows) homeOpened(ctx context.Context, j *job) {
	err := j.timed(func() error { return h.slack.Views.PublishHome(ctx, j.where.User, h.home()) })
	j.end(err, "home")
}

func (h *Flows) home() Home {
	home := Home{Intro: "I look at the photos and screenshots you post and answer in the thread, " +
		"with Google Gemini. Pick a use case, or just ask a question about the image.", Privacy: h.privacyText()}
	for _, uc := range h.catalog.All() {
		home.UseCases = append(home.UseCases, HomeUseCase{
			Name: uc.Name, Aliases: uc.Aliases, Description: uc.Description, Example: uc.Example, Default: uc.Default,
		})
	}
	home.HowTo = h.howTo()
	return home
}
