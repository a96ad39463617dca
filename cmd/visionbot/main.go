// Command visionbot is a Slack app that answers photos and screenshots in
// their thread with Google Gemini. With no subcommand it runs the bot.
package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/visionbot/visionbot/bot"
	"github.com/visionbot/visionbot/bot/queue"
	"github.com/visionbot/visionbot/bot/slackapi"
	"github.com/visionbot/visionbot/bot/store"
	"github.com/visionbot/visionbot/gemini"
	"github.com/visionbot/visionbot/handlers"
	"github.com/visionbot/visionbot/metrics"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "visionbot:", err)
		os.Exit(exitCode(err))
	}
}

// usageError is a mistake in how the command was called or configured:
// exit status 2, as for flags.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func exitCode(err error) int {
	var cfgErr *configError
	var use usageError
	if errors.As(err, &cfgErr) || errors.As(err, &use) {
		return 2
	}
	return 1
}

const usage = `usage: visionbot [command]

Commands:
  run                 run the Slack bot (Socket Mode); the default
  analyze [-use-case NAME] [-q QUESTION] IMAGE...
                      answer about local image files, as the bot would, on stdout
  usecases            list the use cases, with their aliases
  check               check the configuration, the Slack app, the Gemini model and Redis
  version             print the version and the commit it was built from

Configuration comes from the environment and from a .env file in the
working directory; see README.md.`

// run is the whole program, with every dependency passed in.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	command, rest := "run", []string(nil)
	if len(args) > 1 {
		command, rest = args[1], args[2:]
	}
	switch command {
	case "run":
	case "analyze":
		return analyze(ctx, rest, getenv, stdout, stderr)
	case "usecases":
		return listUseCases(getenv, stdout)
	case "check":
		return check(ctx, getenv, stdout)
	case "version":
		fmt.Fprintln(stdout, readBuild())
		return nil
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	default:
		return usageError{fmt.Errorf("unknown command %q\n%s", command, usage)}
	}
	cfg, err := loadConfig(getenv, ".env", partAll)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	defer func() { _ = log.Sync() }()
	return serve(ctx, cfg, log)
}

func newLogger(cfg config, w io.Writer) *zap.Logger {
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	enc := zapcore.NewJSONEncoder(encCfg)
	if cfg.LogFormat == "console" {
		enc = zapcore.NewConsoleEncoder(encCfg)
	}
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(w), cfg.LogLevel.Level))
}

// newSlack is the Web API client of the bot and of visionbot check. obs,
// which may be nil, sees every call Slack refuses; tokenRefused, which may
// be nil, hears when Slack stops taking the bot token.
func newSlack(cfg config, obs slackapi.Observer, tokenRefused func(code string)) *slack.Client {
	// Every outbound call has a deadline; http.DefaultClient has none. Calls
	// that failed on Slack's side are made again where that is safe
	// (slackapi.SlackRetries), and each attempt is seen below.
	var transport http.RoundTripper = newTransport(cfg.Workers)
	if tokenRefused != nil {
		transport = slackapi.WatchToken(transport, tokenRefused)
	}
	httpClient := &http.Client{Timeout: 30 * time.Second, Transport: slackapi.ObserveErrors(transport, obs)}
	return slack.New(cfg.SlackBotToken.reveal(),
		slack.OptionAPIURL(cfg.SlackAPIURL.String()),
		slack.OptionAppLevelToken(cfg.SlackAppToken.reveal()),
		slack.OptionHTTPClient(httpClient),
		slack.OptionRetryConfig(slackapi.SlackRetries()),
	)
}

// newSocketOpener is the client Socket Mode opens its connections with
// (apps.connections.open). Its own transport spaces the opens out, since
// slack-go reconnects at once after every disconnect frame, and gives each
// a deadline of its own.
func newSocketOpener(cfg config, obs slackapi.Observer) *slack.Client {
	httpClient := &http.Client{Transport: slackapi.PaceConnections(slackapi.ObserveErrors(nil, obs), slackapi.ConnectConfig{})}
	return slack.New(cfg.SlackBotToken.reveal(),
		slack.OptionAPIURL(cfg.SlackAPIURL.String()),
		slack.OptionAppLevelToken(cfg.SlackAppToken.reveal()),
		slack.OptionHTTPClient(httpClient),
	)
}

// newModel is the Gemini client of the bot, visionbot analyze and
// visionbot check. It makes no call.
func newModel(ctx context.Context, cfg config, log *zap.Logger) (*gemini.Client, error) {
	var httpClient *http.Client
	if !cfg.UseVertexAI { // Vertex needs genai's own client, which adds credentials
		// No Timeout here: an answer streams for as long as it takes, and
		// gemini.Config.Timeout bounds each call.
		httpClient = &http.Client{Transport: newTransport(cfg.Workers)}
	}
	g := gemini.DefaultConfig()
	g.APIKey, g.VertexAI, g.Project, g.Location = cfg.geminiKey().reveal(), cfg.UseVertexAI, cfg.CloudProject, cfg.CloudLocation
	g.BaseURL, g.Model, g.Thinking, g.Timeout = cfg.GeminiBaseURL.String(), cfg.GeminiModel, cfg.Thinking, cfg.GeminiTimeout
	g.Grounding, g.RequestLogs, g.Log = bool(cfg.Grounding), bool(cfg.RequestLogs), log
	g.HTTPClient = httpClient
	model, err := gemini.New(ctx, g)
	if err != nil {
		return nil, fmt.Errorf("set up Gemini: %w", err)
	}
	return model, nil
}

// serve wires the bot and runs it until ctx ends.
func serve(ctx context.Context, cfg config, log *zap.Logger) error {
	catalog, err := loadUseCases(cfg)
	if err != nil {
		return err
	}
	file, err := loadChannelsFile(cfg.File, catalog)
	if err != nil {
		return err
	}

	// Metrics are kept only when someone can read them. The observers stay
	// nil interfaces otherwise, which the handlers and the bot skip.
	var (
		registry *prometheus.Registry
		collect  *metrics.Metrics
		flowObs  handlers.Observer
		botObs   bot.Observer
		slackObs slackapi.Observer
	)
	if cfg.MetricsAddr != "" {
		registry = prometheus.NewRegistry()
		if collect, err = metrics.New(registry); err != nil {
			return err
		}
		flowObs, botObs, slackObs = collect, collect, collect
	}

	// A bot token Slack stops taking (revoked, the app uninstalled) fails
	// every request: the bot stops and says what to fix instead.
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	client := newSlack(cfg, slackObs, func(code string) { stop(tokenRefused{code: code}) })
	model, err := newModel(ctx, cfg, log)
	if err != nil {
		return err
	}
	self, results := runChecks(ctx, cfg, client, model)
	if failed := failures(results); len(failed) > 0 {
		return startupRefused{failed: failed}
	}

	apiURL := cfg.SlackAPIURL.URL
	files := slackapi.NewDownloader(&http.Client{Timeout: 60 * time.Second, Transport: newTransport(cfg.Workers)}, cfg.SlackBotToken.reveal(),
		append(slackapi.SlackFileHosts(), apiURL.Scheme+"://"+apiURL.Host))
	stream := slackapi.DefaultStreamConfig()
	stream.Mode, stream.Interval, stream.MaxParts = cfg.StreamMode, cfg.StreamInterval, cfg.MaxAnswerParts
	api := slackapi.New(client, files, &http.Client{Timeout: 15 * time.Second}, stream)

	flowCfg := handlers.DefaultConfig()
	flowCfg.MaxImages, flowCfg.MaxFileBytes, flowCfg.MaxRequestBytes = cfg.MaxImages, int64(cfg.MaxFileMB)<<20, int64(cfg.MaxRequestMB)<<20
	flowCfg.HistoryWindow, flowCfg.MaxQuestion = cfg.HistoryWindow, cfg.MaxQuestionChars
	flowCfg.BotUserID, flowCfg.Reactions, flowCfg.Observer = self.UserID, cfg.ReactionTriggers, flowObs
	flowCfg.ProgressReactions = cfg.ProgressReactions
	flowCfg.Backend, flowCfg.VertexAI = backendName(cfg), cfg.UseVertexAI
	flowCfg.RequestLogs, flowCfg.Grounding = bool(cfg.RequestLogs), bool(cfg.Grounding)
	flowCfg.RefKey = refKey(cfg.SlackBotToken)

	db, err := newStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	var (
		// memory is where seen events, limits and token allowances are kept:
		// this process's own, or Redis's for every replica.
		memory   bot.Store = store.NewMemory(nil)
		replicas *queue.Replicas
		relay    bot.StopRelay // nil: Stops reach this process's requests only
	)
	if db != nil {
		defer db.Close()
		replicas = queue.NewReplicas(db.Link(), replicaName())
		defer replicas.Close()
		api.ShareTiers(replicas)
		memory, relay = db, db
	}
	channels, err := openChannels(cfg, db, file, log)
	if err != nil {
		return err
	}
	defer func() { _ = channels.Close() }()
	flowCfg.Channels, flowCfg.ChannelTokenCap = channels, int64(cfg.ChannelDailyTokens)
	stops := bot.NewStopBoard(log, relay)
	ledger := bot.NewLedger(memory, cfg.budgets(), self.TeamID, log).WithChannels(channels)
	flowCfg.Stops, flowCfg.Spending = stops, ledger
	flows := handlers.New(api.Slack(slackapi.Unleased{}), model, catalog, log, flowCfg, nil)

	socket := socketmode.New(newSocketOpener(cfg, slackObs))
	queueCfg := queue.DefaultConfig()
	queueCfg.Workers, queueCfg.Queue, queueCfg.JobTimeout, queueCfg.ShutdownGrace = cfg.Workers, cfg.QueueSize, cfg.JobTimeout, cfg.ShutdownGrace
	queueCfg.ClaimAfter = cfg.JobClaimAfter
	requests := queue.New(leasedFlows{flows: flows, api: api}, replicas, log, queueCfg)
	botCfg := bot.DefaultConfig()
	botCfg.Limits, botCfg.Access, botCfg.Reactions = cfg.limits(), cfg.access(), cfg.ReactionTriggers
	botCfg.Store, botCfg.Teams, botCfg.Observer, botCfg.Stops, botCfg.Ledger = memory, bot.CachedTeams(api), botObs, stops, ledger
	botCfg.Channels = channels
	b := bot.New(socket, socket.Events, flows, requests, self, log, botCfg)
	if collect != nil {
		if err := errors.Join(collect.WatchJobs(b), collect.WatchVotes(flows)); err != nil {
			return err
		}
		stop, err := serveOps(cfg.MetricsAddr, metrics.Handler(registry, b.Ready), log)
		if err != nil {
			return err
		}
		defer stop()
	}
	build := readBuild()
	fields := []zap.Field{zap.String("version", build.version), zap.String("commit", build.commit),
		zap.String("bot_user", self.UserID), zap.String("team", self.TeamID),
		zap.String("model", model.Model()), zap.Bool("gemini_request_logs", bool(cfg.RequestLogs)),
		zap.Int("workers", cfg.Workers), zap.Int("use_cases", len(catalog.All()))}
	if replicas != nil {
		fields = append(fields, zap.String("replica", replicas.Name()))
	}
	log.Info("visionbot starting", fields...)
	err = b.Run(ctx)
	log.Info("visionbot stopped")
	var refused tokenRefused
	if errors.As(context.Cause(ctx), &refused) {
		return refused
	}
	if err != nil && isSlackAuthError(err) {
		return usageError{fmt.Errorf("open the Socket Mode connection: Slack refused SLACK_APP_TOKEN (%w): %s", errors.Unwrap(err), slackapi.AppTokenFix)}
	}
	return err
}

// leasedFlows runs the flows of a queued request on the Slack adapter as
// the request's lease allows: every write of the request goes through it.
type leasedFlows struct {
	flows *handlers.Flows
	api   *slackapi.API
}

func (f leasedFlows) Run(ctx context.Context, r handlers.Request, lease *queue.Lease) {
	f.flows.With(f.api.Slack(lease)).Run(ctx, r)
}

func (f leasedFlows) Interrupted(ctx context.Context, o handlers.Origin, cause error, lease *queue.Lease) {
	f.flows.With(f.api.Slack(lease)).Interrupted(ctx, o, cause)
}

// backendName says where photos go, for the texts that tell users.
func backendName(cfg config) string {
	if cfg.UseVertexAI {
		return fmt.Sprintf("Vertex AI (project %s, %s)", cfg.CloudProject, cfg.CloudLocation)
	}
	return "the Gemini API"
}

// refKey is the key that signs the references to messages in suggested
// prompts. It comes from the bot token, which every replica has and no
// user sees, so that replicas check each other's references.
func refKey(botToken secret) []byte {
	sum := sha256.Sum256([]byte("visionbot: references to messages\x00" + botToken.reveal()))
	return sum[:]
}

// tokenRefused is Slack answering, while the bot ran, that it no longer
// takes SLACK_BOT_TOKEN.
type tokenRefused struct{ code string }

func (e tokenRefused) Error() string {
	return fmt.Sprintf("Slack stopped accepting SLACK_BOT_TOKEN (%s), so the bot stopped: %s", e.code, slackapi.BotTokenFix)
}

// newStore is where the loop keeps seen events and counts its limits and
// budgets, and where replicas share their queue and Slack's tiers: Redis
// when REDIS_URL names one, else nil (this process's memory). A Redis that
// does not answer at start is no reason to refuse: a replica must answer,
// so it starts on its memory, says so, and moves to Redis when Redis
// answers. A Redis that refuses the password or is too old for the queue
// is a mistake to fix first: the start is refused with what to do.
func newStore(ctx context.Context, cfg config, log *zap.Logger) (*store.Redis, error) {
	if cfg.RedisURL.secret == "" {
		return nil, nil
	}
	db, err := openRedis(cfg, log)
	if err != nil { // validated by loadConfig
		return nil, usageError{fmt.Errorf("%w: %s", err, redisURLFix)}
	}
	result, reachable := checkRedis(ctx, db)
	switch {
	case !reachable:
		log.Warn("REDIS_URL does not answer: starting with seen events, limits, queued requests and Slack's rate tiers "+
			"in this process's memory, not shared with other replicas, until Redis answers",
			zap.String("redis", db.Addr()), zap.String("detail", result.detail))
	case result.status == checkFail:
		_ = db.Close()
		return nil, startupRefused{failed: []checkResult{result}}
	default:
		log.Info("seen events, limits, queued requests and Slack's rate tiers are shared through Redis",
			zap.String("redis", db.Addr()), zap.String("detail", result.detail))
	}
	return db, nil
}

// replicaName tells this process from the other replicas in Redis and in
// the logs: the host's name (a pod's, in Kubernetes) and a random suffix,
// since a restarted process is a new replica.
func replicaName() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "visionbot"
	}
	return host + "-" + strings.ToLower(rand.Text()[:8])
}

// isSlackAuthError recognises the token errors slack-go's Socket Mode
// client gives up on: it returns them as plain errors of Slack's code.
func isSlackAuthError(err error) bool {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if slackapi.IsTokenRefusal(e.Error()) {
			return true
		}
	}
	return false
}
