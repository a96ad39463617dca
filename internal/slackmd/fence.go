package slackmd

import "strings"

// The one fence rule, CommonMark's: a code block opens on a line of three
// or more backticks or tildes, at most three spaces in, and closes on a
// line of the same character, at least as long, with nothing after it
// but spaces. A backtick fence's info string has no backtick (it would be
// a code span). The safety scanner, the splitter and CodeBlocks all read
// fences by it.
const (
	minFence       = 3
	maxFenceIndent = 3
)

// fence is a code block's opening fence.
type fence struct {
	char   byte // '`' or '~'
	n      int  // its length
	indent int  // the column it starts at
}

// infoFits reports whether info may follow a run of char on a fence line.
func infoFits(char byte, info string) bool {
	return char == '~' || !strings.Contains(info, "`")
}

// closedBy reports whether a run of run of the block's character, then
// rest, closes the block.
func (f fence) closedBy(run int, rest string) bool {
	return run >= f.n && strings.Trim(rest, " \t") == ""
}

// openingFence reads line as an opening fence: the fence and its info
// string, ok false when it opens none.
func openingFence(line string) (f fence, info string, ok bool) {
	j, col := indentOf(line)
	if col > maxFenceIndent || j == len(line) || (line[j] != '`' && line[j] != '~') {
		return fence{}, "", false
	}
	run := runOf(line[j:], line[j])
	info = line[j+run:]
	if run < minFence || !infoFits(line[j], info) {
		return fence{}, "", false
	}
	return fence{char: line[j], n: run, indent: col}, info, true
}

// closes reports whether line closes the block f opened.
func (f fence) closes(line string) bool {
	j, col := indentOf(line)
	if col > maxFenceIndent || j == len(line) || line[j] != f.char {
		return false
	}
	run := runOf(line[j:], f.char)
	return f.closedBy(run, line[j+run:])
}

// indentOf is where line's indentation ends, in bytes and in columns
// (a tab to the next multiple of four).
func indentOf(line string) (j, col int) {
	for j < len(line) && (line[j] == ' ' || line[j] == '\t') {
		if line[j] == '\t' {
			col += 4 - col%4
		} else {
			col++
		}
		j++
	}
	return j, col
}

// Block is a fenced code block of an answer: its code, as written, and
// the language its fence names ("" for none), lowercased.
type Block struct {
	Language string
	Code     string
}

// CodeBlocks are the fenced code blocks of md, in order, read by the one
// fence rule: the code a developer takes away from an answer. A block md
// ends inside (cut at the model's length limit) runs to the end; an empty
// block is none.
func CodeBlocks(md string) []Block {
	var out []Block
	var code strings.Builder
	var open fence
	language := ""
	done := func() {
		if strings.TrimSpace(code.String()) != "" {
			out = append(out, Block{Language: language, Code: code.String()})
		}
		code.Reset()
	}
	for line := range strings.SplitSeq(md, "\n") {
		switch {
		case open.n > 0 && open.closes(line):
			done()
			open = fence{}
		case open.n > 0:
			code.WriteString(line + "\n")
		default:
			if f, info, ok := openingFence(line); ok {
				open, language = f, ""
				if words := strings.Fields(info); len(words) > 0 {
					language = strings.ToLower(words[0])
				}
			}
		}
	}
	if open.n > 0 {
		done()
	}
	return out
}
