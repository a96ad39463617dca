package prompts

import (
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/visionbot/visionbot/internal/vision"
)

func builtin(t *testing.T) *Catalog {
	t.Helper()
	c, err := Builtin()
	if err != nil {
		t.Fatalf("Builtin() error: %v", err)
	}
	return c
}

func TestBuiltinUseCases(t *testing.T) {
	t.Parallel()

	c := builtin(t)
	want := []string{"describe", "code", "doodle", "guide", "healthy", "nutrition", "recipe"}
	var got []string
	for _, uc := range c.All() {
		got = append(got, uc.Name)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("All() names = %v, want %v (default first, then alphabetical)", got, want)
	}
	defaults := 0
	for _, uc := range c.All() {
		t.Run(uc.Name, func(t *testing.T) {
			t.Parallel()

			for field, v := range map[string]string{
				"description": uc.Description, "example": uc.Example, "system": uc.System,
				"prompt": uc.Prompt, "output": uc.Output,
			} {
				if strings.TrimSpace(v) == "" {
					t.Errorf("%s is empty", field)
				}
			}
			if len(uc.Aliases) == 0 {
				t.Error("no aliases")
			}
			if strings.Contains(uc.Description, "\n") {
				t.Error("description spans several lines")
			}
			if !strings.Contains(uc.System, "Answer in the language of the user's question") ||
				!strings.Contains(uc.System, "answer in English") {
				t.Error("system does not say to answer in the language of the user's question")
			}
			if !strings.Contains(uc.System, "Never @-mention anyone") {
				t.Error("system does not forbid @-mentions")
			}
			if !strings.Contains(uc.Example, uc.Name) {
				t.Errorf("example %q does not show the name", uc.Example)
			}
		})
		if uc.Default {
			defaults++
		}
	}
	if defaults != 1 || c.Default().Name != "describe" || !c.Default().Default {
		t.Errorf("defaults = %d, Default() = %q; want exactly describe", defaults, c.Default().Name)
	}
	for _, name := range want {
		uc, _ := c.Lookup(name)
		if uc.Detail != (name == "code") {
			t.Errorf("%s: Detail = %v, want it only for code", name, uc.Detail)
		}
	}
	for _, name := range []string{"healthy", "nutrition"} {
		uc, _ := c.Lookup(name)
		if !strings.Contains(uc.System, "not medical") || !strings.Contains(uc.Prompt, "not medical advice") {
			t.Errorf("%s: no medical-advice caveat", name)
		}
	}
}

func TestChoose(t *testing.T) {
	t.Parallel()

	c := builtin(t)
	tests := []struct {
		text, wantName, wantQuestion string
	}{
		{"recipe", "recipe", ""},
		{"Recipe: vegan?", "recipe", "vegan?"},
		{"recipe, vegetarian please", "recipe", "vegetarian please"},
		{"*code* in React", "code", "in React"},
		{"is this healthy?", "describe", "is this healthy?"},
		{"healthy?", "healthy", ""},
		{"healthy or not?", "healthy", "or not?"},
		{"cook it without cheese", "recipe", "it without cheese"},
		{"MACROS", "nutrition", ""},
		{"", "describe", ""},
		{"   \n\t ", "describe", ""},
		{"\n  guide \n  we have\n half a day  \n", "guide", "we have\n half a day"},
		{"  what   is this?  ", "describe", "what   is this?"},
		{"recipes-ish food", "describe", "recipes-ish food"},
		{"??", "describe", "??"},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			t.Parallel()

			uc, q := c.Choose(tt.text)
			if uc.Name != tt.wantName || q != tt.wantQuestion {
				t.Errorf("Choose(%q) = %q, %q; want %q, %q", tt.text, uc.Name, q, tt.wantName, tt.wantQuestion)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	t.Parallel()

	c := builtin(t)
	tests := []struct {
		word, want string
		ok         bool
	}{
		{"cook", "recipe", true},
		{"Dish", "recipe", true},
		{"ui", "code", true},
		{"html:", "code", true},
		{"landmark", "guide", true},
		{"sketch", "doodle", true},
		{"calories", "nutrition", true},
		{"healthier", "healthy", true},
		{"caption", "describe", true},
		{"alt-text", "describe", true},
		{"(recipe)", "recipe", true},
		{"unknown", "", false},
		{"", "", false},
		{":", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.word, func(t *testing.T) {
			t.Parallel()

			uc, ok := c.Lookup(tt.word)
			if ok != tt.ok || uc.Name != tt.want {
				t.Errorf("Lookup(%q) = %q, %v; want %q, %v", tt.word, uc.Name, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestAliasesAreUniqueAndReturnedCopies(t *testing.T) {
	t.Parallel()

	c := builtin(t)
	uc, _ := c.Lookup("recipe")
	uc.Aliases[0] = "mutated"
	if again, _ := c.Lookup("recipe"); again.Aliases[0] == "mutated" {
		t.Error("Lookup returned the catalog's own alias slice")
	}
}

const validFile = `name: %s
aliases: [%s]
description: d
system: s
prompt: p
`

func file(name, aliases string, extra ...string) *fstest.MapFile {
	body := strings.Replace(strings.Replace(validFile, "%s", name, 1), "%s", aliases, 1)
	return &fstest.MapFile{Data: []byte(body + strings.Join(extra, "\n"))}
}

func TestLoad(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		fsys    fstest.MapFS
		want    []string // names, when no error
		wantErr []string // substrings of the error
	}{
		{
			name: "yaml and yml, others skipped",
			fsys: fstest.MapFS{
				"a.yaml":      file("alpha", "a1"),
				"b.yml":       file("beta", "b1"),
				"README.md":   {Data: []byte("not yaml")},
				".hidden.yml": {Data: []byte("garbage: [")},
				"sub/c.yaml":  file("gamma", "c1"),
			},
			want: []string{"alpha", "beta"},
		},
		{
			name: "duplicate alias across files names both",
			fsys: fstest.MapFS{
				"one.yaml": file("one", "shared"),
				"two.yaml": file("two", "Shared"),
			},
			wantErr: []string{"two.yaml", "one.yaml", `"shared"`},
		},
		{
			name:    "alias equal to another file's name",
			fsys:    fstest.MapFS{"one.yaml": file("one", "x"), "two.yaml": file("two", "one")},
			wantErr: []string{"two.yaml", "one.yaml", `"one"`},
		},
		{
			name:    "unknown field names the file",
			fsys:    fstest.MapFS{"typo.yaml": file("typo", "t", "sytem: s")},
			wantErr: []string{"typo.yaml", "sytem"},
		},
		{
			name:    "missing name",
			fsys:    fstest.MapFS{"x.yaml": {Data: []byte("system: s\nprompt: p\n")}},
			wantErr: []string{"x.yaml", "missing name"},
		},
		{
			name:    "missing system",
			fsys:    fstest.MapFS{"x.yaml": {Data: []byte("name: x\nprompt: p\n")}},
			wantErr: []string{"x.yaml", "missing system"},
		},
		{
			name:    "blank prompt",
			fsys:    fstest.MapFS{"x.yaml": {Data: []byte("name: x\nsystem: s\nprompt: \"  \"\n")}},
			wantErr: []string{"x.yaml", "missing prompt"},
		},
		{
			name:    "uppercase name",
			fsys:    fstest.MapFS{"x.yaml": file("Recipe", "r")},
			wantErr: []string{"x.yaml", `bad name "Recipe"`},
		},
		{
			name:    "name too long",
			fsys:    fstest.MapFS{"x.yaml": file(strings.Repeat("a", 33), "r")},
			wantErr: []string{"x.yaml", "bad name"},
		},
		{
			name:    "help is the help word",
			fsys:    fstest.MapFS{"x.yaml": file("help", "h")},
			wantErr: []string{"x.yaml", `"help" is reserved`},
		},
		{
			name:    "help as an alias",
			fsys:    fstest.MapFS{"x.yaml": file("x", "Help")},
			wantErr: []string{"x.yaml", `"help" is reserved`},
		},
		{
			name:    "settings opens a channel's settings",
			fsys:    fstest.MapFS{"x.yaml": file("x", "settings")},
			wantErr: []string{"x.yaml", `"settings" is reserved`},
		},
		{
			name:    "alias with a space",
			fsys:    fstest.MapFS{"x.yaml": file("x", "two words")},
			wantErr: []string{"x.yaml", `bad alias "two words"`},
		},
		{
			name:    "empty file",
			fsys:    fstest.MapFS{"x.yaml": {Data: []byte("")}},
			wantErr: []string{"x.yaml", "empty"},
		},
		{
			name:    "two documents",
			fsys:    fstest.MapFS{"x.yaml": {Data: []byte(string(file("x", "y").Data) + "---\nname: z\n")}},
			wantErr: []string{"x.yaml", "more than one"},
		},
		{
			name:    "wrong type",
			fsys:    fstest.MapFS{"x.yaml": file("x", "y", "default: maybe")},
			wantErr: []string{"x.yaml", "line 6"},
		},
		{
			name:    "unknown media resolution",
			fsys:    fstest.MapFS{"x.yaml": file("x", "y", "media_resolution: ultra")},
			wantErr: []string{"x.yaml", `media_resolution "ultra"`, "low, medium or high"},
		},
		{
			name:    "negative output budget",
			fsys:    fstest.MapFS{"x.yaml": file("x", "y", "max_output_tokens: -5")},
			wantErr: []string{"x.yaml", "max_output_tokens -5", "1..65536"},
		},
		{
			name:    "output budget beyond Gemini's",
			fsys:    fstest.MapFS{"x.yaml": file("x", "y", "max_output_tokens: 100000")},
			wantErr: []string{"x.yaml", "max_output_tokens 100000"},
		},
		{
			name:    "grounding is a bool",
			fsys:    fstest.MapFS{"x.yaml": file("x", "y", "grounding: sometimes")},
			wantErr: []string{"x.yaml", "line 6"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			ucs, err := Load(tt.fsys)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("Load() = %d use cases, want an error", len(ucs))
				}
				for _, s := range tt.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not contain %q", err, s)
					}
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("error spans several lines: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load() error: %v", err)
			}
			var got []string
			for _, uc := range ucs {
				got = append(got, uc.Name)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Load() names = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNew(t *testing.T) {
	t.Parallel()

	uc := func(name string, def bool, aliases ...string) UseCase {
		return UseCase{Name: name, System: "s", Prompt: "p", Default: def, Aliases: aliases}
	}
	tests := []struct {
		name    string
		ucs     []UseCase
		wantErr string
	}{
		{"ok", []UseCase{uc("a", true, "x"), uc("b", false, "y")}, ""},
		{"no default", []UseCase{uc("a", false), uc("b", false)}, "no default"},
		{"two defaults", []UseCase{uc("a", true), uc("b", true)}, "2 default use cases (a, b)"},
		{"duplicate name", []UseCase{uc("a", true), uc("a", false)}, `"a"`},
		{"alias clash names both", []UseCase{uc("a", true, "x"), uc("b", false, "X")}, `"x" is both a name or alias of "a" and of "b"`},
		{"alias repeated", []UseCase{uc("a", true, "x", "x")}, `lists "x" twice`},
		{"invalid", []UseCase{uc("a", true), {Name: "b", Prompt: "p"}}, "missing system"},
		{"empty", nil, "no default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			_, err := New(tt.ucs)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("New() error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New() error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestWith(t *testing.T) {
	t.Parallel()

	base := builtin(t)
	overrides, err := Load(fstest.MapFS{
		"recipe.yaml": {Data: []byte("name: recipe\naliases: [bake]\ndescription: Baking only.\nsystem: You bake.\nprompt: Bake it.\n")},
		"wine.yaml":   {Data: []byte("name: wine\naliases: [pairing]\ndescription: Pick a wine.\nsystem: You are a sommelier.\nprompt: Pair it.\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := base.With(overrides)
	if err != nil {
		t.Fatalf("With() error: %v", err)
	}
	if got, _ := c.Lookup("recipe"); got.Description != "Baking only." {
		t.Errorf("recipe not replaced: %q", got.Description)
	}
	if got, ok := c.Lookup("bake"); !ok || got.Name != "recipe" {
		t.Errorf("new alias bake = %q, %v", got.Name, ok)
	}
	if _, ok := c.Lookup("cook"); ok {
		t.Error("the replaced recipe's old alias cook still resolves")
	}
	if got, ok := c.Lookup("pairing"); !ok || got.Name != "wine" {
		t.Errorf("added use case: Lookup(pairing) = %q, %v", got.Name, ok)
	}
	if n := len(c.All()); n != 8 {
		t.Errorf("len(All()) = %d, want 8", n)
	}
	if c.Default().Name != "describe" {
		t.Errorf("default = %q, want describe", c.Default().Name)
	}
	if got, _ := base.Lookup("recipe"); got.Description == "Baking only." {
		t.Error("With modified the original catalog")
	}

	t.Run("new default replaces the old", func(t *testing.T) {
		t.Parallel()

		c, err := base.With([]UseCase{{Name: "wine", System: "s", Prompt: "p", Default: true}})
		if err != nil {
			t.Fatal(err)
		}
		if c.Default().Name != "wine" || c.All()[0].Name != "wine" {
			t.Errorf("default = %q, want wine", c.Default().Name)
		}
		if d, _ := c.Lookup("describe"); d.Default {
			t.Error("describe is still default")
		}
	})
	t.Run("replacing the default keeps it default", func(t *testing.T) {
		t.Parallel()

		c, err := base.With([]UseCase{{Name: "describe", System: "s", Prompt: "p"}})
		if err != nil {
			t.Fatal(err)
		}
		if d := c.Default(); d.Name != "describe" || d.System != "s" {
			t.Errorf("Default() = %q (%q), want the new describe", d.Name, d.System)
		}
	})
	t.Run("alias clash with a built-in", func(t *testing.T) {
		t.Parallel()

		_, err := base.With([]UseCase{{Name: "wine", System: "s", Prompt: "p", Aliases: []string{"cook"}}})
		if err == nil || !strings.Contains(err.Error(), `"cook"`) {
			t.Errorf("With() error = %v, want an alias clash on cook", err)
		}
	})
	t.Run("an error names the file to fix", func(t *testing.T) {
		t.Parallel()

		clash, err := Load(fstest.MapFS{"baking.yaml": {Data: []byte("name: baking\naliases: [cook]\nsystem: s\nprompt: p\n")}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = base.With(clash)
		for _, want := range []string{`"cook"`, `"recipe" (built-in)`, `"baking" (baking.yaml)`} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("With() error = %v, want %q in it", err, want)
			}
		}
	})
	t.Run("sources", func(t *testing.T) {
		t.Parallel()

		for name, want := range map[string]string{"describe": "built-in", "recipe": "recipe.yaml", "wine": "wine.yaml"} {
			if got, _ := c.Lookup(name); got.Source != want {
				t.Errorf("%s: source %q, want %q", name, got.Source, want)
			}
		}
	})
}

func TestUserPrompt(t *testing.T) {
	t.Parallel()

	uc := UseCase{Name: "x", Prompt: "Look closely.\n", Output: "One line."}
	tests := []struct {
		question string
		want     string
	}{
		{"vegan?", "Look closely.\n\nOne line.\n\nUser's question: vegan?"},
		{"  ", "Look closely.\n\nOne line.\n\nThe user asked no question; answer in English."},
	}
	for _, tt := range tests {
		if got := uc.UserPrompt(tt.question); got != tt.want {
			t.Errorf("UserPrompt(%q) = %q, want %q", tt.question, got, tt.want)
		}
	}
	uc.Output = ""
	if got, want := uc.UserPrompt("q"), "Look closely.\n\nUser's question: q"; got != want {
		t.Errorf("without output: %q, want %q", got, want)
	}

	c := builtin(t)
	for _, uc := range c.All() {
		p := uc.UserPrompt("¿Es sano?")
		if !strings.HasPrefix(p, uc.Prompt) || !strings.Contains(p, uc.Output) || !strings.HasSuffix(p, "User's question: ¿Es sano?") {
			t.Errorf("%s: UserPrompt misses a part:\n%s", uc.Name, p)
		}
	}
}

func TestUsageHint(t *testing.T) {
	t.Parallel()

	c := builtin(t)
	want := "[describe|code|doodle|guide|healthy|nutrition|recipe] [question]"
	if got := c.UsageHint(); got != want {
		t.Errorf("UsageHint() = %q, want %q", got, want)
	}
	for _, uc := range c.All() {
		if !strings.Contains(c.UsageHint(), uc.Name) {
			t.Errorf("UsageHint misses %s", uc.Name)
		}
	}
}

// The model settings of a use case come from its file; what a file leaves
// out gets the catalog's default budget and the model's own resolution.
func TestModelSettings(t *testing.T) {
	t.Parallel()

	ucs, err := Load(fstest.MapFS{
		"set.yaml":   file("set", "s", "max_output_tokens: 300\nmedia_resolution: high\ngrounding: true\ncode_files: true"),
		"unset.yaml": file("unset", "u", "default: true"),
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(ucs)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		wantTokens int
		wantMedia  vision.MediaResolution
		wantGround bool
		wantFiles  bool
	}{
		{"set", 300, vision.MediaResolutionHigh, true, true},
		{"unset", DefaultMaxOutputTokens, vision.MediaResolutionDefault, false, false},
	}
	for _, tt := range tests {
		uc, _ := c.Lookup(tt.name)
		if uc.MaxOutputTokens != tt.wantTokens || uc.MediaResolution != tt.wantMedia || uc.Grounding != tt.wantGround || uc.CodeFiles != tt.wantFiles {
			t.Errorf("%s: max_output_tokens %d, media_resolution %q, grounding %v, code_files %v; want %d, %q, %v, %v",
				tt.name, uc.MaxOutputTokens, uc.MediaResolution, uc.Grounding, uc.CodeFiles, tt.wantTokens, tt.wantMedia, tt.wantGround, tt.wantFiles)
		}
	}
}

// The built-in use cases each ask for what their task needs: code reads
// small print and writes whole files (shared as files when the thread
// can't take them), a doodle needs the least, and only the guide looks
// things up.
func TestBuiltinModelSettings(t *testing.T) {
	t.Parallel()

	c := builtin(t)
	want := map[string]struct {
		media     vision.MediaResolution
		grounding bool
	}{
		"describe":  {vision.MediaResolutionMedium, false},
		"code":      {vision.MediaResolutionHigh, false},
		"doodle":    {vision.MediaResolutionLow, false},
		"guide":     {vision.MediaResolutionMedium, true},
		"healthy":   {vision.MediaResolutionMedium, false},
		"nutrition": {vision.MediaResolutionMedium, false},
		"recipe":    {vision.MediaResolutionLow, false},
	}
	code, _ := c.Lookup("code")
	for _, uc := range c.All() {
		w, ok := want[uc.Name]
		if !ok {
			t.Errorf("%s: no expectation", uc.Name)
			continue
		}
		if uc.MediaResolution != w.media || uc.Grounding != w.grounding {
			t.Errorf("%s: media_resolution %q, grounding %v; want %q, %v", uc.Name, uc.MediaResolution, uc.Grounding, w.media, w.grounding)
		}
		if uc.CodeFiles != (uc.Name == "code") {
			t.Errorf("%s: code_files %v; only code's answers are code to take away", uc.Name, uc.CodeFiles)
		}
		if uc.Name != "code" && (uc.MaxOutputTokens > DefaultMaxOutputTokens || uc.MaxOutputTokens >= code.MaxOutputTokens) {
			t.Errorf("%s: max_output_tokens %d; want at most %d, and less than code's %d",
				uc.Name, uc.MaxOutputTokens, DefaultMaxOutputTokens, code.MaxOutputTokens)
		}
	}
	// Each built-in file says why it chose, in a comment above the field.
	for _, uc := range c.All() {
		data, err := builtinFiles.ReadFile("usecases/" + uc.Name + ".yaml")
		if err != nil {
			t.Fatal(err)
		}
		for _, field := range []string{"media_resolution:", "max_output_tokens:"} {
			i := strings.Index(string(data), "\n"+field)
			if i < 0 {
				t.Errorf("%s.yaml does not set %s", uc.Name, field)
				continue
			}
			lineStart := strings.LastIndex(string(data[:i]), "\n") + 1
			if !strings.HasPrefix(string(data[lineStart:i]), "# ") {
				t.Errorf("%s.yaml: no comment above %s saying why", uc.Name, field)
			}
		}
	}
}
