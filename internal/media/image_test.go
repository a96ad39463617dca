package media

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"runtime"
	"strings"
	"testing"

	"github.com/visionbot/visionbot/internal/failure"
	"github.com/visionbot/visionbot/internal/testimage"
)

// riff wraps a WebP payload in its RIFF header, declaring its true length.
func riff(chunk string, payload []byte) []byte {
	body := append([]byte("WEBP"+chunk), binary.LittleEndian.AppendUint32(nil, uint32(len(payload)))...)
	body = append(body, payload...)
	return append(binary.LittleEndian.AppendUint32([]byte("RIFF"), uint32(len(body))), body...)
}

// isoBMFF is an ISO-BMFF file (HEIC, HEIF, AVIF, MP4): an ftyp box with
// the brands, then a meta and an mdat box, as an iPhone writes them.
func isoBMFF(major string, compatible ...string) []byte {
	box := func(typ string, payload []byte) []byte {
		return append(binary.BigEndian.AppendUint32(nil, uint32(8+len(payload))), append([]byte(typ), payload...)...)
	}
	ftyp := append([]byte(major), 0, 0, 0, 0)
	for _, b := range compatible {
		ftyp = append(ftyp, b...)
	}
	out := box("ftyp", ftyp)
	out = append(out, box("meta", make([]byte, 40))...)
	return append(out, box("mdat", bytes.Repeat([]byte{0x5a}, 200))...)
}

// gifHeader is the start of a GIF that declares w×h: a screen descriptor
// and a two-colour table, and no image data at all.
func gifHeader(w, h uint16) []byte {
	b := []byte("GIF89a")
	b = binary.LittleEndian.AppendUint16(b, w)
	b = binary.LittleEndian.AppendUint16(b, h)
	return append(b, 0x80, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff)
}

// pngHeader is a PNG whose header declares w×h, with one small IDAT: a
// few hundred bytes that a decoder would expand into w*h*4 bytes.
func pngHeader(w, h uint32) []byte {
	chunk := func(typ string, data []byte) []byte {
		c := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
		c = append(c, typ...)
		c = append(c, data...)
		return binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	}
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 6, 0, 0, 0) // 8-bit RGBA
	out := []byte("\x89PNG\r\n\x1a\n")
	out = append(out, chunk("IHDR", ihdr)...)
	out = append(out, chunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})...)
	return append(out, chunk("IEND", nil)...)
}

// withEXIFThumbnail puts a whole JPEG (thumb) in an APP1 segment after
// main's SOI, as cameras do: its EOI must not pass for main's.
func withEXIFThumbnail(main, thumb []byte) []byte {
	app1 := append([]byte("Exif\x00\x00"), thumb...)
	out := []byte{0xFF, 0xD8, 0xFF, 0xE1}
	out = binary.BigEndian.AppendUint16(out, uint16(len(app1)+2))
	out = append(out, app1...)
	return append(out, main[2:]...)
}

func TestReadImage(t *testing.T) {
	jpg, png4 := testimage.JPEG(t), testimage.PNG(t, 4, 4)
	heic := isoBMFF("heic", "mif1", "heic")
	webp := riff("VP8L", []byte{0x2f, 0, 0, 0, 0x10, 0x07, 0x10, 0x11, 0x11, 0x88, 0x88, 0xfe, 0x07, 0})
	tests := []struct {
		name       string
		data       []byte
		wantMIME   string // when the image is accepted
		wantKind   failure.Kind
		wantDetail string
	}{
		{name: "JPEG", data: jpg, wantMIME: "image/jpeg"},
		{name: "PNG", data: png4, wantMIME: "image/png"},
		{name: "WebP", data: webp, wantMIME: "image/webp"},
		{name: "HEIC from an iPhone goes as it is", data: heic, wantMIME: "image/heic"},
		{name: "HEIC brand heix", data: isoBMFF("heix", "mif1"), wantMIME: "image/heic"},
		{name: "HEIF major brand mif1 with a heic compatible brand", data: isoBMFF("mif1", "heic"), wantMIME: "image/heic"},
		{name: "plain HEIF", data: isoBMFF("mif1", "miaf"), wantMIME: "image/heif"},
		{name: "HEIF sequence", data: isoBMFF("msf1", "iso8"), wantMIME: "image/heif"},
		{name: "a JPEG with a trailer after its EOI", data: append(bytes.Clone(jpg), "SEFT trailer"...), wantMIME: "image/jpeg"},
		{name: "a JPEG with an EXIF thumbnail", data: withEXIFThumbnail(jpg, jpg), wantMIME: "image/jpeg"},

		{name: "a PDF", data: []byte("%PDF-1.7\n1 0 obj\n<<>>\nendobj\n"), wantKind: failure.UnsupportedFile, wantDetail: "a PDF"},
		{name: "an SVG", data: []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>`), wantKind: failure.SVG},
		{name: "AVIF, which Gemini does not take", data: isoBMFF("avif", "mif1", "miaf"), wantKind: failure.UnsupportedFile, wantDetail: "an AVIF image"},
		{name: "an MP4 video", data: isoBMFF("isom", "iso2", "mp41"), wantKind: failure.UnsupportedFile, wantDetail: "an MP4 video"},
		{name: "BMP", data: append([]byte("BM"), make([]byte, 60)...), wantKind: failure.UnsupportedFile, wantDetail: "a BMP image"},
		{name: "TIFF", data: append([]byte("II*\x00"), make([]byte, 60)...), wantKind: failure.UnsupportedFile, wantDetail: "a TIFF image"},
		{name: "a ZIP", data: append([]byte("PK\x03\x04"), make([]byte, 60)...), wantKind: failure.UnsupportedFile, wantDetail: "an archive"},
		{name: "text", data: []byte("just some notes\n"), wantKind: failure.UnsupportedFile, wantDetail: "a text file"},
		{name: "unknown bytes", data: []byte{0x00, 0x01, 0x02, 0x03, 0xfe}, wantKind: failure.UnsupportedFile, wantDetail: "a file I don't recognise"},
		{name: "Slack's sign-in page", data: []byte("<!DOCTYPE html>\n<html><body>Sign in</body></html>"), wantKind: failure.FilesScope},

		{name: "empty", data: nil, wantKind: failure.CorruptImage},
		{name: "a JPEG cut in half", data: jpg[:len(jpg)/2], wantKind: failure.CorruptImage, wantDetail: "JPEG"},
		{name: "a JPEG cut after its EXIF thumbnail", data: withEXIFThumbnail(jpg[:len(jpg)-40], jpg), wantKind: failure.CorruptImage, wantDetail: "JPEG"},
		{name: "a JPEG without its SOI is not a JPEG", data: jpg[2:], wantKind: failure.UnsupportedFile},
		{name: "a JPEG with a garbled header", data: append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, make([]byte, 40)...), wantKind: failure.CorruptImage, wantDetail: "JPEG"},
		{name: "a PNG without IEND", data: png4[:len(png4)-12], wantKind: failure.CorruptImage, wantDetail: "PNG"},
		{name: "a PNG cut inside a chunk", data: png4[:len(png4)-20], wantKind: failure.CorruptImage, wantDetail: "PNG"},
		{name: "a PNG cut inside its header", data: png4[:20], wantKind: failure.CorruptImage, wantDetail: "PNG"},
		{name: "a WebP shorter than its RIFF header says", data: webp[:len(webp)-4], wantKind: failure.CorruptImage, wantDetail: "WEBP"},
		{name: "a HEIC cut inside its mdat", data: heic[:len(heic)-50], wantKind: failure.CorruptImage, wantDetail: "HEIC"},
		{name: "a GIF with no frame", data: gifHeader(8, 8), wantKind: failure.CorruptImage, wantDetail: "GIF"},
		{name: "a GIF bomb is refused from its header", data: gifHeader(60000, 60000), wantKind: failure.TooLarge, wantDetail: "60000×60000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, err := ReadImage(tt.data)
			if tt.wantMIME != "" {
				if err != nil {
					t.Fatalf("ReadImage: %v", err)
				}
				if img.MIMEType != tt.wantMIME || !bytes.Equal(img.Data, tt.data) {
					t.Errorf("got %s (%d bytes), want %s and the bytes unchanged", img.MIMEType, len(img.Data), tt.wantMIME)
				}
				return
			}
			if failure.KindOf(err) != tt.wantKind || !strings.Contains(failure.DetailOf(err), tt.wantDetail) {
				t.Errorf("err = %v (kind %v, detail %q), want kind %v with %q", err, failure.KindOf(err), failure.DetailOf(err), tt.wantKind, tt.wantDetail)
			}
		})
	}
}

func TestReadImageAnimatedGIF(t *testing.T) {
	red := image.NewPaletted(image.Rect(0, 0, 6, 4), []color.Color{color.RGBA{R: 255, A: 255}, color.RGBA{B: 255, A: 255}})
	blue := image.NewPaletted(red.Rect, red.Palette)
	for i := range blue.Pix {
		blue.Pix[i] = 1
	}
	var anim bytes.Buffer
	if err := gif.EncodeAll(&anim, &gif.GIF{Image: []*image.Paletted{red, blue}, Delay: []int{10, 10}}); err != nil {
		t.Fatal(err)
	}
	img, err := ReadImage(anim.Bytes())
	if err != nil {
		t.Fatalf("ReadImage: %v", err)
	}
	if img.MIMEType != "image/png" {
		t.Fatalf("MIME type = %s, want image/png (Gemini takes no GIF)", img.MIMEType)
	}
	frame, err := png.Decode(bytes.NewReader(img.Data))
	if err != nil {
		t.Fatalf("the converted frame is no PNG: %v", err)
	}
	if frame.Bounds() != red.Rect {
		t.Errorf("bounds = %v, want %v", frame.Bounds(), red.Rect)
	}
	if r, _, b, _ := frame.At(3, 2).RGBA(); r != 0xffff || b != 0 {
		t.Errorf("pixel = r%d b%d, want the first (red) frame", r, b)
	}
}

// A PNG that declares 100000×100000 pixels in a few hundred bytes is a
// bomb only for a decoder; the bot does not decode PNG, so it passes the
// header check and goes to the model as it is, having cost next to nothing.
func TestReadImagePNGBombIsNotDecoded(t *testing.T) {
	bomb := pngHeader(100_000, 100_000)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	img, err := ReadImage(bomb)
	runtime.ReadMemStats(&after)
	if err != nil || img.MIMEType != "image/png" {
		t.Fatalf("ReadImage = %s, %v; want image/png", img.MIMEType, err)
	}
	if grown := after.TotalAlloc - before.TotalAlloc; grown > 64<<20 { // a decode would need 40 GB
		t.Errorf("ReadImage allocated %d bytes for a %d-byte file: it decoded", grown, len(bomb))
	}
}
