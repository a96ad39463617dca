package slackmd

// Preview is the start of md, safe text still being written, that may be
// shown now in at most max bytes: all of it when it fits, else up to
// where the safety scanner allows a cut, never inside a code span, a
// link or a mention, whose Markdown a cut would change (an unpaired
// backtick shows what the span held as prose, its links live). A token
// md does not complete yet is not shown, so a longer md may be cut before
// the end of a shorter one that fitted. settled says that no more of md
// can move the cut: it is what Preview makes of any longer md.
func Preview(md string, max int) (shown string, settled bool) {
	if len(md) <= max {
		return md, false
	}
	r := reading{text: md, partial: true}
	c := r.last(max)
	return md[:c.pos], !r.stuck
}
