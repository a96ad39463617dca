package slackmd

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// hiddenLinks reads md as a Markdown parser could, independently of the
// scanner, and returns every live link whose visible text is not where it
// leads: a Markdown link or image whose label is neither its host nor its
// URL, a reference definition (which makes some "[text]" a link), or
// Slack's "<url|text>" (live anywhere in the notification's mrkdwn).
//
// It reads md twice, as with and without tables: Slack's markdown block
// documents no tables (docs.slack.dev, "Markdown block"), yet renders GFM
// tables, where a row is cut into cells at every "|" not escaped, even
// inside a code span, before the cells are read. Every line with a "|" is
// taken for a row, which finds more than a parser would, never less.
//
// It is the tests' oracle, so it is written from CommonMark's rules
// rather than from the scanner: fences of three or more backticks or
// tildes, at most three spaces in, closed by a run of the same character
// at least as long; code spans that pair equal backtick runs within a
// paragraph; backslash escapes; nested brackets.
func hiddenLinks(md string) []string {
	var found []string
	for _, m := range mrkdwnLink.FindAllStringSubmatch(md, -1) {
		if !showsHost(m[2], m[1]) {
			found = append(found, m[0])
		}
	}
	for _, tables := range []bool{false, true} {
		for _, c := range prose(md, tables) {
			if c.definition {
				found = append(found, c.text)
				continue
			}
			found = append(found, inlineLinks(c.text)...)
		}
	}
	return found
}

var (
	mrkdwnLink = regexp.MustCompile(`<(https?://[^|>\n]*)\|([^>\n]*)>`)
	definition = regexp.MustCompile(`^ {0,3}\[(?:\\.|[^\]\\])+\]:`)
)

// chunk is text a parser reads inline, or a reference definition.
type chunk struct {
	text       string
	definition bool
}

// prose is md without its fenced code, as the chunks a parser reads
// inline: paragraphs of lines, and with tables the cells of every line
// that has a "|".
func prose(md string, tables bool) []chunk {
	var chunks []chunk
	var para []string
	flush := func() {
		if len(para) > 0 {
			chunks = append(chunks, chunk{text: strings.Join(para, "\n")})
			para = nil
		}
	}
	var open byte
	openRun := 0
	for line := range strings.SplitSeq(md, "\n") {
		char, run, rest := fenceOf(line)
		if open != 0 {
			if char == open && run >= openRun && strings.TrimSpace(rest) == "" {
				open = 0
			}
			continue
		}
		if run >= 3 && (char == '~' || !strings.Contains(rest, "`")) {
			flush()
			open, openRun = char, run
			continue
		}
		if strings.TrimSpace(line) == "" {
			flush()
			continue
		}
		if definition.MatchString(line) {
			flush()
			chunks = append(chunks, chunk{text: line, definition: true})
			continue
		}
		if tables && strings.Contains(line, "|") {
			flush()
			for _, c := range cells(line) {
				chunks = append(chunks, chunk{text: c})
			}
			continue
		}
		para = append(para, line)
	}
	flush()
	return chunks
}

// fenceOf reads a line as a fence: its character and run length (0 when
// it is none), and what follows the run.
func fenceOf(line string) (char byte, run int, rest string) {
	i := 0
	for i < len(line) && i < 4 && line[i] == ' ' {
		i++
	}
	if i > 3 || i == len(line) || (line[i] != '`' && line[i] != '~') {
		return 0, 0, ""
	}
	char = line[i]
	j := i
	for j < len(line) && line[j] == char {
		j++
	}
	return char, j - i, line[j:]
}

// cells cuts a table row at every "|" not escaped, as GFM does before it
// reads the cells, and unescapes "\|" in them.
func cells(line string) []string {
	var out []string
	var cell strings.Builder
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '\\' && i+1 < len(line) && line[i+1] == '|':
			cell.WriteByte('|')
			i++
		case line[i] == '|':
			out = append(out, cell.String())
			cell.Reset()
		default:
			cell.WriteByte(line[i])
		}
	}
	return append(out, cell.String())
}

// inlineLinks finds the links of one chunk of inline text.
func inlineLinks(t string) []string {
	var found []string
	for i := 0; i < len(t); {
		switch t[i] {
		case '\\':
			i += 2
			continue
		case '`':
			run := runOf(t[i:], '`')
			if end := closingRun(t, i+run, run); end >= 0 {
				i = end + run
			} else {
				i += run
			}
			continue
		case '[':
			if label, dest, n := linkAt(t[i:]); n > 0 {
				// A link inside the label is the one a parser makes.
				if inner := inlineLinks(label); len(inner) > 0 {
					found = append(found, inner...)
				} else if !showsHost(label, dest) {
					found = append(found, t[i:i+n])
				}
				i += n
				continue
			}
		}
		i++
	}
	return found
}

// closingRun is where the backtick run of exactly n bytes that closes a
// code span opened before from starts, or -1.
func closingRun(t string, from, n int) int {
	for i := from; i < len(t); {
		if t[i] != '`' {
			i++
			continue
		}
		run := runOf(t[i:], '`')
		if run == n {
			return i
		}
		i += run
	}
	return -1
}

// linkAt reads "[label](destination "title")" at the start of t: n is
// its length, 0 when t starts no inline link.
func linkAt(t string) (label, dest string, n int) {
	depth := 0
	end := -1
	for i := 0; i < len(t) && end < 0; i++ {
		switch t[i] {
		case '\\':
			i++
		case '`':
			run := runOf(t[i:], '`')
			if e := closingRun(t, i+run, run); e >= 0 {
				i = e + run - 1
			} else {
				i += run - 1
			}
		case '[':
			depth++
		case ']':
			depth--
			if depth == 0 {
				end = i
			}
		}
	}
	if end < 0 || end+1 >= len(t) || t[end+1] != '(' {
		return "", "", 0
	}
	rest := t[end+2:]
	i := 0
	for i < len(rest) && (rest[i] == ' ' || rest[i] == '\t' || rest[i] == '\n') {
		i++
	}
	start := i
	if i < len(rest) && rest[i] == '<' {
		j := strings.IndexAny(rest[i+1:], ">\n")
		if j < 0 || rest[i+1+j] != '>' {
			return "", "", 0
		}
		dest, i = rest[i+1:i+1+j], i+2+j
	} else {
		parens := 0
		for ; i < len(rest) && rest[i] > ' '; i++ {
			if rest[i] == '\\' {
				i++
				continue
			}
			if rest[i] == '(' {
				parens++
			} else if rest[i] == ')' {
				if parens == 0 {
					break
				}
				parens--
			}
		}
		dest = rest[start:min(i, len(rest))]
	}
	close := strings.IndexByte(rest[min(i, len(rest)):], ')')
	if close < 0 {
		return "", "", 0
	}
	return t[1:end], dest, end + 2 + i + close + 1
}

// showsHost reports whether a link's visible text says where it leads:
// its host or its URL. A link to no http(s) host leads nowhere a label
// could hide.
func showsHost(label, dest string) bool {
	u, err := url.Parse(strings.TrimSpace(dest))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return true
	}
	bare := func(s string) string {
		s = strings.ToLower(strings.Trim(strings.TrimSpace(s), "`*_~"))
		s = strings.TrimPrefix(strings.TrimPrefix(s, "https://"), "http://")
		return strings.TrimSuffix(s, "/")
	}
	l := bare(label)
	return l == strings.ToLower(u.Hostname()) || l == bare(dest)
}

// The oracle finds what it is for: every hidden link of these, and none
// of what the safety pass makes of them.
func TestHiddenLinksFindsThem(t *testing.T) {
	for _, md := range []string{
		"[https://good.com](https://evil.com)",
		"<https://evil.com|good.com>",
		"see ![logo](https://evil.com/a.png)",
		"[Sign in][1]\n\n[1]: https://evil.com",
		"`a`\n[x](https://evil.com)",
		"``` js\n```\n[x](https://evil.com)",
		"~~~\n```\n~~~\n[x](https://evil.com)",
		"| `a | [x](https://evil.com)` |\n|---|---|",
		"[a `]` b](https://evil.com)",
	} {
		if len(hiddenLinks(md)) == 0 {
			t.Errorf("hiddenLinks(%q) found none", md)
		}
	}
	for _, md := range []string{
		"[evil.com](https://evil.com)", "x ([evil.com](https://evil.com/a))", "`[x](https://evil.com)`",
		"```\n[x](https://evil.com)\n```", "````\n```\n[x](https://evil.com)\n````", "\\[x](https://evil.com)",
		"[x\\](https://evil.com)", "<https://evil.com>", "[x](javascript:alert(1))",
	} {
		if got := hiddenLinks(md); len(got) > 0 {
			t.Errorf("hiddenLinks(%q) = %q, want none", md, got)
		}
	}
}

func TestSafeCasesShowTheirHosts(t *testing.T) {
	for _, c := range safeCases() {
		if got := hiddenLinks(Safe(c.said)); len(got) > 0 {
			t.Errorf("%s: Safe(%q) = %q hides %q", c.name, c.said, Safe(c.said), got)
		}
	}
}
