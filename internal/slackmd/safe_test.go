package slackmd

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// j is the word joiner that defuses a mention, written short for the
// tables.
const j = joiner

// safeCases are what the model may write and what is posted of it.
func safeCases() []struct{ name, said, want string } {
	long := strings.Repeat("x", 300)
	return []struct{ name, said, want string }{
		// Links show their real host, whatever text the model gave them.
		{"a Markdown link", "[Sign in to Slack](https://evil.example/login)",
			"Sign in to Slack ([evil.example](https://evil.example/login))"},
		{"Slack's link", "<https://evil.example|https://slack.com>",
			"https://slack.com ([evil.example](https://evil.example))"},
		{"Slack's link with words", "Go <https://evil.example/x|Sign in to Slack> now",
			"Go Sign in to Slack ([evil.example](https://evil.example/x)) now"},
		{"an image", "![Sign in](https://evil.example/a.png)", "Sign in ([evil.example](https://evil.example/a.png))"},
		{"a title is dropped", `[Docs](https://docs.example/a "Slack")`, "Docs ([docs.example](https://docs.example/a))"},
		{"an empty label", "[](https://evil.example/)", "[evil.example](https://evil.example/)"},
		{"a label that is the host", "[Docs.example](https://docs.example)", "[docs.example](https://docs.example)"},
		{"a label that is the URL", "[https://docs.example/a](https://docs.example/a)", "[docs.example](https://docs.example/a)"},
		{"userinfo before the host", "[Slack](https://slack.com@evil.example/login)",
			"Slack ([evil.example](https://slack.com@evil.example/login))"},
		{"an entity in the URL", "[Slack](https://slack.com&#64;evil.example/)",
			"Slack ([evil.example](https://slack.com@evil.example/))"},
		{"a look-alike host shows as punycode", "[Slack](https://slаck.com/)", // Cyrillic а
			"Slack ([xn--slck-63d.com](https://xn--slck-63d.com/))"},
		{"a port", "[app](http://evil.example:8080/x)", "app ([evil.example](http://evil.example:8080/x))"},
		{"a pipe can't become Slack's label", "[x](https://evil.example/a|https://slack.com)",
			"x ([evil.example](https://evil.example/a%7Chttps://slack.com))"},
		{"parentheses in the URL", "[Paris](https://en.wikipedia.org/wiki/Paris_(city))",
			"Paris ([en.wikipedia.org](https://en.wikipedia.org/wiki/Paris_%28city%29))"},
		{"a link inside a label", "[[Slack](https://slack.com)](https://evil.example)",
			"Slack ([slack.com](https://slack.com)) ([evil.example](https://evil.example))"},
		{"a bare URL stays", "See https://docs.example/a.", "See https://docs.example/a."},
		{"an autolink stays", "See <https://docs.example/a>.", "See <https://docs.example/a>."},
		// Nothing but http(s) becomes a link.
		{"javascript:", "[click](javascript:alert(1))", `[click\](javascript:alert(1))`},
		{"Slack's link to javascript:", "<javascript:alert(1)|Slack>", "Slack (javascript:alert(1))"},
		{"slack://", "<slack://open?team=T1>", "slack://open?team=T1"},
		{"a data: autolink", "<data:text/html,hi>", "data:text/html,hi"},
		{"a relative link", "[docs](./docs)", `[docs\](./docs)`},
		{"a URL without a host", "[Slack](https:evil.example)", `[Slack\](https:evil.example)`},
		// A link this code does not rewrite can't be one either.
		{"a reference definition", "[Sign in][1]\n\n[1]: https://evil.example", "[Sign in][1]\n\n[1\\]: https://evil.example"},
		{"a label over two lines", "[Sign in\nto Slack](https://evil.example)", "[Sign in\nto Slack\\](https://evil.example)"},
		{"a space before the URL", "[Sign in] (https://evil.example)", `[Sign in\] (https://evil.example)`},
		{"a label too long to look for", "[" + strings.Repeat("x", maxLabel+1) + "](https://evil.example)",
			"[" + strings.Repeat("x", maxLabel+1) + "\\](https://evil.example)"},
		{"an unclosed Slack link", "<https://evil.example|Sign in\nto Slack>", "&lt;https://evil.example|Sign in\nto Slack>"},
		// Text that only looks like links stays as it is.
		{"brackets", "a[i] and - [ ] todo, [x] done, [see below]", "a[i] and - [ ] todo, [x] done, [see below]"},
		{"an email", "me@example.com", "me@example.com"},
		{"a comparison", "if a < b and c > d", "if a < b and c > d"},
		// Code is shown literally: its Markdown is left alone.
		{"a code span", "Use `[x](https://evil.example)` and `f[0](x)`", "Use `[x](https://evil.example)` and `f[0](x)`"},
		{"a fenced block", "```js\nf[0](x);\n// [a](https://evil.example)\n<!DOCTYPE html>\n```\nok",
			"```js\nf[0](x);\n// [a](https://evil.example)\n<!DOCTYPE html>\n```\nok"},
		{"a block in a list item", "1. Run:\n   ```ts\n   const m: { [k: string]: number } = {}\n   ```\n2. [Docs](https://docs.example)",
			"1. Run:\n   ```ts\n   const m: { [k: string]: number } = {}\n   ```\n2. Docs ([docs.example](https://docs.example))"},
		{"a tilde fence", "~~~\n[a](https://evil.example)\n~~~", "~~~\n[a](https://evil.example)\n~~~"},
		{"an unclosed block runs to the end", "```\n[a](https://evil.example)", "```\n[a](https://evil.example)"},
		{"a pipe in a code span", "Run `ls | grep [x](https://evil.example)`",
			"Run `ls `\\|` grep [x](https://evil.example)`"},
		{"a code span of pipes", "`|` and `` a|`b` ``", "\\| and `` a``\\|`` `b`  ``"},
		{"Slack's syntax in code", "`<!channel>` and\n```\n<@U123> <https://evil.example|slack.com>\n```",
			"`@" + j + "channel` and\n```\n@" + j + "U123 slack.com ([evil.example](https://evil.example))\n```"},
		// Code no parser could take otherwise.
		{"a lone backtick", "a ` b", "a \\` b"},
		{"a code span over two lines", "`a\n[Sign](https://evil.example)`", "\\`a\nSign ([evil.example](https://evil.example))\\`"},
		{"a backtick in an HTML attribute", "<a title=\"`\">[Sign](https://evil.example)`",
			"<a title=\"\\`\">Sign ([evil.example](https://evil.example))\\`"},
		{"a line less indented than its block", "- a\n  ```\n  x\n[Sign](https://evil.example)\n```\n[In](https://evil.example)",
			"- a\n  ```\n  x\nSign ([evil.example](https://evil.example))\n```\nIn ([evil.example](https://evil.example))"},
		{"an HTML block before a fence", "<div>\n```\n\n[Sign](https://evil.example)",
			"<div>\n```\n\nSign ([evil.example](https://evil.example))"},
		{"a line that starts with a mention or a URL is no HTML", "<!here> look\n<https://docs.example>\n```\nf[0](x)\n```",
			"@" + j + "here look\n<https://docs.example>\n```\nf[0](x)\n```"},
		{"a closing fence too far in", "- a\n   ```\n   x\n     ```\n   [Sign](https://evil.example)",
			"- a\n   ```\n   x\n     ```\n   Sign ([evil.example](https://evil.example))"},
		// Mentions notify nobody.
		{"Slack's mentions", "Hey <!channel>, <@U999>, <@U1|bob> and <!subteam^S1|@team>",
			"Hey @" + j + "channel, @" + j + "U999, @" + j + "bob and @" + j + "team"},
		{"the broadcast words", "@here @Channel @everyone @hereford", "@" + j + "here @" + j + "Channel @" + j + "everyone @" + j + "hereford"},
		{"a long labelled mention", "<!channel|" + long + ">", "@" + j + long},
		{"a link in a mention's label", "<!here|[Sign in](https://evil.example)>", "@" + j + "Sign in ([evil.example](https://evil.example))"},
		{"an unclosed mention", "<!channel oops\nnext>", "<!" + j + "channel oops\nnext>"},
		{"a mention after a backslash", `\<!here> \@here`, `\@` + j + `here \@` + j + "here"},
		// The answer is trimmed.
		{"whitespace", "\n  Pasta  \n", "Pasta"},
	}
}

func TestSafe(t *testing.T) {
	for _, tt := range safeCases() {
		t.Run(tt.name, func(t *testing.T) {
			if got := Safe(tt.said); got != tt.want {
				t.Errorf("Safe(%q)\n got %q\nwant %q", tt.said, got, tt.want)
			}
		})
	}
}

// An answer streamed in pieces shows only a prefix of what Safe makes
// of the whole, and all of it once it ends, wherever the pieces are cut: a
// native stream can't take text back.
func TestStreamShowsAPrefix(t *testing.T) {
	texts := []string{
		"## Spaghetti\n\nBoil water. See [the recipe](https://food.example/r?a=1&b=2) or <https://food.example|Food>.\n\n" +
			"```python\nd[k](v)\n```\n1. Mix `a[0](b)` @here\n2. <@U1|bob> <!channel|" + strings.Repeat("y", 400) + "> done",
		"  \n- [ ] one\n- [x] two ![img](https://img.example/a.png \"t\")\n\n~~~\n<!DOCTYPE html>\n~~~\n\\[not a link](x) `` a`b ``",
	}
	for _, c := range safeCases() {
		texts = append(texts, c.said)
	}
	r := rand.New(rand.NewPCG(14, 8))
	for _, text := range texts {
		want := Safe(text)
		for try := range 40 {
			var s Stream
			var shown strings.Builder
			for i := 0; i < len(text); {
				n := 1 + try%9
				if try >= 9 {
					n = 1 + r.IntN(24)
				}
				n = min(n, len(text)-i)
				shown.WriteString(s.Write(text[i : i+n]))
				if !strings.HasPrefix(want, shown.String()) {
					t.Fatalf("streaming %q: shown %q is not a prefix of %q", text, shown.String(), want)
				}
				i += n
			}
			if got := s.End(); got != want {
				t.Fatalf("streaming %q: ended with %q, want %q", text, got, want)
			}
		}
	}
}

// What can no longer change is shown at once: text that only looks like
// a link or code does not hold the stream back.
func TestStreamDoesNotStall(t *testing.T) {
	tests := []struct{ written, shown string }{
		{"Use a[i] then", "Use a[i] then"},
		{"- [ ] buy milk", "- [ ] buy milk"},
		{"see [docs] and", "see [docs] and"},
		{"`code` and", "`code` and"},
		{"```go\nx := 1", "```go\nx := 1"},
		{"one\ntwo", "one\ntwo"},
		{"Hi @ex", "Hi @ex"},
		{"Hi [Sign in](https://evil.example/login) now", "Hi Sign in ([evil.example](https://evil.example/login)) now"},
		// What the rest could still rewrite waits.
		{"Hi [Sign in", "Hi "},
		{"Hi [Sign in](https://evil.ex", "Hi "},
		{"Hi <!channel|" + strings.Repeat("x", 300), "Hi "},
		{"Hi @ev", "Hi "},
		{"Hi `code", "Hi "},
		{"```go", ""},
		{"Done!", "Done"},
		{"[" + strings.Repeat("x", maxLabel+1), "[" + strings.Repeat("x", maxLabel+1)},
	}
	for _, tt := range tests {
		var s Stream
		if got := s.Write(tt.written); got != tt.shown {
			t.Errorf("write(%q) shows %q, want %q", tt.written, got, tt.shown)
		}
	}
}

// Audit #4: a "|" inside a code span on a line that looks like a table
// row ends the span wherever tables render, leaving what the span held
// as prose.
func TestTableRowsCantEndCodeSpans(t *testing.T) {
	for _, said := range []string{
		"| a | b |\n|---|---|\n| `x | [https://good.com](https://evil.com)` | c |",
		"`ls | [Sign in](https://evil.com)`\n---|---",
		"| `` a|`[x](https://evil.com)` `` |\n|-|",
		"| " + Code("a | [https://good.com](https://evil.com)") + " |\n|-|",
	} {
		if got := hiddenLinks(Safe(said)); len(got) > 0 {
			t.Errorf("Safe(%q) = %q hides %q", said, Safe(said), got)
		}
	}
}

// What the bot writes itself: nothing in what it writes about can break
// out of it.
func TestBotsOwnMarkdown(t *testing.T) {
	tests := []struct{ got, want string }{
		{Link("accuweather.com", "https://vertexaisearch.cloud.google.com/r/Ab1"), "[accuweather.com](https://vertexaisearch.cloud.google.com/r/Ab1)"},
		{Link("a]b[c", "https://x.example/a b)|c"), "[abc](https://x.example/a%20b%29%7Cc)"},
		{Code("photo.png"), "`photo.png`"},
		{Code("a`b <!here>.png"), "`a'b @" + j + "here.png`"},
		{Code("a | [x](https://evil.example).png"), "`a `\\|` [x](https://evil.example).png`"},
		{Mention("U123"), "<@U123>"},
		{Date("1700000000.000100", "earlier"), "<!date^1700000000^{date_short_pretty} at {time}|earlier>"},
		{Date("not a ts", "earlier"), "earlier"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
