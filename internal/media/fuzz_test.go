package media

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/visionbot/visionbot/internal/failure"
	"github.com/visionbot/visionbot/internal/fixtures"
	"github.com/visionbot/visionbot/internal/testimage"
)

// FuzzReadImage feeds arbitrary bytes to the sniffer and header checks:
// nothing may panic, what is accepted is a type Gemini takes, and what is
// refused is refused with a kind the user gets a specific message for.
func FuzzReadImage(f *testing.F) {
	for _, tiny := range fixtures.SlackStrings(f, "thumb_tiny") {
		// Slack's thumb_tiny is a JPEG without its header: a real
		// corrupt image.
		if data, err := base64.StdEncoding.DecodeString(tiny); err == nil {
			f.Add(data)
		}
	}
	seeds := [][]byte{
		testimage.JPEG(f), testimage.PNG(f, 4, 4), testimage.GIF(f),
		isoBMFF("heic", "mif1", "heic"), isoBMFF("mif1", "miaf"), isoBMFF("avif", "mif1"),
		riff("VP8L", []byte{0x2f, 0, 0, 0, 0x10}), gifHeader(60000, 60000), pngHeader(100_000, 100_000),
		[]byte("%PDF-1.7\n"), []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`), []byte("<!DOCTYPE html><html>"),
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := ReadImage(data)
		if err != nil {
			switch failure.KindOf(err) {
			case failure.UnsupportedFile, failure.SVG, failure.CorruptImage, failure.TooLarge, failure.FilesScope:
			default:
				t.Fatalf("ReadImage: %v (kind %v): no specific message", err, failure.KindOf(err))
			}
			return
		}
		switch img.MIMEType {
		case "image/jpeg", "image/webp", "image/heic", "image/heif":
			if !bytes.Equal(img.Data, data) {
				t.Fatalf("%s changed on the way", img.MIMEType)
			}
		case "image/png": // as sent, or a GIF's first frame
		default:
			t.Fatalf("accepted as %s, which Gemini does not take", img.MIMEType)
		}
	})
}

// FuzzProbe feeds arbitrary bytes to the probes, starting from the real
// files of testdata and their truncations: nothing may panic, what is
// refused is refused with a kind the user gets a specific message for,
// what is accepted is a type the bot reads, and the answer does not
// depend on how the bytes arrive (whole, byte by byte, or written to a
// Prober).
func FuzzProbe(f *testing.F) {
	paths, err := filepath.Glob(filepath.Join("testdata", "*.*"))
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range paths {
		if strings.HasSuffix(p, ".md") || strings.HasSuffix(p, ".sh") {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		f.Add(data[:len(data)*2/3])
	}
	accepted := map[string]Kind{
		"image/jpeg": KindImage, "image/png": KindImage, "image/gif": KindImage, "image/webp": KindImage,
		"image/heic": KindImage, "image/heif": KindImage, "application/pdf": KindDocument,
		"video/mp4": KindVideo, "video/quicktime": KindVideo, "video/3gpp": KindVideo, "video/webm": KindVideo,
		"audio/mp4": KindAudio, "audio/webm": KindAudio, "audio/mpeg": KindAudio, "audio/aac": KindAudio,
		"audio/wav": KindAudio, "audio/ogg": KindAudio, "audio/flac": KindAudio,
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := Probe(bytes.NewReader(data))
		if err != nil {
			switch failure.KindOf(err) {
			case failure.UnsupportedFile, failure.SVG, failure.CorruptImage, failure.FilesScope:
			default:
				t.Fatalf("Probe: %v (kind %v): no specific message", err, failure.KindOf(err))
			}
		} else {
			if kind, ok := accepted[info.MIMEType]; !ok || kind != info.Kind || info.Format == "" {
				t.Fatalf("accepted as %+v", info.Type)
			}
			if info.Size != int64(len(data)) || info.Duration < 0 || info.Pages < 0 {
				t.Fatalf("Probe = %+v for %d bytes", info, len(data))
			}
		}
		slow, slowErr := Probe(iotest.OneByteReader(bytes.NewReader(data)))
		p := NewProber()
		_, _ = p.Write(data)
		pushed, pushedErr := p.Close()
		for name, got := range map[string]struct {
			info Info
			err  error
		}{"byte by byte": {slow, slowErr}, "pushed": {pushed, pushedErr}} {
			if (got.err == nil) != (err == nil) || failure.KindOf(got.err) != failure.KindOf(err) {
				t.Fatalf("%s: %v, whole: %v", name, got.err, err)
			}
			if err == nil && got.info != info {
				t.Fatalf("%s: %+v, whole: %+v", name, got.info, info)
			}
		}
	})
}
