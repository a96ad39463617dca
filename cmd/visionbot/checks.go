package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"go.uber.org/zap"

	"github.com/visionbot/visionbot/bot"
	"github.com/visionbot/visionbot/bot/slackapi"
	"github.com/visionbot/visionbot/bot/store"
	"github.com/visionbot/visionbot/gemini"
	"github.com/visionbot/visionbot/internal/failure"
)

// checkTimeout bounds the calls of the checks together.
const checkTimeout = 20 * time.Second

type checkStatus int

const (
	checkPass checkStatus = iota
	checkWarn
	checkFail
)

// checkResult is one thing the checks verified.
type checkResult struct {
	status checkStatus
	name   string // what was checked
	detail string // what was found
	fix    string // what to do about a failure or a warning
}

func (r checkResult) String() string {
	s := r.name + ": " + r.detail
	if r.fix != "" {
		s += "; " + r.fix
	}
	return s
}

// failures are the results that stop the bot from starting.
func failures(results []checkResult) []checkResult {
	var out []checkResult
	for _, r := range results {
		if r.status == checkFail {
			out = append(out, r)
		}
	}
	return out
}

// startupRefused lists every failed check at once, each with its fix.
type startupRefused struct{ failed []checkResult }

func (e startupRefused) Error() string {
	lines := make([]string, len(e.failed))
	for i, r := range e.failed {
		lines[i] = r.String()
	}
	return "refusing to start, because of what Slack or Gemini said:\n  - " + strings.Join(lines, "\n  - ")
}

// slackAuth is what the checks ask Slack.
type slackAuth interface {
	AuthTestContext(ctx context.Context) (*slack.AuthTestResponse, error)
	StartSocketModeContext(ctx context.Context) (*slack.SocketModeConnection, string, error)
}

// modelChecker is what the checks ask Gemini.
type modelChecker interface {
	CheckModel(ctx context.Context) error
	// CheckSettings asks once with the settings the bot sends, and
	// returns those the model refused.
	CheckSettings(ctx context.Context) ([]gemini.Refusal, error)
}

// runChecks asks Slack and Gemini whether the configuration works: the bot
// token and its scopes, the app-level token, and the model (unless model
// is nil). The bot runs them before it starts and visionbot check prints
// them, so both say the same. It returns who the bot is when Slack
// accepted its token.
func runChecks(ctx context.Context, cfg config, sl slackAuth, model modelChecker) (bot.Identity, []checkResult) {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	modelResults := make(chan []checkResult, 1)
	if model != nil { // asked alongside Slack: the start waits for the slower only
		go func() { modelResults <- checkModel(ctx, cfg, model) }()
	}
	self, results := checkBotToken(ctx, sl)
	results = append(results, checkAppToken(ctx, sl))
	if model != nil {
		results = append(results, <-modelResults...)
	}
	return self, results
}

// checkBotToken calls auth.test: the loop ignores the bot's own messages
// by the ids it returns, and its X-OAuth-Scopes header lists the scopes
// the token was granted.
func checkBotToken(ctx context.Context, sl slackAuth) (bot.Identity, []checkResult) {
	const name = "Slack bot token"
	resp, err := sl.AuthTestContext(ctx)
	if err != nil {
		if answer, refused := slackapi.TokenRefused(err); refused {
			return bot.Identity{}, []checkResult{{checkFail, name, fmt.Sprintf("Slack refused SLACK_BOT_TOKEN (%s)", answer.Err), slackapi.BotTokenFix}}
		}
		return bot.Identity{}, []checkResult{{checkFail, name, fmt.Sprintf("auth.test failed: %v", err),
			"check the network, and SLACK_API_URL if it is set"}}
	}
	self := bot.Identity{UserID: resp.UserID, BotID: resp.BotID, TeamID: resp.TeamID}
	results := []checkResult{{checkPass, name, fmt.Sprintf("@%s (%s) in %s (%s)", resp.User, resp.UserID, resp.Team, resp.TeamID), ""}}
	return self, append(results, checkScopes(resp.Header.Get("X-OAuth-Scopes"))...)
}

// checkScopes compares the granted scopes with those the code uses: each
// missing one is a failure of its own, naming what it is for.
func checkScopes(header string) []checkResult {
	if strings.TrimSpace(header) == "" {
		return []checkResult{{checkWarn, "Slack scopes", "Slack did not say which scopes the token has, so they were not checked", ""}}
	}
	granted := map[string]bool{}
	for _, s := range strings.Split(header, ",") {
		granted[strings.TrimSpace(s)] = true
	}
	required, features := bot.RequiredScopes(), bot.FeatureScopes()
	var results []checkResult
	failed := false
	for _, scope := range slices.Sorted(maps.Keys(required)) {
		if granted[scope] {
			continue
		}
		fix := "add " + scope + " under OAuth & Permissions → Scopes → Bot Token Scopes in your app's settings at api.slack.com/apps, then reinstall the app (Install App → Reinstall to Workspace)"
		if without, ok := features[scope]; ok {
			results = append(results, checkResult{checkWarn, "Slack scope " + scope,
				"missing; the bot answers without it, but " + without + " (it is needed to " + required[scope] + ")", fix})
			continue
		}
		failed = true
		results = append(results, checkResult{checkFail, "Slack scope " + scope, "missing; the bot needs it to " + required[scope], fix})
	}
	if !failed {
		granted := len(required) - len(results)
		results = append([]checkResult{{checkPass, "Slack scopes", fmt.Sprintf("%d of the %d scopes the bot uses are granted, every one it needs", granted, len(required)), ""}}, results...)
		if len(results) == 1 {
			results[0].detail = fmt.Sprintf("all %d scopes the bot needs are granted", len(required))
		}
	}
	return results
}

// checkAppToken opens a Socket Mode URL as the bot does when it connects,
// without connecting: a wrong app-level token shows here with the others.
func checkAppToken(ctx context.Context, sl slackAuth) checkResult {
	const name = "Slack app-level token"
	_, _, err := sl.StartSocketModeContext(ctx)
	if err == nil {
		return checkResult{checkPass, name, "Socket Mode accepts it", ""}
	}
	if answer, refused := slackapi.TokenRefused(err); refused {
		return checkResult{checkFail, name, fmt.Sprintf("Slack refused SLACK_APP_TOKEN (%s)", answer.Err), slackapi.AppTokenFix}
	}
	return checkResult{checkFail, name, fmt.Sprintf("apps.connections.open failed: %v", err), slackapi.AppTokenFix}
}

// checkModel asks Gemini for the configured model, then whether it takes
// the settings the bot sends it.
func checkModel(ctx context.Context, cfg config, model modelChecker) []checkResult {
	result := checkModelName(ctx, cfg, model)
	if result.status != checkPass {
		return []checkResult{result}
	}
	return append([]checkResult{result}, checkSettings(ctx, cfg, model)...)
}

// checkSettings reports each setting the model refused: a warning, since
// the bot answers without it, but not what the operator configured.
func checkSettings(ctx context.Context, cfg config, model modelChecker) []checkResult {
	refusals, err := model.CheckSettings(ctx)
	var results []checkResult
	for _, r := range refusals {
		consequence := "the use cases' media_resolution has no effect on it"
		if r.Setting == "thinking setting" {
			consequence = fmt.Sprintf("it thinks at its own default, not GEMINI_THINKING=%s", cfg.Gemini.Thinking)
		}
		results = append(results, checkResult{checkWarn, "Gemini " + r.Setting,
			fmt.Sprintf("%s refused %s (%q); the bot sends it none, so %s", cfg.Gemini.Model, r.Sent, r.Message, consequence),
			refusalFix(r)})
	}
	if err != nil {
		results = append(results, checkResult{checkWarn, "Gemini settings",
			fmt.Sprintf("could not check that %s takes GEMINI_THINKING and a media resolution: %v", cfg.Gemini.Model, err),
			"run visionbot check again; the bot retries a refused setting without it anyway"})
	} else if len(refusals) == 0 {
		results = append(results, checkResult{checkPass, "Gemini settings",
			fmt.Sprintf("%s takes GEMINI_THINKING=%s and a media resolution", cfg.Gemini.Model, cfg.Gemini.Thinking), ""})
	}
	return results
}

// refusalFix says what to do about a refused setting.
func refusalFix(r gemini.Refusal) string {
	if r.Setting == "thinking setting" {
		return "set GEMINI_THINKING to a level this model takes (low is taken by every current model), or leave it: answers come without the setting"
	}
	return "nothing is required; to have media_resolution count, set GEMINI_MODEL to a Gemini 2.5 or later model"
}

// checkModelName asks Gemini for the configured model.
func checkModelName(ctx context.Context, cfg config, model modelChecker) checkResult {
	const name = "Gemini model"
	backend := "Gemini API"
	modelFix := "list the models your key can use at https://ai.google.dev/gemini-api/docs/models and set GEMINI_MODEL, or unset it for " + gemini.DefaultConfig().Model
	if cfg.Gemini.UseVertexAI {
		backend = fmt.Sprintf("Vertex AI, project %s in %s", cfg.Gemini.CloudProject, cfg.Gemini.CloudLocation)
		modelFix = "set GEMINI_MODEL to a Gemini model that Vertex AI offers in GOOGLE_CLOUD_LOCATION (Model Garden lists them)"
	}
	err := model.CheckModel(ctx)
	switch failure.KindOf(err) {
	case failure.Internal:
		if err == nil {
			return checkResult{checkPass, name, fmt.Sprintf("%s is available (%s)", cfg.Gemini.Model, backend), ""}
		}
	case failure.UnknownModel:
		return checkResult{checkFail, name, fmt.Sprintf("GEMINI_MODEL %q is not a model %s knows", cfg.Gemini.Model, backend), modelFix}
	case failure.ModelAuth:
		why := failure.DetailOf(err) // the reason Google gave, when it gave one
		if why == "" {
			why = err.Error()
		}
		return checkResult{checkFail, name, fmt.Sprintf("%s refused the credentials (%s)", backend, why), credentialsFix(cfg)}
	}
	return checkResult{checkFail, name, fmt.Sprintf("could not check GEMINI_MODEL %q: %v", cfg.Gemini.Model, err),
		"check the network, and GOOGLE_GEMINI_BASE_URL if it is set, then try again"}
}

// checkRedis asks the Redis of REDIS_URL whether replicas can share it: it
// answers, takes the password, and is recent enough for the queue. It also
// reports whether Redis answered at all: the bot starts without a Redis
// that does not answer (on its memory), not with one that refuses it.
func checkRedis(ctx context.Context, db *store.Redis) (checkResult, bool) {
	const name = "Redis"
	version, err := db.Version(ctx)
	switch {
	case errors.Is(err, store.ErrRedisAuth):
		return checkResult{checkFail, name, err.Error(),
			"put Redis's password (its requirepass) in REDIS_URL as redis://:password@host:6379/0, with any @ : / in it percent-encoded"}, true
	case err != nil:
		return checkResult{checkFail, name, fmt.Sprintf("%v", err),
			"check the host and port in REDIS_URL, that Redis runs there, and that this machine can reach it (firewall, Kubernetes Service, rediss:// for TLS)"}, false
	case !store.RedisVersionSupported(version):
		return checkResult{checkFail, name, fmt.Sprintf("Redis %s at %s is too old: replicas need %s or later (XPENDING with IDLE)", version, db.Addr(), store.MinRedisVersion),
			"upgrade Redis to 6.2 or later (Debian and Ubuntu ship 7.x: apt-get install redis-server; Docker: redis:7)"}, true
	}
	return checkResult{checkPass, name, fmt.Sprintf("Redis %s at %s answers and takes the password", version, db.Addr()), ""}, true
}

// redisURLFix says what REDIS_URL must look like.
const redisURLFix = "set REDIS_URL to redis://[:password@]host:port/db, or rediss:// for TLS, with any @ : / in the password percent-encoded"

// openRedis is the store on REDIS_URL, with the Redis client's own logs
// routed to log. It does not connect.
func openRedis(cfg config, log *zap.Logger) (*store.Redis, error) {
	store.RouteRedisLogs(log)
	return store.NewRedis(cfg.Ops.RedisURL.reveal(), log, store.DefaultRedisOptions())
}

// credentialsFix says where the credentials of the configured backend come from.
func credentialsFix(cfg config) string {
	if cfg.Gemini.UseVertexAI {
		return "sign in with gcloud auth application-default login, or give the machine's service account the Vertex AI User role on GOOGLE_CLOUD_PROJECT, and enable the Vertex AI API there"
	}
	return "create a key at https://aistudio.google.com/apikey and put it in GEMINI_API_KEY"
}

// check is visionbot check: every check, printed as a list with the fix
// of each failure, and an error when one failed.
func check(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	cfg, err := loadConfig(getenv, ".env", partAll)
	var cfgErr *configError
	if errors.As(err, &cfgErr) {
		results := make([]checkResult, 0, len(cfgErr.problems))
		for _, p := range cfgErr.problems {
			results = append(results, checkResult{checkFail, "configuration", p, ""})
		}
		return printChecks(stdout, results)
	}
	if err != nil {
		return err
	}
	results := []checkResult{{checkPass, "configuration", "every variable is set and well-formed", ""}}
	catalog, err := loadUseCases(cfg)
	if err != nil {
		results = append(results, checkResult{checkFail, "use cases", err.Error(), "fix the file it names, or unset PROMPTS_DIR"})
	} else {
		results = append(results, checkResult{checkPass, "use cases", describeCatalog(catalog), ""})
	}
	var checker modelChecker // nil: no model to ask
	if model, err := newModel(ctx, cfg, zap.NewNop()); err != nil {
		results = append(results, checkResult{checkFail, "Gemini credentials", err.Error(), credentialsFix(cfg)})
	} else {
		checker = model
	}
	client := newSlack(cfg, nil, nil)
	_, serviceResults := runChecks(ctx, cfg, client, checker)
	results = append(results, serviceResults...)
	results = append(results, checkChannelsFile(ctx, cfg, catalog, client)...)
	if cfg.Ops.RedisURL.secret != "" {
		db, err := openRedis(cfg, zap.NewNop())
		if err != nil {
			results = append(results, checkResult{checkFail, "Redis", err.Error(), redisURLFix})
		} else {
			r, _ := checkRedis(ctx, db)
			_ = db.Close()
			results = append(results, r)
		}
	}
	return printChecks(stdout, results)
}

// checksFailed is the error of visionbot check once the list is printed.
type checksFailed int

func (n checksFailed) Error() string {
	if n == 1 {
		return "1 check failed"
	}
	return fmt.Sprintf("%d checks failed", int(n))
}

// printChecks writes one line per result, and under a failure or a
// warning the fix; it returns checksFailed when something failed.
func printChecks(w io.Writer, results []checkResult) error {
	label := map[checkStatus]string{checkPass: "ok", checkWarn: "warn", checkFail: "FAIL"}
	for _, r := range results {
		fmt.Fprintf(w, "%-5s %s: %s\n", label[r.status], r.name, r.detail)
		if r.fix != "" {
			fmt.Fprintf(w, "      fix: %s\n", r.fix)
		}
	}
	if n := len(failures(results)); n > 0 {
		return checksFailed(n)
	}
	fmt.Fprintln(w, "All checks passed.")
	return nil
}
