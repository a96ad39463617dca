package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/visionbot/visionbot/internal/failure"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestProbeFixtures reads each real file of testdata (made by ffmpeg and
// qpdf: testdata/README.md) and checks what it is, how long it lasts or
// how many pages it has, as ffprobe and qpdf said when they were made.
func TestProbeFixtures(t *testing.T) {
	tests := []struct {
		file     string
		kind     Kind
		mime     string
		duration time.Duration
		pages    int
		audio    bool
	}{
		{file: "video_faststart.mp4", kind: KindVideo, mime: "video/mp4", duration: 3 * time.Second, audio: true},
		{file: "video_moov_end.mp4", kind: KindVideo, mime: "video/mp4", duration: 3 * time.Second, audio: true},
		{file: "video_silent.mov", kind: KindVideo, mime: "video/quicktime", duration: 3 * time.Second},
		{file: "video.webm", kind: KindVideo, mime: "video/webm", duration: 3008 * time.Millisecond, audio: true},
		{file: "audio.wav", kind: KindAudio, mime: "audio/wav", duration: time.Second, audio: true},
		{file: "audio.mp3", kind: KindAudio, mime: "audio/mpeg", duration: 2088 * time.Millisecond, audio: true},
		{file: "audio_id3.mp3", kind: KindAudio, mime: "audio/mpeg", duration: 2088 * time.Millisecond, audio: true},
		{file: "audio.m4a", kind: KindAudio, mime: "audio/mp4", duration: 2 * time.Second, audio: true},
		{file: "audio.aac", kind: KindAudio, mime: "audio/aac", duration: 2112 * time.Millisecond, audio: true},
		{file: "audio.ogg", kind: KindAudio, mime: "audio/ogg", duration: 2 * time.Second, audio: true},
		{file: "audio_vorbis.ogg", kind: KindAudio, mime: "audio/ogg", duration: 2 * time.Second, audio: true},
		{file: "audio.flac", kind: KindAudio, mime: "audio/flac", duration: time.Second, audio: true},
		{file: "silence.ogg", kind: KindAudio, mime: "audio/ogg", duration: 2 * time.Second, audio: true},
		{file: "silence.m4a", kind: KindAudio, mime: "audio/mp4", duration: 2 * time.Second, audio: true},
		{file: "doc_two_pages.pdf", kind: KindDocument, mime: "application/pdf", pages: 2},
		{file: "doc_objstm.pdf", kind: KindDocument, mime: "application/pdf", pages: 2},
		{file: "doc_linearized.pdf", kind: KindDocument, mime: "application/pdf", pages: 2},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data := fixture(t, tt.file)
			// One byte at a time: every read of the probes straddles
			// whatever it can.
			for name, r := range map[string]io.Reader{"whole": bytes.NewReader(data), "byte by byte": iotest.OneByteReader(bytes.NewReader(data))} {
				info, err := Probe(r)
				if err != nil {
					t.Fatalf("%s: Probe: %v", name, err)
				}
				want := Info{Type: Type{Kind: tt.kind, MIMEType: tt.mime, Format: info.Format}, Size: int64(len(data)),
					Duration: tt.duration, Pages: tt.pages, Audio: tt.audio}
				if info != want {
					t.Errorf("%s: Probe = %+v, want %+v", name, info, want)
				}
			}
			head, _ := Identify(data)
			if head.MIMEType != tt.mime && !(head.MIMEType == "video/mp4" && tt.mime == "audio/mp4") {
				t.Errorf("Identify = %s, want %s", head.MIMEType, tt.mime)
			}
		})
	}
}

// TestProbeRefuses: what is damaged, encrypted or not media is refused
// with the kind the user is told about, and a detail that names it.
func TestProbeRefuses(t *testing.T) {
	mp4 := fixture(t, "video_moov_end.mp4")
	pdf := fixture(t, "doc_two_pages.pdf")
	tests := []struct {
		name       string
		data       []byte
		kind       failure.Kind
		detail     string
		encrypted  bool
		errContain string
	}{
		{name: "an MP4 cut inside its mdat", data: fixture(t, "video_truncated.mp4"), kind: failure.CorruptImage, detail: "MP4", errContain: "mdat"},
		{name: "an MP4 cut inside its moov", data: mp4[:len(mp4)-100], kind: failure.CorruptImage, detail: "MP4", errContain: "moov"},
		{name: "an MP4 without a moov", data: throughBox(t, mp4, "mdat"), kind: failure.CorruptImage, detail: "MP4", errContain: "no moov"},
		{name: "an encrypted PDF", data: fixture(t, "doc_encrypted.pdf"), kind: failure.UnsupportedFile, detail: "a password-protected PDF", encrypted: true},
		{name: "a PDF cut short", data: pdf[:len(pdf)/2], kind: failure.CorruptImage, detail: "PDF", errContain: "%%EOF"},
		{name: "a WAV shorter than its header says", data: fixture(t, "audio.wav")[:8000], kind: failure.CorruptImage, detail: "WAV"},
		{name: "an Ogg cut inside a page", data: fixture(t, "audio.ogg")[:3000], kind: failure.CorruptImage, detail: "OGG"},
		{name: "a WebM cut inside a cluster", data: fixture(t, "video.webm")[:9000], kind: failure.CorruptImage, detail: "WebM"},
		{name: "a Word document", data: zipWith("[Content_Types].xml", "word/document.xml"), kind: failure.UnsupportedFile, detail: "a Word document"},
		{name: "a spreadsheet", data: zipWith("[Content_Types].xml", "xl/workbook.xml"), kind: failure.UnsupportedFile, detail: "a spreadsheet"},
		{name: "a presentation", data: zipWith("[Content_Types].xml", "ppt/presentation.xml"), kind: failure.UnsupportedFile, detail: "a presentation"},
		{name: "an OpenDocument text", data: zipWith("mimetypeapplication/vnd.oasis.opendocument.text"), kind: failure.UnsupportedFile, detail: "a Word document"},
		{name: "an old Office file", data: append([]byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}, make([]byte, 100)...), kind: failure.UnsupportedFile, detail: "older format"},
		{name: "a ZIP archive", data: zipWith("photos/a.jpg"), kind: failure.UnsupportedFile, detail: "an archive"},
		{name: "an SVG", data: []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`), kind: failure.SVG},
		{name: "Slack's sign-in page", data: []byte("<!DOCTYPE html><html>"), kind: failure.FilesScope},
		{name: "a Matroska video", data: ebmlFile("matroska"), kind: failure.UnsupportedFile, detail: "Matroska"},
		{name: "an AVI", data: append([]byte("RIFF\x00\x10\x00\x00AVI LIST"), make([]byte, 64)...), kind: failure.UnsupportedFile, detail: "an AVI video"},
		{name: "an Ogg video", data: oggPageWith([]byte("\x80theora\x03\x02\x01")), kind: failure.UnsupportedFile, detail: "Ogg video"},
		{name: "an AVIF", data: isoBMFF("avif", "mif1", "miaf"), kind: failure.UnsupportedFile, detail: "an AVIF image"},
		{name: "text", data: []byte("meeting notes\n"), kind: failure.UnsupportedFile, detail: "a text file"},
		{name: "empty", data: nil, kind: failure.CorruptImage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Probe(bytes.NewReader(tt.data))
			if failure.KindOf(err) != tt.kind || !strings.Contains(failure.DetailOf(err), tt.detail) {
				t.Fatalf("Probe: %v (kind %v, detail %q), want kind %v with %q", err, failure.KindOf(err), failure.DetailOf(err), tt.kind, tt.detail)
			}
			if got := errors.Is(err, ErrEncrypted); got != tt.encrypted {
				t.Errorf("errors.Is(err, ErrEncrypted) = %v, want %v", got, tt.encrypted)
			}
			if !strings.Contains(err.Error(), tt.errContain) {
				t.Errorf("error %q does not say %q", err, tt.errContain)
			}
		})
	}
}

// TestProbeReadError: a stream that fails is not a damaged file.
func TestProbeReadError(t *testing.T) {
	broken := errors.New("connection reset")
	data := fixture(t, "video_moov_end.mp4")
	_, err := Probe(io.MultiReader(bytes.NewReader(data[:5000]), iotest.ErrReader(broken)))
	if !errors.Is(err, broken) || failure.KindOf(err) == failure.CorruptImage {
		t.Errorf("Probe = %v (kind %v), want the read error itself", err, failure.KindOf(err))
	}
}

// TestProbePDFAcrossReads puts the page tree where the scan's reads end:
// its keywords and dictionaries are found whichever read they straddle.
func TestProbePDFAcrossReads(t *testing.T) {
	tree := "1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [3 0 R] /Count 7 >> endobj\n"
	stream := "3 0 obj << /Length 4 >> stream\nabcd\nendstream endobj\n"
	for pad := SniffSize - 80; pad < SniffSize+8; pad += 3 {
		var b bytes.Buffer
		b.WriteString("%PDF-1.4\n%")
		b.WriteString(strings.Repeat("x", pad))
		b.WriteString("\n" + stream + tree + "trailer << /Root 1 0 R >>\n%%EOF\n")
		info, err := Probe(bytes.NewReader(b.Bytes()))
		if err != nil || info.Pages != 7 {
			t.Fatalf("padding %d: Probe = %d pages, %v; want 7", pad, info.Pages, err)
		}
	}
	// A file that is text for longer than the scan keeps is read in
	// pieces; the page tree after them is still found.
	long := "%PDF-1.4\n" + strings.Repeat("% a comment line of a PDF that is mostly text\n", 3*maxDictionaries/46) +
		tree + "trailer << /Root 1 0 R /Encrypt 9 0 R >>\n%%EOF\n"
	info, err := Probe(strings.NewReader(long))
	if info.Pages != 7 || !errors.Is(err, ErrEncrypted) {
		t.Errorf("long text: Probe = %d pages, %v; want 7 and encrypted", info.Pages, err)
	}
}

// syntheticMP4 is an MP4 of about size bytes: the fixture's ftyp and
// moov, then an mdat of zeros made as it is read.
func syntheticMP4(t testing.TB, size int64) io.Reader {
	head := throughBox(t, fixture(t, "video_faststart.mp4"), "moov") // ftyp, moov
	body := size - int64(len(head)) - 16
	mdat := binary.BigEndian.AppendUint32(nil, 1)
	mdat = append(mdat, "mdat"...)
	mdat = binary.BigEndian.AppendUint64(mdat, uint64(16+body))
	return io.MultiReader(bytes.NewReader(head), bytes.NewReader(mdat), io.LimitReader(zeros{}, body))
}

// throughBox is an ISO-BMFF file's top-level boxes up to the end of the
// first of type typ.
func throughBox(t testing.TB, data []byte, typ string) []byte {
	t.Helper()
	for i := 0; i+8 <= len(data); {
		size := int(binary.BigEndian.Uint32(data[i:]))
		if size < 8 {
			break
		}
		if string(data[i+4:i+8]) == typ {
			return data[:i+size]
		}
		i += size
	}
	t.Fatalf("no %s box", typ)
	return nil
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestProbeMemory: probing 200 MB allocates no more than a probe of a
// small file does, give or take its buffers: nothing is held.
func TestProbeMemory(t *testing.T) {
	const size = 200 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	info, err := Probe(syntheticMP4(t, size))
	runtime.ReadMemStats(&after)
	if err != nil || info.Size != size || info.Duration != 3*time.Second {
		t.Fatalf("Probe = %+v, %v", info, err)
	}
	if grown := after.TotalAlloc - before.TotalAlloc; grown > 1<<20 {
		t.Errorf("probing %d MB allocated %d bytes; a probe holds only its buffer", size>>20, grown)
	}
}

// TestProber: the push form gives what Probe gives, written in pieces of
// any size, and never fails the stream it watches.
func TestProber(t *testing.T) {
	data := fixture(t, "video_moov_end.mp4")
	for _, piece := range []int{1, 7, 4096, len(data)} {
		p := NewProber()
		var copied bytes.Buffer
		if _, err := io.CopyBuffer(&copied, io.TeeReader(bytes.NewReader(data), p), make([]byte, piece)); err != nil {
			t.Fatal(err)
		}
		info, err := p.Close()
		if err != nil || info.Duration != 3*time.Second || info.Size != int64(len(data)) || !bytes.Equal(copied.Bytes(), data) {
			t.Errorf("pieces of %d: %+v, %v", piece, info, err)
		}
	}

	// A damaged file: the probe ends early, the writes go on.
	p := NewProber()
	junk := append([]byte("RIFF\x00\x00\x00\x00AVI "), make([]byte, 1<<20)...)
	if n, err := p.Write(junk); n != len(junk) || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if n, err := p.Write(junk); n != len(junk) || err != nil {
		t.Fatalf("Write after the probe ended = %d, %v", n, err)
	}
	if _, err := p.Close(); failure.KindOf(err) != failure.UnsupportedFile {
		t.Errorf("Close = %v, want the AVI refused", err)
	}

	p = NewProber()
	_, _ = p.Write(data[:100])
	p.Abort()
}

func TestIdentifyBrands(t *testing.T) {
	tests := []struct {
		data []byte
		mime string
	}{
		{isoBMFF("isom", "iso2", "avc1", "mp41"), "video/mp4"},
		{isoBMFF("mp42", "isom"), "video/mp4"},
		{isoBMFF("M4V ", "M4A ", "mp42"), "video/mp4"},
		{isoBMFF("qt  ", "qt  "), "video/quicktime"},
		{isoBMFF("M4A ", "M4A ", "mp42", "isom"), "audio/mp4"},
		{isoBMFF("3gp4", "isom"), "video/3gpp"},
		{isoBMFF("heic", "mif1"), "image/heic"},
		{ebmlFile("webm"), "video/webm"},
		{[]byte("fLaC\x00\x00\x00\x22"), "audio/flac"},
		{fixture(t, "audio.aac")[:20], "audio/aac"},
		{fixture(t, "audio.mp3")[:20], "audio/mpeg"},
		{append([]byte("ID3\x03\x00\x00\x00\x00\x00\x00"), fixture(t, "audio.aac")[:400]...), "audio/aac"},
		{append([]byte("junk\n"), fixture(t, "doc_two_pages.pdf")...), "application/pdf"},
	}
	for _, tt := range tests {
		got, err := Identify(tt.data)
		if err != nil || got.MIMEType != tt.mime {
			t.Errorf("Identify(%q…) = %+v, %v; want %s", tt.data[:min(12, len(tt.data))], got, err, tt.mime)
		}
	}
}

func TestSniffGivesEveryByteBack(t *testing.T) {
	data := append(fixture(t, "video_faststart.mp4"), bytes.Repeat([]byte{1}, 3*SniffSize)...)
	typ, r, err := Sniff(iotest.HalfReader(bytes.NewReader(data)))
	if err != nil || typ.MIMEType != "video/mp4" {
		t.Fatalf("Sniff = %+v, %v", typ, err)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("the reader gives %d bytes (%v), want the %d it was given", len(got), err, len(data))
	}
}

func TestDuration(t *testing.T) {
	for _, tt := range []struct {
		n, scale uint64
		want     time.Duration
	}{
		{3000, 1000, 3 * time.Second},
		{1, 3, 333333333},
		{90_000 * 3600, 90_000, time.Hour},
		{1 << 63, 1, 0}, // too long for a Duration
		{5, 0, 0},
		{^uint64(0), ^uint64(0) - 1, time.Second},
	} {
		if got := seconds(tt.n, tt.scale); got != tt.want {
			t.Errorf("seconds(%d, %d) = %v, want %v", tt.n, tt.scale, got, tt.want)
		}
	}
}

// zipWith is the start of a ZIP archive whose first entries are named.
func zipWith(names ...string) []byte {
	var b []byte
	for _, n := range names {
		h := make([]byte, 30)
		copy(h, "PK\x03\x04")
		binary.LittleEndian.PutUint16(h[26:], uint16(len(n)))
		b = append(append(b, h...), n...)
	}
	return b
}

// ebmlFile is an EBML header with the DocType, then an empty Segment.
func ebmlFile(docType string) []byte {
	dt := append([]byte{0x42, 0x82, 0x80 | byte(len(docType))}, docType...)
	b := append(append([]byte{}, ebmlMagic...), 0x80|byte(len(dt)))
	b = append(b, dt...)
	return append(b, 0x18, 0x53, 0x80, 0x67, 0x80)
}

// oggPageWith is an Ogg page beginning a stream, whose one packet is p.
func oggPageWith(p []byte) []byte {
	h := make([]byte, 27)
	copy(h, "OggS")
	h[5] = 2
	h[26] = 1
	return append(append(h, byte(len(p))), p...)
}

func ExampleProbe() {
	f, err := os.Open("testdata/video_moov_end.mp4")
	if err != nil {
		panic(err)
	}
	defer f.Close()
	info, err := Probe(f)
	fmt.Println(info.MIMEType, info.Duration, info.Audio, err)
	// Output: video/mp4 3s true <nil>
}

// TestPDFLexer: the page tree's counts and /Encrypt are read from the
// dictionaries only, whatever the spacing, and never from strings or
// comments; a page-tree node's /Count is the one counted, not an
// outline's.
func TestPDFLexer(t *testing.T) {
	tests := []struct {
		name      string
		text      string
		pages     int
		encrypted bool
	}{
		{"spaced", "<< /Type /Pages /Kids [3 0 R] /Count 12 >>", 12, false},
		{"packed", "<</Type/Pages/Count 4/Kids[3 0 R]>>", 4, false},
		{"the root is the largest node", "<</Type/Pages/Count 3>> <</Type /Pages /Count 30 /Kids [1 0 R]>>", 30, false},
		{"count before type", "<< /Count 9 /Kids [] /Type /Pages >>", 9, false},
		{"nested dictionaries", "<< /Type /Pages /Resources << /Font << /F1 5 0 R >> >> /Count 6 >>", 6, false},
		{"an outline's count is not pages", "<< /Type /Outlines /Count 40 >>", 0, false},
		{"a page is not the tree", "<< /Type /Page /Count 50 >>", 0, false},
		{"in a string", "<< /Title (/Type /Pages /Count 99 \\) /Encrypt) >>", 0, false},
		{"in a comment", "% << /Type /Pages /Count 99 >> /Encrypt\n", 0, false},
		{"a trailer", "trailer << /Root 1 0 R /Encrypt 9 0 R /Size 10 >>", 0, true},
		{"hex strings are not dictionaries", "<< /ID [<0a1b> <2c3d>] /Type /Pages /Count 8 >>", 8, false},
	}
	for _, tt := range tests {
		var l pdfLexer
		l.read([]byte(tt.text))
		if l.pages != tt.pages || l.encrypted != tt.encrypted {
			t.Errorf("%s: pages %d, encrypted %v; want %d, %v", tt.name, l.pages, l.encrypted, tt.pages, tt.encrypted)
		}
		// Fed a byte at a time, the lexer reads the same.
		var one pdfLexer
		for i := range len(tt.text) {
			one.read([]byte(tt.text[i : i+1]))
		}
		if one.pages != l.pages || one.encrypted != l.encrypted {
			t.Errorf("%s: byte by byte, pages %d, encrypted %v", tt.name, one.pages, one.encrypted)
		}
	}
	var l pdfLexer
	l.read([]byte("<< /Type /ObjStm /Filter [/FlateDecode] /N 3 >>"))
	if !l.objStm {
		t.Error("an object stream whose filter is a list is not seen as one")
	}
}
