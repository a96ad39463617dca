package media

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// An ISO base media file (MP4, MOV, M4A, 3GP) is a sequence of boxes: a
// 32-bit size (1: a 64-bit size follows the type; 0: the box runs to the
// end of the file) and a four-letter type. The duration is in moov's mvhd,
// in units of its timescale; each track's kind is the handler type of
// trak/mdia/hdlr ("vide", "soun"). A fragmented MP4 may leave mvhd's
// duration 0 and give it in moov/mvex/mehd instead.

// box is one box header as read.
type box struct {
	typ string
	// body is how many bytes follow the header; -1 when the box runs to
	// the end of the file.
	body int64
	// size is the whole box's, header included (with body -1, the header's).
	size int64
}

// readBox reads a box header. left bounds it inside its parent (-1 at the
// top level).
func readBox(r *reader, left int64) (box, error) {
	h, err := r.next(8)
	if err != nil {
		return box{}, fmt.Errorf("a box header: %w", err)
	}
	size, typ, header := uint64(binary.BigEndian.Uint32(h)), string(h[4:8]), uint64(8)
	switch size {
	case 0:
		if left >= 0 {
			return box{typ: typ, body: left - 8, size: left}, nil // to the end of its parent
		}
		return box{typ: typ, body: -1, size: 8}, nil
	case 1:
		h, err := r.next(8)
		if err != nil {
			return box{}, fmt.Errorf("box %q's size: %w", typ, err)
		}
		size, header = binary.BigEndian.Uint64(h), 16
	}
	if size < header || size > math.MaxInt64 {
		return box{}, fmt.Errorf("box %q declares %d bytes", typ, size)
	}
	b := box{typ: typ, body: int64(size - header), size: int64(size)}
	if left >= 0 && int64(size) > left {
		return box{}, fmt.Errorf("box %q of %d bytes runs past its parent's end", typ, size)
	}
	return b, nil
}

// movie is what moov says.
type movie struct {
	found              bool
	duration           uint64 // in timescale units
	timescale          uint64
	fragments          uint64 // mehd's fragment duration, same units
	hasVideo, hasAudio bool
}

func probeISOBMFF(r *reader, info *Info) error {
	var m movie
	for {
		eof, err := r.atEOF()
		if err != nil {
			return err
		}
		if eof {
			break
		}
		b, err := readBox(r, -1)
		if err != nil {
			return err
		}
		if b.typ == "moov" && b.body >= 0 && !m.found {
			m.found = true
			if err := readMoov(r, b.body, &m, 0); err != nil {
				return fmt.Errorf("moov: %w", err)
			}
			continue
		}
		if b.body < 0 {
			if err := r.drain(); err != nil {
				return err
			}
			break
		}
		if err := r.skip(b.body); err != nil {
			return fmt.Errorf("box %q of %d bytes runs past the end: %w", b.typ, b.body, err)
		}
	}
	if !m.found {
		return errors.New("no moov box: the file was cut short, or its recording never finished")
	}
	switch {
	case m.duration != 0 && m.duration != math.MaxUint32 && m.duration != math.MaxUint64:
		info.Duration = seconds(m.duration, m.timescale)
	case m.fragments != 0:
		info.Duration = seconds(m.fragments, m.timescale)
	}
	info.Audio = m.hasAudio
	if !m.hasVideo && m.hasAudio && info.Kind == KindVideo {
		// isom and mp42 are brands of audio-only files too.
		info.Type = Type{KindAudio, "audio/mp4", "M4A"}
	}
	return nil
}

// readMoov reads the children of a moov (or of a trak, mdia or mvex in
// it) of left bytes; depth bounds the descent.
func readMoov(r *reader, left int64, m *movie, depth int) error {
	for left > 0 {
		if left < 8 {
			// A few stray bytes (some QuickTime writers end a list of
			// boxes with a zero word): no box fits in them.
			return r.skip(left)
		}
		b, err := readBox(r, left)
		if err != nil {
			return err
		}
		left -= b.size
		switch {
		case b.typ == "mvhd" && depth == 0:
			err = readFull(r, b.body, 20, 32, func(p []byte) {
				if p[0] == 1 && len(p) >= 32 {
					m.timescale, m.duration = uint64(binary.BigEndian.Uint32(p[20:])), binary.BigEndian.Uint64(p[24:])
				} else if len(p) >= 20 {
					m.timescale, m.duration = uint64(binary.BigEndian.Uint32(p[12:])), uint64(binary.BigEndian.Uint32(p[16:]))
				}
			})
		case b.typ == "mehd" && depth == 1:
			err = readFull(r, b.body, 8, 12, func(p []byte) {
				if p[0] == 1 && len(p) >= 12 {
					m.fragments = binary.BigEndian.Uint64(p[4:])
				} else if len(p) >= 8 {
					m.fragments = uint64(binary.BigEndian.Uint32(p[4:]))
				}
			})
		case b.typ == "hdlr" && depth == 2:
			err = readFull(r, b.body, 12, 12, func(p []byte) {
				switch string(p[8:12]) {
				case "vide":
					m.hasVideo = true
				case "soun":
					m.hasAudio = true
				}
			})
		case (b.typ == "trak" || b.typ == "mvex") && depth == 0, b.typ == "mdia" && depth == 1:
			err = readMoov(r, b.body, m, depth+1)
		default:
			err = r.skip(b.body)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", b.typ, err)
		}
	}
	return nil
}

// readFull reads a box body of n bytes, hands its first want bytes (fewer
// when the body is shorter) to use when there are at least need of them,
// and skips the rest.
func readFull(r *reader, n int64, need, want int, use func([]byte)) error {
	k := int(min(n, int64(want)))
	p, err := r.next(k)
	if err != nil {
		return err
	}
	if k >= need {
		use(p)
	}
	return r.skip(n - int64(k))
}
