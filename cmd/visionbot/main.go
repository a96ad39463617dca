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
	if cfg.Ops.LogFormat == "console" {
		enc = zapcore.NewConsoleEncoder(encCfg)
	}
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(w), cfg.Ops.LogLevel.Level))
}

// newSlack is the Web API client of the bot and of visionbot check. obs,
// which may be nil, sees every call Slack refuses; tokenRefused, which may
// be nil, hears when Slack stops taking the bot token.
func newSlack(cfg config, obs slackapi.Observer, tokenRefused func(code string)) *slack.Client {
	// Every outbound call has a deadline; http.DefaultClient has none. Calls
	// that failed on Slack's side are made again where that is safe
	// (slackapi.SlackRetries), and each attempt is seen below.
	var transport http.RoundTripper = newTransport(cfg.Queue.Workers)
	if tokenRefused != nil {
		transport = slackapi.WatchToken(transport, tokenRefused)
	}
	httpClient := &http.Client{Timeout: 30 * time.Second, Transport: slackapi.ObserveErrors(transport, obs)}
	return slack.New(cfg.Slack.BotToken.reveal(),
		slack.OptionAPIURL(cfg.Slack.APIURL.String()),
		slack.OptionAppLevelToken(cfg.Slack.AppToken.reveal()),
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
	return slack.New(cfg.Slack.BotToken.reveal(),
		slack.OptionAPIURL(cfg.Slack.APIURL.String()),
		slack.OptionAppLevelToken(cfg.Slack.AppToken.reveal()),
		slack.OptionHTTPClient(httpClient),
	)
}

// newModel is the Gemini client of the bot, visionbot analyze and
// visionbot check. It makes no call.
func newModel(ctx context.Context, cfg config, log *zap.Logger) (*gemini.Client, error) {
	var httpClient *http.Client
	if !cfg.Gemini.UseVertexAI { // Vertex needs genai's own client, which adds credentials
		// No Timeout here: an answer streams for as long as it takes, and
		// gemini.Settings.Timeout bounds each call.
		httpClient = &http.Client{Transport: newTransport(cfg.Queue.Workers)}
	}
	g, c := gemini.DefaultConfig(), cfg.Gemini
	g.Settings = c.Settings
	g.APIKey, g.VertexAI, g.Project, g.Location = c.geminiKey().reveal(), c.UseVertexAI, c.CloudProject, c.CloudLocation
	g.BaseURL = c.BaseURL.String()
	model, err := gemini.New(ctx, g, gemini.Deps{HTTPClient: httpClient, Log: log})
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
	file, err := loadChannelsFile(cfg.Ops.Channels.File, catalog)
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
	if cfg.Ops.MetricsAddr != "" {
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

	apiURL := cfg.Slack.APIURL.URL
	files := slackapi.NewDownloader(&http.Client{Timeout: 60 * time.Second, Transport: newTransport(cfg.Queue.Workers)}, cfg.Slack.BotToken.reveal(),
		append(slackapi.SlackFileHosts(), apiURL.Scheme+"://"+apiURL.Host))
	api := slackapi.New(client, files, &http.Client{Timeout: 15 * time.Second}, cfg.Stream)

	flowCfg := handlers.DefaultConfig()
	flowCfg.ImageLimits, flowCfg.Settings = cfg.Images, cfg.Flows
	flowCfg.BotUserID, flowCfg.RefKey = self.UserID, refKey(cfg.Slack.BotToken)
	flowCfg.Backend, flowCfg.VertexAI = backendName(cfg), cfg.Gemini.UseVertexAI
	flowCfg.RequestLogs, flowCfg.Grounding = bool(cfg.Gemini.RequestLogs), bool(cfg.Gemini.Grounding)

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
		// shares is nil for one process: a nil *queue.Replicas would not be.
		shares bot.Replicas
	)
	if db != nil {
		defer db.Close()
		replicas = queue.NewReplicas(db.Link(), replicaName(), originKey(cfg.Slack.BotToken))
		defer replicas.Close()
		api.ShareTiers(replicas)
		memory, relay, shares = db, db, replicas
	}
	channels, err := openChannels(cfg, db, file, log)
	if err != nil {
		return err
	}
	defer func() { _ = channels.Close() }()
	flowCfg.ChannelTokenCap = int64(cfg.Allowances.Channel)
	stops := bot.NewStopBoard(log, relay)
	ledger := bot.NewLedger(memory, cfg.Allowances, self.TeamID, shares, log).WithChannels(channels)
	flows := handlers.New(api.Slack(slackapi.Unleased{}), model, catalog, log, flowCfg,
		handlers.Deps{Stops: stops, Observer: flowObs, Spending: ledger, Channels: channels})

	socket := socketmode.New(newSocketOpener(cfg, slackObs))
	requests := queue.New(leasedFlows{flows: flows, api: api}, replicas, log, cfg.Queue)
	// The reaction triggers are one setting, of the flows, that the bot's
	// decode reads too.
	botCfg := cfg.Bot
	botCfg.Reactions = cfg.Flows.Reactions
	b := bot.New(socket, socket.Events, flows, requests, self, log, botCfg,
		bot.Deps{Store: memory, Teams: bot.CachedTeams(api), Observer: botObs, Stops: stops, Ledger: ledger, Channels: channels})
	if collect != nil {
		if err := errors.Join(collect.WatchJobs(b), collect.WatchVotes(flows)); err != nil {
			return err
		}
		stop, err := serveOps(cfg.Ops.MetricsAddr, metrics.Handler(registry, b.Ready), log)
		if err != nil {
			return err
		}
		defer stop()
	}
	build := readBuild()
	fields := []zap.Field{zap.String("version", build.version), zap.String("commit", build.commit),
		zap.String("bot_user", self.UserID), zap.String("team", self.TeamID),
		zap.String("model", model.Model()), zap.Bool("gemini_request_logs", bool(cfg.Gemini.RequestLogs)), zap.Int("workers", cfg.Queue.Workers), zap.Int("use_cases", len(catalog.All()))}
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
	if answer, refused := slackapi.TokenRefused(err); refused {
		// slack-go's Socket Mode client gives up on a refused app token
		// (its connect returns apps.connections.open's error as is).
		return usageError{fmt.Errorf("open the Socket Mode connection: Slack refused SLACK_APP_TOKEN (%w): %s", answer, slackapi.AppTokenFix)}
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
	if cfg.Gemini.UseVertexAI {
		return fmt.Sprintf("Vertex AI (project %s, %s)", cfg.Gemini.CloudProject, cfg.Gemini.CloudLocation)
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

// originKey is the key that seals, in Redis, the response_url a queued
// request carries (it posts as the app for 30 minutes). It comes from the
// bot token like refKey, for another use: every replica has the token,
// and neither Redis nor who reads it does.
func originKey(botToken secret) []byte {
	sum := sha256.Sum256([]byte("visionbot: response URLs in the queue\x00" + botToken.reveal()))
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
	if cfg.Ops.RedisURL.secret == "" {
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
