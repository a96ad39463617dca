package media

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"sync"
	"time"

	"github.com/visionbot/visionbot/internal/failure"
)

// Info is what probing a whole file found: its type, and what the model's
// cost depends on.
type Info struct {
	Type
	// Size is how many bytes were read.
	Size int64
	// Duration is a video's or an audio clip's length; 0 when the file
	// does not say (a WebM recording without cues and clusters, say).
	Duration time.Duration
	// Pages is a PDF's page count; 0 when the page tree could not be read
	// (a compression this scan does not undo). It is the largest /Count
	// of the file's page-tree nodes, which is the root's, so a PDF whose
	// later revision removed pages counts as its largest revision: an
	// estimate errs high.
	Pages int
	// Audio reports whether a video has a sound track, which the model
	// counts apart; an audio file always has one.
	Audio bool
}

// ErrEncrypted is in the chain of the refusal of a password-protected PDF:
// the model can't open it either.
var ErrEncrypted = errors.New("the PDF is password-protected")

// Probe reads r to its end and says what the file is and how long, or how
// many pages. It reads every byte once and holds only what it parses, so
// a file of any size costs the same few kilobytes:
//
//   - every kind: the first SniffSize bytes (Identify), in a buffer of
//     that size that also serves all reading after it;
//   - MP4, MOV, M4A: the header of each top-level box, and inside moov the
//     headers of its boxes and the few bytes of mvhd (the duration and its
//     timescale) and hdlr (each track's kind); the mdat is read past,
//     wherever moov is, so a moov at the end is found at the end. A box
//     that runs past the end means the file was cut short;
//   - WebM: the elements' headers, Info's duration and timecode scale,
//     each track's type, and each cluster's and block's timecode (for the
//     recordings that have no duration);
//   - PDF: the text between streams (the dictionaries), and the object
//     streams, inflated (at most maxObjectStream bytes each), where
//     PDF 1.5 writers put the page tree; the last 2 KB for %%EOF;
//   - MP3, AAC: each frame's 4- or 7-byte header (MP3's first frame whole,
//     for a Xing or Info frame count); WAV: the chunk headers and fmt;
//     OGG: each page's header; FLAC: STREAMINFO.
//
// A JPEG, PNG, WebP, HEIC or GIF is identified and read past: its damage
// checks need the whole image (ReadImage).
//
// Its errors are *failure.Error values: failure.CorruptImage (with the
// format as Detail) for a file cut short or damaged, failure.UnsupportedFile
// for a password-protected PDF (with ErrEncrypted in the chain) and for
// what Identify refuses. A read error of r is returned as it is, wrapped.
func Probe(r io.Reader) (Info, error) {
	rd := &reader{br: bufio.NewReaderSize(r, SniffSize)}
	head, err := rd.br.Peek(SniffSize)
	if err != nil && err != io.EOF {
		return Info{}, fmt.Errorf("probe: %w", err)
	}
	t, err := Identify(head)
	if err != nil {
		return Info{}, err
	}
	info := Info{Type: t}
	var perr error
	switch {
	case t.Kind == KindDocument:
		perr = probePDF(rd, &info)
	case t.Kind == KindImage:
		perr = rd.drain()
	case t.MIMEType == "video/webm" || t.MIMEType == "audio/webm":
		perr = probeEBML(rd, &info)
	case t.Format == "MP4" || t.Format == "MOV" || t.Format == "M4A" || t.Format == "3GP":
		perr = probeISOBMFF(rd, &info)
	case t.Format == "WAV":
		perr = probeWAV(rd, &info)
	case t.Format == "MP3":
		perr = probeMP3(rd, &info)
	case t.Format == "AAC":
		perr = probeADTS(rd, &info)
	case t.Format == "OGG":
		perr = probeOgg(rd, &info)
	case t.Format == "FLAC":
		perr = probeFLAC(rd, &info)
	default:
		perr = rd.drain()
	}
	if perr == nil {
		// What a probe leaves (the bytes after MP3's last whole frame,
		// say) is part of the file too.
		perr = rd.drain()
	}
	info.Size = rd.off
	var readErr *readError
	switch {
	case perr == nil:
		return info, nil
	case errors.As(perr, &readErr):
		return info, fmt.Errorf("probe: %w", readErr.err)
	case errors.Is(perr, ErrEncrypted):
		return info, failure.Errorf("probe file", failure.UnsupportedFile, "a password-protected PDF", perr)
	}
	var fe *failure.Error
	if errors.As(perr, &fe) {
		return info, perr
	}
	return info, failure.Errorf("probe file", failure.CorruptImage, info.Format, perr)
}

// Prober probes the bytes written to it as they stream past, for a file
// that goes on elsewhere (io.TeeReader(download, prober) into an upload):
// Probe runs on its own goroutine, fed through a pipe. Writing never
// fails, even after the probe found the file damaged, so the stream it
// watches is never cut by it. Close (or Abort) must be called once.
type Prober struct {
	pw   *io.PipeWriter
	done chan struct{}

	mu   sync.Mutex
	size int64
	info Info
	err  error
}

// NewProber starts a probe that reads what is written to it.
func NewProber() *Prober {
	pr, pw := io.Pipe()
	p := &Prober{pw: pw, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		info, err := Probe(pr)
		// Whatever the probe did not read is discarded from now on.
		pr.CloseWithError(errProbed)
		p.mu.Lock()
		p.info, p.err = info, err
		p.mu.Unlock()
	}()
	return p
}

// errProbed ends the writes of a Prober whose probe has finished.
var errProbed = errors.New("probed")

// Write hands b to the probe. It always reports all of b written.
func (p *Prober) Write(b []byte) (int, error) {
	p.mu.Lock()
	p.size += int64(len(b))
	p.mu.Unlock()
	_, _ = p.pw.Write(b)
	return len(b), nil
}

// Close ends the file and returns what the probe found, with Size the
// bytes written.
func (p *Prober) Close() (Info, error) {
	_ = p.pw.Close()
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	info := p.info
	info.Size = p.size
	return info, p.err
}

// Abort ends the probe of a file that will not be whole (its stream
// failed); what it found is dropped.
func (p *Prober) Abort() {
	_ = p.pw.CloseWithError(errAborted)
	<-p.done
}

var errAborted = errors.New("probe aborted: the stream ended early")

// reader is the probes' view of a stream: bytes read in order, an offset,
// and skips that read past what a probe does not need.
type reader struct {
	br  *bufio.Reader
	off int64
}

// readError is a failure of the underlying reader, not of the file.
type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// errShort is a file that ended where more was due.
var errShort = errors.New("the file ends early: it was cut short")

// wrap maps the underlying reader's errors: the end of the stream is the
// file's end (errShort where more was due), anything else is the
// reader's.
func wrap(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errShort
	}
	return &readError{err}
}

// peek returns the next n bytes without reading past them (n ≤ SniffSize);
// fewer at the end of the file, with io.EOF.
func (r *reader) peek(n int) ([]byte, error) {
	b, err := r.br.Peek(n)
	if err != nil && !errors.Is(err, io.EOF) {
		return b, &readError{err}
	}
	return b, err
}

// next reads the next n bytes (n ≤ SniffSize) into a slice valid until the
// next read.
func (r *reader) next(n int) ([]byte, error) {
	b, err := r.br.Peek(n)
	if len(b) < n {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, wrap(err)
	}
	_, _ = r.br.Discard(n)
	r.off += int64(n)
	return b, nil
}

// skip reads past n bytes.
func (r *reader) skip(n int64) error {
	for n > 0 {
		step := int(min(n, 1<<30))
		d, err := r.br.Discard(step)
		r.off += int64(d)
		n -= int64(d)
		if err != nil {
			return wrap(err)
		}
	}
	return nil
}

// atEOF reports whether the file has no byte left.
func (r *reader) atEOF() (bool, error) {
	_, err := r.br.Peek(1)
	switch {
	case err == nil:
		return false, nil
	case errors.Is(err, io.EOF):
		return true, nil
	}
	return false, &readError{err}
}

// drain reads to the end of the file.
func (r *reader) drain() error {
	n, err := io.Copy(io.Discard, r.br)
	r.off += n
	if err != nil {
		return &readError{err}
	}
	return nil
}

// seconds is n units of a 1/scale s clock as a duration, without
// overflowing for the long files a 64-bit count can describe (0 beyond
// what a Duration holds).
func seconds(n, scale uint64) time.Duration {
	if scale == 0 {
		return 0
	}
	whole, rest := n/scale, n%scale
	if whole > uint64(1<<63-1)/uint64(time.Second)-1 {
		return 0
	}
	// rest < scale, so rest×1e9/scale < 1e9 and the division can't overflow.
	hi, lo := bits.Mul64(rest, uint64(time.Second))
	frac, _ := bits.Div64(hi, lo, scale)
	return time.Duration(whole)*time.Second + time.Duration(frac)
}
