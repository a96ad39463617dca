package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// The audio formats, each read as it streams past: MP3 and AAC (ADTS) are
// sequences of frames whose 4- or 7-byte headers give their length and
// their samples, WAV is RIFF chunks (fmt's byte rate, data's length), Ogg
// is pages whose granule position counts samples, and FLAC says its
// sample count in its first metadata block.

// mpegFrame is what an MP3 frame header says.
type mpegFrame struct {
	size    int // the frame's bytes, header included
	samples int // per channel
	rate    int // Hz
	version byte
	crc     bool
	mono    bool
}

// MPEG-1 and MPEG-2 Layer III bitrates (kb/s) by index; MPEG-2.5 uses
// MPEG-2's.
var mp3Bitrates = [2][16]int{
	{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0},
	{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0},
}

// mp3Header reads an MPEG audio Layer III frame header: 11 sync bits,
// the version, the layer, the bitrate and sample rate indexes, padding.
// Free-format frames (bitrate index 0) and the other layers are not MP3 as
// Gemini takes it.
func mp3Header(h []byte) (mpegFrame, bool) {
	if len(h) < 4 || h[0] != 0xFF || h[1]&0xE0 != 0xE0 {
		return mpegFrame{}, false
	}
	version, layer := (h[1]>>3)&3, (h[1]>>1)&3 // version 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5
	bi, si, pad := int(h[2]>>4), int(h[2]>>2)&3, int(h[2]>>1)&1
	if version == 1 || layer != 1 || bi == 0 || bi == 15 || si == 3 {
		return mpegFrame{}, false
	}
	rate := [3]int{44100, 48000, 32000}[si]
	table, coeff, samples := 0, 144, 1152
	switch version {
	case 2:
		rate, table, coeff, samples = rate/2, 1, 72, 576
	case 0:
		rate, table, coeff, samples = rate/4, 1, 72, 576
	}
	size := coeff*mp3Bitrates[table][bi]*1000/rate + pad
	return mpegFrame{size: size, samples: samples, rate: rate, version: version, crc: h[1]&1 == 0, mono: h[3]>>6 == 3}, true
}

// adtsFrame is what an ADTS header says.
type adtsFrame struct {
	size    int
	samples int
	rate    int
}

var adtsRates = [13]int{96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350}

// adtsHeader reads an ADTS (AAC) frame header: 12 sync bits, layer 0,
// the sample rate index, the 13-bit frame length and the count of raw
// data blocks, each 1024 samples.
func adtsHeader(h []byte) (adtsFrame, bool) {
	if len(h) < 7 || h[0] != 0xFF || h[1]&0xF6 != 0xF0 {
		return adtsFrame{}, false
	}
	si := int(h[2]>>2) & 0xF
	size := int(h[3]&3)<<11 | int(h[4])<<3 | int(h[5]>>5)
	if si >= len(adtsRates) || size < 7 {
		return adtsFrame{}, false
	}
	return adtsFrame{size: size, samples: 1024 * (int(h[6]&3) + 1), rate: adtsRates[si]}, true
}

// identifyFrames recognises MP3 and ADTS streams that start with a frame:
// a valid header, and another where it says the next one starts (when the
// head reaches that far), which random bytes rarely manage.
func identifyFrames(head []byte) (Type, bool) {
	if f, ok := adtsHeader(head); ok {
		if next := head[min(f.size, len(head)):]; len(next) < 7 || isADTS(next) {
			return Type{KindAudio, "audio/aac", "AAC"}, true
		}
	}
	if f, ok := mp3Header(head); ok {
		if next := head[min(f.size, len(head)):]; len(next) < 4 || isMP3(next) {
			return Type{KindAudio, "audio/mpeg", "MP3"}, true
		}
	}
	return Type{}, false
}

func isADTS(b []byte) bool { _, ok := adtsHeader(b); return ok }
func isMP3(b []byte) bool  { _, ok := mp3Header(b); return ok }

// id3Size is the length of an ID3v2 tag at the start of b (its header,
// its syncsafe size and a footer when flagged), or 0.
func id3Size(b []byte) int64 {
	if len(b) < 10 || !bytes.HasPrefix(b, []byte("ID3")) {
		return 0
	}
	n := int64(b[6]&0x7F)<<21 | int64(b[7]&0x7F)<<14 | int64(b[8]&0x7F)<<7 | int64(b[9]&0x7F)
	n += 10
	if b[5]&0x10 != 0 {
		n += 10
	}
	return n
}

// identifyID3 looks past an ID3v2 tag: AAC streams carry one too. A tag
// longer than the head (cover art) hides the first frame: such a file is
// taken for the MP3 it almost always is, and Probe checks its frames.
func identifyID3(head []byte) (Type, string) {
	n := id3Size(head)
	if n == 0 {
		return Type{}, "a file I don't recognise"
	}
	if n < int64(len(head)) {
		if t, ok := identifyFrames(head[n:]); ok {
			return t, ""
		}
		if len(head)-int(n) >= 7 {
			return Type{}, "a file I don't recognise"
		}
	}
	return Type{KindAudio, "audio/mpeg", "MP3"}, ""
}

// skipID3 reads past an ID3v2 tag at the current position.
func skipID3(r *reader) error {
	b, err := r.peek(10)
	if err != nil && len(b) < 10 {
		return nil
	}
	if n := id3Size(b); n > 0 {
		if err := r.skip(n); err != nil {
			return fmt.Errorf("an ID3 tag of %d bytes: %w", n, err)
		}
	}
	return nil
}

// skipTrailer reads past the tags some writers put after the last frame
// (ID3v1's 128 bytes, APE, Lyrics3), reporting whether there was one.
func skipTrailer(r *reader, b []byte) (bool, error) {
	switch {
	case bytes.HasPrefix(b, []byte("TAG")):
		return true, r.skip(min(128, int64(len(b))))
	case bytes.HasPrefix(b, []byte("APETAGEX")), bytes.HasPrefix(b, []byte("LYRICS")):
		return true, r.drain()
	}
	return false, nil
}

// maxResync bounds the bytes searched for the next frame header after one
// that does not follow its predecessor: a damaged stretch of a real file
// is short, and a file that is mostly not frames is not audio.
const maxResync = 64 << 10

func probeMP3(r *reader, info *Info) error {
	if err := skipID3(r); err != nil {
		return err
	}
	var first mpegFrame
	var frames, tagged uint64
	lost := 0
	for {
		b, err := r.peek(4)
		if len(b) < 4 {
			var re *readError
			if errors.As(err, &re) {
				return err
			}
			break
		}
		f, ok := mp3Header(b)
		if ok && frames > 0 && (f.rate != first.rate || f.version != first.version) {
			ok = false
		}
		if !ok {
			if done, err := skipTrailer(r, b); done || err != nil {
				if err != nil {
					return err
				}
				continue
			}
			if lost++; lost > maxResync {
				return fmt.Errorf("no MP3 frame in %d bytes at byte %d", maxResync, r.off)
			}
			if err := r.skip(1); err != nil {
				return err
			}
			continue
		}
		lost = 0
		if frames == 0 {
			first = f
			frame, _ := r.peek(f.size)
			tagged = xingFrames(frame, f)
		}
		frames++
		if err := r.skip(int64(f.size)); err != nil {
			break // a last frame cut short: players play the rest
		}
	}
	if frames == 0 {
		return errors.New("no MP3 frame")
	}
	if tagged > 0 {
		frames = tagged // the Xing or Info frame counts the audio frames, itself excluded
	}
	info.Duration = seconds(frames*uint64(first.samples), uint64(first.rate))
	info.Audio = true
	return nil
}

// xingFrames reads the frame count of a Xing, Info (LAME) or VBRI header
// in an MP3's first frame, or 0.
func xingFrames(frame []byte, f mpegFrame) uint64 {
	side := 32 // the side information after the header: MPEG-1 stereo
	switch {
	case f.version == 3 && f.mono, f.version != 3 && !f.mono:
		side = 17
	case f.version != 3 && f.mono:
		side = 9
	}
	at := 4 + side
	if f.crc {
		at += 2
	}
	if len(frame) >= at+12 {
		if tag := string(frame[at : at+4]); tag == "Xing" || tag == "Info" {
			if binary.BigEndian.Uint32(frame[at+4:])&1 != 0 {
				return uint64(binary.BigEndian.Uint32(frame[at+8:]))
			}
			return 0
		}
	}
	if len(frame) >= 36+18 && string(frame[36:40]) == "VBRI" {
		return uint64(binary.BigEndian.Uint32(frame[36+14:]))
	}
	return 0
}

func probeADTS(r *reader, info *Info) error {
	if err := skipID3(r); err != nil {
		return err
	}
	var samples uint64
	rate, frames := 0, 0
	for {
		b, err := r.peek(7)
		if len(b) < 7 {
			var re *readError
			if errors.As(err, &re) {
				return err
			}
			break
		}
		f, ok := adtsHeader(b)
		if !ok || (rate != 0 && f.rate != rate) {
			if done, err := skipTrailer(r, b); done || err != nil {
				if err != nil {
					return err
				}
				continue
			}
			return fmt.Errorf("no ADTS frame at byte %d", r.off)
		}
		rate = f.rate
		frames++
		samples += uint64(f.samples)
		if err := r.skip(int64(f.size)); err != nil {
			break // a last frame cut short
		}
	}
	if frames == 0 {
		return errors.New("no ADTS frame")
	}
	info.Duration = seconds(samples, uint64(rate))
	info.Audio = true
	return nil
}

func probeWAV(r *reader, info *Info) error {
	h, err := r.next(12)
	if err != nil {
		return err
	}
	declared := uint64(binary.LittleEndian.Uint32(h[4:8]))
	var byteRate, data uint64
	var sawData bool
	for {
		c, err := r.next(8)
		if err != nil {
			break // the end of the chunks
		}
		id, size := string(c[:4]), uint64(binary.LittleEndian.Uint32(c[4:8]))
		switch {
		case id == "fmt " && size >= 16:
			f, err := r.next(16)
			if err != nil {
				return fmt.Errorf("fmt chunk: %w", err)
			}
			byteRate = uint64(binary.LittleEndian.Uint32(f[8:12]))
			err = r.skip(int64(size - 16 + size&1))
			if err != nil {
				return fmt.Errorf("fmt chunk: %w", err)
			}
		case id == "data" && (size == 0 || size == 0xFFFFFFFF):
			// A recorder that never came back to write the size: the
			// data is the rest of the file.
			start := r.off
			if err := r.drain(); err != nil {
				return err
			}
			data, sawData = uint64(r.off-start), true
		case id == "data":
			if err := r.skip(int64(size)); err != nil {
				return fmt.Errorf("a data chunk of %d bytes runs past the end: %w", size, err)
			}
			data, sawData = size, true
			_ = r.skip(int64(size & 1))
		default:
			if err := r.skip(int64(size + size&1)); err != nil {
				return fmt.Errorf("chunk %q of %d bytes runs past the end: %w", id, size, err)
			}
		}
	}
	if declared != 0 && declared != 0xFFFFFFFF && uint64(r.off) < declared+8 {
		return fmt.Errorf("%d bytes of the %d its RIFF header declares: %w", r.off, declared+8, errShort)
	}
	if !sawData {
		return errors.New("no data chunk")
	}
	info.Duration = seconds(data, byteRate)
	info.Audio = true
	return nil
}

// oggCodec is what the first packet of an Ogg stream says: its codec and
// the rate of its granule positions.
type oggCodec struct {
	name    string
	rate    uint64
	preSkip uint64 // Opus: samples at the start that are not played
	video   bool
}

// oggFirstPacket reads the codec from the first packet of a stream.
func oggFirstPacket(p []byte) (oggCodec, bool) {
	switch {
	case bytes.HasPrefix(p, []byte("OpusHead")) && len(p) >= 19:
		return oggCodec{name: "Opus", rate: 48000, preSkip: uint64(binary.LittleEndian.Uint16(p[10:]))}, true
	case bytes.HasPrefix(p, []byte("\x01vorbis")) && len(p) >= 16:
		return oggCodec{name: "Vorbis", rate: uint64(binary.LittleEndian.Uint32(p[12:]))}, true
	case bytes.HasPrefix(p, []byte("\x7fFLAC")) && len(p) >= 13+4+18:
		si := p[13+4:]
		return oggCodec{name: "FLAC", rate: uint64(si[10])<<12 | uint64(si[11])<<4 | uint64(si[12])>>4}, true
	case bytes.HasPrefix(p, []byte("Speex   ")) && len(p) >= 40:
		return oggCodec{name: "Speex", rate: uint64(binary.LittleEndian.Uint32(p[36:]))}, true
	case bytes.HasPrefix(p, []byte("\x80theora")):
		return oggCodec{name: "Theora", video: true}, true
	}
	return oggCodec{}, false
}

// oggPage is an Ogg page header.
type oggPage struct {
	granule uint64
	serial  uint32
	first   bool // the beginning of a stream
	header  int  // the header's bytes, segment table included
	body    int
}

func readOggPage(b []byte) (oggPage, bool) {
	if len(b) < 27 || !bytes.HasPrefix(b, []byte("OggS")) || b[4] != 0 {
		return oggPage{}, false
	}
	n := int(b[26])
	if len(b) < 27+n {
		return oggPage{}, false
	}
	body := 0
	for _, s := range b[27 : 27+n] {
		body += int(s)
	}
	return oggPage{
		granule: binary.LittleEndian.Uint64(b[6:]), serial: binary.LittleEndian.Uint32(b[14:]),
		first: b[5]&2 != 0, header: 27 + n, body: body,
	}, true
}

func identifyOgg(head []byte) (Type, string) {
	p, ok := readOggPage(head)
	if !ok {
		return Type{}, "a file I don't recognise"
	}
	c, ok := oggFirstPacket(head[min(p.header, len(head)):])
	switch {
	case !ok:
		return Type{}, "a file I don't recognise"
	case c.video:
		return Type{}, "an Ogg video (Theora)"
	}
	return Type{KindAudio, "audio/ogg", "OGG"}, ""
}

func probeOgg(r *reader, info *Info) error {
	var codec oggCodec
	var serial uint32
	var last uint64
	pages := 0
	for {
		b, err := r.peek(27 + 255)
		if len(b) == 0 {
			var re *readError
			if errors.As(err, &re) {
				return err
			}
			break
		}
		p, ok := readOggPage(b)
		if !ok {
			return fmt.Errorf("no Ogg page at byte %d", r.off)
		}
		if pages == 0 {
			serial = p.serial
			body, _ := r.peek(p.header + min(p.body, 64))
			codec, _ = oggFirstPacket(body[min(p.header, len(body)):])
		}
		pages++
		if p.serial == serial && p.granule != ^uint64(0) {
			last = p.granule
		}
		if err := r.skip(int64(p.header + p.body)); err != nil {
			return fmt.Errorf("an Ogg page of %d bytes runs past the end: %w", p.header+p.body, err)
		}
	}
	if codec.rate > 0 && last > codec.preSkip {
		info.Duration = seconds(last-codec.preSkip, codec.rate)
	}
	info.Audio = true
	return nil
}

func probeFLAC(r *reader, info *Info) error {
	b, err := r.next(4 + 4 + 34)
	if err != nil {
		return fmt.Errorf("STREAMINFO: %w", err)
	}
	if b[4]&0x7F != 0 {
		return errors.New("the first metadata block is not STREAMINFO")
	}
	si := b[8:]
	rate := uint64(si[10])<<12 | uint64(si[11])<<4 | uint64(si[12])>>4
	total := uint64(si[13]&0x0F)<<32 | uint64(binary.BigEndian.Uint32(si[14:]))
	info.Duration = seconds(total, rate)
	info.Audio = true
	return r.drain()
}
