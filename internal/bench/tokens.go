package bench

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/visionbot/visionbot/prompts"
)

// TokenUse is what one analysis cost, as the bot's own metrics count what
// the Gemini emulator reported.
type TokenUse struct {
	Input    int `json:"input"`
	Output   int `json:"output"`
	Thinking int `json:"thinking"`
}

// TokenRow is one use case on one model, ours and pass-through.
type TokenRow struct {
	Model       string   `json:"model"`
	UseCase     string   `json:"use_case"`
	Ours        TokenUse `json:"ours"`
	PassThrough TokenUse `json:"pass_through"`
}

// tokenModels are the models whose accounting the stage shows: the
// default alias, counted as Gemini 3 counts images (a fixed count per
// media resolution), and Gemini 2.5, counted by 768x768 tiles.
func tokenModels() []string { return []string{"gemini-flash-latest", "gemini-2.5-flash"} }

// tokenStage sends each built-in use case one analysis of the photo, as
// the bot sends it (Slack's thumbnail, or the original for code, at the use
// case's media resolution) and as a pass-through bot would (the original,
// at the model's default resolution), and reads the tokens from the bot's
// own metrics. The Gemini emulator counts them by Gemini's documented
// rules: a model of Gemini's accounting, not its tokenizer
// (internal/geminiemu/model.go).
func tokenStage(ctx context.Context, opt Options, photos photoSet, say func(string, ...any)) ([]TokenRow, error) {
	catalog, err := prompts.Builtin()
	if err != nil {
		return nil, err
	}
	plain, err := plainUseCases(catalog)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(plain)
	var rows []TokenRow
	for _, model := range tokenModels() {
		byMode := map[bool]map[string]TokenUse{}
		for _, pass := range []bool{false, true} {
			extra := map[string]string{"GEMINI_MODEL": model}
			if pass {
				extra["PROMPTS_DIR"] = plain
			}
			say("%s, pass-through %v: one analysis per use case", model, pass)
			use, err := analyzeEach(ctx, opt, photos, pass, extra, catalog)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", model, err)
			}
			byMode[pass] = use
		}
		for _, uc := range catalog.All() {
			rows = append(rows, TokenRow{Model: model, UseCase: uc.Name, Ours: byMode[false][uc.Name], PassThrough: byMode[true][uc.Name]})
		}
	}
	return rows, nil
}

// analyzeEach runs one bot and sends it one analysis per use case.
func analyzeEach(ctx context.Context, opt Options, photos photoSet, pass bool, extra map[string]string, catalog *prompts.Catalog) (map[string]TokenUse, error) {
	e, err := startEnv(opt.Binary, Latency{}, photos, pass, extra)
	if err != nil {
		return nil, err
	}
	defer e.close()
	e.gemini.ReadRequests(true)
	base := time.Now().Unix() - 18000
	for i, uc := range catalog.All() {
		_, done, err := e.requestAs(i, base, uc.Name)
		if err != nil {
			return nil, err
		}
		select {
		case <-done:
		case <-time.After(time.Minute):
			return nil, fmt.Errorf("%s got no final answer\nthe bot's last log lines:\n%s", uc.Name, e.stderr)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	// The final answer is posted before the request's figures are
	// reported: wait until every use case has its input counted.
	var use map[string]TokenUse
	counted := waitUntil(ctx, func() bool {
		use, err = e.tokens(ctx)
		if err != nil {
			return false
		}
		for _, uc := range catalog.All() {
			if use[uc.Name].Input == 0 {
				return false
			}
		}
		return true
	}, 30*time.Second)
	if !counted {
		return nil, fmt.Errorf("the bot's metrics never counted every use case's tokens (%v): %v", use, err)
	}
	return use, nil
}

// tokens reads visionbot_gemini_tokens_total from the bot's metrics, by
// use case.
func (e *env) tokens(ctx context.Context) (map[string]TokenUse, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+e.metrics+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]TokenUse{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "visionbot_gemini_tokens_total{")
		if !ok {
			continue
		}
		labels, value, ok := strings.Cut(line, "} ")
		if !ok {
			continue
		}
		n, err := strconv.ParseFloat(value, 64)
		if err != nil {
			continue
		}
		useCase, kind := label(labels, "use_case"), label(labels, "kind")
		u := out[useCase]
		switch kind {
		case "input":
			u.Input = int(n)
		case "output":
			u.Output = int(n)
		case "thinking":
			u.Thinking = int(n)
		}
		out[useCase] = u
	}
	return out, sc.Err()
}

// label reads name="value" from a metric's label list.
func label(labels, name string) string {
	_, rest, ok := strings.Cut(labels, name+`="`)
	if !ok {
		return ""
	}
	value, _, _ := strings.Cut(rest, `"`)
	return value
}

// plainFile is a use-case file as a pass-through bot would have it: the
// same prompts, nothing about the model's settings.
type plainFile struct {
	Name        string   `yaml:"name"`
	Aliases     []string `yaml:"aliases,omitempty"`
	Description string   `yaml:"description,omitempty"`
	Default     bool     `yaml:"default,omitempty"`
	Output      string   `yaml:"output,omitempty"`
	System      string   `yaml:"system"`
	Prompt      string   `yaml:"prompt"`
}

// plainUseCases writes the built-in use cases, without their media
// resolution and answer budget, to a folder for PROMPTS_DIR, and returns
// it. Each replaces the built-in of its name.
func plainUseCases(catalog *prompts.Catalog) (string, error) {
	dir, err := os.MkdirTemp("", "visionbench-plain-")
	if err != nil {
		return "", fmt.Errorf("pass-through use cases: %w", err)
	}
	for _, uc := range catalog.All() {
		data, err := yaml.Marshal(plainFile{Name: uc.Name, Aliases: uc.Aliases, Description: uc.Description,
			Default: uc.Default, Output: uc.Output, System: uc.System, Prompt: uc.Prompt})
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, uc.Name+".yaml"), data, 0o644)
		}
		if err != nil {
			os.RemoveAll(dir)
			return "", fmt.Errorf("pass-through use case %s: %w", uc.Name, err)
		}
	}
	return dir, nil
}
