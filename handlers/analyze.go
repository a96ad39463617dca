package handlers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/visionbot/visionbot/internal/failure"
	"github.com/visionbot/visionbot/internal/media"
	"github.com/visionbot/visionbot/internal/slackmd"
	"github.com/visionbot/visionbot/internal/vision"
	"github.com/visionbot/visionbot/prompts"
)

// said answers a mention or a DM: about the files attached, or the
// message a suggested prompt refers to, or, in a thread, about the
// thread's photos (a follow-up when the bot answered there already).
func (h *Flows) said(ctx context.Context, j *job, s Said) {
	// A bare mention in a thread means "look at the thread's photo";
	// outside a thread, with nothing attached, the user needs to know what
	// exists.
	threaded := j.where.inThread()
	bare := strings.TrimSpace(s.Text) == "" && !threaded
	if len(s.Files) == 0 && (isHelp(s.Text) || bare) {
		err := j.timed(func() error {
			return h.slack.Poster.PostReply(ctx, j.where.Channel, j.where.Thread, h.helpTextIn(j.channel))
		})
		j.end(err, "help")
		return
	}
	text, viewed, hasRef := h.viewedRef(s.Text, j.where)
	uc, question, named, offered := j.channel.choose(h.catalog, text)
	j.ask(uc, question)
	ctx = j.startProgress(ctx)
	if offered != nil {
		j.fail(ctx, offered)
		return
	}
	if err := h.checkQuestion(j.question); err != nil {
		j.fail(ctx, err)
		return
	}
	switch {
	case hasRef && len(s.Files) == 0:
		h.answerViewed(ctx, j, viewed)
	case threaded:
		h.followThread(ctx, j, inThread{ts: j.where.Message, user: j.where.User, text: text, files: s.Files, named: named})
	case len(s.Files) > 0:
		h.answer(ctx, j, conversation{files: s.Files})
	case j.where.Trigger == TriggerDM && j.question == "" && named:
		h.askForPhoto(ctx, j)
	default:
		j.fail(ctx, failure.Errorf("find an image", failure.NoImage, "", nil))
	}
}

// followThread answers a message in a thread with the thread: its photos
// and, where the bot answered, the conversation so far. Of a long thread
// it reads the root and the newest messages before the new one, as many
// as a follow-up sends turns after its photo (MaxHistoryTurns), and the
// photo's own message.
func (h *Flows) followThread(ctx context.Context, j *job, m inThread) {
	var msgs []Message
	err := j.timed(func() error {
		var err error
		msgs, err = h.slack.Reader.Replies(ctx, j.where.Channel, j.where.Thread, m.ts, h.cfg.MaxHistoryTurns+1)
		return err
	})
	if err != nil {
		j.fail(ctx, fmt.Errorf("read thread %s: %w", j.where.Thread, err))
		return
	}
	conv, ok := h.followUp(msgs, m, j.useCase, j.question)
	if !ok {
		j.fail(ctx, failure.Errorf("find an image", failure.NoImage, "", nil))
		return
	}
	if !j.channel.offers(conv.useCase.Name) {
		// The thread's use case is one the channel no longer uses: its
		// default carries the conversation on.
		conv.useCase = j.channel.def
	}
	j.ask(conv.useCase, conv.question)
	h.answer(ctx, j, conv)
}

// askForPhoto answers a use case named without a photo in a DM (a
// suggested prompt picked in the Messages tab): the next photo in the
// thread is answered with it, as the thread names it.
func (h *Flows) askForPhoto(ctx context.Context, j *job) {
	what := j.useCase.Suggestion
	if what == "" {
		what = j.useCase.Description
	}
	text := fmt.Sprintf("Send me the photo in this thread (%s). *%s*: %s",
		media.SupportedFormats, j.useCase.Name, strings.TrimSuffix(what, "."))
	fctx, cancel := finishing(ctx)
	defer cancel()
	err := j.timed(func() error { return h.slack.Poster.PostReply(fctx, j.where.Channel, j.where.Thread, text) })
	j.endProgress(fctx, err == nil)
	j.end(err, "asked_for_photo")
}

// command answers /analyze. Slack sends no files with slash commands, so
// the photo is the user's newest one in the channel, and the answer goes
// to that photo's thread.
func (h *Flows) command(ctx context.Context, j *job, c Command) {
	text := strings.TrimSpace(c.Text)
	if text == "" || isHelp(text) {
		err := j.timed(func() error { return h.slack.Poster.Respond(ctx, j.where.ResponseURL, h.helpTextIn(j.channel)) })
		j.end(err, "help")
		return
	}
	uc, question, _, offered := j.channel.choose(h.catalog, text)
	j.ask(uc, question)
	if offered != nil {
		j.fail(ctx, offered) // privately: the thread is not known yet
		return
	}
	if err := h.checkQuestion(question); err != nil {
		j.fail(ctx, err) // privately: the thread is not known yet
		return
	}

	photo, err := h.newestPhotoOf(ctx, j)
	if failure.KindOf(err) == failure.NoImage && j.where.TriggerID != "" {
		h.openUploadForm(ctx, j)
		return
	}
	if err != nil {
		j.fail(ctx, err)
		return
	}
	j.where.Thread = threadOf(photo)
	j.where.Message = photo.TS
	ctx = j.startProgress(ctx)

	// The confirmation is not on the way to the answer: send it alongside,
	// as one of the request's side calls that end waits for.
	j.progress.calls.Go(func() {
		j.respond(ctx, fmt.Sprintf("Looking at your photo from %s with *%s*: the answer will be in its thread.",
			slackmd.Date(photo.TS, "earlier"), uc.Name))
	})
	h.answer(ctx, j, conversation{files: photo.Files})
}

// threadOf is the thread a message's answer goes to: its own, or the one
// it is in.
func threadOf(m Message) string {
	if m.ThreadTS != "" {
		return m.ThreadTS
	}
	return m.TS
}

// noRecentPhoto is the detail of a NoImage failure of /analyze: the user
// posted no photo in the channel lately.
const noRecentPhoto = "no recent photo"

// newestPhotoOf finds the user's newest top-level message with an image in
// the channel, within the history window.
func (h *Flows) newestPhotoOf(ctx context.Context, j *job) (Message, error) {
	var msgs []Message
	err := j.timed(func() error {
		var err error
		msgs, err = h.slack.Reader.History(ctx, j.where.Channel, h.now().Add(-h.cfg.HistoryWindow), h.cfg.HistoryLimit)
		return err
	})
	if err != nil {
		return Message{}, fmt.Errorf("find the user's photo: %w", err)
	}
	for _, m := range msgs { // newest first
		if m.User == j.where.User && m.BotID == "" && hasImageCandidate(m.Files) {
			return m, nil
		}
	}
	return Message{}, failure.Errorf("find the user's photo", failure.NoImage, noRecentPhoto, nil)
}

// resolveFiles completes Slack Connect stubs with files.info, keeps the
// images, and bounds their count; left is how many more images the
// message holds beyond that bound. A message whose files are none of them
// images gets an error that names what it was given. Files from elsewhere
// (conv.elsewhere) are read with files.info first, and any that may not be
// shown in the conversation (mayShow) refuses the whole request: an answer
// about fewer images than were asked about would mislead, and naming the
// one left out would tell what it is.
func (h *Flows) resolveFiles(ctx context.Context, j *job, conv conversation) (images []File, left int, err error) {
	files := conv.files
	check := conv.elsewhere && !isDM(j.where.Channel)
	var firstRefused error
	for i, f := range files {
		if len(images) == h.cfg.MaxImages {
			left = len(imageCandidates(files[i:], len(files)))
			break
		}
		if check || f.Access == "check_file_info" {
			err := j.timed(func() error {
				var err error
				f, err = h.slack.Files.FileInfo(ctx, f.ID)
				return err
			})
			if err != nil {
				return nil, 0, err // "files.info F123: …", named by the adapter
			}
		}
		if check && !mayShow(f, j.where) {
			return nil, 0, failure.Errorf("check file "+f.ID+" is shared in "+j.where.Channel, failure.NotShared, "", nil)
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
		return nil, 0, failure.Errorf("find an image", failure.NoImage, "", nil)
	}
	return images, left, nil
}

// conversation is what a request sends to the model.
type conversation struct {
	files []File // the images, not yet resolved or downloaded
	// elsewhere says the files did not come with the messages of the
	// conversation answered in (a footer's file ids, a viewed message's
	// files): each is read only if it may be shown there (mayShow).
	elsewhere bool
	// later are the turns after the first (the images and the use case's
	// prompt) in a follow-up; the last is the new question.
	later []vision.Turn
	// useCase and question are what a follow-up asks with: those of the
	// thread's last answer and photo, unless the new message names others.
	useCase  prompts.UseCase
	question string
}

// mayShow reports whether a file that did not come with the messages of
// o's conversation may be read for an answer there: Slack lists it as
// shared in that conversation, or the person asking uploaded it (a form's
// upload is shared nowhere, and is theirs to show). f must come from
// files.info, which alone says where a file is shared.
func mayShow(f File, o Origin) bool {
	return slices.Contains(f.SharedIn, o.Channel) || (f.User != "" && f.User == o.User)
}

// isDM reports whether channel is a DM with the bot (Slack's DM ids start
// with D): only its one person reads what the bot answers there, and the
// files of their own answers, or of a reference made for them alone, are
// theirs to see again.
func isDM(channel string) bool { return strings.HasPrefix(channel, "D") }

// answer opens the reply in the thread, then downloads the images and asks
// the model while it opens, and streams the answer into it.
func (h *Flows) answer(ctx context.Context, j *job, conv conversation) {
	w := j.where
	j.reply = h.slack.Poster.OpenReply(ctx, Thread{Channel: w.Channel, TS: w.Thread, User: w.User, Team: w.Team})
	files, left, err := h.resolveFiles(ctx, j, conv)
	if err != nil {
		j.fail(ctx, err)
		return
	}
	images, smaller, err := h.download(ctx, j, files)
	if err != nil {
		j.fail(ctx, err)
		return
	}
	req := ModelRequest(j.useCase, j.question, images, conv.later...)
	req.System = withBrief(req.System, j.channel.brief)
	answer, written, err := h.ask(ctx, j, req)
	// The code is taken from the model's text as written: a file is shown
	// as it is, links and mentions included, and pings nobody.
	var snippets []Snippet
	if j.useCase.CodeFiles {
		snippets = codeSnippets(written)
	}
	if answer != "" {
		// The bot's own notes follow the model's words, which alone were
		// made safe: a source's link leads through Google's redirect and
		// shows the site it names.
		answer += SourcesNote(j.figures.usage.Sources)
	}
	var cutOff error
	if failure.KindOf(err) == failure.CutOff && answer != "" && ctx.Err() == nil {
		// What arrived is worth keeping, but never as if it were whole:
		// the notice under it says it stopped short.
		cutOff, err = err, nil
		answer += "\n\n_" + h.userMessage(cutOff) + "_"
	}
	if err != nil {
		// A partial answer cut by a safety stop or an error midway is not
		// shown: the notice replaces it.
		j.fail(ctx, err)
		return
	}
	if answer == "" {
		j.fail(ctx, failure.Errorf("ask the model", failure.EmptyAnswer, "", nil))
		return
	}
	if len(smaller) > 0 {
		answer += "\n\n_" + h.smallerCopiesNote(smaller) + "_"
	}
	if left > 0 {
		answer += "\n\n_" + h.imagesUsedNote(files, left) + "_"
	}
	footer := &Footer{Ref: AnswerRef{UseCase: j.useCase.Name, Files: fileIDs(files), Thread: j.where.Thread}, Choices: h.choicesOf(j.channel.offered)}
	h.deliver(ctx, j, answer, footer, cutOff, snippets)
}

// ask streams the model's answer into the job's reply, made safe to post
// as it comes (slackmd.Stream: links show their host, mentions notify
// nobody), and returns the whole answer made safe the same way, and as
// written.
// What was streamed is a prefix of the safe answer, by construction.
func (h *Flows) ask(ctx context.Context, j *job, req vision.Request) (answer, raw string, err error) {
	var safe slackmd.Stream
	var written strings.Builder
	f := &j.figures
	modelStart := h.now()
	usage, err := h.model.Stream(ctx, req, func(delta string) {
		if f.firstToken == 0 {
			// At least 1ns: zero means "no text yet", even on a clock
			// that stands still.
			f.firstToken = max(h.now().Sub(f.start), time.Nanosecond)
		}
		written.WriteString(delta)
		if shown := safe.Write(delta); shown != "" {
			j.reply.Append(shown)
			j.shownText()
		}
	})
	f.model = h.now().Sub(modelStart)
	f.usage = usage
	if err != nil {
		f.modelError = failure.KindOf(err).String()
		err = fmt.Errorf("ask the model: %w", err)
	}
	return safe.End(), written.String(), err
}

// deliver finishes the reply with the answer (safe to post: the model's
// words went through slackmd.Stream), its footer and the snippets to
// share should the thread not take it whole, on a context of its own: an
// answer that is complete is shown even when the job's context ends now.
// cutOff is the notice the answer already carries, if it stopped short.
func (h *Flows) deliver(ctx context.Context, j *job, answer string, footer *Footer, cutOff error, snippets []Snippet) {
	fctx, cancel := finishing(ctx)
	defer cancel()
	err := j.timed(func() error { return j.reply.Finish(fctx, answer, footer, snippets...) })
	var notShared *SnippetsNotShared
	if errors.As(err, &notShared) {
		// The answer and its note are in the thread; the files were extra.
		h.log.Warn("share the answer's code as files", zap.String("channel", j.where.Channel),
			zap.String("use_case", j.useCase.Name), zap.Error(notShared.Err))
		err = nil
	}
	if err != nil {
		j.endProgress(fctx, false)
		j.tellPrivately(fctx, err)
		j.end(fmt.Errorf("post the answer: %w", err), "")
		return
	}
	j.endProgress(fctx, cutOff == nil)
	j.end(cutOff, "")
}

// ModelRequest is the model request for images seen through a use case, with the
// user's question; later are the turns that followed in a thread, if any.
func ModelRequest(uc prompts.UseCase, question string, images []vision.Image, later ...vision.Turn) vision.Request {
	first := vision.Turn{Role: vision.RoleUser, Text: uc.UserPrompt(question), Images: images}
	return vision.Request{
		System:          uc.System,
		Turns:           mergeTurns(append([]vision.Turn{first}, later...)),
		MaxOutputTokens: uc.MaxOutputTokens,
		MediaResolution: uc.MediaResolution,
		Grounding:       uc.Grounding,
	}
}

func fileIDs(files []File) []string {
	ids := make([]string, 0, len(files))
	for _, f := range files {
		ids = append(ids, f.ID)
	}
	return ids
}

// download fetches every image at once: one slow file should not wait for
// another.
func (h *Flows) download(ctx context.Context, j *job, files []File) (images []vision.Image, smaller []File, err error) {
	start := h.now()
	defer func() { j.figures.download = h.now().Sub(start) }()
	plans := make([][]imageChoice, len(files))
	at := make([]int, len(files)) // the choice of each file in use
	for i, f := range files {
		plans[i] = imageChoices(f, j.useCase.Detail, int64(h.cfg.MaxFileBytes))
	}
	h.fitKnownSizes(plans, at)
	images = make([]vision.Image, len(files))
	fetch := func(which ...int) error {
		errs := make([]error, len(which))
		var wg sync.WaitGroup
		for n, i := range which {
			wg.Go(func() {
				f := files[i]
				data, err := h.slack.Files.Download(ctx, plans[i][at[i]].url, int64(h.cfg.MaxFileBytes))
				if err != nil {
					errs[n] = fmt.Errorf("download file %s: %w", f.ID, err)
					return
				}
				img, err := media.ReadImage(data)
				if err != nil {
					errs[n] = fmt.Errorf("read file %s (%s): %w", f.ID, f.Name, err)
					return
				}
				images[i] = img
			})
		}
		wg.Wait()
		return errors.Join(errs...)
	}
	if err := fetch(seq(len(files))...); err != nil {
		return nil, nil, err
	}
	// Thumbnails' sizes are known only once downloaded: while the request
	// is over its bound, the largest image that has a smaller copy is
	// fetched again as that copy.
	for h.cfg.MaxRequestBytes > 0 && imageBytes(images) > int64(h.cfg.MaxRequestBytes) {
		i := largestShrinkable(images, plans, at)
		if i < 0 {
			return nil, nil, failure.Errorf("bound the request to Gemini", failure.RequestTooLarge, "MAX_REQUEST_MB", nil)
		}
		at[i]++
		if err := fetch(i); err != nil {
			return nil, nil, err
		}
	}
	for i, f := range files {
		if at[i] > 0 {
			smaller = append(smaller, f)
		}
	}
	j.figures.imageBytes += int(imageBytes(images))
	return images, smaller, nil
}

// fitKnownSizes moves, before any download, the largest originals whose
// size Slack told to their thumbnails until the known sizes fit the bound:
// two 9 MB screenshots are not fetched only to be dropped.
func (h *Flows) fitKnownSizes(plans [][]imageChoice, at []int) {
	if h.cfg.MaxRequestBytes <= 0 {
		return
	}
	for {
		var known int64
		largest := -1
		for i, p := range plans {
			known += p[at[i]].size
			if at[i]+1 < len(p) && p[at[i]].size > 0 && (largest < 0 || p[at[i]].size > plans[largest][at[largest]].size) {
				largest = i
			}
		}
		if known <= int64(h.cfg.MaxRequestBytes) || largest < 0 {
			return
		}
		at[largest]++
	}
}

// largestShrinkable is the index of the largest image that has a smaller
// copy to fall back on, or -1.
func largestShrinkable(images []vision.Image, plans [][]imageChoice, at []int) int {
	largest := -1
	for i, img := range images {
		if at[i]+1 < len(plans[i]) && (largest < 0 || len(img.Data) > len(images[largest].Data)) {
			largest = i
		}
	}
	return largest
}

func imageBytes(images []vision.Image) int64 {
	var n int64
	for _, img := range images {
		n += int64(len(img.Data))
	}
	return n
}

// seq is 0, 1, …, n-1.
func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func isHelp(text string) bool {
	t := strings.ToLower(strings.Trim(strings.TrimSpace(text), "?!. "))
	return t == "help"
}
