package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/visionbot/visionbot/handlers"
	"github.com/visionbot/visionbot/internal/media"
	"github.com/visionbot/visionbot/internal/vision"
	"github.com/visionbot/visionbot/prompts"
)

const analyzeSynopsis = "usage: visionbot analyze [-use-case NAME] [-q QUESTION] IMAGE [IMAGE…]"

const analyzeUsage = analyzeSynopsis + `

Answers about local image files as the bot would in Slack: the answer
streams to stdout as Markdown; the model, the tokens and the time go to
stderr. Without -use-case, a first word of the question that names a use
case picks it, as in Slack. Only the GEMINI_* / GOOGLE_* settings are
needed (and PROMPTS_DIR, MAX_IMAGES, MAX_FILE_MB if set).`

// analyzeArgs is what visionbot analyze was asked.
type analyzeArgs struct {
	useCase  string
	question string
	images   []string
}

// parseAnalyzeArgs reads flags placed before, between or after the files.
func parseAnalyzeArgs(args []string, stderr io.Writer) (analyzeArgs, error) {
	var a analyzeArgs
	fs := flag.NewFlagSet("analyze", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, analyzeUsage)
		fs.PrintDefaults()
	}
	fs.StringVar(&a.useCase, "use-case", "", "the use case (see visionbot usecases); default: from the question, else the default use case")
	fs.StringVar(&a.question, "q", "", "the question, in any language")
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			return a, err
		}
		if fs.NArg() == 0 {
			break
		}
		a.images = append(a.images, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(a.images) == 0 {
		return a, errors.New("name at least one image file; " + analyzeSynopsis)
	}
	return a, nil
}

// analyze is visionbot analyze: the bot's use cases and model on local
// files, without Slack.
func analyze(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	a, err := parseAnalyzeArgs(args, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return nil
	case err != nil:
		return usageError{fmt.Errorf("analyze: %w", err)}
	}
	cfg, err := loadConfig(getenv, ".env", partGemini|partImages|partPrompts)
	if err != nil {
		return err
	}
	catalog, err := loadCatalog(cfg.Prompts.Dir)
	if err != nil {
		return err
	}
	uc, question, err := chooseUseCase(catalog, a.useCase, a.question)
	if err != nil {
		return err
	}
	if len(a.images) > cfg.Images.MaxImages {
		return usageError{fmt.Errorf("analyze: %d images, but one request takes at most MAX_IMAGES=%d", len(a.images), cfg.Images.MaxImages)}
	}
	images := make([]vision.Image, 0, len(a.images))
	var total int64
	for _, path := range a.images {
		img, err := readImageFile(path, int64(cfg.Images.MaxFileBytes))
		if err != nil {
			return err
		}
		images = append(images, img)
		total += int64(len(img.Data))
	}
	// Local files have no smaller copies to fall back on, as Slack's
	// thumbnails are in the bot: over the bound, say so before calling.
	if limit := int64(cfg.Images.MaxRequestBytes); total > limit {
		return usageError{fmt.Errorf("analyze: the images add up to %.1f MB, but one request to Gemini takes at most MAX_REQUEST_MB=%d MB: send fewer or smaller images",
			float64(total)/(1<<20), limit>>20)}
	}
	// Nothing is logged: a setting the model refuses is said below.
	model, err := newModel(ctx, cfg, zap.NewNop())
	if err != nil {
		return err
	}

	start := time.Now()
	var writeErr error
	endsInNewline := true
	usage, err := model.Stream(ctx, handlers.ModelRequest(uc, question, images), func(text string) {
		if writeErr == nil {
			_, writeErr = io.WriteString(stdout, text)
			endsInNewline = strings.HasSuffix(text, "\n")
		}
	})
	elapsed := time.Since(start)
	if !endsInNewline {
		fmt.Fprintln(stdout)
	}
	for _, r := range model.Refusals() {
		fmt.Fprintf(stderr, "note: %s refused %s (%s), so it was sent without it; %s\n",
			model.Model(), r.Sent, r.Message, refusalFix(r))
	}
	if err != nil {
		return fmt.Errorf("ask Gemini: %w", err)
	}
	if note := handlers.SourcesNote(usage.Sources); note != "" && writeErr == nil {
		_, writeErr = io.WriteString(stdout, strings.TrimPrefix(note, "\n")+"\n")
	}
	if writeErr != nil {
		return fmt.Errorf("write the answer: %w", writeErr)
	}
	fmt.Fprintf(stderr, "\n%s · %s · %d tokens in, %d out, %d thinking · %s\n",
		uc.Name, usage.Model, usage.InputTokens, usage.OutputTokens, usage.ThinkingTokens, elapsed.Round(time.Millisecond))
	return nil
}

// chooseUseCase picks the use case by its flag, or else as the bot does
// from the question's first word.
func chooseUseCase(catalog *prompts.Catalog, name, question string) (prompts.UseCase, string, error) {
	if name == "" {
		uc, q := catalog.Choose(question)
		return uc, q, nil
	}
	uc, ok := catalog.Lookup(name)
	if !ok {
		return prompts.UseCase{}, "", usageError{fmt.Errorf("analyze: no use case %q: use one of %s (visionbot usecases lists them)", name, catalog.UsageHint())}
	}
	return uc, strings.TrimSpace(question), nil
}

// readImageFile reads and checks one image as the bot checks a download.
func readImageFile(path string, maxBytes int64) (vision.Image, error) {
	info, err := os.Stat(path)
	if err != nil {
		return vision.Image{}, fmt.Errorf("read %s: %w", path, err)
	}
	if info.IsDir() {
		return vision.Image{}, fmt.Errorf("read %s: a folder, not an image file", path)
	}
	if info.Size() > maxBytes {
		return vision.Image{}, fmt.Errorf("read %s: %d MB, over the MAX_FILE_MB limit of %d MB", path, info.Size()>>20, maxBytes>>20)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return vision.Image{}, fmt.Errorf("read %s: %w", path, err)
	}
	img, err := media.ReadImage(data)
	if err != nil {
		return vision.Image{}, fmt.Errorf("%s: %w (visionbot reads %s)", path, err, media.SupportedFormats)
	}
	return img, nil
}
