package slackmd

import "unicode/utf8"

// Cut is s when it is at most max bytes long, else its longest start
// that leaves room for mark within max, then mark: never a character cut
// in two. It is the one truncation of the tree by bytes.
func Cut(s string, max int, mark string) string {
	if len(s) <= max {
		return s
	}
	n := max - len(mark)
	if n < 0 {
		return ""
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + mark
}

// CutChars is Cut counted in characters, as Block Kit's limits are.
func CutChars(s string, max int, mark string) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	n := max - utf8.RuneCountInString(mark)
	if n < 0 {
		return ""
	}
	i := 0
	for range n {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return s[:i] + mark
}

// notificationLimit bounds the plain text that notifications and screen
// readers show for a message whose content is in its blocks.
const notificationLimit = 3000

// Notification is the plain fallback of a markdown message.
func Notification(markdown string) string {
	return Cut(markdown, notificationLimit+len("…"), "…")
}
