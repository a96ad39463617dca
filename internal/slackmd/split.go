package slackmd

import (
	"math"
	"sort"
	"strings"
	"unicode/utf8"
)

// BlockLimit is Slack's limit on a markdown block's text. A longer
// answer goes out as several messages in the thread.
const BlockLimit = 12000

// Split cuts s, safe text (what Safe made of an answer, and the bot's own
// notes after it), into parts of at most limit bytes, each a message of its
// own, preferring paragraph, then line boundaries, then spaces.
//
// A part is read from its own start, so it must read as the whole did
// where the whole showed code: Split reads s with the safety scanner and
// cuts where the scanner's reading allows, between tokens or inside plain
// text, never inside a code span, a link or a mention. A code block cut
// in two is closed at the end of one part and opened again at the start
// of the next, with the same character (backticks or tildes), as many of
// them up to maxFenceRun, and its language only if it is a language's
// name (see fenceTag): a fence line is the model's, and may be longer
// than a message. Then each part is read again by the safety pass: where
// it reads a part otherwise than it read that text in the whole (a fence
// reopened shorter than a longer one, a token too long for any part cut
// inside), the part is what the pass makes of it.
//
// Every part takes at least a byte of s. A part ends past half its room,
// or else before a token that does not fit in what is left of it, which
// the next part starts with: two parts take more than a part's room.
// Only a token longer than a part is cut inside (a code span is then
// closed and opened again), and a reopened fence is a few bytes, however
// long the line that opened it, so an answer of n bytes is at most about
// 2n/limit parts.
//
// It stops at most parts (at least one), leaving the rest of s out: an
// answer is cut at MAX_ANSWER_PARTS messages, and what the thread does not
// take is not split. The parts it makes are the same either way.
func Split(s string, limit, most int) []string {
	if len(s) <= limit {
		return []string{s}
	}
	sp := splitter{text: s, limit: limit, read: reading{text: s}, start: cutState{exact: true}}
	var parts []string
	for sp.at < len(s) && len(parts) < max(most, 1) {
		parts = append(parts, sp.next())
	}
	return parts
}

// splitter cuts one part after another off text.
type splitter struct {
	text  string
	limit int
	at    int      // where the next part's text starts
	start cutState // the whole's reading at at
	read  reading
}

// cutState is the whole's reading at a place text may be cut.
type cutState struct {
	pos int
	// exact says that pos is between tokens, or inside a plain one, so
	// that out is what the safety pass made of text[:pos]. Otherwise pos
	// is inside a token, and the rest is the state before it.
	exact  bool
	out    int
	span   string // the backticks of the code span cut there, if one is
	fence  fence  // the code block open there; n == 0 for none
	tag    string // its language, kept for reopening it
	opened int    // where that block's fence line is
}

// next cuts the next part.
func (sp *splitter) next() string {
	reopen := sp.start.span // a code span cut at the part's start
	if f := sp.start.fence; f.n > 0 {
		reopen = reopenLine(f, sp.start.tag) + "\n"
	}
	if rest := sp.text[sp.at:]; len(reopen)+len(rest) <= sp.limit {
		if p := sp.checked(reopen, rest, "", sp.read.at(len(sp.text))); len(p) <= sp.limit {
			sp.at = len(sp.text)
			return p
		}
		// The pass made the rest longer: it is cut as any part.
	}
	room := sp.limit - len(reopen) // for the part's text and its closing fence
	// Room to close a fence open at the cut, as the usual fence does, and
	// more should the part's fence be longer.
	reserve, closing := len("\n```"), true
	for room-reserve >= 1 {
		c := sp.cut(room - reserve)
		closer := ""
		if closing {
			closer = sp.closer(c)
		}
		if len(closer) > reserve {
			// Room to close the block the part ends in; or, when a fence
			// line leaves none, the block runs to the part's end, as an
			// unclosed block does: its code is still code.
			reserve = len(closer)
			if room-reserve < 1 {
				reserve, closing = 0, false
			}
			continue
		}
		text := strings.TrimRight(sp.text[sp.at:c.pos], "\n")
		p := sp.checked(reopen, text, closer, c)
		if len(p) <= sp.limit {
			sp.moveTo(c)
			return sp.closeOwn(p)
		}
		// The pass made the part longer: cut it shorter, as much as the
		// pass made it longer.
		room = room * sp.limit / len(p)
	}
	// No room for a fence: the part is read as it reads, by the pass; or
	// it is one character, which hides nothing.
	sp.start = cutState{pos: sp.at}
	c := sp.cut(sp.limit)
	if p := sp.checked("", strings.TrimRight(sp.text[sp.at:c.pos], "\n"), "", c); len(p) <= sp.limit {
		sp.moveTo(c)
		return sp.closeOwn(p)
	}
	_, n := utf8.DecodeRuneInString(sp.text[sp.at:])
	p := sp.text[sp.at : sp.at+n]
	sp.moveTo(sp.read.at(sp.at + n))
	return p
}

// checked is the part of text, which ends at c, opened with reopen and
// closed with closer, as it may be posted: itself, when the safety pass
// reads it as it read that text in the whole answer; else what the pass
// makes of it, read as its own message.
func (sp *splitter) checked(reopen, text, closer string, c cutState) string {
	part := reopen + text + closer
	var s scanner
	own, _ := s.scan(part, true)
	if sp.start.exact && c.exact {
		// The pass writes a newline as it is: the text and what the
		// pass made of it end in as many.
		whole := sp.read.out.String()[sp.start.out:c.out]
		whole = whole[:len(whole)-(c.pos-sp.at-len(text))]
		if own == reopen+whole+closer {
			return part
		}
	}
	return own
}

// closeOwn closes the code block p ends in by its own reading, where
// that differs from the whole's (a cut put "~~~" at a line's start), when
// the closing fits.
func (sp *splitter) closeOwn(p string) string {
	var s scanner
	s.scan(p, true)
	if f := s.fence; f.n > 0 && len(p)+1+f.n <= sp.limit {
		return p + "\n" + strings.Repeat(string(f.char), f.n)
	}
	return p
}

// closer is the fence that closes the block the part cut at c ends in, on
// a line of its own, or "": as long as the part's fence line and as far
// in (a line less indented than the block would end it early, in a list
// item), which is reopenLine's when the block was open at the part's
// start.
func (sp *splitter) closer(c cutState) string {
	if c.span != "" {
		return c.span
	}
	f := c.fence
	if f.n == 0 {
		return ""
	}
	if c.opened < sp.at {
		f.n, f.indent = min(f.n, maxFenceRun), 0
	}
	return "\n" + strings.Repeat(" ", f.indent) + strings.Repeat(string(f.char), f.n)
}

// moveTo starts the next part at c, past the newlines there.
func (sp *splitter) moveTo(c cutState) {
	at := c.pos
	for at < len(sp.text) && sp.text[at] == '\n' {
		at++
	}
	sp.at = at
	sp.read.drop(at)
	if c.exact {
		sp.start = sp.read.at(at)
		return
	}
	sp.start = c
	sp.start.pos = at
}

// cut chooses where the part of at most budget bytes ends: after the last
// blank line, line end or space past half the budget where the whole's
// reading allows a cut; else at the last place past half that allows
// one; else before the token at the budget, when it fits a part; else
// inside it.
func (sp *splitter) cut(budget int) cutState {
	budget = max(budget, 1)
	end := min(sp.at+budget, len(sp.text))
	window := sp.text[sp.at:end]
	half := sp.at + budget/2
	for _, sep := range []string{"\n\n", "\n", " "} {
		for w := window; ; {
			i := strings.LastIndex(w, sep)
			if i < 0 || sp.at+i+len(sep) <= half {
				break
			}
			if c := sp.read.at(sp.at + i + len(sep)); c.exact {
				return c
			}
			w = w[:i]
		}
	}
	c := sp.read.last(end)
	if c.exact && c.pos > half {
		return c
	}
	t := sp.read.token(end)
	if c.exact && c.pos > sp.at && t.stop-t.pos <= budget {
		// The token at the budget fits a part: the next one starts with it.
		return c
	}
	return sp.inside(t, end)
}

// inside cuts the token t, longer than a part's room, at or before end:
// a code span is closed there and opened again in the next part, and a
// fence line leaves the next part a fence line. Anything else, cut, reads
// otherwise in its two parts, which the pass then makes safe.
func (sp *splitter) inside(t mark, end int) cutState {
	lo := sp.at
	text := sp.text
	if run := runOf(text[t.pos:], '`'); t.s.fence.n == 0 && !t.s.code && run > 0 {
		switch next := sp.read.at(t.stop); {
		case next.fence.n > 0 && next.opened == t.pos:
			// A fence line too long for a part: what follows the cut is
			// still a fence line.
			end = min(end, t.stop-minFence)
		case t.stop-t.pos > 2*run && runOf(text[t.stop-run:], '`') == run:
			// A code span: cut where neither side of the cut is a
			// backtick, which would run into the ones that close and
			// open it again.
			cut := min(end, t.stop-run-1)
			lo = max(lo, t.pos+run)
			for cut > lo && (text[cut-1] == '`' || text[cut] == '`' || !utf8.RuneStart(text[cut])) {
				cut--
			}
			if cut > lo && cut > sp.at {
				c := sp.read.at(cut)
				c.span = text[t.pos : t.pos+run]
				return c
			}
		}
	}
	cut := end
	for cut > sp.at && cut < len(text) && !utf8.RuneStart(text[cut]) {
		cut--
	}
	if cut <= sp.at {
		// A budget shorter than the first character: the character.
		_, n := utf8.DecodeRuneInString(text[sp.at:])
		cut = sp.at + n
	}
	return sp.read.at(cut)
}

// reading is the safety scanner reading the whole text as one message,
// token by token, as far as the parts need: where each token starts, the
// scanner's state there, and what the pass makes of the text up to it.
type reading struct {
	text string
	// partial says that text may go on: a token that needs more of it
	// stops the reading, which then knows nothing past it.
	partial bool
	stuck   bool
	s       scanner
	tag     string // the language of the block s is in
	opened  int    // where that block's fence line is
	pos     int    // how far it has read
	out     strings.Builder
	marks   []mark
}

// mark is a token of the reading.
type mark struct {
	cutState         // at the token's start
	stop     int     // where it ends
	plain    bool    // its bytes are written as they are: it may be cut inside
	s        scanner // the state before it
}

// advance reads tokens until one starts at to or beyond, or text ends.
func (r *reading) advance(to int) {
	for {
		if n := len(r.marks); n == 0 || r.marks[n-1].pos != r.pos {
			r.marks = append(r.marks, mark{
				cutState: cutState{pos: r.pos, exact: true, out: r.out.Len(), fence: r.s.fence, tag: r.tag, opened: r.opened},
				s:        r.s,
			})
		}
		if r.pos >= to || r.pos == len(r.text) || r.stuck {
			return
		}
		t := r.text[r.pos:]
		plain, wasOpen, was := r.s.plain(t), r.s.fence.n > 0, r.s
		n := r.s.step(&r.out, t, !r.partial)
		if n == more { // only when partial
			r.s, r.stuck = was, true
			return
		}
		if !wasOpen && r.s.fence.n > 0 {
			info := t[n:lineLength(t)]
			r.tag, r.opened = fenceTag(info), r.pos
		}
		if n > 0 {
			m := &r.marks[len(r.marks)-1]
			m.plain = plain
			r.pos += n
			m.stop = r.pos
		}
	}
}

// at is the reading at pos.
func (r *reading) at(pos int) cutState {
	r.advance(pos)
	i := sort.Search(len(r.marks), func(i int) bool { return r.marks[i].pos > pos }) - 1
	m := r.marks[i]
	if m.pos == pos {
		return m.cutState
	}
	c := m.cutState
	if m.plain && utf8.RuneStart(r.text[pos]) {
		c.pos, c.out = pos, m.out+pos-m.pos
		return c
	}
	c.pos, c.exact = pos, false
	return c
}

// token is the token pos is in, or starts.
func (r *reading) token(pos int) mark {
	r.advance(pos + 1)
	i := sort.Search(len(r.marks), func(i int) bool { return r.marks[i].pos > pos }) - 1
	return r.marks[i]
}

// last is the last place at or before end where the reading allows a cut.
func (r *reading) last(end int) cutState {
	if c := r.at(end); c.exact {
		return c
	}
	i := sort.Search(len(r.marks), func(i int) bool { return r.marks[i].pos > end }) - 1
	if m := r.marks[i]; m.plain {
		for cut := end - 1; cut > m.pos; cut-- {
			if utf8.RuneStart(r.text[cut]) {
				return r.at(cut)
			}
		}
	}
	return r.marks[i].cutState
}

// drop forgets the tokens before pos.
func (r *reading) drop(pos int) {
	i := sort.Search(len(r.marks), func(i int) bool { return r.marks[i].pos > pos }) - 1
	if i > 0 {
		r.marks = r.marks[i:]
	}
}

// A reopened fence is bounded whatever the model wrote: its backticks or
// tildes at most maxFenceRun (models write three to five), and its
// language kept only when it is a language's name, at most maxFenceTag
// bytes of fenceTagBytes. A fence line is the model's, and may be longer
// than a message.
const (
	maxFenceRun   = 10
	maxFenceTag   = 20
	fenceTagBytes = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+.#-"
)

// reopenLine is the fence line that opens again a block cut in two.
func reopenLine(f fence, tag string) string {
	return strings.Repeat(string(f.char), min(f.n, maxFenceRun)) + tag
}

// fenceTag is the language an info string names, kept for a reopened
// fence, or "".
func fenceTag(info string) string {
	words := strings.Fields(info)
	if len(words) == 0 || len(words[0]) > maxFenceTag {
		return ""
	}
	for i := range len(words[0]) {
		if strings.IndexByte(fenceTagBytes, words[0][i]) < 0 {
			return ""
		}
	}
	return words[0]
}

// AllParts is Split's most for the bot's own words (a notice, the
// help, what a stopped answer showed and its note), which it knows to be
// short: all of them are posted.
const AllParts = math.MaxInt
