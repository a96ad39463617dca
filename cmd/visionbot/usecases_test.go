package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/visionbot/visionbot/internal/geminiemu"
	"github.com/visionbot/visionbot/internal/slackemu"
)

// exampleUseCase is the custom use case the README shows in full.
func exampleUseCase(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "deploy", "usecases", "wine.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// promptsDir writes use-case files into a new folder.
func promptsDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const bakingRecipe = "name: recipe\naliases: [bake]\ndescription: Baking only.\nsystem: You are a pastry chef.\nprompt: Write a baking recipe.\n"

func TestCustomUseCases(t *testing.T) {
	t.Parallel()

	dir := promptsDir(t, map[string]string{"wine.yaml": string(exampleUseCase(t)), "recipe.yaml": bakingRecipe})

	t.Run("the README shows the example file as it is", func(t *testing.T) {
		t.Parallel()

		readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(readme), string(exampleUseCase(t))) {
			t.Error("README.md does not show deploy/usecases/wine.yaml verbatim")
		}
	})

	t.Run("usecases lists the added and the replaced ones", func(t *testing.T) {
		t.Parallel()

		stdout, _, code, err := runCommand(t, map[string]string{"PROMPTS_DIR": dir}, "usecases")
		if code != 0 {
			t.Fatalf("exit status %d: %v", code, err)
		}
		lines := map[string]string{}
		for _, line := range strings.Split(stdout, "\n") {
			if f := strings.Fields(line); len(f) > 0 {
				lines[f[0]] = line
			}
		}
		for name, want := range map[string][]string{
			"wine":     {"pairing, sommelier", "wine.yaml", "Suggest a wine"},
			"recipe":   {"bake", "recipe.yaml", "Baking only."},
			"describe": {"(default)", "built-in"},
		} {
			for _, w := range want {
				if !strings.Contains(lines[name], w) {
					t.Errorf("the %s line lacks %q: %q", name, w, lines[name])
				}
			}
		}
		if strings.Contains(lines["recipe"], "cook") {
			t.Errorf("the replaced recipe keeps the built-in's aliases: %q", lines["recipe"])
		}
	})

	t.Run("analyze uses a custom use case by its alias", func(t *testing.T) {
		t.Parallel()

		g := geminiemu.New()
		defer g.Close()
		photo := localFiles(t, map[string][]byte{"dish.png": slackemu.MakePNG(16, 12)})["dish.png"]
		env := map[string]string{"PROMPTS_DIR": dir, "GEMINI_API_KEY": testAPIKey, "GOOGLE_GEMINI_BASE_URL": g.URL()}
		if _, _, code, err := runCommand(t, env, "analyze", "-use-case", "pairing", photo); code != 0 {
			t.Fatalf("exit status %d: %v", code, err)
		}
		if sys := lastStream(t, g).SystemInstruction.Parts[0].Text; !strings.Contains(sys, "friendly sommelier") {
			t.Errorf("system instruction = %.80q…, want wine.yaml's", sys)
		}
	})

	t.Run("the bot answers with the replaced built-in", func(t *testing.T) {
		t.Parallel()

		h := startBot(t, map[string]string{"PROMPTS_DIR": dir})
		h.gemini.Script(geminiemu.Reply{Text: "A tart."})
		mentionWithPhoto(t, h, "1700000000.000100", "<@"+slackemu.BotUserID+"> bake something like this")
		h.waitLog(t, 1, `"use_case":"recipe"`, `"outcome":"ok"`)
		if sys := streamRequests(t, h.gemini)[0].SystemInstruction.Parts[0].Text; sys != "You are a pastry chef." {
			t.Errorf("system instruction = %q, want the custom recipe's", sys)
		}
	})
}

func TestBadCustomUseCasesStopTheStart(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name  string
		dir   func(t *testing.T) string
		wants []string
	}{
		{"a file without a prompt", func(t *testing.T) string {
			return promptsDir(t, map[string]string{"good.yaml": bakingRecipe, "bad.yaml": "name: broken\nsystem: s\n"})
		}, []string{"bad.yaml", "missing prompt"}},
		{"an unknown field", func(t *testing.T) string {
			return promptsDir(t, map[string]string{"typo.yaml": "name: x\nsytem: s\nprompt: p\n"})
		}, []string{"typo.yaml", "sytem"}},
		{"an alias a built-in has", func(t *testing.T) string {
			return promptsDir(t, map[string]string{"baking.yaml": "name: baking\naliases: [cook]\nsystem: s\nprompt: p\n"})
		}, []string{"baking.yaml", `"cook"`, `"recipe" (built-in)`}},
		{"a folder with no use case", func(t *testing.T) string { return t.TempDir() }, []string{"holds no .yaml"}},
		{"no folder", func(t *testing.T) string { return filepath.Join(t.TempDir(), "missing") }, []string{"missing is not a folder"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			dir := tt.dir(t)
			// Nothing answers at these addresses: the start stops before any call.
			env := map[string]string{"PROMPTS_DIR": dir, "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1",
				"GEMINI_API_KEY": "k", "SLACK_API_URL": "http://127.0.0.1:1/api/", "GOOGLE_GEMINI_BASE_URL": "http://127.0.0.1:1"}
			for _, command := range []string{"run", "usecases"} {
				_, _, code, err := runCommand(t, env, command)
				if code != 2 {
					t.Errorf("%s: exit status %d (%v), want 2", command, code, err)
					continue
				}
				for _, w := range append(tt.wants, "PROMPTS_DIR") {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("%s: the error lacks %q: %v", command, w, err)
					}
				}
			}
		})
	}
}
