package slackmd

import (
	"math"
	"strings"
	"unicode/utf8"
)

// BlockLimit is Slack's limit on a markdown block's text. A longer
// answer goes out as several messages in the thread.
const BlockLimit = 12000

// notificationLimit bounds the plain text that notifications and screen
// readers show for a message whose content is in its blocks.
const notificationLimit = 3000

// Split cuts s into parts of at most limit bytes, preferring
// paragraph, then line boundaries, and keeping code fences balanced: a
// fence cut in two is closed at the end of one part and opened again, with
// its language, at the start of the next.
//
// Every part takes at least a byte of s, and almost half a part's room
// (see cutPoint): what a fence reopens with is a few bytes, however long
// the line that opened it (see openFence), so an answer of n bytes is at
// most about 2n/limit parts. A limit too small to close and reopen a fence
// (under 43 bytes: maxFenceRun and maxFenceTag) cuts them as any text.
//
// It stops at most parts (at least one), leaving the rest of s out: an
// answer is cut at MAX_ANSWER_PARTS messages, and what the thread does not
// take is not split. The parts it makes are the same either way.
func Split(s string, limit, most int) []string {
	if len(s) <= limit {
		return []string{s}
	}
	var parts []string
	reopen := "" // the fence line to open the next part with
	for len(s) > 0 && len(parts) < max(most, 1) {
		if len(reopen)+len(s) <= limit {
			parts = append(parts, reopen+s)
			break
		}
		part, rest, next := cutPart(s, reopen, limit)
		parts = append(parts, part)
		s, reopen = rest, next
	}
	return parts
}

// cutPart cuts the next part off s, opened with reopen, into at most limit
// bytes; it returns the part, the rest of s, and the fence line to open
// the rest with. len(reopen)+len(s) is more than limit.
func cutPart(s, reopen string, limit int) (part, rest, next string) {
	// Leave room to close a fence that is open at the cut: as the usual
	// fence does, or as the one the part turns out to end in.
	reserve := len("\n```")
	for {
		budget := limit - len(reopen) - reserve
		if budget < 1 {
			break
		}
		cut := cutPoint(s, budget)
		part = reopen + strings.TrimRight(s[:cut], "\n")
		f, open := openFence(part)
		if !open {
			return part, strings.TrimLeft(s[cut:], "\n"), ""
		}
		closing := "\n" + f.run
		if len(part)+len(closing) <= limit {
			return part + closing, strings.TrimLeft(s[cut:], "\n"), f.line() + "\n"
		}
		// The part's fence is longer than the room left for it: as part
		// fits in limit-reserve bytes, reserve grows each time, up to
		// the longest closing there is.
		reserve = len(closing)
	}
	// No room for fences: the part is text, cut as any.
	if len(s) <= limit {
		return s, "", ""
	}
	cut := cutPoint(s, limit)
	return strings.TrimRight(s[:cut], "\n"), strings.TrimLeft(s[cut:], "\n"), ""
}

// cutPoint returns where to cut s so that s[:cut] fits in budget bytes:
// at least 1, and more than budget/2 unless s has no boundary there and a
// rune is cut short (then at least budget-3). len(s) is more than budget.
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

// A reopened fence is bounded whatever the model wrote: its backticks at
// most maxFenceRun (models write three to five), and its language kept
// only when it is a language's name, at most maxFenceTag bytes of
// fenceTagBytes. A fence line is the model's, and may be longer than a
// message.
const (
	maxFenceRun   = 10
	maxFenceTag   = 20
	fenceTagBytes = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+.#-"
)

// codeFence is how a part reopens a code block cut in two, and closes it.
type codeFence struct {
	run string // the backticks, as many as the block opened with, up to maxFenceRun
	tag string // its language, or ""
}

func (f codeFence) line() string { return f.run + f.tag }

// openFence reports whether text ends inside a ``` code block, and the
// fence (its backticks and language, bounded) that opened it.
func openFence(text string) (codeFence, bool) {
	var fence codeFence
	open := false
	for line := range strings.SplitSeq(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if !strings.HasPrefix(trimmed, "```") {
			continue
		}
		if open {
			open = false
			continue
		}
		open = true
		run := len(trimmed) - len(strings.TrimLeft(trimmed, "`"))
		fence = codeFence{run: trimmed[:min(run, maxFenceRun)]}
		if words := strings.Fields(trimmed[run:]); len(words) > 0 && fenceTag(words[0]) {
			fence.tag = words[0]
		}
	}
	return fence, open
}

// fenceTag reports whether word may be kept as a reopened fence's language.
func fenceTag(word string) bool {
	if len(word) > maxFenceTag {
		return false
	}
	for i := range len(word) {
		if !strings.ContainsRune(fenceTagBytes, rune(word[i])) {
			return false
		}
	}
	return true
}

// AllParts is Split's most for the bot's own words (a notice, the
// help, what a stopped answer showed and its note), which it knows to be
// short: all of them are posted.
const AllParts = math.MaxInt

// Notification is the plain fallback of a markdown message.
func Notification(markdown string) string {
	if len(markdown) <= notificationLimit {
		return markdown
	}
	cut := notificationLimit
	for cut > 0 && !utf8.RuneStart(markdown[cut]) {
		cut--
	}
	return markdown[:cut] + "…"
}
