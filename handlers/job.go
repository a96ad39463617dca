package handlers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/visionbot/visionbot/internal/failure"
	"github.com/visionbot/visionbot/internal/vision"
	"github.com/visionbot/visionbot/prompts"
)

// FinishTimeout bounds the calls that end a request: the final answer or
// notice, the outcome reaction, a private message. They run on a context
// of their own, so that a request cut short by a shutdown or by its
// deadline still leaves its thread finished and its user told.
//
// It is the one bound of every ending: the reply writer's final calls
// (bot/slackapi) and the queue's notices (bot/queue) use it too.
const FinishTimeout = 15 * time.Second

// finishing is the context the calls that end a request run on.
func finishing(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), FinishTimeout)
}

// Reactions that show progress on the message being answered.
const (
	reactionWorking = "eyes"
	reactionDone    = "white_check_mark"
	reactionFailed  = "warning"
)

// spendTimeout bounds charging a request's tokens to its budgets, which
// happens after its answer was given, on a context of its own.
const spendTimeout = 2 * time.Second

// job is one request being answered: where its answer goes, what it asks
// the model, the reply being written, and the figures of its one log line.
type job struct {
	h *Flows
	// where starts as the request's Origin; a flow fills in the thread and
	// the message when it finds them (the user's photo, an upload's post).
	where Origin
	// channel is how the request's conversation uses the bot: its
	// settings, or the operator's defaults.
	channel  channelUse
	useCase  prompts.UseCase
	question string
	// reply is the answer being written in the thread; nil until opened.
	reply Reply
	// ended is set by the first end: a job logs and answers once.
	ended bool

	progress progress
	figures  figures
}

// progress is what shows, while a request runs, that the bot is on it:
// the thread's loading status, its agent session "processing" (with
// Slack's Stop button), and, when configured, :eyes: on the message. Its
// calls run beside the answer, which never waits for them.
type progress struct {
	// started: startProgress ran, so endProgress has something to end. A
	// request that fails before (a refusal, a form without an image) ends
	// with no outcome reaction, as it showed no :eyes:.
	started bool
	calls   sync.WaitGroup
	// shown says what the calls put up, so that the end takes down only
	// that; written by the calls, read after calls.Wait.
	status, session, eyes bool
	// unwatch ends the watch for a Stop in the thread.
	unwatch func()
	// refresh keeps the status up (refreshStatus); stopRefresh ends it,
	// once, and refreshing is done when it has. refreshed: a refresh put
	// the status up, read after refreshing.Wait.
	stopRefresh func()
	refreshing  sync.WaitGroup
	refreshed   bool
}

// statusRefresh is how often a thread's loading status is set again while
// the answer has shown nothing. Slack removes it "if no message has been
// sent" within two minutes (assistant.threads.setStatus), and a request
// may take longer before its first words: JOB_TIMEOUT is three minutes,
// and a long video's upload and reading take minutes. 90 seconds leaves
// half a minute for a refresh to wait its turn in the tier or be slow.
const statusRefresh = 90 * time.Second

// tickerFunc is a clock's ticks every d, and how to stop them: time.NewTicker
// in production, a channel the test sends on in tests.
type tickerFunc func(d time.Duration) (ticks <-chan time.Time, stop func())

func realTicker(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}

// figures are what the request's log line and metrics report.
type figures struct {
	start      time.Time
	download   time.Duration
	model      time.Duration
	firstToken time.Duration // from the start to the model's first text; 0 until then
	modelError string        // the Kind of the model's failure, "" when it answered
	imageBytes int
	usage      vision.Usage

	mu    sync.Mutex
	slack time.Duration // every Slack call, added up
}

// start begins a job for o, with the operator's defaults until the flow
// reads the channel's settings (useChannel) and chooses a use case.
func (h *Flows) start(o Origin) *job {
	c := h.resolveChannel(o.Channel, ChannelSettings{})
	return &job{h: h, where: o, channel: c, useCase: c.def, figures: figures{start: h.now()}}
}

// useChannel reads how the request's conversation uses the bot: from
// here on the channel's default frames what names no use case.
func (j *job) useChannel(ctx context.Context) {
	j.channel = j.h.channelOf(ctx, j.where.Channel)
	j.useCase = j.channel.def
}

// ask sets what the job asks the model.
func (j *job) ask(uc prompts.UseCase, question string) {
	j.useCase, j.question = uc, question
}

// timed runs one Slack call and adds its time to the request's total.
func (j *job) timed(call func() error) error {
	start := j.h.now()
	err := call()
	j.figures.mu.Lock()
	j.figures.slack += j.h.now().Sub(start)
	j.figures.mu.Unlock()
	return err
}

// startProgress shows that the bot is on the request, in its thread, and
// returns the context its person's Stop in that thread cancels: from here
// on the request runs on it.
func (j *job) startProgress(ctx context.Context) context.Context {
	channel, thread, ts := j.where.Channel, j.where.Thread, j.where.Message
	if thread == "" {
		return ctx
	}
	j.progress.started = true
	if stops := j.h.deps.Stops; stops != nil {
		var stop context.CancelCauseFunc
		ctx, stop = context.WithCancelCause(ctx)
		j.progress.unwatch = stops.Watch(channel, thread, j.where.User, func() {
			stop(failure.Errorf("stop", failure.Stopped, "", nil))
		})
	}
	agent := j.h.slack.Agent
	loading := j.useCase.Loading
	if len(loading) == 0 {
		loading = defaultLoading()
	}
	j.progress.calls.Go(func() {
		err := j.timed(func() error { return agent.SetStatus(ctx, channel, thread, workingStatus, loading) })
		j.progress.status = shown(err)
		j.logCourtesy("set the thread's status", err)
	})
	stop := make(chan struct{})
	j.progress.stopRefresh = sync.OnceFunc(func() { close(stop) })
	j.progress.refreshing.Go(func() { j.refreshStatus(ctx, stop, loading) })
	j.progress.calls.Go(func() {
		err := j.timed(func() error { return agent.SetSession(ctx, channel, thread, sessionProcessing) })
		j.progress.session = shown(err)
		j.logCourtesy("set the agent session to processing", err)
	})
	if j.h.cfg.ProgressReactions && ts != "" {
		j.progress.calls.Go(func() {
			err := j.timed(func() error { return j.h.slack.Reactor.AddReaction(ctx, channel, ts, reactionWorking) })
			j.progress.eyes = shown(err)
			j.logCourtesy("add reaction", err)
		})
	}
	return ctx
}

// refreshStatus sets the thread's status again every statusRefresh,
// until stop (the answer showed its first words, or the request ended) or
// ctx ends. Each refresh is a courtesy like the first: a call the tier
// must allow (bot/slackapi skips it when the minute has no room, and
// reserves the clearing it will need), never waited for by the answer.
// Once the answer shows text it stops: a message in the thread takes the
// place of the status.
func (j *job) refreshStatus(ctx context.Context, stop <-chan struct{}, loading []string) {
	ticks, stopTicks := j.h.ticker(statusRefresh)
	defer stopTicks()
	agent, channel, thread := j.h.slack.Agent, j.where.Channel, j.where.Thread
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-ticks:
		}
		err := j.timed(func() error { return agent.SetStatus(ctx, channel, thread, workingStatus, loading) })
		if err == nil {
			j.progress.refreshed = true
		}
		j.logCourtesy("refresh the thread's status", err)
	}
}

// shownText is called when the answer shows its first words: the status
// needs no more refreshing.
func (j *job) shownText() {
	if j.progress.stopRefresh != nil {
		j.progress.stopRefresh()
	}
}

// endRefresh stops the status's refreshes and waits for the one under
// way, if any.
func (j *job) endRefresh() {
	j.shownText()
	j.progress.refreshing.Wait()
}

// The words of the loading status: Slack shows "visionbot is looking at
// your photo…", then the use case's loading messages.
const workingStatus = "is looking at your photo…"

// defaultLoading are the loading messages of a use case that has none.
func defaultLoading() []string {
	return []string{"Looking at your photo…", "Thinking it over…", "Writing it down…"}
}

// Agent session statuses (agents.sessions.setStatus).
const (
	sessionProcessing = "processing"
	sessionActive     = "active"
)

// shown reports whether a courtesy call may have put something up: only a
// call skipped under Slack's tiers surely did not, and needs no taking
// down.
func shown(err error) bool { return !errors.Is(err, ErrNotShown) }

// logCourtesy logs a courtesy call that failed, but not one skipped under
// load.
func (j *job) logCourtesy(what string, err error) {
	if err != nil && shown(err) {
		j.h.log.Warn(what, zap.String("channel", j.where.Channel), zap.Error(err))
	}
}

// endProgress takes down what startProgress put up: the status is
// cleared, the session leaves "processing", and :eyes: makes way for the
// outcome. These are courtesies: a failure is logged, never shown, and one
// skipped under load is not even logged. ctx is a finishing context.
func (j *job) endProgress(ctx context.Context, ok bool) {
	if !j.progress.started {
		return
	}
	j.progress.started = false
	if j.progress.unwatch != nil {
		j.progress.unwatch()
		j.progress.unwatch = nil
	}
	j.endRefresh()
	j.progress.calls.Wait()
	channel, thread, ts := j.where.Channel, j.where.Thread, j.where.Message
	agent := j.h.slack.Agent
	var wg sync.WaitGroup
	if j.progress.status || j.progress.refreshed {
		j.progress.status, j.progress.refreshed = false, false
		wg.Go(func() {
			j.logCourtesy("clear the thread's status", j.timed(func() error { return agent.SetStatus(ctx, channel, thread, "", nil) }))
		})
	}
	if j.progress.session {
		j.progress.session = false
		wg.Go(func() {
			j.logCourtesy("set the agent session to active", j.timed(func() error { return agent.SetSession(ctx, channel, thread, sessionActive) }))
		})
	}
	if j.h.cfg.ProgressReactions && ts != "" {
		wg.Go(func() { j.endReactions(ctx, channel, ts, ok) })
	}
	wg.Wait()
}

// endReactions swaps :eyes: for the outcome.
func (j *job) endReactions(ctx context.Context, channel, ts string, ok bool) {
	outcome := reactionDone
	if !ok {
		outcome = reactionFailed
	}
	reactor := j.h.slack.Reactor
	err := j.timed(func() error {
		var removed error
		if j.progress.eyes {
			removed = failed(reactor.RemoveReaction(ctx, channel, ts, reactionWorking))
		}
		return errors.Join(removed, failed(reactor.AddReaction(ctx, channel, ts, outcome)))
	})
	if err != nil {
		j.h.log.Warn("update reactions", zap.String("channel", channel), zap.Error(err))
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

// cutShort is err, unless the job's own context ended with a reason (the
// bot is stopping, the job ran past its deadline): then that reason comes
// first, since it is what the user must be told, not what the cut call
// reported.
func cutShort(ctx context.Context, err error) error {
	if ctx.Err() == nil {
		return err
	}
	cause := context.Cause(ctx)
	var why *failure.Error
	if !errors.As(cause, &why) {
		return err
	}
	return fmt.Errorf("%w: %w", why, err)
}

// fail tells the user what went wrong, through the reply when one is open
// (whatever it showed is replaced), else in the thread, else (or when the
// thread can't take it) privately, and ends the job.
func (j *job) fail(ctx context.Context, err error) {
	err = cutShort(ctx, err)
	j.failWith(ctx, err, j.h.userMessage(err))
}

// failWith is fail with the notice already in words: a refusal's.
func (j *job) failWith(ctx context.Context, err error, notice string) {
	ctx, cancel := finishing(ctx)
	defer cancel()
	var postErr error
	switch {
	case j.reply != nil && failure.KindOf(err) == failure.Stopped:
		postErr = j.timed(func() error { return j.reply.Stopped(ctx, notice) })
	case j.reply != nil:
		postErr = j.timed(func() error { return j.reply.Fail(ctx, notice) })
	case j.where.Thread != "":
		postErr = j.timed(func() error {
			return j.h.slack.Poster.PostReply(ctx, j.where.Channel, j.where.Thread, notice)
		})
	case j.where.ResponseURL != "":
		j.respond(ctx, notice)
	}
	if postErr != nil {
		err = errors.Join(err, fmt.Errorf("post the error message: %w", postErr))
		j.tellPrivately(ctx, postErr)
	}
	j.endProgress(ctx, false)
	j.end(err, "")
}

// tellPrivately explains a failure to post in the thread (the bot is not
// in the channel, a scope is missing) to the one user, when the trigger
// gave a way to reach them.
func (j *job) tellPrivately(ctx context.Context, postErr error) {
	if j.where.ResponseURL == "" {
		return
	}
	j.respond(ctx, j.h.userMessage(postErr))
}

// respond sends text privately through the request's response_url. A
// failure is logged without the URL: it can post as the app for half an
// hour.
func (j *job) respond(ctx context.Context, text string) {
	err := j.timed(func() error { return j.h.slack.Poster.Respond(ctx, j.where.ResponseURL, text) })
	if err != nil {
		j.h.log.Warn("respond privately", zap.String("channel", j.where.Channel), zap.String("user", j.where.User), zap.Error(err))
	}
}

// notARequest marks a job whose ask is feedback, not a request (a vote, the
// line after a 👎): its flow logged what it did, and no request log line or
// metric counts it.
func (j *job) notARequest() { j.ended = true }

// end writes the request's one log line and reports its figures; outcome
// "" is "ok" or the failure's Kind.
func (j *job) end(err error, outcome string) {
	if j.ended {
		return
	}
	j.ended = true
	// An ending without endProgress still stops the refreshes.
	j.endRefresh()
	j.progress.calls.Wait()
	if outcome == "" {
		outcome = "ok"
		if err != nil {
			outcome = failure.KindOf(err).String()
		}
	}
	f := &j.figures
	// What Gemini reported is spent, whatever became of the answer: a
	// failed or stopped request used those tokens too, and an answer cut
	// before Gemini counted it is charged the adapter's estimate of what
	// it produced (Usage.Estimated), so that a Stop near the end of a long
	// answer does not make it free.
	if spent := f.usage.Total(); spent > 0 && j.h.deps.Spending != nil {
		ctx, cancel := context.WithTimeout(context.Background(), spendTimeout)
		j.h.deps.Spending.Spend(ctx, j.where, spent)
		cancel()
	}
	total := j.h.now().Sub(f.start)
	if obs := j.h.deps.Observer; obs != nil {
		obs.RequestDone(Figures{
			Trigger: j.where.Trigger, UseCase: j.useCase.Name, Outcome: outcome, ModelError: f.modelError,
			Download: f.download, FirstToken: f.firstToken, Model: f.model, Slack: f.slack, Total: total,
			ImageBytes: f.imageBytes, TokensIn: f.usage.InputTokens, TokensOut: f.usage.OutputTokens,
			TokensThinking: f.usage.ThinkingTokens, TokensEstimated: f.usage.Estimated,
		})
	}
	fields := []zap.Field{
		zap.String("trigger", string(j.where.Trigger)),
		zap.String("channel", j.where.Channel),
		zap.String("user", j.where.User),
		zap.String("use_case", j.useCase.Name),
		zap.String("outcome", outcome),
		zap.Int("image_bytes", f.imageBytes),
		zap.Duration("download", f.download),
		zap.Duration("model", f.model),
		zap.Duration("slack", f.slack),
		zap.Duration("total", total),
	}
	if f.usage.Model != "" {
		fields = append(fields, zap.String("model_version", f.usage.Model),
			zap.Int("tokens_in", f.usage.InputTokens), zap.Int("tokens_out", f.usage.OutputTokens),
			zap.Int("tokens_thinking", f.usage.ThinkingTokens), zap.Bool("tokens_estimated", f.usage.Estimated))
	}
	// A person's Stop is their choice, not a failure of the bot's.
	if err != nil && failure.KindOf(err) != failure.Stopped {
		j.h.log.Warn("request failed", append(fields, zap.Error(err))...)
		return
	}
	j.h.log.Info("request", fields...)
}
