package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// WebM is Matroska's subset: EBML elements, each an ID and a size, both
// variable-length integers whose first byte's leading zeros say their
// length. The header element's DocType names the format; the Segment
// holds Info (TimecodeScale, Duration), Tracks (each TrackEntry's
// TrackType: 1 video, 2 audio) and Clusters of timed blocks. Browser
// recorders (MediaRecorder, so most screen recordings) write the Segment
// and its Clusters with an unknown size and no Duration: their length is
// the last block's time.

var ebmlMagic = []byte{0x1A, 0x45, 0xDF, 0xA3}

// The element IDs this file reads, with their length marker.
const (
	idEBML          = 0x1A45DFA3
	idDocType       = 0x4282
	idSegment       = 0x18538067
	idInfo          = 0x1549A966
	idTimecodeScale = 0x2AD7B1
	idDuration      = 0x4489
	idTracks        = 0x1654AE6B
	idTrackEntry    = 0xAE
	idTrackType     = 0x83
	idCluster       = 0x1F43B675
	idTimecode      = 0xE7
	idSimpleBlock   = 0xA3
	idBlockGroup    = 0xA0
	idBlock         = 0xA1
)

// unknownSize is a master element written before its size was known.
const unknownSize = -1

// identifyEBML reads the EBML header's DocType.
func identifyEBML(head []byte) (Type, string) {
	r := bytes.NewReader(head)
	id, size, ok := ebmlHeader(r)
	if !ok || id != idEBML || size < 0 || size > int64(r.Len()) {
		return Type{}, "a file I don't recognise"
	}
	body := head[len(head)-r.Len():][:size]
	for br := bytes.NewReader(body); br.Len() > 0; {
		id, size, ok := ebmlHeader(br)
		if !ok || size < 0 || size > int64(br.Len()) {
			break
		}
		v := body[len(body)-br.Len():][:size]
		_, _ = br.Seek(size, 1)
		if id == idDocType {
			switch string(bytes.TrimRight(v, "\x00")) {
			case "webm":
				return Type{KindVideo, "video/webm", "WebM"}, ""
			case "matroska":
				return Type{}, "a Matroska (MKV) video"
			}
		}
	}
	return Type{}, "a file I don't recognise"
}

// vint reads a variable-length integer from a byte source: its length
// from the first byte's leading zeros (at most max bytes), its value with
// the length marker kept (an ID) or removed (a size). all reports a size
// whose bits are all ones: unknown.
func vint(first byte, rest func(int) ([]byte, bool), max int, keepMarker bool) (v uint64, all bool, ok bool) {
	n := 1
	for mask := byte(0x80); n <= max && first&mask == 0; mask >>= 1 {
		n++
	}
	if n > max {
		return 0, false, false
	}
	v = uint64(first)
	if !keepMarker {
		v &= uint64(0xFF >> n)
	}
	all = v == uint64(0xFF>>n)
	if n > 1 {
		b, ok := rest(n - 1)
		if !ok {
			return 0, false, false
		}
		for _, c := range b {
			v = v<<8 | uint64(c)
			all = all && c == 0xFF
		}
	}
	return v, all, true
}

// ebmlHeader reads an element's ID and size from a byte reader; the size
// is unknownSize when unknown.
func ebmlHeader(r *bytes.Reader) (id uint64, size int64, ok bool) {
	rest := func(n int) ([]byte, bool) {
		b := make([]byte, n)
		m, _ := r.Read(b)
		return b, m == n
	}
	c, err := r.ReadByte()
	if err != nil {
		return 0, 0, false
	}
	if id, _, ok = vint(c, rest, 4, true); !ok {
		return 0, 0, false
	}
	if c, err = r.ReadByte(); err != nil {
		return 0, 0, false
	}
	s, all, ok := vint(c, rest, 8, false)
	if !ok || (!all && s > math.MaxInt64) {
		return 0, 0, false
	}
	if all {
		return id, unknownSize, true
	}
	return id, int64(s), true
}

// ebmlID reads an element ID from the start of b.
func ebmlID(b []byte) (uint64, bool) {
	id, _, ok := vint(b[0], func(n int) ([]byte, bool) {
		if len(b) < n+1 {
			return nil, false
		}
		return b[1 : n+1], true
	}, 4, true)
	return id, ok
}

// timeFromNs is a count of nanoseconds as a duration; 0 when it is none
// or does not fit.
func timeFromNs(ns float64) time.Duration {
	if ns <= 0 || ns >= math.MaxInt64 || math.IsNaN(ns) {
		return 0
	}
	return time.Duration(ns)
}

// element is one element header read from the stream.
type element struct {
	id   uint64
	size int64 // unknownSize, or the body's length
	head int64 // the header's length
}

// readElement reads the next element header, or reports the end of the
// file.
func readElement(r *reader) (element, bool, error) {
	b, err := r.peek(12)
	var re *readError
	if errors.As(err, &re) {
		return element{}, false, err
	}
	if len(b) == 0 {
		return element{}, false, nil // the end of the file
	}
	br := bytes.NewReader(b)
	id, size, ok := ebmlHeader(br)
	if !ok {
		if len(b) < 12 {
			return element{}, false, fmt.Errorf("an element header: %w", errShort)
		}
		return element{}, false, errors.New("an element header that is not EBML")
	}
	e := element{id: id, size: size, head: int64(len(b) - br.Len())}
	return e, true, r.skip(e.head)
}

// webm is what probing found so far.
type webm struct {
	scale     uint64  // ns per timecode unit
	duration  float64 // in timecode units; 0 when absent
	cluster   uint64  // the current cluster's timecode
	last      int64   // the latest block time seen, in timecode units
	hasVideo  bool
	hasAudio  bool
	hasTracks bool
}

// level1 reports the IDs that are a Segment's children: an unknown-size
// Cluster ends where one of them starts.
func level1(id uint64) bool {
	switch id {
	case idCluster, idInfo, idTracks, 0x114D9B74, 0x1C53BB6B, 0x1254C367, 0x1043A770, 0x1941A469:
		return true
	}
	return false
}

func probeEBML(r *reader, info *Info) error {
	w := webm{scale: 1_000_000}
	for {
		e, ok, err := readElement(r)
		if err != nil || !ok {
			if err == nil {
				break
			}
			return err
		}
		switch {
		case e.id == idSegment:
			if err := readSegment(r, e.size, &w); err != nil {
				return err
			}
		case e.size == unknownSize:
			return fmt.Errorf("element %x of unknown size outside a segment", e.id)
		default:
			if err := r.skip(e.size); err != nil {
				return fmt.Errorf("element %x of %d bytes runs past the end: %w", e.id, e.size, err)
			}
		}
	}
	switch {
	case w.duration > 0 && w.duration*float64(w.scale) < float64(math.MaxInt64):
		info.Duration = timeFromNs(w.duration * float64(w.scale))
	case w.last > 0:
		info.Duration = timeFromNs(float64(w.last) * float64(w.scale))
	}
	info.Audio = w.hasAudio
	if w.hasTracks && !w.hasVideo && w.hasAudio {
		info.Type = Type{KindAudio, "audio/webm", "WebM"}
	}
	return nil
}

// readSegment reads a Segment's children; size is unknownSize for one
// that runs to the end of the file.
func readSegment(r *reader, size int64, w *webm) error {
	end := r.off + size
	for size == unknownSize || r.off < end {
		e, ok, err := readElement(r)
		if err != nil {
			return err
		}
		if !ok {
			if size == unknownSize {
				return nil
			}
			return fmt.Errorf("a segment of %d bytes: %w", size, errShort)
		}
		if size != unknownSize && e.size != unknownSize && r.off+e.size > end {
			return fmt.Errorf("element %x runs past its segment's end", e.id)
		}
		switch e.id {
		case idInfo:
			err = readMaster(r, e, func(c element, v []byte) {
				switch c.id {
				case idTimecodeScale:
					if s := uintOf(v); s > 0 {
						w.scale = s
					}
				case idDuration:
					w.duration = floatOf(v)
				}
			}, nil)
		case idTracks:
			err = readMaster(r, e, nil, func(c element) (bool, error) {
				if c.id != idTrackEntry {
					return false, nil
				}
				return true, readMaster(r, c, func(t element, v []byte) {
					if t.id == idTrackType {
						w.hasTracks = true
						switch uintOf(v) {
						case 1:
							w.hasVideo = true
						case 2:
							w.hasAudio = true
						}
					}
				}, nil)
			})
		case idCluster:
			err = readCluster(r, e, w)
		default:
			if e.size == unknownSize {
				return fmt.Errorf("element %x of unknown size in a segment", e.id)
			}
			err = r.skip(e.size)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// maxValue bounds the leaf values read into memory: the ones read here
// are numbers of at most 8 bytes.
const maxValue = 8

// readMaster reads the children of a sized master element: leaf gets the
// value of each short leaf element; child, when it returns true, has read
// a child itself.
func readMaster(r *reader, e element, leaf func(element, []byte), child func(element) (bool, error)) error {
	if e.size == unknownSize {
		return fmt.Errorf("element %x of unknown size", e.id)
	}
	end := r.off + e.size
	for r.off < end {
		c, ok, err := readElement(r)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("element %x of %d bytes: %w", e.id, e.size, errShort)
		}
		if c.size == unknownSize || r.off+c.size > end {
			return fmt.Errorf("element %x runs past its parent's end", c.id)
		}
		if child != nil {
			done, err := child(c)
			if err != nil {
				return err
			}
			if done {
				continue
			}
		}
		if leaf != nil && c.size <= maxValue {
			v, err := r.next(int(c.size))
			if err != nil {
				return err
			}
			leaf(c, v)
			continue
		}
		if err := r.skip(c.size); err != nil {
			return err
		}
	}
	return nil
}

// readCluster reads a Cluster's timecode and its blocks' times. One of
// unknown size ends at the next element that belongs to the Segment, or
// at the end of the file.
func readCluster(r *reader, e element, w *webm) error {
	end := r.off + e.size
	for e.size == unknownSize || r.off < end {
		if e.size == unknownSize {
			b, _ := r.peek(4)
			if len(b) == 0 {
				return nil
			}
			if id, ok := ebmlID(b); ok && (level1(id) || id == idSegment) {
				return nil
			}
		}
		c, ok, err := readElement(r)
		if err != nil {
			return err
		}
		if !ok {
			if e.size == unknownSize {
				return nil
			}
			return fmt.Errorf("a cluster of %d bytes: %w", e.size, errShort)
		}
		if c.size == unknownSize {
			return fmt.Errorf("element %x of unknown size in a cluster", c.id)
		}
		switch c.id {
		case idTimecode:
			if c.size > maxValue {
				return errors.New("a cluster timecode longer than 8 bytes")
			}
			v, err := r.next(int(c.size))
			if err != nil {
				return err
			}
			w.cluster = uintOf(v)
		case idSimpleBlock:
			err = readBlock(r, c.size, w)
		case idBlockGroup:
			err = readMaster(r, c, nil, func(b element) (bool, error) {
				if b.id != idBlock {
					return false, nil
				}
				return true, readBlock(r, b.size, w)
			})
		default:
			err = r.skip(c.size)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// readBlock reads a block's time (a track number, then a 16-bit signed
// offset from its cluster's timecode) and skips its frames.
func readBlock(r *reader, size int64, w *webm) error {
	b, err := r.peek(min(int(size), 12))
	if err != nil && len(b) < int(min(size, 12)) {
		return fmt.Errorf("a block: %w", errShort)
	}
	br := bytes.NewReader(b)
	c, err := br.ReadByte()
	if err == nil {
		if _, _, ok := vint(c, func(n int) ([]byte, bool) {
			p := make([]byte, n)
			m, _ := br.Read(p)
			return p, m == n
		}, 8, false); ok && br.Len() >= 2 {
			var rel [2]byte
			_, _ = br.Read(rel[:])
			t := int64(w.cluster) + int64(int16(binary.BigEndian.Uint16(rel[:])))
			w.last = max(w.last, t)
		}
	}
	if err := r.skip(size); err != nil {
		return fmt.Errorf("a block of %d bytes runs past the end: %w", size, err)
	}
	return nil
}

// uintOf reads a big-endian unsigned integer of up to 8 bytes.
func uintOf(v []byte) uint64 {
	var n uint64
	for _, c := range v {
		n = n<<8 | uint64(c)
	}
	return n
}

// floatOf reads a 4- or 8-byte big-endian float; 0 for another length.
func floatOf(v []byte) float64 {
	switch len(v) {
	case 4:
		return float64(math.Float32frombits(binary.BigEndian.Uint32(v)))
	case 8:
		return math.Float64frombits(binary.BigEndian.Uint64(v))
	}
	return 0
}
