// Package prompts is the use-case catalog: the named ways visionbot frames a
// photo for Gemini. It is the single source of truth for the prompts, for the
// words that choose a use case, and for the help texts and usage hints.
//
// The built-in use cases are YAML files embedded from usecases/; an operator
// can add or replace use cases with files of the same shape (see Load and
// Catalog.With) without recompiling.
package prompts

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/visionbot/visionbot/internal/vision"
)

const (
	// DefaultMaxOutputTokens is the answer budget of a use case whose file
	// sets none: about 8,000 characters, which fits a Slack thread's few
	// messages with room to spare. The built-in files set their own.
	DefaultMaxOutputTokens = 2048
	// MaxOutputTokensLimit is the most a use case may ask for: 65,536
	// tokens is the output limit (outputTokenLimit in models.get) of
	// Gemini's current Flash and Pro models.
	MaxOutputTokensLimit = 65536
)

// builtinFiles is the one package-level variable: go:embed needs it.
//
//go:embed usecases/*.yaml
var builtinFiles embed.FS

// UseCase is one named way of answering about an image.
type UseCase struct {
	Name        string   // lowercase [a-z0-9-], 1..32 characters; the word users type
	Description string   // one line, for help texts
	Example     string   // how to call it, for help texts
	System      string   // the system instruction
	Prompt      string   // the user-turn instruction that precedes the user's question
	Output      string   // optional short output hint appended to Prompt
	Aliases     []string // other words that choose it; unique across the catalog
	Default     bool     // the use case for text that names none; exactly one per catalog
	Detail      bool     // the model needs legible detail: prefer the original image to Slack's thumbnail
	// Suggestion is a short invitation to use it ("Turn a food photo into a
	// recipe"), offered as a suggested prompt in the app's Messages tab;
	// "" keeps it out of the suggestions.
	Suggestion string
	// Loading are the loading messages the thread shows while the answer
	// is prepared (at most 10); none for the catalog's defaults.
	Loading []string
	// MaxOutputTokens bounds the answer's text; New sets
	// DefaultMaxOutputTokens when it is 0.
	MaxOutputTokens int
	// MediaResolution is how finely the model looks at the images; the
	// zero value leaves it to the model.
	MediaResolution vision.MediaResolution
	// Grounding asks for answers grounded in Google Search, which the
	// operator must also allow (GROUNDING=on): it is billed per request.
	Grounding bool
	// CodeFiles puts the answer's code blocks into its thread as snippet
	// files when the answer is longer than the thread takes: what is cut
	// from the messages is still there whole, ready to run.
	CodeFiles bool
	// Source is where the use case came from ("built-in", or the file
	// name Load read it from), for listings and for errors that must name
	// the file to fix.
	Source string
}

// useCaseFile is the YAML shape of a use-case file. It is separate from
// UseCase so that the file format stays snake_case and strict.
type useCaseFile struct {
	Name        string   `yaml:"name"`
	Aliases     []string `yaml:"aliases"`
	Description string   `yaml:"description"`
	Example     string   `yaml:"example"`
	Default     bool     `yaml:"default"`
	Detail      bool     `yaml:"detail"`
	Suggestion  string   `yaml:"suggestion"`
	Loading     []string `yaml:"loading_messages"`
	Output      string   `yaml:"output"`
	System      string   `yaml:"system"`
	Prompt      string   `yaml:"prompt"`

	MaxOutputTokens int    `yaml:"max_output_tokens"`
	MediaResolution string `yaml:"media_resolution"`
	Grounding       bool   `yaml:"grounding"`
	CodeFiles       bool   `yaml:"code_files"`
}

// Catalog is an immutable, validated set of use cases. It is safe for
// concurrent use.
type Catalog struct {
	useCases   []UseCase      // alphabetical by name, the default first
	byWord     map[string]int // lowercase name or alias -> index in useCases
	usageHint  string
	defaultIdx int
}

// Builtin returns the catalog of the use cases embedded in the binary.
func Builtin() (*Catalog, error) {
	dir, err := fs.Sub(builtinFiles, "usecases")
	if err != nil {
		return nil, fmt.Errorf("prompts: builtin use cases: %w", err)
	}
	ucs, err := Load(dir)
	if err != nil {
		return nil, fmt.Errorf("builtin: %w", err)
	}
	for i := range ucs {
		ucs[i].Source = "built-in"
	}
	return New(ucs)
}

// Load parses every *.yaml and *.yml file at the top of fsys (hidden files
// are skipped), in file-name order. Unknown fields, a missing name, system or
// prompt, a malformed name or alias, and a name or alias used by two files
// are errors that name the file.
func Load(fsys fs.FS) ([]UseCase, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("prompts: read use-case folder: %w", err)
	}
	var ucs []UseCase
	fileOf := map[string]string{} // lowercase name or alias -> file that claimed it
	for _, entry := range entries {
		name := entry.Name()
		ext := path.Ext(name)
		if entry.IsDir() || strings.HasPrefix(name, ".") || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("prompts: %s: %w", name, err)
		}
		uc, err := parse(data)
		if err != nil {
			return nil, fmt.Errorf("prompts: %s: %w", name, err)
		}
		uc.Source = name
		for _, word := range words(uc) {
			if other, taken := fileOf[word]; taken {
				return nil, fmt.Errorf("prompts: %s: %q is already a name or alias in %s", name, word, other)
			}
			fileOf[word] = name
		}
		ucs = append(ucs, uc)
	}
	return ucs, nil
}

func parse(data []byte) (UseCase, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f useCaseFile
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return UseCase{}, errors.New("empty file")
		}
		// yaml's errors span several lines; a log line should stay one.
		return UseCase{}, errors.New(strings.Join(strings.Fields(err.Error()), " "))
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return UseCase{}, errors.New("more than one YAML document; a file holds exactly one use case")
	}
	uc := UseCase{
		Name:            strings.TrimSpace(f.Name),
		Description:     strings.TrimSpace(f.Description),
		Example:         strings.TrimSpace(f.Example),
		System:          strings.TrimSpace(f.System),
		Prompt:          strings.TrimSpace(f.Prompt),
		Output:          strings.TrimSpace(f.Output),
		Aliases:         f.Aliases,
		Default:         f.Default,
		Detail:          f.Detail,
		Suggestion:      strings.TrimSpace(f.Suggestion),
		Loading:         f.Loading,
		MaxOutputTokens: f.MaxOutputTokens,
		MediaResolution: vision.MediaResolution(strings.TrimSpace(f.MediaResolution)),
		Grounding:       f.Grounding,
		CodeFiles:       f.CodeFiles,
	}
	return uc, validate(uc)
}

// validate checks one use case on its own; New checks the set.
func validate(uc UseCase) error {
	switch {
	case uc.Name == "":
		return errors.New("missing name")
	case strings.TrimSpace(uc.System) == "":
		return fmt.Errorf("use case %q: missing system", uc.Name)
	case strings.TrimSpace(uc.Prompt) == "":
		return fmt.Errorf("use case %q: missing prompt", uc.Name)
	}
	for _, w := range words(uc) {
		switch w {
		case "help":
			return fmt.Errorf("use case %q: \"help\" is reserved: it lists the use cases", uc.Name)
		case "settings":
			return fmt.Errorf("use case %q: \"settings\" is reserved: /analyze settings opens a channel's settings", uc.Name)
		}
	}
	if !validWord(uc.Name) {
		return fmt.Errorf("bad name %q: want 1..32 characters of lowercase a-z, 0-9 and -", uc.Name)
	}
	for _, alias := range uc.Aliases {
		if !validWord(strings.ToLower(alias)) {
			return fmt.Errorf("use case %q: bad alias %q: want 1..32 characters of a-z, 0-9 and -", uc.Name, alias)
		}
	}
	if uc.MaxOutputTokens < 0 || uc.MaxOutputTokens > MaxOutputTokensLimit {
		return fmt.Errorf("use case %q: max_output_tokens %d: want 1..%d (Gemini writes at most %d tokens per answer), or none for %d",
			uc.Name, uc.MaxOutputTokens, MaxOutputTokensLimit, MaxOutputTokensLimit, DefaultMaxOutputTokens)
	}
	switch uc.MediaResolution {
	case vision.MediaResolutionDefault, vision.MediaResolutionLow, vision.MediaResolutionMedium, vision.MediaResolutionHigh:
	default:
		return fmt.Errorf("use case %q: media_resolution %q: want low, medium or high, or none for the model's own", uc.Name, uc.MediaResolution)
	}
	if n := utf8.RuneCountInString(uc.Suggestion); n > maxSuggestion {
		return fmt.Errorf("use case %q: suggestion is %d characters; at most %d fit a suggested prompt", uc.Name, n, maxSuggestion)
	}
	return validateLoading(uc)
}

// Slack's bounds on what a use case shows while it works.
const (
	maxSuggestion = 75
	// maxLoading is assistant.threads.setStatus's limit on loading_messages.
	maxLoading        = 10
	maxLoadingMessage = 80
)

// validateLoading checks a use case's loading messages: at most 10, short,
// and without commas, since slack-go sends the list to Slack comma-joined.
func validateLoading(uc UseCase) error {
	if len(uc.Loading) > maxLoading {
		return fmt.Errorf("use case %q: %d loading_messages; Slack shows at most %d", uc.Name, len(uc.Loading), maxLoading)
	}
	for _, m := range uc.Loading {
		switch n := utf8.RuneCountInString(strings.TrimSpace(m)); {
		case n == 0 || n > maxLoadingMessage:
			return fmt.Errorf("use case %q: loading message %q: want 1..%d characters", uc.Name, m, maxLoadingMessage)
		case strings.Contains(m, ","):
			return fmt.Errorf("use case %q: loading message %q has a comma, which would split it in two", uc.Name, m)
		}
	}
	return nil
}

func validWord(w string) bool {
	if len(w) == 0 || len(w) > 32 {
		return false
	}
	for _, r := range w {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return false
		}
	}
	return true
}

// words are the lowercase words that choose uc: its name, then its aliases.
func words(uc UseCase) []string {
	ws := make([]string, 0, 1+len(uc.Aliases))
	ws = append(ws, strings.ToLower(uc.Name))
	for _, a := range uc.Aliases {
		ws = append(ws, strings.ToLower(a))
	}
	return ws
}

// New validates ucs and builds a catalog: every use case must be valid on its
// own, names and aliases must be unique (case-insensitive, across both), and
// exactly one use case must be the default.
func New(ucs []UseCase) (*Catalog, error) {
	c := &Catalog{byWord: map[string]int{}, defaultIdx: -1}
	var defaults []string
	for _, uc := range ucs {
		if err := validate(uc); err != nil {
			return nil, fmt.Errorf("prompts%s: %w", uc.from(), err)
		}
		if uc.Default {
			defaults = append(defaults, uc.Name+uc.from())
		}
		if uc.MaxOutputTokens == 0 {
			uc.MaxOutputTokens = DefaultMaxOutputTokens
		}
		uc.Aliases = slices.Clone(uc.Aliases)
		c.useCases = append(c.useCases, uc)
	}
	switch {
	case len(defaults) == 0:
		return nil, errors.New("prompts: no default use case; exactly one must say default: true")
	case len(defaults) > 1:
		return nil, fmt.Errorf("prompts: %d default use cases (%s); exactly one may say default: true",
			len(defaults), strings.Join(defaults, ", "))
	}
	slices.SortFunc(c.useCases, func(a, b UseCase) int {
		if a.Default != b.Default {
			if a.Default {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	c.defaultIdx = 0
	names := make([]string, len(c.useCases))
	for i, uc := range c.useCases {
		names[i] = uc.Name
		for _, word := range words(uc) {
			if j, taken := c.byWord[word]; taken {
				if j == i {
					return nil, fmt.Errorf("prompts: use case %q%s lists %q twice", uc.Name, uc.from(), word)
				}
				return nil, fmt.Errorf("prompts: %q is both a name or alias of %q%s and of %q%s",
					word, c.useCases[j].Name, c.useCases[j].from(), uc.Name, uc.from())
			}
			c.byWord[word] = i
		}
	}
	c.usageHint = "[" + strings.Join(names, "|") + "] [question]"
	return c, nil
}

// With returns a new catalog in which each override replaces the use case of
// the same name or, if there is none, is added. An override that says
// default: true becomes the default and the old default stops being one. An
// override that replaces the current default without saying default: true
// stays the default, so that a copied describe.yaml cannot leave the catalog
// without one. c itself is unchanged.
func (c *Catalog) With(overrides []UseCase) (*Catalog, error) {
	overrideDefault := slices.ContainsFunc(overrides, func(uc UseCase) bool { return uc.Default })
	merged := make([]UseCase, 0, len(c.useCases)+len(overrides))
	for _, uc := range c.useCases {
		if overrideDefault {
			uc.Default = false
		}
		merged = append(merged, uc)
	}
	for _, o := range overrides {
		i := slices.IndexFunc(merged, func(uc UseCase) bool { return strings.EqualFold(uc.Name, o.Name) })
		if i < 0 {
			merged = append(merged, o)
			continue
		}
		if merged[i].Default {
			o.Default = true
		}
		merged[i] = o
	}
	return New(merged)
}

// Lookup finds a use case by name or alias, ignoring case and punctuation
// around the word, so "Recipe:", "recipe," and "*recipe*" all find recipe.
func (c *Catalog) Lookup(word string) (UseCase, bool) {
	w := strings.ToLower(word)
	i, ok := c.byWord[w]
	if !ok {
		i, ok = c.byWord[strings.TrimFunc(w, func(r rune) bool {
			return !unicode.IsLetter(r) && !unicode.IsDigit(r)
		})]
	}
	if !ok {
		return UseCase{}, false
	}
	return c.useCases[i].clone(), true
}

// Default returns the use case for text that names none.
func (c *Catalog) Default() UseCase { return c.useCases[c.defaultIdx].clone() }

// All returns every use case: the default first, then the others in
// alphabetical order of name. Help texts list them in this order.
func (c *Catalog) All() []UseCase {
	all := make([]UseCase, len(c.useCases))
	for i, uc := range c.useCases {
		all[i] = uc.clone()
	}
	return all
}

// Choose picks the use case for a user's text, the bot mention already
// removed. When the first word names a use case (or an alias), that use case
// is chosen and the rest of the text is the question; otherwise the default is
// chosen and the whole text is the question. The question is trimmed; blank
// text gives the default and "".
func (c *Catalog) Choose(text string) (uc UseCase, question string) {
	if uc, rest, ok := c.Named(text); ok {
		return uc, rest
	}
	return c.Default(), strings.TrimSpace(text)
}

// Named is the use case that text's first word names, and the rest of the
// text; ok is false when the first word names none.
func (c *Catalog) Named(text string) (uc UseCase, rest string, ok bool) {
	text = strings.TrimSpace(text)
	first := text
	if i := strings.IndexFunc(text, unicode.IsSpace); i >= 0 {
		first, rest = text[:i], text[i:]
	}
	if first == "" {
		return UseCase{}, "", false
	}
	if uc, ok = c.Lookup(first); !ok {
		return UseCase{}, "", false
	}
	return uc, strings.TrimSpace(rest), true
}

// UsageHint is the slash command's one-line usage, names only, in the order
// of All: "[describe|code|…] [question]".
func (c *Catalog) UsageHint() string { return c.usageHint }

// UserPrompt builds the user-turn text sent with the image: the use case's
// prompt, its output hint if any, then the user's question, or a line saying
// there is none so the model answers in English.
func (uc UseCase) UserPrompt(question string) string {
	var b strings.Builder
	b.WriteString(strings.TrimSpace(uc.Prompt))
	if out := strings.TrimSpace(uc.Output); out != "" {
		b.WriteString("\n\n")
		b.WriteString(out)
	}
	b.WriteString("\n\n")
	if q := strings.TrimSpace(question); q != "" {
		b.WriteString("User's question: ")
		b.WriteString(q)
	} else {
		b.WriteString("The user asked no question; answer in English.")
	}
	return b.String()
}

// from names the use case's source in an error, or nothing.
func (uc UseCase) from() string {
	if uc.Source == "" {
		return ""
	}
	return " (" + uc.Source + ")"
}

func (uc UseCase) clone() UseCase {
	uc.Aliases = slices.Clone(uc.Aliases)
	return uc
}
