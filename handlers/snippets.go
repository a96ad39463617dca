package handlers

import "strings"

// codeSnippets are the fenced code blocks of an answer, in order, with the
// language of each fence: the code a developer takes away from it. A block
// the answer ends inside (cut at Gemini's length limit) runs to the end;
// an empty block is none. Fences are told as the reply writer tells them
// when it splits an answer: any line that starts with ``` opens or closes.
func codeSnippets(markdown string) []Snippet {
	var out []Snippet
	var code strings.Builder
	language, open := "", false
	done := func() {
		if strings.TrimSpace(code.String()) != "" {
			out = append(out, Snippet{Language: language, Code: code.String()})
		}
		code.Reset()
	}
	for line := range strings.SplitSeq(markdown, "\n") {
		info, fence := strings.CutPrefix(strings.TrimSpace(line), "```")
		switch {
		case fence && open:
			done()
			open = false
		case fence:
			language, open = "", true
			if words := strings.Fields(info); len(words) > 0 {
				language = strings.ToLower(words[0])
			}
		case open:
			code.WriteString(line + "\n")
		}
	}
	if open {
		done()
	}
	return out
}
