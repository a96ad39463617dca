package media

import (
	"bytes"
	"compress/zlib"
	"errors"
	"io"
	"strconv"
)

// A PDF is read as it streams past, without a PDF library: the bot needs
// two facts, and neither needs the cross-reference table that a parser
// would seek to from the end.
//
//   - The page count, for the token estimate: the page tree's nodes are
//     dictionaries with /Type /Pages and a /Count of the pages under them,
//     so the root's is the largest. Writers of PDF 1.5 and later (Word,
//     qpdf, pdfTeX) often put these dictionaries in object streams,
//     compressed with Flate, which are inflated here (compress/zlib, at
//     most maxObjectStream bytes each).
//   - Whether it is encrypted: an /Encrypt entry in a trailer or in a
//     cross-reference stream's dictionary. Dictionaries are never
//     encrypted (only strings and streams are), so the page tree of an
//     encrypted file still reads, but its content does not.
//
// A well-kept pure-Go PDF library (pdfcpu, Apache-2.0) would read both
// exactly, and validate the file, but it works on an io.ReadSeeker: the
// file whole in memory or on disk, where this scan holds a few hundred
// kilobytes of a file of any size, and it would bring a dependency tree
// (golang.org/x/image, x/text, yaml) into a package that has none. The
// model reports what it really counted; an estimate before the call is
// all the page count is for.

// maxDictionaries bounds the text between two streams kept to be read:
// dictionaries are small, and a file that is text for megabytes is read in
// pieces of this size (a dictionary cut in two by a piece is missed).
const maxDictionaries = 256 << 10

// maxObjectStream bounds an object stream's compressed bytes kept to be
// inflated, and what it inflates to: real ones hold a few hundred small
// dictionaries.
const maxObjectStream = 1 << 20

// pdfScan is the state of the scan.
type pdfScan struct {
	lex pdfLexer // the dictionaries outside streams, read as one text
	// tail is the file's last bytes, for %%EOF.
	tail []byte
}

func probePDF(r *reader, info *Info) error {
	var s pdfScan
	var text []byte // the dictionaries since the last stream
	for {
		data, found, err := r.until([]byte("stream"), maxDictionaries, true, &s.tail)
		text = append(text[:0], data...)
		if err != nil {
			return err
		}
		if found {
			// The keyword is followed by an end of line, and is not the
			// end of "endstream" (in a damaged file) nor of a word.
			next, err := r.peek(1)
			var re *readError
			if errors.As(err, &re) {
				return err
			}
			if len(next) == 0 || (next[0] != '\r' && next[0] != '\n') || isEndStream(text) {
				s.lex.read(append(text, "stream"...))
				continue
			}
		}
		s.lex.read(text)
		if !found {
			eof, err := r.atEOF()
			if err != nil {
				return err
			}
			if eof {
				break
			}
			continue
		}
		// The stream's data starts after its keyword's end of line.
		if next, _ := r.peek(2); bytes.HasPrefix(next, []byte("\r\n")) {
			_ = r.skip(2)
		} else {
			_ = r.skip(1)
		}
		objStm := s.lex.objStm
		s.lex.streamStarts()
		limit := 0
		if objStm {
			limit = maxObjectStream
		}
		body, _, err := r.until([]byte("endstream"), limit, false, &s.tail)
		if err != nil {
			return err
		}
		if objStm && len(body) < maxObjectStream {
			var objects pdfLexer
			objects.read(inflate(body))
			s.lex.pages = max(s.lex.pages, objects.pages)
		}
	}
	if !bytes.Contains(s.tail, []byte("%%EOF")) {
		return errors.New("no %%EOF at the end: the file was cut short")
	}
	info.Pages = s.lex.pages
	if s.lex.encrypted {
		return ErrEncrypted
	}
	return nil
}

// isEndStream reports text that ends with "end": the "stream" found was
// the end of "endstream" outside a stream (a damaged file).
func isEndStream(text []byte) bool { return bytes.HasSuffix(text, []byte("end")) }

// pdfLexer reads PDF objects as text arrives, in one pass whatever the
// pieces (a name or a number cut between two reads is read whole): the
// dictionaries open at each point, whether each is a page-tree node
// (/Type /Pages) and its /Count, and any /Encrypt key. Strings and
// comments are passed over, so text in them counts for nothing.
type pdfLexer struct {
	pages     int
	encrypted bool
	// objStm reports that the last dictionary closed was an object
	// stream's, compressed with Flate: the one filter inflated here.
	objStm bool

	dicts []pdfDict
	// state is what the lexer is in the middle of, and word what it has
	// of a name or number so far.
	state  lexState
	depth  int // a string's nesting of parentheses
	escape bool
	word   []byte
	// pending is the key whose value comes next: "Type", "Count".
	pending string
}

type pdfDict struct {
	pages, objStm, flate bool
	count                int
}

type lexState int

const (
	lexText lexState = iota
	lexName
	lexNumber
	lexString
	lexHex
	lexComment
	lexOpen  // a '<': a dictionary's "<<" or a hex string
	lexClose // a '>': the first of ">>"
)

// maxDicts bounds the dictionaries open at once; deeper ones are not read.
const maxDicts = 64

// maxWord bounds a name or number kept: the ones read here are short.
const maxWord = 32

func (l *pdfLexer) read(text []byte) {
	for _, c := range text {
		l.step(c)
	}
}

// streamStarts resets what a stream's dictionary said: the stream's data
// is not text.
func (l *pdfLexer) streamStarts() {
	l.objStm, l.state, l.word, l.pending = false, lexText, l.word[:0], ""
}

func (l *pdfLexer) step(c byte) {
	switch l.state {
	case lexName:
		if !isDelimiter(c) {
			if len(l.word) < maxWord {
				l.word = append(l.word, c)
			}
			return
		}
		l.name(string(l.word))
	case lexNumber:
		if c >= '0' && c <= '9' {
			if len(l.word) < maxWord {
				l.word = append(l.word, c)
			}
			return
		}
		l.number(string(l.word))
	case lexString:
		switch {
		case l.escape:
			l.escape = false
		case c == '\\':
			l.escape = true
		case c == '(':
			l.depth++
		case c == ')':
			if l.depth--; l.depth == 0 {
				l.state = lexText
			}
		}
		return
	case lexHex:
		if c == '>' {
			l.state = lexText
		}
		return
	case lexComment:
		if c == '\r' || c == '\n' {
			l.state = lexText
		}
		return
	case lexOpen:
		l.state = lexText
		if c == '<' {
			l.open()
			return
		}
		l.state = lexHex
		l.step(c)
		return
	case lexClose:
		l.state = lexText
		if c == '>' {
			l.close()
			return
		}
	}
	l.state = lexText
	switch {
	case c == '/':
		l.state, l.word = lexName, l.word[:0]
	case c >= '0' && c <= '9':
		l.state, l.word = lexNumber, append(l.word[:0], c)
	case c == '(':
		l.state, l.depth = lexString, 1
		l.pending = ""
	case c == '%':
		l.state = lexComment
	case c == '<':
		l.state = lexOpen
	case c == '>':
		l.state = lexClose
	case c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == 0:
	case (c == '[' || c == ']') && l.pending == "Filter":
		// A list of filters: [/FlateDecode].
	default:
		l.pending = "" // a value of another kind: the key's value is not read
	}
}

func (l *pdfLexer) top() *pdfDict {
	if len(l.dicts) == 0 || len(l.dicts) > maxDicts {
		return nil
	}
	return &l.dicts[len(l.dicts)-1]
}

func (l *pdfLexer) open() {
	l.dicts = append(l.dicts, pdfDict{count: -1})
	l.pending = ""
}

func (l *pdfLexer) close() {
	if d := l.top(); d != nil {
		if d.pages && d.count >= 0 {
			l.pages = max(l.pages, d.count)
		}
		l.objStm = d.objStm && d.flate
	}
	if len(l.dicts) > 0 {
		l.dicts = l.dicts[:len(l.dicts)-1]
	}
	l.pending = ""
}

// name reads a name: a key, or the value of the key before it.
func (l *pdfLexer) name(n string) {
	d := l.top()
	switch {
	case l.pending == "Type":
		if d != nil {
			d.pages = d.pages || n == "Pages"
			d.objStm = d.objStm || n == "ObjStm"
		}
		l.pending = ""
		return
	case l.pending == "Filter":
		if d != nil && n == "FlateDecode" {
			d.flate = true
		}
		l.pending = ""
		return
	}
	switch n {
	case "Encrypt":
		l.encrypted = true
		l.pending = ""
	case "Type", "Count", "Filter":
		l.pending = n
	default:
		l.pending = ""
	}
}

func (l *pdfLexer) number(v string) {
	if l.pending == "Count" {
		if d := l.top(); d != nil {
			if n, err := strconv.Atoi(v); err == nil {
				d.count = n
			}
		}
	}
	l.pending = ""
}

func isDelimiter(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', '\f', 0, '/', '<', '>', '[', ']', '(', ')', '%', '{', '}':
		return true
	}
	return false
}

// inflate undoes Flate on an object stream, bounded; what it can't undo
// (another filter, a damaged stream) reads as nothing.
func inflate(b []byte) []byte {
	zr, err := zlib.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil
	}
	out, _ := io.ReadAll(io.LimitReader(zr, maxObjectStream))
	return out
}

// until reads up to and past the next occurrence of sep, returning what
// came before it (its first keep bytes; the rest is read past) and
// whether sep was found. With full, it stops after keep bytes without sep
// too. tail keeps the file's last 2 KB.
func (r *reader) until(sep []byte, keep int, full bool, tail *[]byte) ([]byte, bool, error) {
	var kept []byte
	for {
		b, err := r.peek(SniffSize)
		if len(b) == 0 {
			var re *readError
			if errors.As(err, &re) {
				return kept, false, err
			}
			return kept, false, nil
		}
		i := bytes.Index(b, sep)
		n, chunk := len(b), b
		switch {
		case i >= 0:
			n, chunk = i+len(sep), b[:i]
		case len(b) >= len(sep):
			// sep may straddle this read and the next: leave its start.
			n = len(b) - len(sep) + 1
			chunk = b[:n]
		}
		if room := keep - len(kept); room > 0 {
			kept = append(kept, chunk[:min(room, len(chunk))]...)
		}
		*tail = appendTail(*tail, b[:n])
		if err := r.skip(int64(n)); err != nil {
			return kept, false, err
		}
		if i >= 0 {
			return kept, true, nil
		}
		if full && len(kept) >= keep {
			return kept, false, nil
		}
	}
}

// appendTail keeps the last 2 KB of what was read.
func appendTail(tail, b []byte) []byte {
	const size = 2 << 10
	if len(b) >= size {
		return append(tail[:0], b[len(b)-size:]...)
	}
	tail = append(tail, b...)
	if len(tail) > size {
		tail = append(tail[:0], tail[len(tail)-size:]...)
	}
	return tail
}
