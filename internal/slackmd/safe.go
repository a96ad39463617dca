package slackmd

import (
	"html"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/net/idna"
)

// Safe is what of the model's words may be posted: its links show their
// host, its mentions notify nobody, its code stays as written (see the
// package's doc). The answer is trimmed of surrounding whitespace.
func Safe(said string) string {
	var s Stream
	s.Write(said)
	return s.End()
}

// Stream is Safe for an answer that arrives in pieces: Write releases what
// can no longer change, holding back any tail that the rest could still
// rewrite (an unclosed "<...", a "[" before its "](url)", a backtick
// before its pair, a line that may open a code block), and End releases
// the rest. What it releases is always a prefix of Safe of the whole
// answer: a native stream can't take text back. The zero Stream is ready.
type Stream struct {
	doc     scanner
	pending string // received, not decided yet
	space   string // whitespace after pending: the answer is trimmed
	started bool   // past the answer's leading whitespace
	out     strings.Builder
}

// whitespace is what an answer is trimmed of.
const whitespace = " \t\r\n"

// Write takes the next piece of the answer and returns what may be shown.
func (p *Stream) Write(delta string) string {
	if !p.started {
		delta = strings.TrimLeft(delta, whitespace)
		if delta == "" {
			return ""
		}
		p.started = true
	}
	body := strings.TrimRight(delta, whitespace)
	if body == "" {
		p.space += delta
		return ""
	}
	p.pending += p.space + body
	p.space = delta[len(body):]
	safe, used := p.doc.scan(p.pending, false)
	p.pending = p.pending[used:]
	p.out.WriteString(safe)
	return safe
}

// End takes the answer as complete and returns all of it, made safe.
func (p *Stream) End() string {
	safe, _ := p.doc.scan(p.pending, true)
	p.pending, p.space = "", ""
	p.out.WriteString(safe)
	return p.out.String()
}

// joiner (U+2060, word joiner) after an "@" keeps a mention from pinging
// while it reads the same.
const joiner = "\u2060"

// scanner rewrites text token by token. scan stops before a token whose
// rewriting depends on text not received yet; its state is only changed by
// the tokens it consumed, so the rest can be scanned later.
type scanner struct {
	midLine   bool  // past the start of the line (the zero value starts a text)
	fence     fence // the fenced code block the text is in; n == 0 for none
	untrusted bool  // no fence is taken as code any more
	code      bool  // all of the text is code: a code span's content
	// tag is 1 after a "<" that may open an HTML tag, or the quote it is
	// in, until its ">" or a blank line: a parser that reads HTML would not
	// take a backtick there for code.
	tag byte
	// unclosed says that the rest of the line has no ">": a "<" on it
	// opens no mention or link, without reading the line again.
	unclosed bool
}

// more is what a step returns when it needs more text to decide.
const more = -1

func (s *scanner) scan(text string, final bool) (string, int) {
	var b strings.Builder
	i := 0
	for i < len(text) {
		n := s.step(&b, text[i:], final)
		if n == more {
			break
		}
		i += n
	}
	return b.String(), i
}

// step consumes the token t starts with, writing what it becomes, and
// returns its length: 0 when only the state changed (a line's start read
// for fences), more when it needs more text.
func (s *scanner) step(b *strings.Builder, t string, final bool) int {
	switch {
	case !s.midLine:
		return s.lineStart(b, t, final)
	case s.code || s.fence.n > 0:
		return s.codeStep(b, t, final)
	default:
		return s.proseStep(b, t, final)
	}
}

// plain reports whether the step at t writes its token as it is, bytes
// that mean nothing to Markdown or to Slack, so that text can be cut
// anywhere inside it.
func (s *scanner) plain(t string) bool {
	switch {
	case !s.midLine:
		return false
	case s.code || s.fence.n > 0:
		return strings.IndexByte(codeSpecial, t[0]) < 0
	default:
		return strings.IndexByte(proseSpecial, t[0]) < 0
	}
}

// inline makes a piece of one line safe (a link's or a mention's label),
// as code or as prose.
func inline(text string, code bool) string {
	s := scanner{midLine: true, code: code}
	out, _ := s.scan(text, true)
	return out
}

// lineStart reads the start of a line for fences: one may open (three or
// more backticks or tildes, at most three spaces in) or close the code
// block the line is in. It writes a fence line itself and leaves any other
// line to the steps.
func (s *scanner) lineStart(b *strings.Builder, t string, final bool) int {
	j, col := 0, 0
	for j < len(t) && (t[j] == ' ' || t[j] == '\t') {
		if t[j] == '\t' {
			col += 4 - col%4
		} else {
			col++
		}
		j++
	}
	if j == len(t) && !final {
		return more
	}
	blank := j == len(t) || t[j] == '\n'
	if s.fence.n > 0 {
		return s.inBlock(b, t, j, col, blank, final)
	}
	if blank || col > maxFenceIndent {
		if blank {
			s.tag = 0 // inline HTML ends with its paragraph
		}
		s.midLine = true
		return 0
	}
	switch t[j] {
	case '`', '~':
		run := runOf(t[j:], t[j])
		if j+run == len(t) && !final {
			return more
		}
		if run < minFence {
			break
		}
		if t[j] == '`' {
			end, ok := lineEnd(t, j+run, final)
			if !ok {
				return more
			}
			if !infoFits('`', t[j+run:end]) {
				break
			}
		}
		// A fence line is never a code span's backticks, so it stays as
		// it is; but once fences are untrusted, what follows is prose.
		if !s.untrusted {
			s.fence, s.tag = fence{char: t[j], n: run, indent: col}, 0
		}
		b.WriteString(t[:j+run])
		s.midLine = true
		return j + run // the info string is written as code
	case '<':
		kind, ok := kindOfAngle(t[j:], final)
		if !ok {
			return more
		}
		if kind == angleTag {
			// It may open an HTML block, in which a parser that reads
			// HTML would take no fence: the fences that follow are no
			// longer known for code. (A mention or a URL here is
			// rewritten: no parser sees HTML in it.)
			s.untrusted = true
		}
	}
	s.midLine = true
	return 0
}

// inBlock reads the start of a line inside a fenced code block: the closing
// fence, or a line whose indentation says the block may have ended (in a
// list item, a less indented line ends the item and its code).
func (s *scanner) inBlock(b *strings.Builder, t string, j, col int, blank, final bool) int {
	f := s.fence
	switch {
	case blank:
	case col < f.indent:
		s.fence, s.untrusted = fence{}, true
	case t[j] == f.char:
		run := runOf(t[j:], t[j])
		if j+run == len(t) && !final {
			return more
		}
		if run < f.n {
			break
		}
		end, ok := lineEnd(t, j+run, final)
		if !ok {
			return more
		}
		closing := f.closedBy(run, t[j+run:end])
		// The block's container starts between f.indent-3 and f.indent; a
		// closing fence may be three spaces further in. Where that depends
		// on the container, the end of the block is uncertain.
		lo := max(0, f.indent-maxFenceIndent)
		if closing && col <= f.indent+maxFenceIndent {
			if col > lo+maxFenceIndent {
				s.untrusted = true
			}
			b.WriteString(t[:end])
			s.fence = fence{}
			s.midLine = true
			return end
		}
	}
	s.midLine = true
	return 0
}

// lineEnd finds the end of the line t[i] is on; ok is false when that
// needs more text.
func lineEnd(t string, i int, final bool) (int, bool) {
	end := strings.IndexByte(t[i:], '\n')
	if end < 0 {
		return len(t), final
	}
	return i + end, true
}

// proseSpecial are the bytes a prose step stops at.
const proseSpecial = "\n\\`<>[!]@\"'"

func (s *scanner) proseStep(b *strings.Builder, t string, final bool) int {
	switch c := t[0]; c {
	case '\n':
		b.WriteByte('\n')
		s.midLine, s.unclosed = false, false
		return 1
	case '\\':
		if len(t) == 1 {
			return s.last(b, t, final)
		}
		if escapable(t[1]) {
			b.WriteString(t[:2])
			return 2
		}
		b.WriteByte('\\')
		return 1
	case '`':
		return s.backticks(b, t, final)
	case '<':
		return s.angle(b, t, final, false)
	case '>':
		if s.tag == 1 {
			s.tag = 0
		}
		b.WriteByte('>')
		return 1
	case '"', '\'':
		switch s.tag {
		case 1:
			s.tag = c
		case c:
			s.tag = 1
		}
		b.WriteByte(c)
		return 1
	case '!':
		if len(t) == 1 {
			return s.last(b, t, final)
		}
		if t[1] == '[' {
			// An image is a link too: it becomes one that shows its host.
			link, n := bracket(t[1:], final)
			if n == more {
				return more
			}
			if n > 0 {
				b.WriteString(link)
				return 1 + n
			}
		}
		b.WriteByte('!')
		return 1
	case '[':
		link, n := bracket(t, final)
		if n == more {
			return more
		}
		if n > 0 {
			b.WriteString(link)
			return n
		}
		b.WriteByte('[')
		return 1
	case ']':
		j := 1
		for j < len(t) && (t[j] == ' ' || t[j] == '\t') {
			j++
		}
		if j == len(t) && !final {
			return more
		}
		if j < len(t) && (t[j] == '(' || (j == 1 && t[j] == ':')) {
			b.WriteString(`\]`)
			return 1
		}
		b.WriteByte(']')
		return 1
	case '@':
		return broadcast(b, t, final)
	}
	n := 1
	for n < len(t) && strings.IndexByte(proseSpecial, t[n]) < 0 {
		n++
	}
	b.WriteString(t[:n])
	return n
}

// codeSpecial are the bytes a code step stops at.
const codeSpecial = "\n<@"

// codeStep writes code as it is, but for Slack's mentions and links and
// the broadcast words.
func (s *scanner) codeStep(b *strings.Builder, t string, final bool) int {
	switch t[0] {
	case '\n':
		b.WriteByte('\n')
		s.midLine, s.unclosed = s.code, false
		return 1
	case '<':
		return s.angle(b, t, final, true)
	case '@':
		return broadcast(b, t, final)
	}
	n := 1
	for n < len(t) && strings.IndexByte(codeSpecial, t[n]) < 0 {
		n++
	}
	b.WriteString(t[:n])
	return n
}

// last writes the last byte of the text as it is, once the text is known
// to end there.
func (s *scanner) last(b *strings.Builder, t string, final bool) int {
	if !final {
		return more
	}
	b.WriteString(t)
	return len(t)
}

// escapable are the bytes a backslash escapes in Markdown, but for "<" and
// "@": mrkdwn knows no escapes, so a mention after a backslash would still
// ping there.
func escapable(c byte) bool {
	return c != '<' && c != '@' && strings.IndexByte("!\"#$%&'()*+,-./:;=>?[\\]^_`{|}~", c) >= 0
}

// backticks writes a code span, its content as code, or else escapes the
// run, so that no parser pairs it with a later one.
func (s *scanner) backticks(b *strings.Builder, t string, final bool) int {
	run := runOf(t, '`')
	if run == len(t) && !final {
		return more
	}
	if s.tag == 0 {
		end, ok := spanEnd(t, run, final)
		if !ok {
			return more
		}
		if end >= 0 {
			writeSpan(b, t[:run], inline(t[run:end], true))
			return end + run
		}
	}
	b.WriteString(strings.Repeat("\\`", run))
	return run
}

// writeSpan writes a code span of code, opened and closed with ticks.
//
// Where tables render (GFM's, which Slack's markdown block renders though
// it documents none), a row is cut into cells at every "|" before a cell
// is read, even inside a code span: the span would end there, and what it
// held after the "|" would be read as prose, its links live. So a span
// with a "|" is written as spans between escaped pipes, "`a `\|` b`", read
// the same with tables or without: "\|" cuts no cell and shows "|".
func writeSpan(b *strings.Builder, ticks, code string) {
	if !strings.Contains(code, "|") {
		b.WriteString(ticks + code + ticks)
		return
	}
	for i, seg := range strings.Split(code, "|") {
		if i > 0 {
			b.WriteString(`\|`)
		}
		if seg == "" {
			continue
		}
		// A backtick at an edge would run into ticks; and a span that
		// starts and ends with a space loses one of each. One more space
		// on each side, which the span drops, keeps seg as it is.
		first, last := seg[0], seg[len(seg)-1]
		if first == '`' || last == '`' || (first == ' ' && last == ' ' && strings.Trim(seg, " ") != "") {
			seg = " " + seg + " "
		}
		b.WriteString(ticks + seg + ticks)
	}
}

// spanEnd finds the run of as many backticks that closes the code span t
// opens, on the same line: -1 when there is none, ok false when that needs
// more text.
func spanEnd(t string, run int, final bool) (int, bool) {
	for i := run; i < len(t); {
		switch t[i] {
		case '\n':
			return -1, true
		case '`':
			n := runOf(t[i:], '`')
			if i+n == len(t) && !final {
				return 0, false
			}
			if n == run {
				return i, true
			}
			i += n
		default:
			i++
		}
	}
	if !final {
		return 0, false
	}
	return -1, true
}

func runOf(t string, c byte) int {
	n := 0
	for n < len(t) && t[n] == c {
		n++
	}
	return n
}

// angleKind is what a "<" opens, as far as safety goes.
type angleKind int

const (
	angleText    angleKind = iota // nothing: a "<" as in "a < b"
	angleMention                  // Slack's "<@" or "<!"
	angleURL                      // "<scheme:": Slack's link or an autolink
	angleTag                      // what may be an HTML tag: "<name", "</", "<?"
)

// kindOfAngle reads what the "<" at the start of t opens; ok is false when
// that needs more text.
func kindOfAngle(t string, final bool) (kind angleKind, ok bool) {
	if len(t) == 1 {
		return angleText, final
	}
	switch c := t[1]; {
	case c == '@' || c == '!':
		return angleMention, true
	case c == '/' || c == '?':
		return angleTag, true
	case isLetter(c):
		j := 2
		for j < len(t) && isSchemeChar(t[j]) {
			j++
		}
		if j == len(t) && !final {
			return angleText, false
		}
		if j < len(t) && t[j] == ':' && j-1 >= 2 && j-1 <= 32 {
			return angleURL, true
		}
		return angleTag, true
	}
	return angleText, true
}

// angle handles a "<": Slack's mentions, Slack's links and autolinks, or
// what may be an HTML tag.
func (s *scanner) angle(b *strings.Builder, t string, final, code bool) int {
	kind, ok := kindOfAngle(t, final)
	if !ok {
		return more
	}
	switch kind {
	case angleMention:
		return s.defuseMention(b, t, final, code)
	case angleURL:
		return s.urlBrackets(b, t, final, code)
	case angleTag:
		if !code && s.tag == 0 {
			s.tag = 1
		}
	}
	b.WriteByte('<')
	return 1
}

// defuseMention defuses Slack's "<@U1>", "<!here>", "<!subteam^S1|@team>"...: it
// shows "@" and a word joiner before the label. In code only real
// mentions are touched. One unclosed on its line gets the joiner after its
// opening: nothing can complete it.
func (s *scanner) defuseMention(b *strings.Builder, t string, final, code bool) int {
	end, ok := s.closeOf(t, final)
	if !ok {
		return more
	}
	if end < 0 {
		if code && !pings(t[1], t[2:lineLength(t)]) {
			b.WriteByte('<')
			return 1
		}
		b.WriteString(t[:2] + joiner)
		return 2
	}
	inner := t[2:end]
	if code && !pings(t[1], inner) {
		b.WriteByte('<')
		return 1
	}
	b.WriteString("@" + joiner + inline(mentionLabel(inner), code))
	return end + 1
}

// closeOf finds the ">" that closes the "<" t starts with, on its line:
// -1 when the line (or, final, the text) ends first; ok is false when that
// needs more text.
func (s *scanner) closeOf(t string, final bool) (end int, ok bool) {
	if s.unclosed {
		return -1, true
	}
	end = strings.IndexAny(t, ">\n")
	switch {
	case end >= 0 && t[end] == '>':
		return end, true
	case end < 0 && !final:
		return 0, false
	}
	s.unclosed = true
	return -1, true
}

// lineLength is the length of the line t starts with.
func lineLength(t string) int {
	if i := strings.IndexByte(t, '\n'); i >= 0 {
		return i
	}
	return len(t)
}

// mentionLabel is what a mention shows: its label, else its target.
func mentionLabel(inner string) string {
	if label, ok := strings.CutPrefix(inner, "subteam^"); ok {
		inner = label
	}
	if _, label, ok := strings.Cut(inner, "|"); ok && label != "" {
		inner = strings.TrimPrefix(label, "@")
	}
	return inner
}

// pings reports whether "<" kind inner (up to its ">") is a mention Slack
// notifies: a user's id, or a broadcast or user group.
func pings(kind byte, inner string) bool {
	if kind == '@' {
		id, _, _ := strings.Cut(inner, "|")
		if len(id) < 2 || (id[0] != 'U' && id[0] != 'W') {
			return false
		}
		for i := 1; i < len(id); i++ {
			if (id[i] < 'A' || id[i] > 'Z') && (id[i] < '0' || id[i] > '9') {
				return false
			}
		}
		return true
	}
	for _, w := range []string{"here", "channel", "everyone", "subteam^"} {
		if len(inner) >= len(w) && strings.EqualFold(inner[:len(w)], w) {
			return true
		}
	}
	return false
}

// urlBrackets handles "<scheme:...": Slack's "<url|text>" shows its host,
// an http(s) autolink stays (it shows the URL), any other is unwrapped into
// text. One unclosed on its line is written "&lt;", so that no parser
// completes it later.
func (s *scanner) urlBrackets(b *strings.Builder, t string, final, code bool) int {
	end, ok := s.closeOf(t, final)
	if !ok {
		return more
	}
	if end < 0 {
		if code {
			b.WriteByte('<')
			return 1
		}
		b.WriteString("&lt;")
		return 1
	}
	body := t[1:end]
	if dest, label, ok := strings.Cut(body, "|"); ok {
		if code && !strings.Contains(dest, "://") && !hasScheme(dest, "mailto", "tel") {
			b.WriteByte('<') // "<xsl:value-of select="a|b"/>"
			return 1
		}
		b.WriteString(slackLink(dest, label, code))
		return end + 1
	}
	if strings.ContainsAny(body, " \t<") {
		// No autolink: Markdown reads it as text, or maybe as a tag.
		if !code && s.tag == 0 {
			s.tag = 1
		}
		b.WriteByte('<')
		return 1
	}
	if code || hasScheme(body, "http", "https") {
		b.WriteString(t[:end+1])
		return end + 1
	}
	b.WriteString(inline(body, false))
	return end + 1
}

// slackLink renders Slack's "<dest|label>": a link to an http(s) URL shows
// its host; anything else is text.
func slackLink(dest, label string, code bool) string {
	target, host, ok := linkTarget(dest)
	if ok {
		return hostLink(inline(label, code), label, target, host)
	}
	text, lab := inline(dest, code), strings.TrimSpace(inline(label, code))
	if lab == "" {
		return text
	}
	return lab + " (" + text + ")"
}

// bracket reads a Markdown link, "[label](destination)", at the start of
// t and renders it as one that shows its host. n is 0 when t starts no
// link to an http(s) URL on its line (the "[" is then text), more when
// that depends on text not received yet.
func bracket(t string, final bool) (string, int) {
	end, ok := labelEnd(t, final)
	if !ok {
		return "", more
	}
	if end < 0 {
		return "", 0
	}
	if end+1 == len(t) {
		if final {
			return "", 0
		}
		return "", more
	}
	if t[end+1] != '(' {
		return "", 0
	}
	dest, n, ok := destination(t[end+2:], final)
	if !ok {
		return "", more
	}
	if n == 0 {
		return "", 0
	}
	target, host, linked := linkTarget(dest)
	if !linked {
		return "", 0
	}
	label := t[1:end]
	return hostLink(inline(label, false), label, target, host), end + 2 + n
}

// Beyond these lengths a link is not looked for: a "[" is then text, and
// its "](" is broken anyway. They keep a line of "[" from costing a scan
// of the line for each, and a "[" from holding the stream long.
const (
	maxLabel       = 1000
	maxDestination = 4096
)

// labelEnd finds the "]" that closes the "[" t starts with, on its line:
// brackets nest, and a code span or an escape hides one. It is -1 when
// there is none, ok false when that needs more text.
func labelEnd(t string, final bool) (int, bool) {
	depth := 0
	for i := 0; i < len(t); {
		if i > maxLabel {
			return -1, true
		}
		switch t[i] {
		case '\n':
			return -1, true
		case '\\':
			if i+1 == len(t) && !final {
				return 0, false
			}
			i += 2
			continue
		case '`':
			run := runOf(t[i:], '`')
			end, ok := spanEnd(t[i:], run, final)
			if !ok {
				return 0, false
			}
			if end >= 0 {
				i += end + run
			} else {
				i += run
			}
			continue
		case '[':
			depth++
		case ']':
			depth--
			if depth == 0 {
				return i, true
			}
		}
		i++
	}
	if final {
		return -1, true
	}
	return 0, false
}

// destination reads "destination "title")" after a link's "(", on one
// line. n is the bytes through the ")", 0 when there is no destination
// there, and ok is false when that needs more text.
func destination(t string, final bool) (dest string, n int, ok bool) {
	short := func() (string, int, bool) { return "", 0, final }
	if len(t) > maxDestination {
		t = t[:maxDestination]
		short = func() (string, int, bool) { return "", 0, true }
	}
	i := skipBlanks(t, 0)
	if i == len(t) {
		return short()
	}
	if t[i] == '<' {
		j := i + 1
		for j < len(t) && t[j] != '>' && t[j] != '<' && t[j] != '\n' {
			if t[j] == '\\' {
				j++
			}
			j++
		}
		if j >= len(t) {
			return short()
		}
		if t[j] != '>' {
			return "", 0, true
		}
		dest, i = t[i+1:j], j+1
	} else {
		depth, j := 0, i
		for ; j < len(t) && t[j] > ' '; j++ {
			if t[j] == '\\' {
				j++
				continue
			}
			if t[j] == '(' {
				depth++
			} else if t[j] == ')' {
				if depth == 0 {
					break
				}
				depth--
			}
		}
		if j >= len(t) {
			return short()
		}
		dest, i = t[i:j], j
	}
	i = skipBlanks(t, i)
	if i == len(t) {
		return short()
	}
	if closer := titleCloser(t[i]); closer != 0 {
		j := i + 1
		for j < len(t) && t[j] != closer && t[j] != '\n' {
			if t[j] == '\\' {
				j++
			}
			j++
		}
		if j >= len(t) {
			return short()
		}
		if t[j] == '\n' {
			return "", 0, true
		}
		i = skipBlanks(t, j+1)
		if i == len(t) {
			return short()
		}
	}
	if t[i] != ')' {
		return "", 0, true
	}
	return dest, i + 1, true
}

// titleCloser is the byte that ends a link title opened by c, or 0.
func titleCloser(c byte) byte {
	switch c {
	case '"', '\'':
		return c
	case '(':
		return ')'
	}
	return 0
}

func skipBlanks(t string, i int) int {
	for i < len(t) && (t[i] == ' ' || t[i] == '\t') {
		i++
	}
	return i
}

// hostLink is a link that shows its host: "label ([host](target))", or
// just the host's link when the label is empty or names the host already.
func hostLink(safeLabel, label, target, host string) string {
	safeLabel = strings.TrimSpace(safeLabel)
	if safeLabel == "" || namesItself(label, host, target) {
		return "[" + host + "](" + target + ")"
	}
	return safeLabel + " ([" + host + "](" + target + "))"
}

// namesItself reports whether a link's label is its host or its URL.
func namesItself(label, host, target string) bool {
	bare := func(s string) string {
		s = strings.ToLower(strings.TrimSpace(s))
		s = strings.TrimPrefix(strings.TrimPrefix(s, "https://"), "http://")
		return strings.TrimSuffix(s, "/")
	}
	l := bare(label)
	return l == host || l == bare(target)
}

// linkTarget reads a link's destination as the URL it leads to, when that
// is an http(s) URL with a host: target is that URL written so that
// Markdown reads it back the same, host its host in ASCII.
func linkTarget(dest string) (target, host string, ok bool) {
	u, err := url.Parse(html.UnescapeString(unescapeMarkdown(strings.TrimSpace(dest))))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return "", "", false
	}
	host, err = idna.Lookup.ToASCII(u.Hostname())
	if err != nil || host == "" || strings.Trim(host, "abcdefghijklmnopqrstuvwxyz0123456789.-") != "" {
		return "", "", false
	}
	port := u.Port()
	u.Host = host
	if port != "" {
		u.Host += ":" + port
	}
	return linkURL(u.String()), host, true
}

// unescapeMarkdown drops the backslashes of Markdown's escapes.
func unescapeMarkdown(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", s[i+1]) >= 0 {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// linkURL writes a URL for a Markdown link's "(...)": nothing in it can
// end the link early, turn into something else as Markdown reads it (an
// escape, an entity) or, as Slack turns the link into "<url|text>", cut
// the URL short and become its text ("|").
func linkURL(u string) string {
	u = strings.NewReplacer("(", "%28", ")", "%29", " ", "%20", "<", "%3C", ">", "%3E",
		"|", "%7C", `\`, "%5C", "`", "%60", "\n", "%0A").Replace(u)
	if !strings.Contains(u, "&") {
		return u
	}
	var b strings.Builder
	for i := 0; i < len(u); i++ {
		if u[i] == '&' && looksLikeEntity(u[i+1:]) {
			b.WriteString("%26")
			continue
		}
		b.WriteByte(u[i])
	}
	return b.String()
}

// looksLikeEntity reports whether s, after an "&", reads as an HTML entity
// ("amp;", "#64;").
func looksLikeEntity(s string) bool {
	n := 0
	for n < len(s) && n < 32 && (isLetter(s[n]) || (s[n] >= '0' && s[n] <= '9') || s[n] == '#') {
		n++
	}
	return n > 0 && n < len(s) && s[n] == ';'
}

func hasScheme(u string, schemes ...string) bool {
	scheme, _, ok := strings.Cut(u, ":")
	if !ok {
		return false
	}
	for _, s := range schemes {
		if strings.EqualFold(scheme, s) {
			return true
		}
	}
	return false
}

func isLetter(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }

func isSchemeChar(c byte) bool {
	return isLetter(c) || (c >= '0' && c <= '9') || c == '+' || c == '.' || c == '-'
}

// broadcast defuses "@here", "@channel" and "@everyone", the words that
// notify a whole channel, holding an "@" whose word may still become one.
func broadcast(b *strings.Builder, t string, final bool) int {
	rest, held := t[1:], false
	for _, w := range [...]string{"here", "channel", "everyone"} {
		switch {
		case len(rest) >= len(w) && strings.EqualFold(rest[:len(w)], w):
			b.WriteString("@" + joiner)
			return 1
		case !final && strings.EqualFold(rest, w[:min(len(rest), len(w))]):
			held = true
		}
	}
	if held {
		return more
	}
	b.WriteByte('@')
	return 1
}

// Link is a link the bot writes itself, text being its own word for where
// url goes (a grounded answer's source names the site Google's redirect
// leads to): nothing in text or url can end the link early or make
// another of it.
func Link(text, url string) string {
	return "[" + strings.NewReplacer("[", "", "]", "").Replace(text) + "](" + linkURL(url) + ")"
}

// Code is s as inline code (a file's name): a backtick in s becomes an
// apostrophe, so that nothing ends the code early, and a mention in it
// notifies nobody.
func Code(s string) string {
	var b strings.Builder
	writeSpan(&b, "`", inline(strings.ReplaceAll(s, "`", "'"), true))
	return b.String()
}

// Mention is the mention of the person userID, the one the bot writes on
// purpose: in a message it posts for them, it names who asked.
func Mention(userID string) string { return "<@" + userID + ">" }

// Date shows a message's timestamp ts ("1700000000.000100") in the
// reader's own time zone, or fallback where Slack can't (and when ts is
// not a timestamp).
func Date(ts, fallback string) string {
	sec, _, _ := strings.Cut(ts, ".")
	if _, err := strconv.ParseInt(sec, 10, 64); err != nil {
		return fallback
	}
	return "<!date^" + sec + "^{date_short_pretty} at {time}|" + fallback + ">"
}
