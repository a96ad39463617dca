package slackapi

import (
	"strings"
	"unicode/utf8"
)

// markdownBlockLimit is Slack's limit on a markdown block's text. A longer
// answer goes out as several messages in the thread.
const markdownBlockLimit = 12000

// notificationLimit bounds the plain text that notifications and screen
// readers show for a message whose content is in its blocks.
const notificationLimit = 3000

// splitMarkdown cuts s into parts of at most limit bytes, preferring
// paragraph, then line boundaries, and keeping code fences balanced: a
// fence cut in two is closed at the end of one part and opened again, with
// its language, at the start of the next.
func splitMarkdown(s string, limit int) []string {
	if len(s) <= limit {
		return []string{s}
	}
	var parts []string
	reopen := "" // the fence line to open the next part with
	for len(s) > 0 {
		budget := limit - len(reopen)
		if len(s) <= budget {
			parts = append(parts, reopen+s)
			break
		}
		// Leave room to close a fence that is open at the cut.
		const closing = "\n```"
		cut := cutPoint(s, budget-len(closing))
		part := reopen + strings.TrimRight(s[:cut], "\n")
		s = strings.TrimLeft(s[cut:], "\n")
		if fence, open := openFence(part); open {
			part += closing
			reopen = fence + "\n"
		} else {
			reopen = ""
		}
		parts = append(parts, part)
	}
	return parts
}

// cutPoint returns where to cut s so that s[:cut] fits in budget bytes.
func cutPoint(s string, budget int) int {
	if budget <= 0 {
		budget = 1
	}
	window := s[:budget]
	// A boundary in the first half would make needlessly small parts.
	for _, sep := range []string{"\n\n", "\n", " "} {
		if i := strings.LastIndex(window, sep); i > budget/2 {
			return i + len(sep)
		}
	}
	// No boundary: cut on a rune boundary.
	cut := budget
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	if cut == 0 {
		cut = budget
	}
	return cut
}

// openFence reports whether text ends inside a ``` code block, and the
// fence line (with its language) that opened it.
func openFence(text string) (string, bool) {
	fence, open := "", false
	for line := range strings.SplitSeq(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if !strings.HasPrefix(trimmed, "```") {
			continue
		}
		if open {
			open = false
		} else {
			fence, open = trimmed, true
		}
	}
	return fence, open
}

// notificationText is the plain fallback of a markdown message.
func notificationText(markdown string) string {
	if len(markdown) <= notificationLimit {
		return markdown
	}
	cut := notificationLimit
	for cut > 0 && !utf8.RuneStart(markdown[cut]) {
		cut--
	}
	return markdown[:cut] + "…"
}
