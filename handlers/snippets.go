package handlers

import "github.com/visionbot/visionbot/internal/slackmd"

// codeSnippets are the fenced code blocks of an answer, in order, with the
// language of each fence: the code a developer takes away from it. A block
// the answer ends inside (cut at Gemini's length limit) runs to the end;
// an empty block is none. Fences are told by the one fence rule, the one
// the reply writer splits an answer by (slackmd.CodeBlocks).
func codeSnippets(markdown string) []Snippet {
	var out []Snippet
	for _, b := range slackmd.CodeBlocks(markdown) {
		out = append(out, Snippet{Language: b.Language, Code: b.Code})
	}
	return out
}
