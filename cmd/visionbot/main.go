// Command visionbot is a Slack app that answers photos and screenshots in
// their thread with Google Gemini. With no subcommand it runs the bot.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/visionbot/visionbot/bot"
	"github.com/visionbot/visionbot/gemini"
	"github.com/visionbot/visionbot/handlers"
	"github.com/visionbot/visionbot/prompts"
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

const usage = `usage: visionbot [run]

Runs the Slack bot (Socket Mode). Configuration comes from the environment
and from a .env file in the working directory; see README.md.`

// run is the whole program, with every dependency passed in.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 1 {
		switch args[1] {
		case "run":
		case "-h", "-help", "--help", "help":
			fmt.Fprintln(stdout, usage)
			return nil
		default:
			return usageError{fmt.Errorf("unknown command %q\n%s", args[1], usage)}
		}
	}
	cfg, err := loadConfig(getenv, ".env")
	if err != nil {
		return err
	}
	log, err := newLogger(cfg, stderr)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	return serve(ctx, cfg, log)
}

func newLogger(cfg config, w io.Writer) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(cfg.LogLevel)
	if err != nil {
		return nil, usageError{fmt.Errorf("LOG_LEVEL: %w", err)}
	}
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	enc := zapcore.NewJSONEncoder(encCfg)
	if cfg.LogFormat == "console" {
		enc = zapcore.NewConsoleEncoder(encCfg)
	}
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(w), level)), nil
}

// serve wires the bot and runs it until ctx ends.
func serve(ctx context.Context, cfg config, log *zap.Logger) error {
	catalog, err := prompts.Builtin()
	if err != nil {
		return fmt.Errorf("load use cases: %w", err)
	}
	reactions, _ := parseReactions(cfg.ReactionTriggers) // validated by loadConfig
	for emoji, name := range reactions {
		if _, ok := catalog.Lookup(name); !ok {
			return usageError{fmt.Errorf("REACTION_TRIGGERS maps :%s: to %q, which is no use case: use one of %s", emoji, name, catalog.UsageHint())}
		}
	}

	// Every outbound call has a deadline; http.DefaultClient has none.
	slackHTTP := &http.Client{Timeout: 30 * time.Second}
	client := slack.New(cfg.SlackBotToken.reveal(),
		slack.OptionAPIURL(cfg.SlackAPIURL),
		slack.OptionAppLevelToken(cfg.SlackAppToken.reveal()),
		slack.OptionHTTPClient(slackHTTP),
	)
	self, err := whoAmI(ctx, client)
	if err != nil {
		return err
	}

	model, err := gemini.New(ctx, gemini.Config{
		APIKey:   cfg.geminiKey().reveal(),
		VertexAI: cfg.UseVertexAI,
		Project:  cfg.CloudProject,
		Location: cfg.CloudLocation,
		BaseURL:  cfg.GeminiBaseURL,
		Model:    cfg.GeminiModel,
		Thinking: cfg.Thinking,
		Timeout:  cfg.GeminiTimeout,
	})
	if err != nil {
		return fmt.Errorf("set up Gemini: %w", err)
	}
	checkCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	err = model.CheckModel(checkCtx)
	cancel()
	if err != nil {
		return fmt.Errorf("check GEMINI_MODEL %q: %w (list the models your key can use at https://ai.google.dev/gemini-api/docs/models)", cfg.GeminiModel, err)
	}

	apiURL, _ := url.Parse(cfg.SlackAPIURL) // validated by loadConfig
	files := bot.NewDownloader(&http.Client{Timeout: 60 * time.Second}, cfg.SlackBotToken.reveal(),
		append(bot.SlackFileHosts(), apiURL.Host))
	api := bot.NewAPI(client, files, &http.Client{Timeout: 15 * time.Second}, bot.StreamConfig{
		Mode:     bot.StreamMode(cfg.StreamMode),
		Interval: cfg.StreamInterval,
	})

	flows := handlers.New(api, model, catalog, log, handlers.Config{
		MaxImages:     cfg.MaxImages,
		MaxFileBytes:  int64(cfg.MaxFileMB) << 20,
		HistoryWindow: cfg.HistoryWindow,
		BotUserID:     self.UserID,
		Reactions:     reactions,
	}, nil)

	socket := socketmode.New(client)
	b := bot.New(socket, socket.Events, flows, self, log, bot.Config{
		Workers:       cfg.Workers,
		Queue:         cfg.QueueSize,
		JobTimeout:    cfg.JobTimeout,
		ShutdownGrace: cfg.ShutdownGrace,
	})
	log.Info("visionbot starting",
		zap.String("bot_user", self.UserID), zap.String("team", self.TeamID),
		zap.String("model", model.Model()), zap.Int("workers", cfg.Workers), zap.Int("use_cases", len(catalog.All())))
	err = b.Run(ctx)
	log.Info("visionbot stopped")
	if err != nil && isSlackAuthError(err) {
		return usageError{fmt.Errorf("Slack refused SLACK_APP_TOKEN when opening the Socket Mode connection (%w): create an App-Level Token with the connections:write scope under Basic Information → App-Level Tokens, and check that Socket Mode is on", errors.Unwrap(err))}
	}
	return err
}

// isSlackAuthError recognises the token errors slack-go's Socket Mode
// client gives up on.
func isSlackAuthError(err error) bool {
	for e := err; e != nil; e = errors.Unwrap(e) {
		switch e.Error() {
		case "invalid_auth", "not_authed", "token_revoked", "account_inactive":
			return true
		}
	}
	return false
}

// whoAmI asks Slack who the bot token belongs to: the loop ignores its own
// messages by these ids, and a bad token stops the start with a clear word.
func whoAmI(ctx context.Context, client *slack.Client) (bot.Identity, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	resp, err := client.AuthTestContext(ctx)
	if err != nil {
		var slackErr slack.SlackErrorResponse
		if errors.As(err, &slackErr) {
			switch slackErr.Err {
			case "invalid_auth", "not_authed", "token_revoked", "account_inactive", "token_expired":
				return bot.Identity{}, usageError{fmt.Errorf("Slack refused SLACK_BOT_TOKEN (%s): copy the Bot User OAuth Token again from OAuth & Permissions, and reinstall the app if it was revoked", slackErr.Err)}
			}
		}
		return bot.Identity{}, fmt.Errorf("auth.test: %w", err)
	}
	return bot.Identity{UserID: resp.UserID, BotID: resp.BotID, TeamID: resp.TeamID}, nil
}
